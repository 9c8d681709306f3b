//! Averages over integrations with their errors (ami3.md §4, upstream.md §5.9), into the
//! `ObservableSet` (`products::observables`) that every averaged product carries. Values follow jwst 3.0.0's "mean" method (3-sigma clipped means of amplitudes and
//! fringe phases, closure quantities recomputed from those); errors are standard errors of the
//! mean from the scatter between integrations, with phase errors as angles.

use super::observables::{wrap_pi, Observables, Orders};
use crate::portable;
use crate::products::observables::ObservableSet;

/// astropy `sigma_clipped_stats` defaults: 3 sigma both sides around the median, population
/// standard deviation, at most 5 iterations. Returns the mean of the kept values.
pub fn sigma_clipped_mean(values: &[f64]) -> f64 {
    let mut keep: Vec<bool> = values.iter().map(|v| v.is_finite()).collect();
    for _ in 0..5 {
        let kept: Vec<f64> = values
            .iter()
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(v, _)| *v)
            .collect();
        if kept.is_empty() {
            return f64::NAN;
        }
        let centre = median(&kept);
        let std = population_std(&kept);
        let (lo, hi) = (centre - 3.0 * std, centre + 3.0 * std);
        let mut changed = false;
        for (v, k) in values.iter().zip(keep.iter_mut()) {
            if *k && (*v < lo || *v > hi) {
                *k = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let kept: Vec<f64> = values
        .iter()
        .zip(&keep)
        .filter(|(_, &k)| k)
        .map(|(v, _)| *v)
        .collect();
    kept.iter().sum::<f64>() / kept.len() as f64
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

pub fn population_std(values: &[f64]) -> f64 {
    let m = mean(values);
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64).sqrt()
}

/// Sample standard deviation (N - 1) divided by sqrt(N): the standard error of the mean.
pub fn standard_error(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = mean(values);
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() / n.sqrt()
}

/// Circular mean of angles (radians), in (-pi, pi].
pub fn circular_mean(angles_rad: &[f64]) -> f64 {
    let (s, c) = angles_rad.iter().fold((0.0, 0.0), |(s, c), &a| {
        (s + portable::sin(a), c + portable::cos(a))
    });
    wrap_pi(portable::atan2(s, c))
}

/// Sigma-clipped mean of angles: the angles are first unwrapped around their circular mean, so
/// the result equals upstream's arithmetic clipped mean whenever the angles do not straddle
/// +-pi, and stays right when they do.
pub fn clipped_angle_mean(angles_rad: &[f64]) -> f64 {
    let reference = circular_mean(angles_rad);
    let unwrapped: Vec<f64> = angles_rad
        .iter()
        .map(|a| reference + wrap_pi(a - reference))
        .collect();
    let m = sigma_clipped_mean(&unwrapped);
    // keep upstream's value when no wrapping happened (it is not re-wrapped there either)
    if angles_rad
        .iter()
        .zip(&unwrapped)
        .all(|(a, u)| (a - u).abs() < 1e-12)
    {
        m
    } else {
        wrap_pi(m)
    }
}

/// Standard error of angles around a given centre: deviations are wrapped to (-pi, pi] first.
pub fn angle_standard_error(angles_rad: &[f64], centre_rad: f64) -> f64 {
    let d: Vec<f64> = angles_rad.iter().map(|a| wrap_pi(a - centre_rad)).collect();
    standard_error(&d)
}

/// Column `k` of per-integration rows.
fn column(ints: &[Observables], k: usize, f: fn(&Observables) -> &[f64]) -> Vec<f64> {
    ints.iter().map(|o| f(o)[k]).collect()
}

/// Averages the observables of several integrations (nint >= 2 for meaningful errors; with one
/// integration the errors are NaN and the caller supplies propagated ones).
pub fn average_integrations(orders: &Orders, ints: &[Observables]) -> ObservableSet {
    let nb = orders.baselines.len();
    let nt = orders.triangles.len();
    let nq = orders.quads.len();
    let nh = orders.n_holes;
    let mut s = ObservableSet::default();
    for k in 0..nb {
        let a = column(ints, k, |o| &o.fringe_amp);
        let p = column(ints, k, |o| &o.fringe_phase_rad);
        let a2: Vec<f64> = a.iter().map(|v| v * v).collect();
        s.fringe_amp.push(sigma_clipped_mean(&a));
        s.fringe_amp_err.push(standard_error(&a));
        let pm = clipped_angle_mean(&p);
        s.fringe_phase_rad.push(pm);
        s.fringe_phase_err_rad.push(angle_standard_error(&p, pm));
        s.vis2.push(sigma_clipped_mean(&a2));
        s.vis2_err.push(standard_error(&a2));
    }
    s.closure_phase_rad = orders
        .closure_phases(&s.fringe_phase_rad)
        .into_iter()
        .map(wrap_pi)
        .collect();
    s.t3_amp = orders.t3_amplitudes(&s.fringe_amp);
    s.closure_amp = orders.closure_amplitudes(&s.fringe_amp);
    s.quad_phase_rad = orders
        .quad_phases(&s.fringe_phase_rad)
        .into_iter()
        .map(wrap_pi)
        .collect();
    for t in 0..nt {
        let cp = column(ints, t, |o| &o.closure_phase_rad);
        s.closure_phase_err_rad
            .push(angle_standard_error(&cp, s.closure_phase_rad[t]));
        s.t3_amp_err
            .push(standard_error(&column(ints, t, |o| &o.t3_amp)));
    }
    for q in 0..nq {
        let qp = column(ints, q, |o| &o.quad_phase_rad);
        s.quad_phase_err_rad
            .push(angle_standard_error(&qp, s.quad_phase_rad[q]));
        s.closure_amp_err
            .push(standard_error(&column(ints, q, |o| &o.closure_amp)));
    }
    for h in 0..nh {
        let p = column(ints, h, |o| &o.piston_rad);
        s.piston_rad.push(sigma_clipped_mean(&p));
        s.piston_err_rad.push(standard_error(&p));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn clipping_drops_a_far_outlier_among_many() {
        let mut v: Vec<f64> = (0..20)
            .map(|i| 1.0 + 0.01 * ((i % 5) as f64 - 2.0))
            .collect();
        v.push(100.0);
        assert!((sigma_clipped_mean(&v) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn angle_mean_survives_the_wrap() {
        let a = [PI - 0.01, -PI + 0.01, PI - 0.02, -PI + 0.02];
        let m = clipped_angle_mean(&a);
        assert!((wrap_pi(m - PI)).abs() < 1e-12, "{m}");
        let e = angle_standard_error(&a, m);
        assert!(e < 0.02, "{e}");
    }

    #[test]
    fn standard_error_of_known_sample() {
        // sample std of 1,2,3,4 is sqrt(5/3); divided by 2
        assert!(
            (standard_error(&[1.0, 2.0, 3.0, 4.0]) - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-15
        );
    }
}
