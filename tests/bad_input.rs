//! Bad exposures give a clear error that names the file and the problem, never a panic:
//! not FITS, truncated, wrong EXP_TYPE, no SCI, every pixel flagged, NaN only, wrong shapes;
//! and the command line exits non-zero naming the file while still reducing the good ones.

mod common;
use ami3::analyze::exposure::AnalyzeParams;
use ami3::error::{Input, Kind, Stage};
use ami3::fits::{read_fits, write_fits, Hdu, HduData, Value};
use ami3::steps::{analyze_bytes, ProductFile};
use common::*;

const GOOD: &str = "jw10005003001_03102_00001_nis_calints.fits";

fn good_bytes() -> Vec<u8> {
    read(&data_dir().join(GOOD))
}

/// The error analysing `bytes` as `name` gives: it names the file and is of `kind`.
fn analyze_err(bytes: &[u8], name: &str, kind: Kind) -> String {
    let params = AnalyzeParams {
        firstfew: Some(2),
        ..AnalyzeParams::default()
    };
    match analyze_bytes(bytes, name, &references(), &params, planner(), &|_, _| {}) {
        Ok(_) => panic!("{name}: expected an error"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(name), "error does not name the file: {msg}");
            assert_eq!(e.input, Input::File(name.into()), "{msg}");
            assert_eq!(e.kind, kind, "{msg}");
            msg
        }
    }
}

/// The good exposure's HDUs, changed by `f`, written back.
fn modified(f: impl Fn(&mut Vec<Hdu>)) -> Vec<u8> {
    let mut hdus = read_fits(&good_bytes(), GOOD).unwrap();
    f(&mut hdus);
    write_fits(&hdus)
}

fn image_mut<'a>(hdus: &'a mut [Hdu], name: &str) -> &'a mut Vec<f64> {
    let h = hdus.iter_mut().find(|h| h.extname() == Some(name)).unwrap();
    match &mut h.data {
        HduData::Image { pixels, .. } => pixels,
        _ => panic!("{name} is not an image"),
    }
}

#[test]
fn not_fits_is_an_error() {
    let msg = analyze_err(b"{\"asn_type\": \"ami3\"}", "notes.json", Kind::NotFits);
    assert!(msg.to_lowercase().contains("fits"), "{msg}");
}

#[test]
fn truncated_file_is_an_error() {
    let bytes = good_bytes();
    let msg = analyze_err(
        &bytes[..bytes.len() / 2],
        "cut_calints.fits",
        Kind::MalformedHdu(3),
    );
    assert!(msg.contains("truncated: HDU 3 (DQ)"), "{msg}");
}

#[test]
fn wrong_exp_type_is_an_error() {
    let bytes = modified(|h| {
        h[0].header
            .set("EXP_TYPE", Value::Str("NIS_IMAGE".into()), None)
    });
    let msg = analyze_err(&bytes, "imaging_calints.fits", Kind::NotAmiExposure);
    assert!(
        msg.contains("EXP_TYPE") && msg.contains("NIS_IMAGE"),
        "{msg}"
    );
}

#[test]
fn a_filter_without_a_built_in_curve_needs_a_throughput_file() {
    let bytes = modified(|h| h[0].header.set("FILTER", Value::Str("F444W".into()), None));
    let name = "f444w_calints.fits";
    let params = AnalyzeParams {
        firstfew: Some(1),
        ..AnalyzeParams::default()
    };
    let no_throughput = ami3::analyze::exposure::References {
        throughput: None,
        ..references()
    };
    let e =
        analyze_bytes(&bytes, name, &no_throughput, &params, planner(), &|_, _| {}).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains(name) && msg.contains("F444W"), "{msg}");
    assert_eq!(e.kind, Kind::BadReference, "{msg}");
    assert!(msg.contains("give a THROUGHPUT file"), "{msg}");
    // with a throughput file (one that does not name its filter) the same exposure is reduced
    let mut unnamed = references();
    unnamed.throughput.as_mut().unwrap().filter = None;
    assert!(analyze_bytes(&bytes, name, &unnamed, &params, planner(), &|_, _| {}).is_ok());
}

#[test]
fn a_throughput_file_of_another_filter_is_an_error_naming_both() {
    let mut refs = references();
    refs.throughput.as_mut().unwrap().filter = Some("F430M".into());
    let params = AnalyzeParams {
        firstfew: Some(1),
        ..AnalyzeParams::default()
    };
    let e = analyze_bytes(&good_bytes(), GOOD, &refs, &params, planner(), &|_, _| {}).unwrap_err();
    let msg = e.to_string();
    assert_eq!(e.kind, Kind::BadReference, "{msg}");
    assert!(
        msg.contains(GOOD) && msg.contains("F480M") && msg.contains("F430M"),
        "{msg}"
    );
}

#[test]
fn a_nircam_exposure_or_one_without_the_mask_is_refused_by_name() {
    for (key, value) in [("INSTRUME", "NIRCAM"), ("PUPIL", "CLEARP")] {
        let bytes = modified(|h| h[0].header.set(key, Value::Str(value.into()), None));
        let msg = analyze_err(&bytes, "not_ami_calints.fits", Kind::NotAmiExposure);
        assert!(msg.contains(key) && msg.contains(value), "{msg}");
    }
}

#[test]
fn missing_sci_is_an_error() {
    let bytes = modified(|h| h.retain(|x| x.extname() != Some("SCI")));
    let msg = analyze_err(&bytes, "nosci_calints.fits", Kind::NotAmiExposure);
    assert!(msg.contains("SCI"), "{msg}");
}

#[test]
fn every_pixel_flagged_is_an_error() {
    let bytes = modified(|h| image_mut(h, "DQ").iter_mut().for_each(|v| *v = 1.0));
    let msg = analyze_err(&bytes, "flagged_calints.fits", Kind::NotAmiExposure);
    assert!(msg.contains("DO_NOT_USE"), "{msg}");
}

#[test]
fn nan_only_image_is_an_error() {
    let bytes = modified(|h| image_mut(h, "SCI").iter_mut().for_each(|v| *v = f64::NAN));
    let msg = analyze_err(&bytes, "nan_calints.fits", Kind::NotAmiExposure);
    assert!(msg.contains("NaN"), "{msg}");
}

#[test]
fn mismatched_err_shape_is_an_error() {
    let bytes = modified(|h| {
        let e = h.iter_mut().find(|x| x.extname() == Some("ERR")).unwrap();
        if let HduData::Image { shape, pixels } = &mut e.data {
            shape[0] = 4;
            pixels.truncate(4 * 80 * 80);
        }
    });
    let msg = analyze_err(&bytes, "shapes_calints.fits", Kind::NotAmiExposure);
    assert!(msg.contains("ERR") && msg.contains("shape"), "{msg}");
}

#[test]
fn star_at_the_edge_is_an_error_not_a_panic() {
    let bytes = modified(|h| {
        let sci = image_mut(h, "SCI");
        // a bright source (3 × 3 pixels: not a lone hot pixel) in the corner of every
        // integration
        for k in 0..5 {
            for r in 77..80 {
                for c in 77..80 {
                    sci[k * 6400 + r * 80 + c] = 1e12;
                }
            }
        }
    });
    let msg = analyze_err(
        &bytes,
        "edge_calints.fits",
        Kind::Analysis {
            stage: Stage::Prepare,
            integration: None,
        },
    );
    assert!(msg.contains("edge"), "{msg}");
}

#[test]
fn command_line_names_the_bad_file_exits_nonzero_and_writes_the_good_one() {
    let dir = std::env::temp_dir().join(format!("ami3-bad-input-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("broken_calints.fits");
    std::fs::write(&bad, b"SIMPLE  = not really").unwrap();
    let out = dir.join("out");
    let d = data_dir();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ami3"))
        .args([
            "analyze",
            bad.to_str().unwrap(),
            d.join(GOOD).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args([
            "--throughput",
            d.join("throughput_f480m.fits").to_str().unwrap(),
            "--nrm",
            d.join("nrm.fits").to_str().unwrap(),
        ])
        .args(["--firstfew", "2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(!status.status.success());
    assert!(stderr.contains("broken_calints.fits"), "{stderr}");
    assert!(out
        .join("jw10005003001_03102_00001_nis_ami-oi.fits")
        .exists());
    let bad_option = std::process::Command::new(env!("CARGO_BIN_EXE_ami3"))
        .args([
            "analyze",
            d.join(GOOD).to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--oversample",
            "4",
        ])
        .output()
        .unwrap();
    assert!(!bad_option.status.success());
    assert!(String::from_utf8_lossy(&bad_option.stderr).contains("--oversample"));
    std::fs::remove_dir_all(&dir).ok();
}

/// Runs `ami3 ARGS`, killing it if it has not finished within a minute (a hang is a failure).
fn ami3_within_a_minute(args: &[&str]) -> (bool, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ami3"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            return (status.success(), stderr);
        }
        if start.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().ok();
            panic!("ami3 {args:?} did not finish within a minute");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_fifo_or_a_device_as_a_member_is_refused_by_name_and_the_good_member_is_reduced() {
    let dir = std::env::temp_dir().join(format!("ami3-fifo-{}", std::process::id()));
    let out = dir.join("out");
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe_calints.fits");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo");
    let d = data_dir();
    let (ok, stderr) = ami3_within_a_minute(&[
        "analyze",
        fifo.to_str().unwrap(),
        "/dev/zero",
        d.join(GOOD).to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--throughput",
        d.join("throughput_f480m.fits").to_str().unwrap(),
        "--nrm",
        d.join("nrm.fits").to_str().unwrap(),
        "--firstfew",
        "1",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("pipe_calints.fits") && stderr.contains("not a regular file"),
        "{stderr}"
    );
    assert!(stderr.contains("/dev/zero"), "{stderr}");
    assert!(out
        .join("jw10005003001_03102_00001_nis_ami-oi.fits")
        .exists());
    std::fs::remove_dir_all(&dir).ok();
}

/// The good exposure with the SCI pixels of integrations `dead` (0-based) all NaN.
fn with_dead_integrations(dead: std::ops::Range<usize>) -> Vec<u8> {
    let mut hdus = read_fits(&good_bytes(), GOOD).unwrap();
    let frame = 80 * 80;
    image_mut(&mut hdus, "SCI")[dead.start * frame..dead.end * frame].fill(f64::NAN);
    write_fits(&hdus)
}

/// The good exposure without integration `k` (a 4-integration cube).
fn without_integration(k: usize) -> Vec<u8> {
    let mut hdus = read_fits(&good_bytes(), GOOD).unwrap();
    for h in hdus.iter_mut() {
        if let HduData::Image { shape, pixels } = &mut h.data {
            if shape.len() == 3 {
                let frame = shape[1] * shape[2];
                pixels.drain(k * frame..(k + 1) * frame);
                shape[0] -= 1;
            }
        }
    }
    write_fits(&hdus)
}

#[test]
fn a_dead_integration_is_dropped_with_a_note_and_the_rest_are_reduced() {
    let dead = with_dead_integrations(2..3);
    let run = |bytes: &[u8], name: &str| {
        analyze_bytes(
            bytes,
            name,
            &references(),
            &AnalyzeParams::default(),
            planner(),
            &|_, _| {},
        )
        .unwrap_or_else(|e| panic!("{e}"))
    };
    let start = std::time::Instant::now();
    let (analyzed, products) = run(&dead, "dead_calints.fits");
    assert!(start.elapsed().as_secs() < 30, "took {:?}", start.elapsed());
    let an = &analyzed.analysis;
    assert_eq!(an.dropped, vec![2]);
    assert_eq!(an.integrations.len(), 4);
    assert!(
        an.notes
            .iter()
            .any(|n| n.contains("integration 3") && n.contains("no finite pixel")),
        "{:?}",
        an.notes
    );
    // the four good integrations give what a file of just those four gives
    let (_, reference) = run(&without_integration(2), "four_calints.fits");
    let oi = |p: &[ami3::steps::ProductFile]| {
        let f = p.iter().find(|f| f.name.ends_with("_ami-oi.fits")).unwrap();
        read_fits(&f.bytes, &f.name).unwrap()
    };
    for (ext, col) in [
        ("OI_VIS2", "VIS2DATA"),
        ("OI_T3", "T3PHI"),
        ("OI_VIS", "VISAMP"),
    ] {
        assert_eq!(
            column(&oi(&products), ext, col),
            column(&oi(&reference), ext, col),
            "{ext}.{col}"
        );
    }
    // the products say so, and the per-integration rows keep their own times
    let primary = &oi(&products)[0].header;
    assert_eq!(primary.get_i64("AMI_NDRP"), Some(1));
    assert_eq!(primary.get_i64("AMI_NINT"), Some(4));
    let multi = products
        .iter()
        .find(|f| f.name.ends_with("_amimulti-oi.fits"))
        .unwrap();
    let mjd = column(
        &read_fits(&multi.bytes, &multi.name).unwrap(),
        "OI_VIS",
        "MJD",
    );
    assert_eq!(mjd.len(), 4 * 21);
    let step = mjd[21] - mjd[0];
    assert!(step > 0.0);
    assert!(
        ((mjd[2 * 21] - mjd[21]) / step - 2.0).abs() < 1e-3,
        "integration 3's time is skipped"
    );
}

#[test]
fn an_exposure_with_fewer_than_two_good_integrations_is_an_error_naming_why() {
    // integrations 2 to 5 dead, only the first left
    let msg = analyze_err(
        &with_dead_integrations(1..5),
        "mostly_dead_calints.fits",
        Kind::Analysis {
            stage: Stage::Fit,
            integration: None,
        },
    );
    assert!(
        msg.contains("fewer than two remain") && msg.contains("no finite pixel"),
        "{msg}"
    );
}

/// Analyses `bytes` as `name` with every option at its default (integrations 1 and 2 only):
/// the analysis and its products.
fn reduce(bytes: &[u8], name: &str) -> (ami3::steps::AnalyzedExposure, Vec<ProductFile>) {
    let params = AnalyzeParams {
        firstfew: Some(2),
        ..AnalyzeParams::default()
    };
    analyze_bytes(bytes, name, &references(), &params, planner(), &|_, _| {})
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The product of `products` whose name ends with `suffix`, as HDUs.
fn product(products: &[ProductFile], suffix: &str) -> Vec<Hdu> {
    let p = products
        .iter()
        .find(|p| p.name.ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix}"));
    read_fits(&p.bytes, &p.name).unwrap()
}

#[test]
fn trailing_bytes_or_a_damaged_last_extension_are_a_note_not_an_error() {
    let (_, clean) = reduce(&good_bytes(), "clean_calints.fits");
    let mut trailing = good_bytes();
    trailing.extend([b'x'; 100]);
    // the last extension (ASDF) with its header overwritten
    let mut damaged = good_bytes();
    let hdus = read_fits(&damaged, GOOD).unwrap();
    let last_header = {
        // the offset of the last XTENSION card on a block boundary
        (0..damaged.len() / 2880)
            .rev()
            .map(|b| b * 2880)
            .find(|&o| damaged[o..].starts_with(b"XTENSION"))
            .unwrap()
    };
    assert_eq!(hdus.last().unwrap().extname(), Some("ASDF"));
    damaged[last_header + 80..last_header + 160].fill(b'#');
    for (bytes, what) in [
        (trailing, "100 stray bytes"),
        (damaged, "HDU 5 (no EXTNAME)"),
    ] {
        let name = "odd_calints.fits";
        let (a, products) = reduce(&bytes, name);
        let note = a
            .analysis
            .notes
            .iter()
            .find(|n| n.contains("read as far as that"));
        assert!(note.is_some(), "{what}: {:?}", a.analysis.notes);
        // the same values as the clean file's (the names in the headers differ)
        for suffix in ["_ami-oi.fits", "_amimulti-oi.fits"] {
            let (got, want) = (product(&products, suffix), product(&clean, suffix));
            for col in ["VIS2DATA", "VIS2ERR"] {
                assert_eq!(
                    column(&got, "OI_VIS2", col),
                    column(&want, "OI_VIS2", col),
                    "{what}"
                );
            }
            assert_eq!(
                column(&got, "OI_T3", "T3PHI"),
                column(&want, "OI_T3", "T3PHI"),
                "{what}"
            );
        }
    }
    // damage before DQ is read stays an error
    let mut early = good_bytes();
    early.truncate(early.len() / 2);
    let e = analyze_bytes(
        &early,
        "early.fits",
        &references(),
        &AnalyzeParams::default(),
        planner(),
        &|_, _| {},
    )
    .unwrap_err();
    assert_eq!(e.kind, Kind::MalformedHdu(3), "{e}");
}

#[test]
fn a_hot_pixel_brighter_than_the_star_does_not_move_the_crop() {
    let (clean, _) = reduce(&good_bytes(), "clean_calints.fits");
    // one unflagged pixel at 1e7 in every integration, 25 pixels from the star
    let bytes = modified(|h| {
        let sci = image_mut(h, "SCI");
        for k in 0..5 {
            sci[k * 6400 + 14 * 80 + 14] = 1e7;
        }
    });
    let (hot, _) = reduce(&bytes, "hot_calints.fits");
    assert!(
        hot.analysis.notes.iter().any(|n| n.contains("a hot pixel")),
        "{:?}",
        hot.analysis.notes
    );
    assert_eq!(hot.analysis.n, clean.analysis.n, "the crop is the star's");
    // V² of a faint binary stay near the clean file's (a hot pixel inside the crop is
    // found and repaired by the bad-pixel fix), and no warning of V² above 1
    for (a, b) in hot
        .analysis
        .average
        .vis2
        .iter()
        .zip(&clean.analysis.average.vis2)
    {
        assert!((a - b).abs() < 0.02, "V² {a} vs {b}");
    }
    assert_eq!(hot.analysis.vis2_above_one, 0);
}

#[test]
fn no_star_warns_of_no_fringes_on_the_products() {
    // a flat frame with noise and one faint bump: nothing like an AMI PSF
    let bytes = modified(|h| {
        let sci = image_mut(h, "SCI");
        let mut rng = ami3::portable::Rng::new(3);
        for (i, v) in sci.iter_mut().enumerate() {
            let (r, c) = ((i % 6400) / 80, i % 80);
            let bump =
                50.0 * (-(((r as f64 - 40.0).powi(2) + (c as f64 - 40.0).powi(2)) / 200.0)).exp();
            *v = 100.0 + bump + rng.normal();
        }
    });
    let (a, products) = reduce(&bytes, "nostar_calints.fits");
    assert!(a.analysis.no_fringes, "V² {:?}", a.analysis.average.vis2);
    assert!(a
        .analysis
        .notes
        .iter()
        .any(|n| n.starts_with("warning: no fringes")));
    let primary = &product(&products, "_ami-oi.fits")[0].header;
    assert_eq!(
        primary.get("AMI_WNOF"),
        Some(&Value::Bool(true)),
        "the warning is on the product"
    );
    // and a real exposure has neither warning
    let (clean, products) = reduce(&good_bytes(), "clean_calints.fits");
    assert!(!clean.analysis.no_fringes && clean.analysis.vis2_above_one == 0);
    let primary = &product(&products, "_ami-oi.fits")[0].header;
    assert!(primary.get("AMI_WNOF").is_none() && primary.get("AMI_WV2").is_none());
}

#[test]
fn an_err_with_no_usable_value_gives_errors_from_the_residuals_with_a_note() {
    let dir = data_dir().join("../abdor-1093/f480m");
    let name = "jw01093012001_03102_00001_nis_cal.fits";
    let mut hdus = read_fits(&read(&dir.join(name)), name).unwrap();
    image_mut(&mut hdus, "ERR").fill(f64::NAN);
    let bytes = write_fits(&hdus);
    let (a, _) = analyze_bytes(
        &bytes,
        name,
        &ami3::analyze::exposure::References::default(),
        &AnalyzeParams::default(),
        planner(),
        &|_, _| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(a
        .analysis
        .notes
        .iter()
        .any(|n| n.contains("ERR holds no finite positive value")));
    let errs = &a.analysis.average.vis2_err;
    assert!(
        errs.iter().all(|e| e.is_finite() && *e > 1e-6),
        "errors from the residuals: {errs:?}"
    );
}

#[test]
fn thousands_of_flagged_pixels_are_left_out_not_repaired_and_take_seconds() {
    // integration 2 (index 1) with 1,500 flagged pixels in the crop, away from the core
    let bytes = modified(|h| {
        let dq = image_mut(h, "DQ");
        let mut flagged = 0;
        for r in 6..80 {
            for c in 5..76 {
                if flagged < 1500 && ((r as i64 - 44).abs() > 14 || (c as i64 - 40).abs() > 14) {
                    dq[6400 + r * 80 + c] = 1.0;
                    flagged += 1;
                }
            }
        }
    });
    let start = std::time::Instant::now();
    let (a, _) = reduce(&bytes, "flagged_calints.fits");
    let secs = start.elapsed().as_secs_f64();
    assert!(secs < 20.0, "{secs} s");
    assert_eq!(a.analysis.integrations.len(), 2, "the integration is kept");
    assert!(
        a.analysis
            .notes
            .iter()
            .any(|n| n.starts_with("integration 2:") && n.contains("left out of the fit")),
        "{:?}",
        a.analysis.notes
    );
    let (clean, _) = reduce(&good_bytes(), "clean_calints.fits");
    for (x, y) in a.analysis.integrations[1]
        .observables
        .closure_phase_rad
        .iter()
        .zip(&clean.analysis.integrations[1].observables.closure_phase_rad)
    {
        assert!(
            (x - y).to_degrees().abs() < 1.0,
            "closure phases stay close: {x} vs {y}"
        );
    }
}

#[test]
fn allocations_sized_by_the_input_are_bounded_with_a_named_error() {
    use ami3::analyze::bandpass::from_throughput;
    // a throughput in µm, and one spanning 1 Å to 1e12 Å
    let t = references().throughput.unwrap();
    let microns: Vec<f32> = t.wavelength_angstrom.iter().map(|w| w / 1e4).collect();
    let e = from_throughput(&microns, &t.throughput).unwrap_err();
    assert_eq!(e.kind, Kind::BadReference);
    assert!(e.problem.contains("not in Angstrom"), "{e}");
    let start = std::time::Instant::now();
    let e = from_throughput(&[1.0, 2.0, 1e12], &[1.0, 1.0, 1.0]).unwrap_err();
    assert!(
        e.problem.contains("not in Angstrom") && start.elapsed().as_secs_f64() < 1.0,
        "{e}"
    );
    // a 2,000-sample bandpass
    let rows: Vec<String> = (0..2000)
        .map(|i| format!("[1, {}e-6]", 4.6 + i as f64 * 1e-4))
        .collect();
    let e =
        ami3::products::reffiles::bandpass_from_json(&format!("[{}]", rows.join(",")), "big.json")
            .unwrap_err();
    assert_eq!(
        (e.input, e.kind),
        (Input::File("big.json".into()), Kind::BadReference)
    );
    // oversample 41 and 1000000000001
    for v in ["41", "1000000000001"] {
        let mut o = ami3::options::Options::default();
        let e = o
            .set("--oversample", v)
            .and_then(|_| o.validate(&ami3::options::cli_name))
            .unwrap_err();
        assert_eq!(e.input, Input::Option("--oversample".into()), "{v}: {e}");
    }
    // frames larger than the detector
    let bytes = modified(|h| {
        let sci = h.iter_mut().find(|x| x.extname() == Some("SCI")).unwrap();
        sci.data = HduData::Image {
            shape: vec![1, 10, 4096],
            pixels: vec![1.0; 40960],
        };
        h.retain(|x| !matches!(x.extname(), Some("ERR" | "DQ")));
    });
    let e = analyze_err(&bytes, "wide_calints.fits", Kind::NotAmiExposure);
    assert!(e.contains("larger than the 2048"), "{e}");
}

#[test]
fn an_nrm_file_with_impossible_holes_or_a_tiny_frame_is_not_a_silent_answer() {
    // 100 m holes: the model cannot describe the image; the products say so
    let mut refs = references();
    refs.nrm.as_mut().unwrap().hole_flat_to_flat_m = 100.0;
    let params = AnalyzeParams {
        firstfew: Some(2),
        ..AnalyzeParams::default()
    };
    match analyze_bytes(
        &good_bytes(),
        "holes_calints.fits",
        &refs,
        &params,
        planner(),
        &|_, _| {},
    ) {
        Ok((a, _)) => assert!(
            a.analysis.vis2_above_one > 0 || a.analysis.no_fringes,
            "no warning: V² {:?}",
            a.analysis.average.vis2
        ),
        Err(e) => assert!(e.to_string().contains("holes_calints.fits"), "{e}"),
    }
    // a 9 × 9 frame: too small to crop an AMI image, by name
    let bytes = modified(|h| {
        for x in h.iter_mut() {
            if let HduData::Image { shape, pixels } = &mut x.data {
                if shape.len() == 3 {
                    let old = pixels.clone();
                    *pixels = (0..5 * 81)
                        .map(|i| old[(i / 81) * 6400 + (36 + (i % 81) / 9) * 80 + 36 + i % 9])
                        .collect();
                    *shape = vec![5, 9, 9];
                }
            }
        }
    });
    let msg = analyze_err(
        &bytes,
        "tiny_calints.fits",
        Kind::Analysis {
            stage: Stage::Prepare,
            integration: None,
        },
    );
    assert!(msg.contains("too close to crop"), "{msg}");
}
