//! Refinement and errors (companion.md §5.5, §5.6, §6): bounded Levenberg–Marquardt on the
//! exact smeared model with wrapped residuals and the analytic Jacobian, in (east mas, north
//! mas, one r per contrast group), r kept in [1e-6, 1] by projected steps; merging of minima
//! within 1 mas; and the covariance (JᵀJ)⁻¹ · max(1, χ²_r), never shrunk.

use super::linalg::{invert, solve};
use super::problem::{chi2, stacked_residuals, FitFile, Params};
use crate::portable;

/// Bounds of the flux ratio during refinement (§5.5).
pub const RATIO_BOUNDS: (f64, f64) = (1e-6, 1.0);
const MAX_ITERATIONS: usize = 100;
const RELATIVE_STOP: f64 = 1e-10;

/// A refined minimum.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub params: Params,
    pub chi2: f64,
    pub iterations: usize,
}

fn normal_equations(res: &[f64], jac: &[f64], np: usize) -> (Vec<f64>, Vec<f64>) {
    let rows = res.len();
    let jtj = portable::matmul_tn(jac, jac, rows, np, np);
    let jtr = portable::matmul_tn(jac, res, rows, np, 1);
    (jtj, jtr)
}

fn project(mut v: Vec<f64>) -> Vec<f64> {
    for r in v.iter_mut().skip(2) {
        *r = r.clamp(RATIO_BOUNDS.0, RATIO_BOUNDS.1);
    }
    v
}

/// Bounded Levenberg–Marquardt from `start` (§5.5).
pub fn refine(files: &[FitFile], start: &Params) -> Minimum {
    let mut p = project(start.to_vec());
    let np = p.len();
    let (mut res, mut jac) = stacked_residuals(files, &Params::from_slice(&p), true);
    let mut current = portable::dot(&res, &res);
    let mut lambda = 1e-3;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let (jtj, jtr) = normal_equations(&res, &jac, np);
        let mut improved = false;
        while lambda < 1e12 {
            let mut a = jtj.clone();
            for k in 0..np {
                a[k * np + k] += lambda * jtj[k * np + k].max(1e-30);
            }
            let Some(step) = solve(&a, &jtr, np) else {
                lambda *= 10.0;
                continue;
            };
            let trial: Vec<f64> = project(p.iter().zip(&step).map(|(x, s)| x - s).collect());
            let value = chi2(files, &Params::from_slice(&trial));
            if value < current {
                let change = (current - value) / current.max(1e-300);
                p = trial;
                current = value;
                lambda = (lambda / 3.0).max(1e-12);
                improved = change > RELATIVE_STOP;
                break;
            }
            lambda *= 4.0;
        }
        if !improved {
            break;
        }
        (res, jac) = stacked_residuals(files, &Params::from_slice(&p), true);
    }
    Minimum {
        params: Params::from_slice(&p),
        chi2: current,
        iterations,
    }
}

/// Minima closer than 1 mas are one (§5.6): keeps the lowest χ² of each, sorted by χ².
pub fn merge(mut minima: Vec<Minimum>) -> Vec<Minimum> {
    minima.sort_by(|a, b| a.chi2.total_cmp(&b.chi2));
    let mut kept: Vec<Minimum> = Vec::new();
    for m in minima {
        let near = kept.iter().any(|k| {
            portable::hypot(
                k.params.east_mas - m.params.east_mas,
                k.params.north_mas - m.params.north_mas,
            ) < 1.0
        });
        if !near {
            kept.push(m);
        }
    }
    kept
}

/// Cov = (JᵀJ)⁻¹ · max(1, χ²_r) at `p` (§6), row-major over (east, north, r_g...); None when
/// JᵀJ is singular.
pub fn covariance(files: &[FitFile], p: &Params, chi2r: f64) -> Option<Vec<f64>> {
    let (res, jac) = stacked_residuals(files, p, true);
    let np = 2 + p.ratios.len();
    let (jtj, _) = normal_equations(&res, &jac, np);
    let inv = invert(&jtj, np)?;
    Some(inv.iter().map(|v| v * chi2r.max(1.0)).collect())
}

/// Separation, PA and their errors from (east, north) and their covariance (§6); PA in
/// degrees east of north in [0, 360).
pub fn polar(east: f64, north: f64, cov: Option<[f64; 3]>) -> (f64, f64, f64, f64) {
    let sep = portable::hypot(east, north);
    let pa = portable::atan2(east, north).to_degrees().rem_euclid(360.0);
    let (sep_err, pa_err) = match cov {
        Some([cee, cen, cnn]) if sep > 0.0 => {
            let gs = [east / sep, north / sep];
            let gp = [north / (sep * sep), -east / (sep * sep)];
            let q = |g: [f64; 2]| g[0] * g[0] * cee + 2.0 * g[0] * g[1] * cen + g[1] * g[1] * cnn;
            (q(gs).max(0.0).sqrt(), q(gp).max(0.0).sqrt().to_degrees())
        }
        _ => (f64::NAN, f64::NAN),
    };
    (sep, sep_err, pa, pa_err)
}

/// Δmag = −2.5 log₁₀ r and its error −2.5 dr/(r ln 10) (§6).
pub fn magnitudes(ratio: f64, ratio_err: f64) -> (f64, f64) {
    let ln10 = portable::ln(10.0);
    (
        -2.5 * portable::ln(ratio) / ln10,
        2.5 * ratio_err / (ratio * ln10),
    )
}
