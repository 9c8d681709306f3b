//! Real JWST flight data (../shared/data/abdor-1093: programme 1093, AB Dor and HD 37093, F480M
//! and F430M, 2-D `_cal` from jwst 1.5.3 with ~450 flagged pixels each, VAR_* and ASDF
//! extensions, ROLL_REF ≠ 0) against what jwst 3.0.0 wrote for the same association
//! (`out-jwst-3.0.0/`, run with the folder's throughput file and f480m-binary's NRM file):
//! per-exposure observables within 1e-4 (amplitudes, V²) and 0.01° (phases), with the throughput
//! file and with the built-in curve of the same filter; the calibrated product is written and
//! carries the companion's closure-phase signal (about 1° RMS, the folder's README); NaN at the
//! flagged pixels (as jwst ≥ 1.9 writes them) keeps amplitudes and closure phases.
//! Data: JWST/NIRISS, programme 1093, MAST.

mod common;
use ami3::analyze::exposure::{AnalyzeParams, References};
use ami3::error::{Error, Result};
use ami3::fits::{read_fits, Hdu};
use ami3::pipeline::{run_pipeline, Association, PipelineOptions};
use ami3::products::reffiles::{NrmReference, Throughput};
use ami3::steps::{analyze_bytes, ProductFile};
use common::*;
use std::path::PathBuf;
use std::sync::OnceLock;

fn folder(filter: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../shared/data/abdor-1093/{filter}"))
}

/// The folder's throughput file (or none: the built-in curve) and f480m-binary's NRM file.
fn refs(filter: &str, throughput_file: bool) -> References {
    let t = format!("throughput_{filter}.fits");
    References {
        throughput: throughput_file
            .then(|| Throughput::from_bytes(&read(&folder(filter).join(&t)), &t).unwrap()),
        nrm: Some(
            NrmReference::from_bytes(&read(&data_dir().join("nrm.fits")), "nrm.fits").unwrap(),
        ),
    }
}

struct Reduced {
    products: Vec<ProductFile>,
    calibrated_cp_deg: Vec<f64>,
}

fn reduce(filter: &str, throughput_file: bool) -> Reduced {
    let dir = folder(filter);
    let asn_text = String::from_utf8(read(&dir.join("asn.json"))).unwrap();
    let asn = Association::from_json(&asn_text, "asn.json").unwrap();
    let load = |name: &str| -> Result<Vec<u8>> {
        std::fs::read(dir.join(name))
            .map_err(|e| Error::file(name, ami3::error::Kind::Read, e.to_string()))
    };
    let (mut products, combined, errors) = run_pipeline(
        &asn,
        &load,
        &refs(filter, throughput_file),
        &PipelineOptions::default(),
        &|_, _, _| {},
    );
    assert!(errors.is_empty(), "{filter}: {errors:?}");
    products.extend(combined.products);
    Reduced {
        products,
        calibrated_cp_deg: combined
            .calibrated_closure_phases_deg
            .expect("a calibrated product"),
    }
}

/// Each filter's association, reduced once with the throughput file and once with the
/// built-in curve: [f480m file, f480m built-in, f430m file, f430m built-in].
fn reduced(filter: &str, throughput_file: bool) -> &'static Reduced {
    static CACHE: [OnceLock<Reduced>; 4] = [const { OnceLock::new() }; 4];
    let k = 2 * usize::from(filter == "f430m") + usize::from(!throughput_file);
    CACHE[k].get_or_init(|| reduce(filter, throughput_file))
}

fn product(r: &Reduced, name: &str) -> Vec<Hdu> {
    let p = r
        .products
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("{name} was not written"));
    read_fits(&p.bytes, name).unwrap()
}

fn assert_columns_close(ours: &[Hdu], theirs: &[Hdu], what: &str) {
    let (amp, deg) = common::assert_columns_close(ours, theirs, &OI_COLUMNS, what);
    eprintln!("{what}: largest difference {amp:.1e} (amplitudes), {deg:.1e} deg");
}

fn members(filter: &str) -> Vec<(String, &'static str)> {
    let band = if filter == "f480m" { "03102" } else { "03103" };
    [
        ("12", "ami-oi"),
        ("13", "ami-oi"),
        ("15", "psf-ami-oi"),
        ("16", "psf-ami-oi"),
    ]
    .iter()
    .map(|(obs, suffix)| (format!("jw010930{obs}001_{band}_00001_nis_a3001"), *suffix))
    .collect()
}

#[test]
fn every_exposure_of_both_filters_matches_jwst_3_0_0() {
    for filter in ["f480m", "f430m"] {
        let r = reduced(filter, true);
        for (root, suffix) in members(filter) {
            let name = format!("{root}_{suffix}.fits");
            let jwst = hdus(&folder(filter).join("out-jwst-3.0.0").join(&name));
            assert_columns_close(&product(r, &name), &jwst, &name);
        }
    }
}

#[test]
fn the_built_in_curve_gives_the_values_of_the_throughput_file() {
    for filter in ["f480m", "f430m"] {
        let (file, builtin) = (reduced(filter, true), reduced(filter, false));
        for (root, suffix) in members(filter) {
            let name = format!("{root}_{suffix}.fits");
            // the bandpass is the same to the bit (tests/builtin_curves.rs), so are the values
            for (ext, col, _, _) in OI_COLUMNS {
                assert_eq!(
                    column(&product(builtin, &name), ext, col),
                    column(&product(file, &name), ext, col),
                    "{name}: {ext}.{col}"
                );
            }
            let jwst = hdus(&folder(filter).join("out-jwst-3.0.0").join(&name));
            assert_columns_close(&product(builtin, &name), &jwst, &name);
        }
        assert_eq!(
            file.calibrated_cp_deg, builtin.calibrated_cp_deg,
            "{filter}"
        );
    }
}

#[test]
fn stand_alone_analyze_of_the_first_science_exposure_matches_jwst() {
    for filter in ["f480m", "f430m"] {
        let band = if filter == "f480m" { "03102" } else { "03103" };
        let root = format!("jw01093012001_{band}_00001_nis");
        let input = format!("{root}_cal.fits");
        let (_, products) = analyze_bytes(
            &read(&folder(filter).join(&input)),
            &input,
            &refs(filter, true),
            &AnalyzeParams::default(),
            planner(),
            &|_, _| {},
        )
        .unwrap();
        let get = |suffix: &str| {
            let p = products
                .iter()
                .find(|p| p.name == format!("{root}_{suffix}"))
                .unwrap_or_else(|| panic!("{root}_{suffix}"));
            read_fits(&p.bytes, &p.name).unwrap()
        };
        let jwst =
            |suffix: &str| hdus(&folder(filter).join(format!("out-jwst-3.0.0/{root}_{suffix}")));
        assert_columns_close(&get("ami-oi.fits"), &jwst("ami-oi.fits"), filter);
        // one integration: the multi-integration file has the same values
        for (ext, col, tol, is_angle) in &OI_COLUMNS[..5] {
            let (a, b) = (
                column(&get("amimulti-oi.fits"), ext, col),
                column(&jwst("amimulti-oi.fits"), ext, col),
            );
            assert_eq!(a.len(), b.len(), "{filter} {ext}.{col}");
            for (x, y) in a.iter().zip(&b) {
                let d = difference(*x, *y, *is_angle);
                assert!(d < *tol, "{filter} amimulti {ext}.{col}: {x} vs {y}");
            }
        }
        let (a, b) = (
            column(&get("amilg.fits"), "SOLNS", "coeffs"),
            column(&jwst("amilg.fits"), "SOLNS", "coeffs"),
        );
        assert_eq!(a.len(), 44, "{filter}");
        for (x, y) in a.iter().zip(&b) {
            assert!(
                (x - y).abs() < 1e-6 * y.abs().max(1.0),
                "{filter} SOLNS {x} vs {y}"
            );
        }
    }
}

#[test]
fn calibrated_closure_phases_carry_the_companion_and_follow_jwsts_exposures() {
    for filter in ["f480m", "f430m"] {
        let r = reduced(filter, true);
        let name = format!("jw01093-a3001_t001_niriss_{filter}-nrm_aminorm-oi.fits");
        let ours = column(&product(r, &name), "OI_T3", "T3PHI");
        assert_eq!(ours.len(), 35);
        for (a, b) in ours.iter().zip(&r.calibrated_cp_deg) {
            assert!(
                (a - b).abs() < 1e-12,
                "{filter}: the product holds the reported CPs"
            );
        }
        // mean of science minus mean of reference closure phases of jwst's per-exposure files
        let cp = |root: &str, suffix: &str| {
            column(
                &hdus(&folder(filter).join(format!("out-jwst-3.0.0/{root}_{suffix}.fits"))),
                "OI_T3",
                "T3PHI",
            )
        };
        let m = members(filter);
        let (s1, s2, p1, p2) = (
            cp(&m[0].0, m[0].1),
            cp(&m[1].0, m[1].1),
            cp(&m[2].0, m[2].1),
            cp(&m[3].0, m[3].1),
        );
        let mut worst = 0.0f64;
        for k in 0..35 {
            let expected = (s1[k] + s2[k]) / 2.0 - (p1[k] + p2[k]) / 2.0;
            worst = worst.max(angle_diff_deg(ours[k], expected));
        }
        let rms = (ours.iter().map(|c| c * c).sum::<f64>() / 35.0).sqrt();
        eprintln!("{filter}: calibrated CP RMS {rms:.3} deg; vs jwst's exposures {worst:.4} deg");
        assert!(worst < 0.05, "{filter}: {worst} deg from jwst's exposures");
        assert!(
            (0.5..2.0).contains(&rms),
            "{filter}: companion signal {rms} deg RMS"
        );
    }
}

#[test]
fn nan_at_flagged_pixels_as_jwst_1_9_writes_keeps_amplitudes_and_closure_phases() {
    // jwst >= 1.9 sets SCI to NaN where DQ has DO_NOT_USE; the 1.5.3 files hold numbers there
    let name = "jw01093012001_03102_00001_nis_cal.fits";
    let bytes = read(&folder("f480m").join(name));
    let mut file_hdus = read_fits(&bytes, name).unwrap();
    let dq: Vec<f64> = file_hdus
        .iter()
        .find(|h| h.extname() == Some("DQ"))
        .and_then(|h| h.image_data())
        .unwrap()
        .1
        .to_vec();
    let sci = file_hdus
        .iter_mut()
        .find(|h| h.extname() == Some("SCI"))
        .unwrap();
    let mut nan_pixels = 0;
    if let ami3::fits::HduData::Image { pixels, .. } = &mut sci.data {
        for (v, q) in pixels.iter_mut().zip(&dq) {
            if (*q as u32) & 1 != 0 {
                *v = f64::NAN;
                nan_pixels += 1;
            }
        }
    }
    assert!(nan_pixels > 400, "{nan_pixels} flagged pixels");
    let nan_bytes = ami3::fits::write_fits(&file_hdus);
    let analyze = |b: &[u8]| {
        analyze_bytes(
            b,
            name,
            &refs("f480m", true),
            &AnalyzeParams::default(),
            planner(),
            &|_, _| {},
        )
        .unwrap()
        .1
    };
    let (plain, with_nan) = (analyze(&bytes), analyze(&nan_bytes));
    let oi = |p: &[ProductFile]| {
        let f = p.iter().find(|f| f.name.ends_with("_ami-oi.fits")).unwrap();
        read_fits(&f.bytes, &f.name).unwrap()
    };
    // Amplitudes and closure phases do not depend on the flagged pixels' values. Fringe phases
    // and pistons do, by ~0.15° here: the centroid reads the image's last row and column, which
    // the bad-pixel fix leaves as they are (numbers in 1.5.3 files, 0 where NaN), a tilt that
    // closure phases cancel.
    for (ext, col, tol) in [
        ("OI_VIS", "VISAMP", 1e-4),
        ("OI_VIS2", "VIS2DATA", 1e-4),
        ("OI_T3", "T3AMP", 1e-4),
        ("OI_Q4", "Q4AMP", 1e-4),
        ("OI_T3", "T3PHI", 0.01),
    ] {
        let jwst =
            hdus(&folder("f480m").join("out-jwst-3.0.0/jw01093012001_03102_00001_nis_ami-oi.fits"));
        for (theirs, what) in [
            (oi(&plain), "numbers at flagged pixels"),
            (jwst, "jwst 3.0.0"),
        ] {
            let (a, b) = (column(&oi(&with_nan), ext, col), column(&theirs, ext, col));
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(&b) {
                let d = difference(*x, *y, col == "T3PHI");
                assert!(
                    d < tol,
                    "NaN at flagged pixels vs {what}: {ext}.{col} {x} vs {y}"
                );
            }
        }
    }
}
