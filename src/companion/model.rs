//! The smeared binary model (companion.md §2): a point primary and a point companion of flux
//! ratio r at offset (α, δ) = (east, north) in radians, the complex visibility averaged over
//! the band before the phase is taken, V_b = (1 + r F_b)/(1 + r), F_b = Σ_k w_k z_bk,
//! z_bk = exp(−2πi(u_b α + v_b δ)/λ_k), and its exact derivatives. The band is a K-node Gauss
//! rule: in 1/λ for the reducer's 19-bin bandpass of the file's filter (Golub–Welsch on the
//! discrete measure), or Gauss–Legendre over EFF_WAVE ± EFF_BAND/2 for `tophat`. A point
//! primary only (V★ = 1): the uniform-disk primary of §2 is not implemented.

use super::linalg::symmetric_eigen;
use crate::analyze::bandpass::from_throughput;
use crate::niriss::throughput::builtin_throughput;
use crate::portable;
use rustfft::num_complex::Complex64;
use std::f64::consts::PI;

/// Milliarcseconds in radians.
pub const MAS_RAD: f64 = PI / 180.0 / 3600.0 / 1000.0;
/// How closely the K-node rule must reproduce the full bandpass (§2).
const RULE_TOLERANCE: f64 = 1e-6;

/// Why a model cannot be built.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelError {
    /// No built-in curve (or an unusable one) for the file's FILTER.
    NoFilterCurve(String),
}

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelError::NoFilterCurve(why) => write!(f, "no bandpass for the filter: {why}"),
        }
    }
}

/// A quadrature rule over the band: weights (summing to 1) at wavelengths.
#[derive(Debug, Clone, PartialEq)]
pub struct BandRule {
    pub weights: Vec<f64>,
    pub wavelengths_m: Vec<f64>,
}

/// Nodes and weights of the K-point Gauss rule of the discrete measure Σ w_i δ(x − x_i)
/// (Golub–Welsch: Stieltjes recurrence, then the eigen-decomposition of the Jacobi matrix).
pub fn gauss_rule_discrete(x: &[f64], w: &[f64], k: usize) -> (Vec<f64>, Vec<f64>) {
    let total: f64 = w.iter().sum();
    let mean = portable::dot(x, w) / total;
    let spread = x
        .iter()
        .map(|v| (v - mean).abs())
        .fold(0.0, f64::max)
        .max(1e-300);
    let xs: Vec<f64> = x.iter().map(|v| (v - mean) / spread).collect();
    let (mut alpha, mut beta) = (Vec::with_capacity(k), Vec::with_capacity(k));
    let mut p_prev = vec![0.0; xs.len()];
    let mut p = vec![1.0; xs.len()];
    let mut norm_prev = 1.0;
    for j in 0..k {
        let norm: f64 = (0..xs.len()).map(|i| w[i] * p[i] * p[i]).sum();
        let a = (0..xs.len())
            .map(|i| w[i] * xs[i] * p[i] * p[i])
            .sum::<f64>()
            / norm;
        let b = if j == 0 { 0.0 } else { norm / norm_prev };
        alpha.push(a);
        beta.push(b);
        let next: Vec<f64> = (0..xs.len())
            .map(|i| (xs[i] - a) * p[i] - b * p_prev[i])
            .collect();
        p_prev = std::mem::replace(&mut p, next);
        norm_prev = norm;
    }
    gauss_from_jacobi(&alpha, &beta, total)
        .into_iter()
        .map(|(node, weight)| (node * spread + mean, weight))
        .unzip()
}

/// Gauss nodes and weights from recurrence coefficients (α_j, β_j), total mass `mass`.
fn gauss_from_jacobi(alpha: &[f64], beta: &[f64], mass: f64) -> Vec<(f64, f64)> {
    let k = alpha.len();
    let mut j = vec![0.0; k * k];
    for i in 0..k {
        j[i * k + i] = alpha[i];
        if i + 1 < k {
            let off = beta[i + 1].sqrt();
            j[i * k + i + 1] = off;
            j[(i + 1) * k + i] = off;
        }
    }
    let (values, vectors) = symmetric_eigen(&j, k);
    (0..k)
        .map(|c| (values[c], mass * vectors[c] * vectors[c]))
        .collect()
}

/// The K-point Gauss–Legendre rule on [a, b], weights summing to 1.
pub fn gauss_legendre(k: usize, a: f64, b: f64) -> (Vec<f64>, Vec<f64>) {
    let alpha = vec![0.0; k];
    let beta: Vec<f64> = (0..k)
        .map(|n| {
            let n = n as f64;
            if n == 0.0 {
                0.0
            } else {
                n * n / (4.0 * n * n - 1.0)
            }
        })
        .collect();
    gauss_from_jacobi(&alpha, &beta, 1.0)
        .into_iter()
        .map(|(t, w)| (0.5 * (a + b) + 0.5 * (b - a) * t, w))
        .unzip()
}

/// Σ_k w_k exp(−2πi s / λ_k), s = u α + v δ in metres × radians.
fn band_phasor(rule: &BandRule, s: f64) -> Complex64 {
    let mut f = Complex64::new(0.0, 0.0);
    for (w, l) in rule.weights.iter().zip(&rule.wavelengths_m) {
        let (sn, cs) = portable::sin_cos(-2.0 * PI * s / l);
        f += Complex64::new(w * cs, w * sn);
    }
    f
}

/// The smallest K whose rule matches `full` within [`RULE_TOLERANCE`] at separations up to
/// `rmax_rad` along the longest baseline, with `make(K)` giving the K-node rule.
fn converged_rule(
    full: &BandRule,
    uv_m: &[[f64; 2]],
    rmax_rad: f64,
    make: &dyn Fn(usize) -> BandRule,
) -> BandRule {
    let b_max = uv_m
        .iter()
        .map(|b| portable::hypot(b[0], b[1]))
        .fold(0.0, f64::max);
    let probes: Vec<f64> = (1..=40)
        .map(|i| b_max * rmax_rad * i as f64 / 40.0)
        .collect();
    for k in 1..16 {
        let rule = make(k);
        let worst = probes
            .iter()
            .map(|&s| portable::abs(band_phasor(&rule, s) - band_phasor(full, s)))
            .fold(0.0, f64::max);
        if worst < RULE_TOLERANCE {
            return rule;
        }
    }
    make(16)
}

/// The reducer's 19-bin bandpass of a filter's built-in curve (ami3.md §3).
pub fn filter_bandpass(filter: &str) -> Result<BandRule, ModelError> {
    let (wl, th) = builtin_throughput(filter).map_err(|e| ModelError::NoFilterCurve(e.problem))?;
    let bins = from_throughput(&wl, &th).map_err(|e| ModelError::NoFilterCurve(e.problem))?;
    Ok(BandRule {
        weights: bins.iter().map(|b| b.weight).collect(),
        wavelengths_m: bins.iter().map(|b| b.wavelength_m).collect(),
    })
}

/// `filter` rule (§2): K-node Gauss in 1/λ for the 19-bin bandpass of `filter`.
pub fn filter_rule(filter: &str, uv_m: &[[f64; 2]], rmax_rad: f64) -> Result<BandRule, ModelError> {
    let full = filter_bandpass(filter)?;
    let inv: Vec<f64> = full.wavelengths_m.iter().map(|l| 1.0 / l).collect();
    let make = |k: usize| {
        let (x, w) = gauss_rule_discrete(&inv, &full.weights, k.min(inv.len()));
        BandRule {
            weights: w,
            wavelengths_m: x.iter().map(|v| 1.0 / v).collect(),
        }
    };
    Ok(converged_rule(&full, uv_m, rmax_rad, &make))
}

/// `tophat` rule (§2): Gauss–Legendre over EFF_WAVE ± EFF_BAND/2, K converged against 64 nodes.
pub fn tophat_rule(eff_wave_m: f64, eff_band_m: f64, uv_m: &[[f64; 2]], rmax_rad: f64) -> BandRule {
    let make = |k: usize| {
        let (l, w) = gauss_legendre(
            k,
            eff_wave_m - eff_band_m / 2.0,
            eff_wave_m + eff_band_m / 2.0,
        );
        BandRule {
            weights: w,
            wavelengths_m: l,
        }
    };
    converged_rule(&make(64), uv_m, rmax_rad, &make)
}

/// One file's model: its baselines (in the fit frame) and band rule.
#[derive(Debug, Clone)]
pub struct FileModel {
    pub uv_m: Vec<[f64; 2]>,
    pub rule: BandRule,
}

/// F_b and its derivatives ∂F_b/∂α, ∂F_b/∂δ at one offset.
#[derive(Debug, Clone)]
pub struct Phasors {
    pub f: Vec<Complex64>,
    pub d_east: Vec<Complex64>,
    pub d_north: Vec<Complex64>,
}

impl FileModel {
    /// F_b = Σ_k w_k z_bk at (α, δ) radians, by direct exponentials, with its derivatives
    /// (§2: ∂_αF_b = −2πi u_b Σ_k w_k z_bk/λ_k).
    pub fn phasors(&self, east_rad: f64, north_rad: f64) -> Phasors {
        let nb = self.uv_m.len();
        let mut out = Phasors {
            f: vec![Complex64::new(0.0, 0.0); nb],
            d_east: vec![Complex64::new(0.0, 0.0); nb],
            d_north: vec![Complex64::new(0.0, 0.0); nb],
        };
        for (b, uv) in self.uv_m.iter().enumerate() {
            let s = uv[0] * east_rad + uv[1] * north_rad;
            for (w, l) in self.rule.weights.iter().zip(&self.rule.wavelengths_m) {
                let (sn, cs) = portable::sin_cos(-2.0 * PI * s / l);
                let z = Complex64::new(w * cs, w * sn);
                // −2πi z / λ
                let dz = Complex64::new(2.0 * PI * z.im / l, -2.0 * PI * z.re / l);
                out.f[b] += z;
                out.d_east[b] += dz * uv[0];
                out.d_north[b] += dz * uv[1];
            }
        }
        out
    }

    /// F_b alone, summed exactly as [`Self::phasors`] sums it (for χ² without a Jacobian).
    pub fn band_f(&self, east_rad: f64, north_rad: f64) -> Vec<Complex64> {
        self.uv_m
            .iter()
            .map(|uv| {
                let s = uv[0] * east_rad + uv[1] * north_rad;
                let mut f = Complex64::new(0.0, 0.0);
                for (w, l) in self.rule.weights.iter().zip(&self.rule.wavelengths_m) {
                    let (sn, cs) = portable::sin_cos(-2.0 * PI * s / l);
                    f += Complex64::new(w * cs, w * sn);
                }
                f
            })
            .collect()
    }

    /// Baseline phases φ_b = arg(1 + r F_b) (§2).
    pub fn baseline_phases(&self, east_rad: f64, north_rad: f64, ratio: f64) -> Vec<f64> {
        self.band_f(east_rad, north_rad)
            .iter()
            .map(|f| portable::arg(Complex64::new(1.0, 0.0) + f * ratio))
            .collect()
    }
}

/// ∂φ_b/∂(α, δ, r) from the phasors (§2: Im(∂D_b/D_b), D_b = 1 + r F_b): rows b, 3 columns.
pub fn phase_jacobian(p: &Phasors, ratio: f64) -> Vec<[f64; 3]> {
    (0..p.f.len())
        .map(|b| {
            let d = Complex64::new(1.0, 0.0) + p.f[b] * ratio;
            let inv = d.conj() / d.norm_sqr();
            [
                (p.d_east[b] * ratio * inv).im,
                (p.d_north[b] * ratio * inv).im,
                (p.f[b] * inv).im,
            ]
        })
        .collect()
}

/// The three (baseline, ±1) entries of each row of T.
pub type SparseRow = [(usize, f64); 3];

/// T (row-major rows × 21) as its three non-zero entries per row (padded with zeros).
pub fn sparse_rows(t_matrix: &[f64]) -> Vec<SparseRow> {
    t_matrix
        .chunks_exact(21)
        .map(|row| {
            let mut out = [(0, 0.0); 3];
            for (slot, (b, &v)) in out
                .iter_mut()
                .zip(row.iter().enumerate().filter(|e| *e.1 != 0.0))
            {
                *slot = (b, v);
            }
            out
        })
        .collect()
}

/// One closure phase from a sparse row of T.
#[inline]
pub fn sparse_dot(row: &SparseRow, phases: &[f64]) -> f64 {
    row[0].1 * phases[row[0].0] + row[1].1 * phases[row[1].0] + row[2].1 * phases[row[2].0]
}

/// Closure phases T φ (T row-major rows × 21).
pub fn closure_phases(t_matrix: &[f64], phases: &[f64]) -> Vec<f64> {
    t_matrix
        .chunks_exact(phases.len())
        .map(|row| portable::dot(row, phases))
        .collect()
}

/// x wrapped to (−π, π].
pub fn wrap(x: f64) -> f64 {
    if x.abs() < PI {
        return x;
    }
    let y = (x + PI).rem_euclid(2.0 * PI) - PI;
    if y == -PI {
        PI
    } else {
        y
    }
}
