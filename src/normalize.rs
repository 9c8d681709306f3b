//! `ami_normalize`: the target's observables calibrated by the reference star's (ami3.md §4):
//! phases (fringe, closure, quad) subtract, amplitudes (visibility, V^2, triple, closure)
//! divide, pistons subtract; errors add in quadrature (relatively for ratios), each star's own
//! error with its own value. Images and coefficients are the target's.

use crate::analyze::observables::wrap_pi;
use crate::analyze::stats::ObservableSet;
use crate::portable;
use crate::products::amilg::AmiLg;

fn ratio(t: &[f64], te: &[f64], c: &[f64], ce: &[f64]) -> (Vec<f64>, Vec<f64>) {
    (0..t.len())
        .map(|k| {
            let r = t[k] / c[k];
            (
                r,
                r.abs() * ((te[k] / t[k]).powi(2) + (ce[k] / c[k]).powi(2)).sqrt(),
            )
        })
        .unzip()
}

fn difference(t: &[f64], te: &[f64], c: &[f64], ce: &[f64]) -> (Vec<f64>, Vec<f64>) {
    (0..t.len())
        .map(|k| (wrap_pi(t[k] - c[k]), portable::hypot(te[k], ce[k])))
        .unzip()
}

/// Calibrated observables.
pub fn normalize_sets(t: &ObservableSet, c: &ObservableSet) -> ObservableSet {
    let (fringe_amp, fringe_amp_err) = ratio(
        &t.fringe_amp,
        &t.fringe_amp_err,
        &c.fringe_amp,
        &c.fringe_amp_err,
    );
    let (vis2, vis2_err) = ratio(&t.vis2, &t.vis2_err, &c.vis2, &c.vis2_err);
    let (t3_amp, t3_amp_err) = ratio(&t.t3_amp, &t.t3_amp_err, &c.t3_amp, &c.t3_amp_err);
    let (closure_amp, closure_amp_err) = ratio(
        &t.closure_amp,
        &t.closure_amp_err,
        &c.closure_amp,
        &c.closure_amp_err,
    );
    let (fringe_phase_rad, fringe_phase_err_rad) = difference(
        &t.fringe_phase_rad,
        &t.fringe_phase_err_rad,
        &c.fringe_phase_rad,
        &c.fringe_phase_err_rad,
    );
    let (closure_phase_rad, closure_phase_err_rad) = difference(
        &t.closure_phase_rad,
        &t.closure_phase_err_rad,
        &c.closure_phase_rad,
        &c.closure_phase_err_rad,
    );
    let (quad_phase_rad, quad_phase_err_rad) = difference(
        &t.quad_phase_rad,
        &t.quad_phase_err_rad,
        &c.quad_phase_rad,
        &c.quad_phase_err_rad,
    );
    let (piston_rad, piston_err_rad) = difference(
        &t.piston_rad,
        &t.piston_err_rad,
        &c.piston_rad,
        &c.piston_err_rad,
    );
    ObservableSet::from_pairs([
        (fringe_amp, fringe_amp_err),
        (fringe_phase_rad, fringe_phase_err_rad),
        (vis2, vis2_err),
        (closure_phase_rad, closure_phase_err_rad),
        (t3_amp, t3_amp_err),
        (closure_amp, closure_amp_err),
        (quad_phase_rad, quad_phase_err_rad),
        (piston_rad, piston_err_rad),
    ])
}

/// `ami_normalize` of the target average by the reference-star average.
pub fn normalize(target: &AmiLg, psf: &AmiLg) -> AmiLg {
    AmiLg {
        observables: normalize_sets(&target.observables, &psf.observables),
        ..target.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: f64, e: f64) -> ObservableSet {
        let f = |x: f64| vec![x; 2];
        ObservableSet {
            fringe_amp: f(v),
            fringe_amp_err: f(e),
            fringe_phase_rad: f(v),
            fringe_phase_err_rad: f(e),
            vis2: f(v),
            vis2_err: f(e),
            closure_phase_rad: f(v),
            closure_phase_err_rad: f(e),
            t3_amp: f(v),
            t3_amp_err: f(e),
            closure_amp: f(v),
            closure_amp_err: f(e),
            quad_phase_rad: f(v),
            quad_phase_err_rad: f(e),
            piston_rad: f(v),
            piston_err_rad: f(e),
        }
    }

    #[test]
    fn ratios_divide_with_relative_errors_and_phases_subtract() {
        let n = normalize_sets(&set(0.8, 0.08), &set(0.4, 0.02));
        assert!((n.vis2[0] - 2.0).abs() < 1e-15);
        // relative errors 10 % and 5 % add in quadrature
        assert!((n.vis2_err[0] - 2.0 * (0.01f64 + 0.0025).sqrt()).abs() < 1e-12);
        assert!((n.closure_phase_rad[0] - 0.4).abs() < 1e-15);
        assert!((n.closure_phase_err_rad[0] - (0.08f64.hypot(0.02))).abs() < 1e-15);
    }
}
