//! The improved mode (issue 15) against the truth of our simulated sets (`improved_eval`: the
//! closed-form binary), and its products' marking: improved beats the default where the pupil
//! model is right, falls back to it under a mismatch, and only improved products carry AMIMODE.

use ami3::analyze::exposure::AnalyzeParams;
use ami3::analyze::improved::Mode;
use ami3::error::{Error, Kind};
use ami3::improved_eval::{eval_sets, score_set, simulate_set};
use ami3::pipeline::{run_pipeline, Association, PipelineOptions};

fn set(name: &str) -> ami3::improved_eval::EvalSet {
    eval_sets().into_iter().find(|s| s.name == name).unwrap()
}

#[test]
fn improved_beats_the_default_with_flagged_pixels_near_the_core() {
    let (d, i) = score_set(&set("f430m-flagged")).unwrap();
    eprintln!(
        "f430m-flagged CP RMS: default {:.3}, improved {:.3}",
        d.cp_rms_deg, i.cp_rms_deg
    );
    assert!(
        i.cp_rms_deg < d.cp_rms_deg - 0.03,
        "improved {} vs default {}",
        i.cp_rms_deg,
        d.cp_rms_deg
    );
    // and the companion is found as well (within 1 mas, 0.2°, 0.05 mag of the truth)
    assert!(
        i.d_sep_mas.abs() < 1.0 && i.d_pa_deg.abs() < 0.2 && i.d_dmag.abs() < 0.05,
        "{i:?}"
    );
}

#[test]
fn under_a_rotated_pupil_improved_keeps_the_unweighted_fit() {
    let (d, i) = score_set(&set("f480m-rotated")).unwrap();
    assert!(
        (i.cp_rms_deg - d.cp_rms_deg).abs() < 0.02,
        "improved {} vs default {}",
        i.cp_rms_deg,
        d.cp_rms_deg
    );
}

#[test]
fn only_improved_products_carry_amimode() {
    let sim = simulate_set(&set("f380m-wide")).unwrap();
    let text = String::from_utf8(sim.files[&sim.asn_name].clone()).unwrap();
    let asn = Association::from_json(&text, &sim.asn_name).unwrap();
    let load = |name: &str| {
        sim.files
            .get(name)
            .cloned()
            .ok_or_else(|| Error::file(name, Kind::Read, "missing"))
    };
    for mode in [Mode::Default, Mode::Improved] {
        let options = PipelineOptions {
            analyze: AnalyzeParams {
                mode,
                ..AnalyzeParams::default()
            },
            ..PipelineOptions::default()
        };
        let (mut products, combined, errors) =
            run_pipeline(&asn, &load, &Default::default(), &options, &|_, _, _| {});
        assert!(errors.is_empty(), "{errors:?}");
        products.extend(combined.products);
        assert_eq!(products.len(), 10);
        for p in &products {
            let hdus = ami3::fits::read_fits(&p.bytes, &p.name).unwrap();
            let got = hdus[0].header.get_str("AMIMODE").map(str::trim);
            let want = (mode == Mode::Improved).then_some("improved");
            assert_eq!(got, want, "{}", p.name);
        }
    }
}

#[test]
fn the_option_reads_default_and_improved_and_refuses_others() {
    let mut o = ami3::options::Options::default();
    assert_eq!(o.mode, Mode::Default);
    assert!(o.set("--mode", "improved").unwrap());
    assert_eq!(o.mode, Mode::Improved);
    let e = o.set("--mode", "better").unwrap_err();
    assert!(e.to_string().contains("--mode"), "{e}");
}
