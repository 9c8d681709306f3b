//! calwebb_ami3 on the shared association: product names, calibrated closure phases against
//! jwst's per-exposure products and against the closed-form binary, and the awkward cases
//! (no reference star, averages on/off, a missing member, a wrong EXP_TYPE, unequal counts).

mod common;
use ami3::analyze::exposure::AnalyzeParams;
use ami3::analyze::observables::{wrap_pi, Orders};
use ami3::error::{Error, Input, Kind, Result};
use ami3::pipeline::{run_pipeline, Association, PipelineOptions};
use ami3::steps::ProductFile;
use common::*;
use std::f64::consts::PI;

const SCI: [&str; 2] = [
    "jw10005003001_03102_00001_nis_calints.fits",
    "jw10005004001_03102_00001_nis_calints.fits",
];
const PSF: [&str; 2] = [
    "jw10005001001_03102_00001_nis_calints.fits",
    "jw10005002001_03102_00001_nis_calints.fits",
];
const PRODUCT: &str = "jw10005-a3001_t001_niriss_f480m-nrm";

fn asn_json(members: &[(&str, &str)]) -> String {
    let m: Vec<serde_json::Value> = members
        .iter()
        .map(|(n, t)| serde_json::json!({"expname": n, "exptype": t}))
        .collect();
    serde_json::json!({"asn_id": "a3001", "asn_pool": "jw10005_001_01_pool",
        "products": [{"name": PRODUCT, "members": m}]})
    .to_string()
}

fn load(name: &str) -> Result<Vec<u8>> {
    std::fs::read(data_dir().join(name))
        .map_err(|e| Error::file(name, Kind::Read, format!("cannot read: {e}")))
}

struct Run {
    names: Vec<String>,
    products: Vec<ProductFile>,
    calibrated_cp_deg: Option<Vec<f64>>,
    messages: Vec<String>,
    errors: Vec<Error>,
}

fn run(members: &[(&str, &str)], save_averages: bool, firstfew: Option<usize>) -> Run {
    let asn = Association::from_json(&asn_json(members), "test_asn.json").unwrap();
    let options = PipelineOptions {
        save_averages,
        oifits: true,
        analyze: AnalyzeParams {
            firstfew,
            ..AnalyzeParams::default()
        },
    };
    let (mut products, combined, errors) =
        run_pipeline(&asn, &load, &references(), &options, &|_, _, _| {});
    products.extend(combined.products);
    Run {
        names: products.iter().map(|p| p.name.clone()).collect(),
        products,
        calibrated_cp_deg: combined.calibrated_closure_phases_deg,
        messages: combined.messages,
        errors,
    }
}

fn all_members() -> Vec<(&'static str, &'static str)> {
    vec![
        (PSF[0], "psf"),
        (PSF[1], "psf"),
        (SCI[0], "science"),
        (SCI[1], "science"),
    ]
}

#[test]
fn full_association_writes_every_product_with_its_name() {
    let r = run(&all_members(), true, Some(2));
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let mut want = vec![];
    for s in PSF {
        let root = s.trim_end_matches("_calints.fits");
        want.push(format!("{root}_a3001_ami.fits"));
        want.push(format!("{root}_a3001_psf-ami-oi.fits"));
    }
    for s in SCI {
        let root = s.trim_end_matches("_calints.fits");
        want.push(format!("{root}_a3001_ami.fits"));
        want.push(format!("{root}_a3001_ami-oi.fits"));
    }
    for suffix in ["amiavg", "psf-amiavg", "aminorm", "aminorm-oi"] {
        want.push(format!("{PRODUCT}_{suffix}.fits"));
    }
    let mut got = r.names.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // the products carry the association
    let norm = r
        .products
        .iter()
        .find(|p| p.name.ends_with("_aminorm.fits"))
        .unwrap();
    let hdus = ami3::fits::read_fits(&norm.bytes, &norm.name).unwrap();
    assert_eq!(
        hdus[0].header.get_str("ASNPOOL").map(str::trim),
        Some("jw10005_001_01_pool")
    );
    assert_eq!(
        hdus[0].header.get_str("ASNTABLE").map(str::trim),
        Some("test_asn.json")
    );
    assert_eq!(
        hdus[0].header.get_str("S_AMINOR").map(str::trim),
        Some("COMPLETE")
    );
}

/// Closed-form closure phases of the truth binary: per wavelength, V_k = 1 + r exp(i psi_k)
/// with psi_k the fringe phase of the companion offset through the commissioning affine,
/// summed over the bandpass with its weights; CP = arg(V_ab V_bc conj(V_ac)).
fn truth_closure_phases_deg() -> Vec<f64> {
    let truth: serde_json::Value =
        serde_json::from_slice(&read(&data_dir().join("truth.json"))).unwrap();
    let t = truth["companion_dx_dy_ratio"].as_array().unwrap();
    let (dx, dy, ratio) = (
        t[0].as_f64().unwrap(),
        t[1].as_f64().unwrap(),
        t[2].as_f64().unwrap(),
    );
    let pix = (truth["pixscale_arcsec"].as_f64().unwrap() / 3600.0).to_radians();
    let refs = references();
    let nrm = refs.nrm.unwrap();
    let g = ami3::niriss::mask::MaskGeometry::from_design(
        &nrm.design_centres_m,
        nrm.hole_flat_to_flat_m,
        &(0..7).collect::<Vec<_>>(),
    );
    let tp = refs.throughput.unwrap();
    let bandpass =
        ami3::analyze::bandpass::from_throughput(&tp.wavelength_angstrom, &tp.throughput).unwrap();
    let (u, v) = ami3::niriss::affine::Affine2d::commissioning().distort_f_args(dy, dx);
    let orders = Orders::new(7);
    let vis: Vec<(f64, f64)> = orders
        .baselines
        .iter()
        .map(|&[a, b]| {
            let (ca, cb) = (g.centres_inst_m[a], g.centres_inst_m[b]);
            bandpass.iter().fold((0.0, 0.0), |(re, im), s| {
                let psi =
                    2.0 * PI * pix * (u * (ca[0] - cb[0]) + v * (ca[1] - cb[1])) / s.wavelength_m;
                (
                    re + s.weight * (1.0 + ratio * psi.cos()),
                    im + s.weight * ratio * psi.sin(),
                )
            })
        })
        .collect();
    let phases: Vec<f64> = vis.iter().map(|(re, im)| im.atan2(*re)).collect();
    orders
        .closure_phases(&phases)
        .iter()
        .map(|c| wrap_pi(*c).to_degrees())
        .collect()
}

#[test]
fn calibrated_closure_phases_match_jwst_exposures_and_the_closed_form_binary() {
    let r = run(&all_members(), false, None);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    let cp = r.calibrated_cp_deg.expect("calibrated");
    // jwst's own per-exposure products: mean science CP - mean psf CP
    let jwst_cp = |name: &str| {
        column(
            &hdus(&data_dir().join("out-jwst-3.0.0").join(name)),
            "OI_T3",
            "T3PHI",
        )
    };
    let sci: Vec<Vec<f64>> = SCI
        .iter()
        .map(|s| {
            jwst_cp(&format!(
                "{}_a3001_ami-oi.fits",
                s.trim_end_matches("_calints.fits")
            ))
        })
        .collect();
    let psf: Vec<Vec<f64>> = PSF
        .iter()
        .map(|s| {
            jwst_cp(&format!(
                "{}_a3001_psf-ami-oi.fits",
                s.trim_end_matches("_calints.fits")
            ))
        })
        .collect();
    for t in 0..35 {
        let want = (sci[0][t] + sci[1][t]) / 2.0 - (psf[0][t] + psf[1][t]) / 2.0;
        let d = angle_diff_deg(cp[t], want);
        assert!(d < 0.1, "triangle {t}: ours {} jwst-derived {want}", cp[t]);
    }
    let truth = truth_closure_phases_deg();
    let rms = (cp
        .iter()
        .zip(&truth)
        .map(|(a, b)| angle_diff_deg(*a, *b).powi(2))
        .sum::<f64>()
        / 35.0)
        .sqrt();
    let scale = (truth.iter().map(|v| v * v).sum::<f64>() / 35.0).sqrt();
    eprintln!(
        "calibrated closure phases vs closed form: {rms:.4} deg rms (truth rms {scale:.3} deg)"
    );
    assert!(
        scale > 3.0,
        "the truth binary has closure phases of degrees (rms {scale})"
    );
    assert!(
        rms < 0.3,
        "calibrated closure phases differ from the closed form by {rms} deg rms"
    );
    // and the calibrated file says the same
    let norm_oi = r
        .products
        .iter()
        .find(|p| p.name.ends_with("_aminorm-oi.fits"))
        .unwrap();
    let t3 = column(
        &ami3::fits::read_fits(&norm_oi.bytes, &norm_oi.name).unwrap(),
        "OI_T3",
        "T3PHI",
    );
    for (a, b) in t3.iter().zip(&cp) {
        assert!((a - b).abs() < 1e-12);
    }
}

#[test]
fn without_reference_star_normalize_is_skipped() {
    let r = run(&[(SCI[0], "science")], true, Some(2));
    assert!(r.errors.is_empty());
    assert!(r.calibrated_cp_deg.is_none());
    assert!(
        !r.names.iter().any(|n| n.contains("aminorm")),
        "{:?}",
        r.names
    );
    assert!(r.names.iter().any(|n| n.ends_with("_amiavg.fits")));
    assert!(!r.names.iter().any(|n| n.ends_with("_psf-amiavg.fits")));
    assert!(
        r.messages.iter().any(|m| m.contains("normalize skipped")),
        "{:?}",
        r.messages
    );
}

#[test]
fn averages_are_written_only_with_save_averages() {
    let members = [(PSF[0], "psf"), (SCI[0], "science")];
    let off = run(&members, false, Some(2));
    assert!(
        !off.names.iter().any(|n| n.contains("amiavg")),
        "{:?}",
        off.names
    );
    assert!(off.names.iter().any(|n| n.ends_with("_aminorm.fits")));
    let on = run(&members, true, Some(2));
    assert!(on.names.iter().any(|n| n.ends_with("_amiavg.fits")));
    assert!(on.names.iter().any(|n| n.ends_with("_psf-amiavg.fits")));
}

#[test]
fn a_missing_member_is_reported_by_name_and_the_rest_are_reduced() {
    let r = run(
        &[
            (PSF[0], "psf"),
            ("jw_missing_calints.fits", "science"),
            (SCI[0], "science"),
        ],
        false,
        Some(2),
    );
    assert_eq!(r.errors.len(), 1);
    assert!(
        r.errors[0].to_string().contains("jw_missing_calints.fits"),
        "{}",
        r.errors[0]
    );
    assert!(r.names.iter().any(|n| n.ends_with("_aminorm.fits")));
}

#[test]
fn a_member_of_the_wrong_exp_type_is_reported_and_the_rest_are_reduced() {
    // the THROUGHPUT reference file is a FITS file, but not an AMI exposure
    let r = run(
        &[
            (PSF[0], "psf"),
            ("throughput_f480m.fits", "science"),
            (SCI[0], "science"),
        ],
        false,
        Some(2),
    );
    assert_eq!(r.errors.len(), 1, "{:?}", r.errors);
    let msg = r.errors[0].to_string();
    assert!(
        msg.contains("throughput_f480m.fits") && msg.contains("EXP_TYPE"),
        "{msg}"
    );
    assert!(r.names.iter().any(|n| n.ends_with("_aminorm.fits")));
}

#[test]
fn unequal_science_and_psf_counts_use_every_exposure() {
    let r = run(
        &[(PSF[0], "psf"), (SCI[0], "science"), (SCI[1], "science")],
        false,
        Some(2),
    );
    assert!(r.errors.is_empty());
    let norm = r
        .products
        .iter()
        .find(|p| p.name.ends_with("_aminorm.fits"))
        .unwrap();
    let h = ami3::fits::read_fits(&norm.bytes, &norm.name).unwrap();
    assert_eq!(h[0].header.get_i64("NSCIEXP"), Some(2));
    assert_eq!(h[0].header.get_i64("NPSFEXP"), Some(1));
}

#[test]
fn association_without_science_members_is_an_error() {
    let e = Association::from_json(&asn_json(&[(PSF[0], "psf")]), "only_psf_asn.json").unwrap_err();
    assert!(
        e.to_string().contains("only_psf_asn.json") && e.to_string().contains("science"),
        "{e}"
    );
    let e = Association::from_json("{not json", "broken_asn.json").unwrap_err();
    assert!(e.to_string().contains("broken_asn.json"));
}

#[test]
fn product_names_and_ids_that_would_leave_the_output_folder_are_refused_by_name() {
    let hostile = [
        ("../x", "a3001"),
        ("/tmp/ami3-escape", "a3001"),
        ("..\\x", "a3001"),
        ("sub/x", "a3001"),
        ("x\u{7}", "a3001"),
        ("C:x", "a3001"),
        (PRODUCT, "a3/001"),
        (PRODUCT, ".."),
        (PRODUCT, "a\n1"),
    ];
    for (product, id) in hostile {
        let text = serde_json::json!({"asn_id": id, "products": [{"name": product,
            "members": [{"expname": SCI[0], "exptype": "science"}]}]})
        .to_string();
        let e = Association::from_json(&text, "hostile_asn.json").unwrap_err();
        assert_eq!(
            (e.input, e.kind),
            (Input::File("hostile_asn.json".into()), Kind::BadAssociation),
            "{product:?} {id:?}"
        );
        assert!(
            e.problem.contains("inside the output folder"),
            "{product:?} {id:?}: {}",
            e.problem
        );
    }
    // ordinary names pass
    let text = serde_json::json!({"asn_id": "a3001", "products": [{"name": "jw01093-a3001_t001_niriss_f480m-nrm",
        "members": [{"expname": SCI[0], "exptype": "science"}]}]})
    .to_string();
    assert!(Association::from_json(&text, "asn.json").is_ok());
}

#[test]
fn ami3_run_with_a_hostile_product_name_writes_nothing_and_names_the_association() {
    let tmp = std::env::temp_dir().join(format!("ami3-hostile-{}", std::process::id()));
    let out = tmp.join("out");
    std::fs::create_dir_all(&tmp).unwrap();
    let asn = tmp.join("asn.json");
    let text = serde_json::json!({"asn_id": "a3001", "products": [{"name": "../escaped",
        "members": [{"expname": data_dir().join(SCI[0]), "exptype": "science"}]}]});
    std::fs::write(&asn, text.to_string()).unwrap();
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_ami3"))
        .args(["run", asn.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(
        stderr.contains("asn.json") && stderr.contains("../escaped"),
        "{stderr}"
    );
    let written: Vec<_> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        written,
        vec![std::ffi::OsString::from("asn.json")],
        "nothing else was written"
    );
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[test]
fn ami3_analyze_and_ami3_run_stamp_the_same_provenance_cards() {
    // the same exposure through `ami3 analyze` (steps) and through `ami3 run` (pipeline member)
    let params = AnalyzeParams {
        firstfew: Some(2),
        ..AnalyzeParams::default()
    };
    let (_, analyzed) = ami3::steps::analyze_bytes(
        &load(SCI[0]).unwrap(),
        SCI[0],
        &references(),
        &params,
        planner(),
        &|_, _| {},
    )
    .unwrap();
    let r = run(&[(SCI[0], "science")], false, Some(2));
    let primary = |products: &[ProductFile], suffix: &str| {
        let p = products
            .iter()
            .find(|p| p.name.ends_with(suffix))
            .unwrap_or_else(|| panic!("{suffix}"));
        ami3::fits::read_fits(&p.bytes, &p.name).unwrap()[0]
            .header
            .clone()
    };
    let keys = [
        "S_AMIANA", "AMI_NINT", "AMI_NPIX", "AMI_MX", "AMI_MY", "AMI_SX", "AMI_SY", "CAL_VER",
        "CAL_SOFT", "DATAMODL",
    ];
    for suffix in ["_ami.fits", "_ami-oi.fits"] {
        let (a, b) = (primary(&analyzed, suffix), primary(&r.products, suffix));
        for key in keys {
            let (ca, cb) = (a.card(key), b.card(key));
            assert!(
                ca.is_some(),
                "{suffix}: {key} missing from ami3 analyze's product"
            );
            assert_eq!(ca, cb, "{suffix}: {key}");
        }
        assert_eq!(b.get_str("CAL_SOFT"), Some("ami3"));
        assert_eq!(b.get_str("CAL_VER"), Some(env!("CARGO_PKG_VERSION")));
        assert_eq!(b.get_i64("AMI_NINT"), Some(2));
    }
    // the calibrated product says which software made it, too
    let r = run(&all_members(), false, Some(1));
    let norm = primary(&r.products, "_aminorm-oi.fits");
    assert_eq!(norm.get_str("CAL_SOFT"), Some("ami3"));
    for key in ["S_AMIANA", "S_AMIAVG", "S_AMINOR"] {
        assert_eq!(norm.get_str(key), Some("COMPLETE"), "{key}");
    }
}

#[test]
fn an_association_with_a_byte_order_mark_is_read() {
    let text = format!("\u{feff}{}", asn_json(&all_members()));
    let asn = Association::from_json(&text, "bom_asn.json").unwrap();
    assert_eq!(asn.members.len(), 4);
    assert_eq!(asn.product_name, PRODUCT);
}

#[test]
fn a_member_listed_twice_is_reduced_once_and_unknown_exptypes_are_reported() {
    let mut members = all_members();
    members.push((SCI[0], "science"));
    members.push((SCI[1], "target_acq"));
    let asn = Association::from_json(&asn_json(&members), "twice_asn.json").unwrap();
    assert_eq!(asn.members.len(), 4);
    assert!(
        asn.notes
            .iter()
            .any(|n| n.contains(SCI[0]) && n.contains("more than once")),
        "{:?}",
        asn.notes
    );
    assert!(
        asn.notes.iter().any(|n| n.contains("'target_acq'")),
        "{:?}",
        asn.notes
    );
    // the notes reach the pipeline's messages, and the exposure counts once
    let r = run(&members, false, Some(1));
    assert!(
        r.messages.iter().any(|m| m.contains("more than once")),
        "{:?}",
        r.messages
    );
    let norm = r
        .products
        .iter()
        .find(|p| p.name.ends_with("_aminorm.fits"))
        .unwrap();
    let h = &ami3::fits::read_fits(&norm.bytes, &norm.name).unwrap()[0].header;
    assert_eq!(h.get_i64("NSCIEXP"), Some(2));
}

#[test]
fn members_of_different_filters_are_not_averaged_together() {
    let asn = Association::from_json(&asn_json(&all_members()), "mixed_asn.json").unwrap();
    // one reference exposure relabelled F430M; the built-in curves give each its bandpass
    let load_mixed = |name: &str| -> Result<Vec<u8>> {
        let bytes = load(name)?;
        if name != PSF[0] {
            return Ok(bytes);
        }
        let mut hdus = ami3::fits::read_fits(&bytes, name).unwrap();
        hdus[0]
            .header
            .set("FILTER", ami3::fits::Value::Str("F430M".into()), None);
        Ok(ami3::fits::write_fits(&hdus))
    };
    let options = PipelineOptions {
        analyze: AnalyzeParams {
            firstfew: Some(1),
            ..AnalyzeParams::default()
        },
        ..PipelineOptions::default()
    };
    let refs = ami3::analyze::exposure::References {
        throughput: None,
        ..references()
    };
    let (_, combined, errors) = run_pipeline(&asn, &load_mixed, &refs, &options, &|_, _, _| {});
    assert!(errors.is_empty(), "{errors:?}");
    assert!(
        combined
            .messages
            .iter()
            .any(|m| m.contains("different filters") && m.contains("F430M") && m.contains("F480M")),
        "{:?}",
        combined.messages
    );
    assert!(combined.products.is_empty());
    assert!(combined.calibrated_closure_phases_deg.is_none());
}
