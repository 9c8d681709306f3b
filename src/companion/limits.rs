//! Detection limits (companion.md §8): per node the flux ratio excluded at 3σ and 5σ by
//! Absil et al. 2011's test, f_A = (c + √(c² + Gχ²₀κ))/G, and by CANDID's injection test
//! (Gallenne et al. 2015), f_I = (−c + √(c² + Gχ²₀κ))/G, from the walk's G and c taken on the
//! data after subtracting a detected companion exactly; where f > 0.005, two Newton steps on the
//! exact smeared model (phases arg(1 + f F_b)) bring f within 1 %. Curves are the azimuthal
//! median and 99th percentile of f in annuli, as Δmag. f is capped at 1 (Δmag 0: unconstrained).

use super::input::N_BASELINES;
use super::model::{sparse_dot, wrap};
use super::problem::FitFile;
use super::search::{linear_terms, walk, Grid, LinearMaps};
use super::significance::chi2_isf;
use crate::portable;

/// Upper-tail probabilities of 3σ and 5σ (§8).
pub const P_3SIGMA: f64 = 2.70e-3;
pub const P_5SIGMA: f64 = 5.73e-7;
/// Newton polish where f exceeds this (§8).
const POLISH_ABOVE: f64 = 0.005;

/// One point of the contrast curves (§9 `limits[]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LimitPoint {
    pub sep_mas: f64,
    pub dmag_3sigma_absil: f64,
    pub dmag_5sigma_absil: f64,
    pub dmag_3sigma_injection: f64,
    pub dmag_5sigma_injection: f64,
    pub dmag_3sigma_absil_p99: f64,
    pub dmag_5sigma_absil_p99: f64,
    pub dmag_3sigma_injection_p99: f64,
    pub dmag_5sigma_injection_p99: f64,
}

/// Which test a limit answers (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Absil: the binary at f against the data, N χ²(f)/χ²₀ = X.
    Absil,
    /// Injection: the single star against the data with the companion injected.
    Injection,
}

/// κ = X/N − 1 with X the χ²_N quantile at upper tail p (§8).
pub fn kappa(n_data: usize, p: f64) -> f64 {
    chi2_isf(n_data as f64, p) / n_data as f64 - 1.0
}

/// The linear-regime flux of §8 from (c, G, χ²₀, κ).
pub fn linear_flux(c: f64, g: f64, chi2_0: f64, kappa: f64, method: Method) -> f64 {
    let root = (c * c + g * chi2_0 * kappa).sqrt();
    match method {
        Method::Absil => (c + root) / g,
        Method::Injection => (-c + root) / g,
    }
}

/// χ² of the exact test at flux f, with its derivative in f, from the companion's F_b per file
/// (Re F in `x`, Im F in `y`, 21 each): Absil ‖W wrap(d′ − T arg(1 + fF))‖², injection
/// ‖W wrap(d′ + T arg(1 + fF))‖².
pub fn exact_chi2(
    files: &[FitFile],
    data: &[Vec<f64>],
    x: &[f64],
    y: &[f64],
    flux: f64,
    method: Method,
) -> (f64, f64) {
    let sign = match method {
        Method::Absil => 1.0,
        Method::Injection => -1.0,
    };
    let (mut chi2, mut slope) = (0.0, 0.0);
    for (k, file) in files.iter().enumerate() {
        let mut phi = [0.0; N_BASELINES];
        let mut dphi = [0.0; N_BASELINES];
        for b in 0..N_BASELINES {
            let (fr, fi) = (x[k * N_BASELINES + b], y[k * N_BASELINES + b]);
            let (dr, di) = (1.0 + flux * fr, flux * fi);
            phi[b] = portable::atan2(di, dr);
            // Im(F conj D)/|D|²
            dphi[b] = (fi * dr - fr * di) / (dr * dr + di * di);
        }
        let white = &file.white;
        let n = white.rows.len();
        let r: Vec<f64> = white
            .rows
            .iter()
            .map(|&row| wrap(data[k][row] - sign * sparse_dot(&file.t_sparse[row], &phi)))
            .collect();
        for i in 0..white.rank {
            let res = portable::dot(&white.w[i * n..(i + 1) * n], &r);
            let a_row = &white.a[i * N_BASELINES..(i + 1) * N_BASELINES];
            chi2 += res * res;
            slope -= 2.0 * sign * res * portable::dot(a_row, &dphi);
        }
    }
    (chi2, slope)
}

/// Two Newton steps on the exact χ²(f) = target from the linear f (§8), capped at 1.
fn polish(
    files: &[FitFile],
    data: &[Vec<f64>],
    (x, y): (&[f64], &[f64]),
    f0: f64,
    target: f64,
    method: Method,
) -> f64 {
    let mut f = f0.min(1.0);
    for _ in 0..2 {
        let (value, slope) = exact_chi2(files, data, x, y, f, method);
        if slope.is_nan() || slope == 0.0 {
            break;
        }
        let next = f - (value - target) / slope;
        if !next.is_finite() || next <= 0.0 {
            break;
        }
        f = next.min(1.0);
    }
    f
}

/// The four limits (Absil 3σ, 5σ, injection 3σ, 5σ) at every node of the full plane
/// (NaN outside the annulus), for data `data` (per file, all OI_T3 rows); c is recomputed on
/// `data` when `subtracted`, else taken from the first walk.
pub fn node_limits(
    files: &[FitFile],
    maps: &LinearMaps,
    data: &[Vec<f64>],
    subtracted: bool,
    n_data: usize,
) -> [Vec<f64>; 4] {
    let grid: &Grid = &maps.grid;
    let whitened: Vec<(Vec<f64>, f64)> = files
        .iter()
        .zip(data)
        .map(|(f, d)| f.white.with_data(d))
        .collect();
    let chi2_0: f64 = whitened.iter().map(|w| w.1).sum();
    let kappas = [kappa(n_data, P_3SIGMA), kappa(n_data, P_5SIGMA)];
    let nodes = grid.side() * grid.side();
    let mut out: [Vec<f64>; 4] = std::array::from_fn(|_| vec![f64::NAN; nodes]);
    let mut minus_y = vec![0.0; files.len() * N_BASELINES];
    walk(files, grid, true, |node| {
        let (n, m) = (grid.index(node.i, node.j), grid.index(-node.i, -node.j));
        let g: f64 = (0..maps.groups).map(|k| maps.g[n * maps.groups + k]).sum();
        let c: f64 = if subtracted {
            files
                .iter()
                .enumerate()
                .map(|(f, file)| {
                    let y = &node.y[f * N_BASELINES..(f + 1) * N_BASELINES];
                    linear_terms(&file.white.a, &whitened[f].0, y).0
                })
                .sum()
        } else {
            (0..maps.groups).map(|k| maps.c[n * maps.groups + k]).sum()
        };
        let mut mirrored_ready = false;
        for (t, &kap) in kappas.iter().enumerate() {
            let target = chi2_0 * (1.0 + kap);
            for (slot, method) in [(t, Method::Absil), (2 + t, Method::Injection)] {
                // the mirrored node has −c and conj F
                for (idx, cc, mirrored) in [(n, c, false), (m, -c, true)] {
                    let mut f = linear_flux(cc, g, chi2_0, kap, method);
                    if f > POLISH_ABOVE {
                        let y: &[f64] = if mirrored {
                            if !mirrored_ready {
                                for (q, v) in minus_y.iter_mut().zip(node.y) {
                                    *q = -v;
                                }
                                mirrored_ready = true;
                            }
                            &minus_y
                        } else {
                            node.y
                        };
                        f = polish(files, data, (node.x, y), f, target, method);
                    }
                    out[slot][idx] = f.min(1.0);
                }
            }
        }
    });
    out
}

/// The q-quantile (linear interpolation between order statistics, as numpy's default), by
/// selection rather than a full sort.
fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let pos = q * (values.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let (_, &mut low, upper) = values.select_nth_unstable_by(lo, f64::total_cmp);
    let high = if hi > lo {
        upper.iter().copied().fold(f64::INFINITY, f64::min)
    } else {
        low
    };
    low + (high - low) * (pos - lo as f64)
}

fn dmag(f: f64) -> f64 {
    -2.5 * portable::ln(f.min(1.0)) / portable::ln(10.0)
}

/// The curves (§8): annuli `bin_mas` wide from r_min, median and 99th percentile of f.
pub fn curves(grid: &Grid, limits: &[Vec<f64>; 4], bin_mas: f64) -> Vec<LimitPoint> {
    let nbins = ((grid.rmax_mas - grid.rmin_mas) / bin_mas).ceil().max(1.0) as usize;
    let mut bins: Vec<[Vec<f64>; 4]> = (0..nbins).map(|_| Default::default()).collect();
    let h = grid.half;
    for j in -h..=h {
        for i in -h..=h {
            let n = grid.index(i, j);
            if limits[0][n].is_nan() {
                continue;
            }
            let r = grid.step_mas * ((i * i + j * j) as f64).sqrt();
            let b = (((r - grid.rmin_mas) / bin_mas) as usize).min(nbins - 1);
            for k in 0..4 {
                bins[b][k].push(limits[k][n]);
            }
        }
    }
    bins.iter_mut()
        .enumerate()
        .filter(|(_, b)| !b[0].is_empty())
        .map(|(k, b)| {
            let mut med = |q: usize| dmag(percentile(&mut b[q], 0.5));
            let [m0, m1, m2, m3] = [med(0), med(1), med(2), med(3)];
            let mut p99 = |q: usize| dmag(percentile(&mut b[q], 0.99));
            let [p0, p1, p2, p3] = [p99(0), p99(1), p99(2), p99(3)];
            LimitPoint {
                sep_mas: grid.rmin_mas + (k as f64 + 0.5) * bin_mas,
                dmag_3sigma_absil: m0,
                dmag_5sigma_absil: m1,
                dmag_3sigma_injection: m2,
                dmag_5sigma_injection: m3,
                dmag_3sigma_absil_p99: p0,
                dmag_5sigma_absil_p99: p1,
                dmag_3sigma_injection_p99: p2,
                dmag_5sigma_injection_p99: p3,
            }
        })
        .collect()
}
