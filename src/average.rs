//! `ami_average`: the average of several exposures' AmiLg results (ami3.md §4). Closure phases
//! come from the mean complex triple product (each exposure's pointing cancels in it), fringe
//! and quad phases and pistons are circular means, amplitudes, V^2 and closure amplitudes plain
//! means. Errors are standard errors of the mean between exposures; with one exposure, that
//! exposure's own errors. Images and coefficients are means (images trimmed to the smallest).

use crate::analyze::observables::wrap_pi;
use crate::analyze::stats::{circular_mean, mean, standard_error};
use crate::portable;
use crate::products::amilg::AmiLg;
use crate::products::observables::{Field, ObservableSet};

/// Trims an n x n image to m x m about its centre (n - m even).
fn trim(img: &[f64], n: usize, m: usize) -> Vec<f64> {
    let t = (n - m) / 2;
    (t..t + m)
        .flat_map(|r| img[r * n + t..r * n + t + m].to_vec())
        .collect()
}

fn column(items: &[&ObservableSet], f: Field, k: usize) -> Vec<f64> {
    items.iter().map(|s| f(s)[k]).collect()
}

/// Per index: the centre of the exposures' values and its error, the standard error of the
/// mean of their deviations from it between exposures (with one exposure, its own error).
fn per_index(
    items: &[&ObservableSet],
    v: Field,
    e: Field,
    centre: fn(&[f64]) -> f64,
    deviations: fn(Vec<f64>, f64) -> Vec<f64>,
) -> (Vec<f64>, Vec<f64>) {
    let n = v(items[0]).len();
    (0..n)
        .map(|k| {
            let x = column(items, v, k);
            let m = centre(&x);
            let err = if items.len() > 1 {
                standard_error(&deviations(x, m))
            } else {
                e(items[0])[k]
            };
            (m, err)
        })
        .unzip()
}

/// Mean and error of plain quantities.
fn plain(items: &[&ObservableSet], v: Field, e: Field) -> (Vec<f64>, Vec<f64>) {
    per_index(items, v, e, mean, |x, _| x)
}

/// Circular mean and error of angles.
fn angles(items: &[&ObservableSet], v: Field, e: Field) -> (Vec<f64>, Vec<f64>) {
    per_index(items, v, e, circular_mean, |x, m| {
        x.iter().map(|a| wrap_pi(a - m)).collect()
    })
}

/// Averages observables of several exposures.
pub fn average_sets(items: &[&ObservableSet]) -> ObservableSet {
    let (fringe_amp, fringe_amp_err) = plain(items, |s| &s.fringe_amp, |s| &s.fringe_amp_err);
    let (vis2, vis2_err) = plain(items, |s| &s.vis2, |s| &s.vis2_err);
    let (t3_amp, t3_amp_err) = plain(items, |s| &s.t3_amp, |s| &s.t3_amp_err);
    let (closure_amp, closure_amp_err) = plain(items, |s| &s.closure_amp, |s| &s.closure_amp_err);
    let (fringe_phase_rad, fringe_phase_err_rad) =
        angles(items, |s| &s.fringe_phase_rad, |s| &s.fringe_phase_err_rad);
    let (quad_phase_rad, quad_phase_err_rad) =
        angles(items, |s| &s.quad_phase_rad, |s| &s.quad_phase_err_rad);
    let (piston_rad, piston_err_rad) = angles(items, |s| &s.piston_rad, |s| &s.piston_err_rad);
    // closure phases: argument of the mean bispectrum T3 exp(i CP)
    let nt = items[0].closure_phase_rad.len();
    let (closure_phase_rad, closure_phase_err_rad) = (0..nt)
        .map(|t| {
            let (mut re, mut im) = (0.0, 0.0);
            for s in items {
                re += s.t3_amp[t] * portable::cos(s.closure_phase_rad[t]);
                im += s.t3_amp[t] * portable::sin(s.closure_phase_rad[t]);
            }
            let cp = portable::atan2(im, re);
            let err = if items.len() > 1 {
                standard_error(
                    &items
                        .iter()
                        .map(|s| wrap_pi(s.closure_phase_rad[t] - cp))
                        .collect::<Vec<_>>(),
                )
            } else {
                items[0].closure_phase_err_rad[t]
            };
            (wrap_pi(cp), err)
        })
        .unzip();
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

/// `ami_average` of AmiLg results (at least one).
pub fn average(items: &[AmiLg]) -> AmiLg {
    let m = items
        .iter()
        .map(|a| a.n)
        .min()
        .expect("at least one item to average");
    let k = items.len() as f64;
    let mut fit = vec![0.0; m * m];
    let mut resid = vec![0.0; m * m];
    let mut count = vec![0usize; m * m];
    for a in items {
        for (f, v) in fit.iter_mut().zip(trim(&a.fit, a.n, m)) {
            *f += v / k;
        }
        for ((r, c), v) in resid
            .iter_mut()
            .zip(count.iter_mut())
            .zip(trim(&a.resid, a.n, m))
        {
            if v.is_finite() {
                *r += v;
                *c += 1;
            }
        }
    }
    for (r, c) in resid.iter_mut().zip(&count) {
        *r = if *c > 0 { *r / *c as f64 } else { f64::NAN };
    }
    let ns = items[0].solns.len();
    let solns = (0..ns)
        .map(|i| items.iter().map(|a| a.solns[i]).sum::<f64>() / k)
        .collect();
    let sets: Vec<&ObservableSet> = items.iter().map(|a| &a.observables).collect();
    AmiLg {
        n: m,
        fit,
        resid,
        observables: average_sets(&sets),
        solns,
    }
}
