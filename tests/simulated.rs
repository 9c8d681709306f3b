//! ami_analyze on exposures simulated by our own forward model: analytic expectations for a
//! point source and a binary, and Monte Carlo checks that reported errors match the scatter.

mod common;
use ami3::analyze::exposure::{analyze_exposure, AnalyzeParams, ExposureAnalysis, References};
use ami3::analyze::observables::Orders;
use ami3::niriss::filters::BandpassSample;
use ami3::niriss::mask::MaskGeometry;
use ami3::simulate::{noiseless_image, simulate_from_image, SimSpec};
use common::planner;
use std::f64::consts::PI;

fn params() -> AnalyzeParams {
    // simulations have no bad pixels; the Fourier fix would only cost time here
    AnalyzeParams {
        run_bpfix: false,
        ..AnalyzeParams::default()
    }
}

fn analyze_clean(spec: &SimSpec) -> ExposureAnalysis {
    let clean = noiseless_image(spec);
    let mut e = simulate_from_image(spec, &clean, "sim_calints.fits");
    let np = spec.ny * spec.nx;
    for k in 0..spec.nint {
        e.sci[k * np..(k + 1) * np].copy_from_slice(&clean);
    }
    let refs = References::default();
    let p = AnalyzeParams {
        bandpass: Some(spec.bandpass.clone()),
        ..params()
    };
    analyze_exposure(&e, &refs, &p, planner(), &|_, _| {}).unwrap()
}

#[test]
fn noiseless_point_source_has_unit_amplitudes_and_zero_closure_phases() {
    let spec = SimSpec {
        nint: 1,
        ..SimSpec::point_source(1)
    };
    let a = analyze_clean(&spec);
    let o = &a.integrations[0].observables;
    for v in &o.fringe_amp {
        assert!((v - 1.0).abs() < 2e-3, "amplitude {v}");
    }
    for cp in &o.closure_phase_rad {
        assert!(
            cp.abs().to_degrees() < 0.01,
            "closure phase {} deg",
            cp.to_degrees()
        );
    }
    for ca in &o.closure_amp {
        assert!((ca - 1.0).abs() < 5e-3, "closure amplitude {ca}");
    }
}

/// Closure phases of a binary in closed form: each fringe of the companion is the primary's
/// shifted by the offset, so V_k = 1 + r exp(i psi_k) with psi_k the model's fringe phase at
/// the offset (affine applied), and CP = arg(V_ab V_bc / V_ac).
fn analytic_binary_closure_phases_deg(spec: &SimSpec, dx: f64, dy: f64, ratio: f64) -> Vec<f64> {
    let g = MaskGeometry::default_all_holes();
    let orders = Orders::new(7);
    let lambda = spec.bandpass[0].wavelength_m;
    let pix = (spec.pixscale_arcsec / 3600.0).to_radians();
    let (u, v) = spec.affine.distort_f_args(dy, dx); // rows pair with c0, columns with c1
    let psi: Vec<f64> = orders
        .baselines
        .iter()
        .map(|&[a, b]| {
            let (ca, cb) = (g.centres_inst_m[a], g.centres_inst_m[b]);
            2.0 * PI * pix * (u * (ca[0] - cb[0]) + v * (ca[1] - cb[1])) / lambda
        })
        .collect();
    let phases: Vec<f64> = psi
        .iter()
        .map(|p| (ratio * p.sin()).atan2(1.0 + ratio * p.cos()))
        .collect();
    orders
        .closure_phases(&phases)
        .iter()
        .map(|c| ami3::analyze::observables::wrap_pi(*c).to_degrees())
        .collect()
}

#[test]
fn noiseless_binary_gives_the_analytic_closure_phases() {
    let (dx, dy, ratio) = (2.1, 1.4, 0.1);
    let spec = SimSpec {
        nint: 1,
        bandpass: vec![BandpassSample {
            weight: 1.0,
            wavelength_m: 4.82e-6,
        }],
        companion: Some((dx, dy, ratio)),
        ..SimSpec::point_source(2)
    };
    let a = analyze_clean(&spec);
    let got: Vec<f64> = a.integrations[0]
        .observables
        .closure_phase_rad
        .iter()
        .map(|c| c.to_degrees())
        .collect();
    let want = analytic_binary_closure_phases_deg(&spec, dx, dy, ratio);
    let max_cp = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    assert!(
        max_cp > 3.0,
        "the test binary should have closure phases of degrees, got {max_cp}"
    );
    for (t, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!(
            (g - w).abs() < 0.05 * max_cp,
            "triangle {t}: fitted {g:.4} deg, analytic {w:.4} deg"
        );
    }
    let rms = (got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).powi(2))
        .sum::<f64>()
        / 35.0)
        .sqrt();
    assert!(rms < 0.02 * max_cp, "rms {rms} deg");
}

/// Per observable: the rms of the reported errors and the scatter of the values over
/// realisations.
fn error_ratios(values: &[Vec<f64>], errors: &[Vec<f64>], angle: bool) -> Vec<f64> {
    let n = values[0].len();
    (0..n)
        .map(|k| {
            let v: Vec<f64> = values.iter().map(|r| r[k]).collect();
            let m = if angle {
                ami3::analyze::stats::circular_mean(&v)
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            };
            let d: Vec<f64> = v
                .iter()
                .map(|x| {
                    if angle {
                        ami3::analyze::observables::wrap_pi(x - m)
                    } else {
                        x - m
                    }
                })
                .collect();
            let scatter = (d.iter().map(|x| x * x).sum::<f64>() / (d.len() - 1) as f64).sqrt();
            let reported =
                (errors.iter().map(|r| r[k] * r[k]).sum::<f64>() / errors.len() as f64).sqrt();
            reported / scatter
        })
        .collect()
}

fn monte_carlo(nint: usize, realisations: usize) {
    let base = SimSpec {
        nint,
        counts: 4e5,
        read_noise: 15.0,
        companion: Some((2.1, 1.4, 0.1)),
        ..SimSpec::point_source(0)
    };
    let clean = noiseless_image(&base);
    let refs = References::default();
    let p = AnalyzeParams {
        bandpass: Some(base.bandpass.clone()),
        ..params()
    };
    let runs: Vec<ExposureAnalysis> = (0..realisations)
        .map(|i| {
            let spec = SimSpec {
                seed: 1000 + i as u64,
                ..base.clone()
            };
            let e = simulate_from_image(&spec, &clean, "mc_calints.fits");
            analyze_exposure(&e, &refs, &p, planner(), &|_, _| {}).unwrap()
        })
        .collect();
    let pick = |f: fn(&ami3::products::observables::ObservableSet) -> &Vec<f64>| -> Vec<Vec<f64>> {
        runs.iter().map(|r| f(&r.average).clone()).collect()
    };
    type Check<'a> = (&'a str, Vec<Vec<f64>>, Vec<Vec<f64>>, bool);
    let checks: [Check; 7] = [
        (
            "VISAMP",
            pick(|s| &s.fringe_amp),
            pick(|s| &s.fringe_amp_err),
            false,
        ),
        (
            "VISPHI",
            pick(|s| &s.fringe_phase_rad),
            pick(|s| &s.fringe_phase_err_rad),
            true,
        ),
        ("VIS2", pick(|s| &s.vis2), pick(|s| &s.vis2_err), false),
        (
            "T3PHI",
            pick(|s| &s.closure_phase_rad),
            pick(|s| &s.closure_phase_err_rad),
            true,
        ),
        ("T3AMP", pick(|s| &s.t3_amp), pick(|s| &s.t3_amp_err), false),
        (
            "Q4AMP",
            pick(|s| &s.closure_amp),
            pick(|s| &s.closure_amp_err),
            false,
        ),
        (
            "PISTON",
            pick(|s| &s.piston_rad),
            pick(|s| &s.piston_err_rad),
            true,
        ),
    ];
    for (name, values, errors, angle) in checks {
        let mut ratios = error_ratios(&values, &errors, angle);
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        eprintln!(
            "nint {nint} {name}: error/scatter median {median:.3}, range {:.3}..{:.3}",
            ratios[0],
            ratios[ratios.len() - 1]
        );
        assert!(
            (median - 1.0).abs() < 0.2,
            "{name}: median error/scatter {median}"
        );
        assert!(
            ratios.iter().all(|r| (r - 1.0).abs() < 0.4),
            "{name}: error/scatter ratios {ratios:?}"
        );
    }
}

#[test]
fn monte_carlo_errors_match_scatter_over_integrations() {
    monte_carlo(5, 60);
}

#[test]
fn monte_carlo_propagated_errors_of_one_integration_match_scatter() {
    monte_carlo(1, 60);
}

/// Largest |difference| of the averaged closure phases of two analyses, degrees.
fn max_cp_difference_deg(a: &ExposureAnalysis, b: &ExposureAnalysis) -> f64 {
    a.average
        .closure_phase_rad
        .iter()
        .zip(&b.average.closure_phase_rad)
        .map(|(x, y)| (x - y).to_degrees().abs())
        .fold(0.0, f64::max)
}

#[test]
fn the_bad_pixel_fix_repairs_the_demos_flagged_and_hot_pixels() {
    // the demo's kind of spoilt pixels (ami3 demo, the page's Demo button): 3 flagged and zeroed,
    // 2 unflagged hot ones, the same pixels in every integration, within 12 pixels of the star
    let spec = SimSpec {
        nint: 2,
        ny: 80,
        nx: 80,
        counts: 3e6,
        ..SimSpec::point_source(5)
    };
    let clean = noiseless_image(&spec);
    let good = simulate_from_image(&spec, &clean, "good_calints.fits");
    let mut bad = good.clone();
    ami3::simulate::add_bad_pixels(&mut bad, 5);
    let changed = good
        .sci
        .iter()
        .zip(&bad.sci)
        .filter(|(a, b)| a != b)
        .count();
    assert!(changed >= 8, "only {changed} pixels were spoilt");
    let refs = References::default();
    let fixed = AnalyzeParams {
        bandpass: Some(spec.bandpass.clone()),
        ..AnalyzeParams::default()
    };
    let unfixed = AnalyzeParams {
        run_bpfix: false,
        usebp: false,
        ..fixed.clone()
    };
    let run = |e: &ami3::products::exposure::CalExposure, p: &AnalyzeParams| {
        analyze_exposure(e, &refs, p, planner(), &|_, _| {}).unwrap()
    };
    let reference = run(&good, &fixed);
    let repaired = max_cp_difference_deg(&run(&bad, &fixed), &reference);
    let spoilt = max_cp_difference_deg(&run(&bad, &unfixed), &reference);
    eprintln!(
        "closure phases vs the unspoilt data: repaired {repaired:.4} deg, spoilt {spoilt:.4} deg"
    );
    assert!(repaired < 0.2, "repaired: {repaired} deg");
    assert!(
        spoilt > 5.0 * repaired,
        "spoilt {spoilt} deg vs repaired {repaired} deg"
    );
}

#[test]
fn one_integration_without_err_takes_its_errors_from_the_residuals() {
    // Photon and read noise: the residual scatter measures the noise the ERR array describes
    // (an average over pixels), so both give errors of the same size; with ERR the centroid's
    // noise is added too, so those are somewhat larger (median ratio 0.69 here).
    let spec = SimSpec {
        nint: 1,
        ..SimSpec::point_source(11)
    };
    let clean = noiseless_image(&spec);
    let with_err = simulate_from_image(&spec, &clean, "one_calints.fits");
    let mut without_err = with_err.clone();
    without_err.err = None;
    let p = AnalyzeParams {
        bandpass: Some(spec.bandpass.clone()),
        ..params()
    };
    let refs = References::default();
    let a = analyze_exposure(&with_err, &refs, &p, planner(), &|_, _| {}).unwrap();
    let b = analyze_exposure(&without_err, &refs, &p, planner(), &|_, _| {}).unwrap();
    // the fit itself does not depend on the errors
    assert_eq!(a.average.closure_phase_rad, b.average.closure_phase_rad);
    let ratios: Vec<f64> = b
        .average
        .closure_phase_err_rad
        .iter()
        .zip(&a.average.closure_phase_err_rad)
        .map(|(x, y)| x / y)
        .collect();
    assert!(
        ratios.iter().all(|r| r.is_finite() && *r > 0.0),
        "{ratios:?}"
    );
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    eprintln!("closure-phase error without ERR / with ERR: median {median:.3}");
    assert!((0.5..2.0).contains(&median), "median ratio {median}");
}
