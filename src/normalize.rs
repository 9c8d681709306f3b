//! `ami_normalize`: the target's observables calibrated by the reference star's (ami3.md §4):
//! phases (fringe, closure, quad) subtract, amplitudes (visibility, V^2, triple, closure)
//! divide, pistons subtract; errors add in quadrature (relatively for ratios), each star's own
//! error with its own value. Images and coefficients are the target's.

use crate::analyze::observables::wrap_pi;
use crate::portable;
use crate::products::amilg::AmiLg;
use crate::products::observables::{Field, ObservableSet};

/// Target / calibrator, with relative errors added in quadrature.
fn ratio(t: &ObservableSet, c: &ObservableSet, v: Field, e: Field) -> (Vec<f64>, Vec<f64>) {
    let (tv, te, cv, ce) = (v(t), e(t), v(c), e(c));
    (0..tv.len())
        .map(|k| {
            let r = tv[k] / cv[k];
            (
                r,
                r.abs() * ((te[k] / tv[k]).powi(2) + (ce[k] / cv[k]).powi(2)).sqrt(),
            )
        })
        .unzip()
}

/// Target − calibrator (wrapped), with errors added in quadrature.
fn difference(t: &ObservableSet, c: &ObservableSet, v: Field, e: Field) -> (Vec<f64>, Vec<f64>) {
    let (tv, te, cv, ce) = (v(t), e(t), v(c), e(c));
    (0..tv.len())
        .map(|k| (wrap_pi(tv[k] - cv[k]), portable::hypot(te[k], ce[k])))
        .unzip()
}

/// Calibrated observables.
pub fn normalize_sets(t: &ObservableSet, c: &ObservableSet) -> ObservableSet {
    let (fringe_amp, fringe_amp_err) = ratio(t, c, |s| &s.fringe_amp, |s| &s.fringe_amp_err);
    let (vis2, vis2_err) = ratio(t, c, |s| &s.vis2, |s| &s.vis2_err);
    let (t3_amp, t3_amp_err) = ratio(t, c, |s| &s.t3_amp, |s| &s.t3_amp_err);
    let (closure_amp, closure_amp_err) = ratio(t, c, |s| &s.closure_amp, |s| &s.closure_amp_err);
    let (fringe_phase_rad, fringe_phase_err_rad) =
        difference(t, c, |s| &s.fringe_phase_rad, |s| &s.fringe_phase_err_rad);
    let (closure_phase_rad, closure_phase_err_rad) =
        difference(t, c, |s| &s.closure_phase_rad, |s| &s.closure_phase_err_rad);
    let (quad_phase_rad, quad_phase_err_rad) =
        difference(t, c, |s| &s.quad_phase_rad, |s| &s.quad_phase_err_rad);
    let (piston_rad, piston_err_rad) = difference(t, c, |s| &s.piston_rad, |s| &s.piston_err_rad);
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
