//! Browser tests of the JavaScript API in `src/wasm.rs` (what the page's workers call), run in
//! headless Chromium by `wasm-pack test --headless --chrome -- --test web` (scripts/test.sh,
//! stage 'browser'). They go through the real `#[wasm_bindgen]` boundary: JS objects, typed
//! arrays, the progress callback and thrown errors.
#![cfg(target_arch = "wasm32")]

use ami3::pipeline::MemberResult;
use ami3::wasm::{check_options, demo_files_js, read_association, Reduction};
use js_sys::{Array, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or_else(|_| panic!("no field {key}"))
}

fn string(v: &JsValue, key: &str) -> String {
    get(v, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

/// The names of the `products` of a result of `Reduction::analyze` or `Reduction::combine`.
fn product_names(out: &JsValue) -> Vec<String> {
    Array::from(&get(out, "products"))
        .iter()
        .map(|p| string(&p, "name"))
        .collect()
}

fn numbers(v: &JsValue) -> Vec<f64> {
    Array::from(v).iter().map(|x| x.as_f64().unwrap()).collect()
}

/// The demo association as (name, bytes), ASN JSON first.
fn demo_files() -> Vec<(String, Vec<u8>)> {
    let files = demo_files_js().expect("demo_files_js");
    Array::from(&files)
        .iter()
        .map(|f| {
            (
                string(&f, "name"),
                Uint8Array::new(&get(&f, "bytes")).to_vec(),
            )
        })
        .collect()
}

/// (expname, exptype) of the demo members, in association order.
fn demo_members(asn_json: &str) -> Vec<(String, String)> {
    let asn: serde_json::Value = serde_json::from_str(asn_json).expect("ASN is JSON");
    asn["products"][0]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            (
                m["expname"].as_str().unwrap().to_string(),
                m["exptype"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A progress callback that records its calls in `globalThis.__progress` as [done, total].
fn recording_progress() -> Function {
    Function::new_with_args(
        "done, total",
        "(globalThis.__progress ??= []).push([done, total]);",
    )
}

fn recorded_progress() -> Vec<(f64, f64)> {
    let calls = get(&js_sys::global(), "__progress");
    let out = Array::from(&calls)
        .iter()
        .map(|c| {
            let c = Array::from(&c);
            (c.get(0).as_f64().unwrap(), c.get(1).as_f64().unwrap())
        })
        .collect();
    Reflect::delete_property(&js_sys::global(), &JsValue::from_str("__progress")).unwrap();
    out
}

/// A reduction of the demo association with `options` and the reference files `refs`.
fn reduction_with(
    files: &[(String, Vec<u8>)],
    options: Object,
    refs: &[(&str, &[u8])],
) -> Reduction {
    let (asn_name, asn) = &files[0];
    Reduction::new(
        std::str::from_utf8(asn).unwrap(),
        asn_name,
        options.into(),
        refs.iter().map(|(n, _)| n.to_string()).collect(),
        refs.iter().map(|(_, b)| Uint8Array::from(*b)).collect(),
    )
    .unwrap_or_else(|e| panic!("Reduction::new failed: {:?}", JsValue::from(e)))
}

/// A reduction of the demo association with every option at its default.
fn reduction(files: &[(String, Vec<u8>)]) -> Reduction {
    reduction_with(files, Object::new(), &[])
}

fn analyze(r: &Reduction, files: &[(String, Vec<u8>)], expname: &str) -> JsValue {
    let bytes = &files
        .iter()
        .find(|(n, _)| n == expname)
        .expect("member file")
        .1;
    r.analyze(bytes.clone(), expname, &recording_progress())
        .unwrap_or_else(|e| panic!("analyze({expname}) failed: {:?}", JsValue::from(e)))
}

#[wasm_bindgen_test]
fn demo_files_are_an_association_and_four_calints_exposures() {
    let files = demo_files();
    assert_eq!(files.len(), 5);
    assert!(files[0].0.ends_with(".json"), "ASN first: {}", files[0].0);
    let members = demo_members(std::str::from_utf8(&files[0].1).unwrap());
    assert_eq!(members.len(), 4);
    // what the page learns of the association, from Rust (JavaScript does not parse it)
    let view = read_association(std::str::from_utf8(&files[0].1).unwrap(), &files[0].0).unwrap();
    let roles: Vec<(String, String)> = Array::from(&get(&view, "members"))
        .iter()
        .map(|m| (string(&m, "expname"), string(&m, "role")))
        .collect();
    let lower: Vec<(String, String)> = members
        .iter()
        .map(|(n, r)| (n.clone(), r.to_ascii_lowercase()))
        .collect();
    assert_eq!(roles, lower);
    assert!(!string(&view, "product").is_empty());
    for (name, bytes) in &files[1..] {
        assert!(name.ends_with("_calints.fits"), "{name}");
        assert!(members.iter().any(|(m, _)| m == name), "{name} is a member");
        assert_eq!(&bytes[..9], b"SIMPLE  =", "{name} is FITS");
        assert_eq!(bytes.len() % 2880, 0, "{name} is whole FITS blocks");
    }
}

#[wasm_bindgen_test]
fn analyze_gives_products_a_view_in_degrees_and_progress() {
    let files = demo_files();
    let members = demo_members(std::str::from_utf8(&files[0].1).unwrap());
    let (expname, _) = members
        .iter()
        .find(|(_, r)| r.eq_ignore_ascii_case("science"))
        .expect("a science member");
    let out = analyze(&reduction(&files), &files, expname);

    let names = product_names(&out);
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names[0].ends_with("_ami.fits"), "{names:?}");
    assert!(names[1].ends_with("_ami-oi.fits"), "{names:?}");
    for p in Array::from(&get(&out, "products")).iter() {
        assert_eq!(Uint8Array::new(&get(&p, "bytes")).length() % 2880, 0);
    }
    let result = Uint8Array::new(&get(&out, "result")).to_vec();
    let decoded = MemberResult::from_bytes(&result, "result").expect("the member result's bytes");

    let view = get(&out, "view");
    let obs = get(&view, "observables");
    assert_eq!(numbers(&get(&obs, "fringe_amp")).len(), 21);
    // degrees come from Rust: the view's closure phases are the result's radians in degrees
    let cp_deg = numbers(&get(&obs, "closure_phase_deg"));
    let cp_rad = &decoded.lg.observables.closure_phase_rad;
    assert_eq!(cp_deg.len(), 35);
    for (d, r) in cp_deg.iter().zip(cp_rad) {
        assert!((d - r.to_degrees()).abs() < 1e-12, "{d} deg vs {r} rad");
    }
    assert!(
        cp_deg.iter().any(|d| d.abs() > 0.1),
        "the companion shows: {cp_deg:?}"
    );
    assert_eq!(numbers(&get(&view, "baseline_length_m")).len(), 21);
    let n = get(&view, "n").as_f64().unwrap() as usize;
    for image in ["data", "model", "residual"] {
        assert_eq!(numbers(&get(&view, image)).len(), n * n, "{image} is n*n");
    }

    let nint = get(&view, "nint").as_f64().unwrap();
    let calls = recorded_progress();
    assert!(!calls.is_empty(), "the progress callback was called");
    assert!(calls.iter().all(|&(_, t)| t == nint), "{calls:?}");
    assert_eq!(calls.last(), Some(&(nint, nint)), "ends at nint of nint");
}

#[wasm_bindgen_test]
fn combine_of_the_demo_calibrates_35_nonzero_closure_phases_and_honours_options() {
    let files = demo_files();
    let asn = std::str::from_utf8(&files[0].1).unwrap().to_string();
    let r = reduction(&files);
    let results: Vec<Uint8Array> = demo_members(&asn)
        .iter()
        .map(|(name, _)| Uint8Array::new(&get(&analyze(&r, &files, name), "result")))
        .collect();
    let _ = recorded_progress();
    let out = r
        .combine(results.clone())
        .unwrap_or_else(|e| panic!("combine failed: {:?}", JsValue::from(e)));
    let cp = numbers(&get(&out, "calibrated_cp_deg"));
    assert_eq!(cp.len(), 35);
    assert!(cp.iter().all(|c| c.is_finite()));
    // The demo science target has a companion: its calibrated closure phases are not all zero.
    assert!(cp.iter().any(|c| c.abs() > 0.1), "{cp:?}");
    let names = product_names(&out);
    assert!(
        names.iter().any(|n| n.ends_with("_aminorm.fits")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.ends_with("_aminorm-oi.fits")),
        "{names:?}"
    );
    let science = get(&out, "science");
    assert_eq!(numbers(&get(&science, "closure_phase_deg")).len(), 35);

    // The page sends its whole options object, with an uploaded affine2d file among the
    // reference files: save_averages and oifits count in combine.
    let options = Object::new();
    Reflect::set(&options, &"save_averages".into(), &true.into()).unwrap();
    Reflect::set(&options, &"oifits".into(), &false.into()).unwrap();
    Reflect::set(&options, &"affine2d".into(), &"uploaded_affine.json".into()).unwrap();
    let affine = br#"{"mx": 1.0, "my": 1.0, "sx": 0.0, "sy": 0.0, "xo": 0.0, "yo": 0.0}"#;
    let out = reduction_with(&files, options, &[("uploaded_affine.json", &affine[..])])
        .combine(results)
        .unwrap_or_else(|e| panic!("combine failed: {:?}", JsValue::from(e)));
    let names = product_names(&out);
    assert!(
        names.iter().any(|n| n.ends_with("_amiavg.fits")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|n| n.ends_with("_psf-amiavg.fits")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("-oi")), "{names:?}");
}

#[wasm_bindgen_test]
fn analyze_throws_an_error_naming_the_file_for_non_fits_bytes() {
    let files = demo_files();
    let asn = std::str::from_utf8(&files[0].1).unwrap();
    let (expname, _) = demo_members(asn).remove(0);
    let err = reduction(&files)
        .analyze(
            b"not a FITS file".to_vec(),
            &expname,
            &Function::new_no_args(""),
        )
        .expect_err("garbage bytes are rejected");
    let message = format!("{:?}", JsValue::from(err));
    assert!(message.contains(&expname), "{message}");
    assert!(message.contains("not a FITS file"), "{message}");
}

#[wasm_bindgen_test]
fn page_options_may_be_text_and_bad_ones_are_named() {
    let files = demo_files();
    let options = Object::new();
    Reflect::set(&options, &"rotation_search".into(), &"-2 2 0.5".into()).unwrap();
    Reflect::set(&options, &"firstfew".into(), &"".into()).unwrap();
    check_options(options.clone().into()).expect("upstream's text forms are accepted");
    Reflect::set(&options, &"oversample".into(), &"4".into()).unwrap();
    for err in [
        check_options(options.clone().into()).expect_err("an even oversample is rejected"),
        Reduction::new(
            std::str::from_utf8(&files[0].1).unwrap(),
            &files[0].0,
            options.into(),
            vec![],
            vec![],
        )
        .err()
        .expect("the reduction refuses it too"),
    ] {
        let message = format!("{:?}", JsValue::from(err));
        assert!(
            message.contains("option oversample: must be an odd positive integer"),
            "{message}"
        );
    }
}

/// The browser's structured clone (what `postMessage` does to a message between workers).
fn structured_clone(v: &JsValue) -> JsValue {
    let clone = Function::from(get(&js_sys::global(), "structuredClone"));
    clone.call1(&JsValue::NULL, v).expect("structuredClone")
}

#[wasm_bindgen_test]
fn member_results_with_nan_and_infinities_cross_workers_bit_exact_and_combine() {
    let files = demo_files();
    let asn = std::str::from_utf8(&files[0].1).unwrap().to_string();
    let specials = [f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.0];
    let mut received = Vec::new();
    let reduction = reduction(&files);
    for (name, _) in demo_members(&asn) {
        let out = analyze(&reduction, &files, &name);
        let mut r =
            MemberResult::from_bytes(&Uint8Array::new(&get(&out, "result")).to_vec(), &name)
                .expect("the page's result decodes");
        // what a flagged pixel leaves in the residual image, and worse
        for (k, x) in specials.iter().enumerate() {
            r.lg.resid[k] = *x;
        }
        let bytes = r.to_bytes();
        // as the page moves it: worker -> page -> combining worker, two structured clones
        let js = structured_clone(&structured_clone(
            &Uint8Array::from(bytes.as_slice()).into(),
        ));
        let back = Uint8Array::new(&js).to_vec();
        assert_eq!(back, bytes, "{name}: the bytes arrive unchanged");
        let decoded = MemberResult::from_bytes(&back, &name).unwrap();
        let got: Vec<u64> = decoded.lg.resid[..5].iter().map(|x| x.to_bits()).collect();
        let want: Vec<u64> = specials.iter().map(|x| x.to_bits()).collect();
        assert_eq!(got, want, "{name}: NaN and infinities keep their bits");
        received.push(Uint8Array::new(&js));
    }
    let _ = recorded_progress();
    let out = reduction
        .combine(received)
        .unwrap_or_else(|e| panic!("combine failed: {:?}", JsValue::from(e)));
    let names = product_names(&out);
    assert!(
        names.iter().any(|n| n.ends_with("_aminorm-oi.fits")),
        "the calibrated product is made: {names:?}"
    );
    assert_eq!(numbers(&get(&out, "calibrated_cp_deg")).len(), 35);
}

#[wasm_bindgen_test]
fn combine_names_a_damaged_member_result() {
    let files = demo_files();
    let err = reduction(&files)
        .combine(vec![Uint8Array::from(&b"not a result"[..])])
        .expect_err("damaged bytes are rejected");
    let message = format!("{:?}", JsValue::from(err));
    assert!(message.contains("member result 1"), "{message}");
}
