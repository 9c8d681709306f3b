//! Detection limits (companion.md §8): per node the flux ratio excluded at 3σ and 5σ by
//! Absil et al. 2011's test, f_A = (c + √(c² + Gχ²₀κ))/G, and by CANDID's injection test
//! (Gallenne et al. 2015), f_I = (−c + √(c² + Gχ²₀κ))/G, from the walk's G and c taken on the
//! data after subtracting a detected companion exactly; where f > 0.005, two Newton steps on the
//! exact smeared model (phases arg(1 + f F_b)) bring f within 1 %. Curves are the azimuthal
//! median and 99th percentile of f in annuli, as Δmag. f is capped at 1 (Δmag 0: unconstrained).

use super::input::N_BASELINES;
use super::model::MAS_RAD;
use super::model::{sparse_dot, wrap};
use super::problem::FitFile;
use super::search::{Grid, Kernel, LinearMaps, MAX_LANES};
use super::significance::chi2_isf;
use crate::portable;
use rayon::prelude::*;
use std::f64::consts::PI;

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

/// [`exact_chi2`] for the polish, without allocating: each file's A in the walk's layout with
/// the whitened data d̃′ = W d′. When no residual d′ − sign T φ needs wrapping (the usual case),
/// W wrap(d′ − sign T φ) = d̃′ − sign A φ, which costs 21 multiply-adds of whole vectors instead
/// of W times the 35 residuals; otherwise the residuals are wrapped and whitened as written.
fn exact_chi2_fast(
    files: &[FitFile],
    data: &[Vec<f64>],
    kernels: &[Kernel],
    (x, y): (&[f64], &[f64]),
    flux: f64,
    method: Method,
) -> (f64, f64) {
    let sign = match method {
        Method::Absil => 1.0,
        Method::Injection => -1.0,
    };
    let (mut chi2, mut slope) = (0.0, 0.0);
    for (k, (file, kernel)) in files.iter().zip(kernels).enumerate() {
        let mut phi = [0.0; N_BASELINES];
        let mut dphi = [0.0; N_BASELINES];
        for b in 0..N_BASELINES {
            let (fr, fi) = (x[k * N_BASELINES + b], y[k * N_BASELINES + b]);
            let (dr, di) = (1.0 + flux * fr, flux * fi);
            phi[b] = portable::atan2(di, dr);
            dphi[b] = (fi * dr - fr * di) / (dr * dr + di * di);
        }
        let white = &file.white;
        let lanes = kernel.lanes;
        let (mut t, mut s) = ([0.0; MAX_LANES], [0.0; MAX_LANES]);
        kernel.apply(&dphi, &mut s[..lanes]);
        let mut r = [0.0; MAX_LANES];
        let mut wrapped = false;
        for (q, &row) in white.rows.iter().enumerate() {
            r[q] = data[k][row] - sign * sparse_dot(&file.t_sparse[row], &phi);
            wrapped |= r[q].abs() >= PI;
        }
        if wrapped {
            let n = white.rows.len();
            for v in &mut r[..n] {
                *v = wrap(*v);
            }
            for (i, w_row) in white.w.chunks_exact(n).enumerate() {
                t[i] = portable::dot(w_row, &r[..n]);
            }
        } else {
            kernel.apply(&phi, &mut t[..lanes]);
            for (ti, d) in t[..white.rank].iter_mut().zip(&kernel.d_tilde) {
                *ti = d - sign * *ti;
            }
        }
        for i in 0..white.rank {
            chi2 += t[i] * t[i];
            slope -= 2.0 * sign * t[i] * s[i];
        }
    }
    (chi2, slope)
}

/// Two Newton steps on the exact χ²(f) = target from the linear f (§8), capped at 1.
fn polish(
    files: &[FitFile],
    data: &[Vec<f64>],
    kernels: &[Kernel],
    xy: (&[f64], &[f64]),
    f0: f64,
    target: f64,
    method: Method,
) -> f64 {
    let mut f = f0.min(1.0);
    for _ in 0..2 {
        let (value, slope) = exact_chi2_fast(files, data, kernels, xy, f, method);
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
/// (NaN outside the annulus), for data `data` (per file, all OI_T3 rows). G is the walk's; c is
/// the walk's too unless `subtracted`, when only c changes (§8): c = a′ᵀ y, with the y the walk
/// kept (no second walk; Re F is evaluated directly at the few nodes polished), and
/// a′ = Aᵀ W d′, a 21-dot per node and file.
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
    let kernels: Vec<Kernel> = files
        .iter()
        .zip(&whitened)
        .map(|(f, w)| Kernel::new(&f.white.a, &w.0))
        .collect();
    // a′ = Aᵀ d̃′ per file
    let a_data: Vec<Vec<f64>> = files
        .iter()
        .zip(&whitened)
        .map(|(f, w)| portable::matmul_tn(&f.white.a, &w.0, f.white.rank, N_BASELINES, 1))
        .collect();
    let kappas = [kappa(n_data, P_3SIGMA), kappa(n_data, P_5SIGMA)];
    let targets = kappas.map(|k| chi2_0 * (1.0 + k));
    let nodes = grid.side() * grid.side();
    // per row of the first walk (its y kept, so no second walk): each node pair (n, mirrored
    // m) with f of the Absil test at n and at m for 3σ and 5σ
    let step_rad = grid.step_mas * MAS_RAD;
    let width = files.len() * N_BASELINES;
    let rows: Vec<Vec<(usize, usize, [f64; 4])>> = maps
        .walked
        .par_iter()
        .map(|row| {
            let (mut x, mut minus_y) = (vec![0.0; width], vec![0.0; width]);
            let mut out = Vec::with_capacity(row.nodes.len());
            for (&(i, j), y) in row.nodes.iter().zip(row.y.chunks_exact(width)) {
                let (n, m) = (grid.index(i, j), grid.index(-i, -j));
                let g: f64 = (0..maps.groups).map(|k| maps.g[n * maps.groups + k]).sum();
                let c: f64 = if subtracted {
                    a_data
                        .iter()
                        .enumerate()
                        .map(|(f, a)| portable::dot(a, &y[f * N_BASELINES..(f + 1) * N_BASELINES]))
                        .sum()
                } else {
                    (0..maps.groups).map(|k| maps.c[n * maps.groups + k]).sum()
                };
                let (mut mirrored_ready, mut x_ready) = (false, false);
                let mut fluxes = [0.0; 4];
                for (t, &kap) in kappas.iter().enumerate() {
                    let root = (c * c + g * chi2_0 * kap).sqrt();
                    // The injection test at one node is the Absil test at the mirrored node:
                    // there c is −c and F is conj F, so arg(1 + f F) changes sign, and both the
                    // linear f and the exact χ²(f) are the same function (§8: f_I(α, δ) =
                    // f_A(−α, −δ)), polished or not.
                    for (q, (cc, mirrored)) in [(c, false), (-c, true)].into_iter().enumerate() {
                        let mut f = (cc + root) / g;
                        if f > POLISH_ABOVE {
                            if !x_ready {
                                let (east, north) = (i as f64 * step_rad, j as f64 * step_rad);
                                for (xf, file) in x.chunks_exact_mut(N_BASELINES).zip(files) {
                                    for (xb, fb) in
                                        xf.iter_mut().zip(file.model.band_f(east, north))
                                    {
                                        *xb = fb.re;
                                    }
                                }
                                x_ready = true;
                            }
                            let y: &[f64] = if mirrored {
                                if !mirrored_ready {
                                    for (q, v) in minus_y.iter_mut().zip(y) {
                                        *q = -v;
                                    }
                                    mirrored_ready = true;
                                }
                                &minus_y
                            } else {
                                y
                            };
                            let xy = (x.as_slice(), y);
                            f = polish(files, data, &kernels, xy, f, targets[t], Method::Absil);
                        }
                        fluxes[2 * t + q] = f.min(1.0);
                    }
                }
                out.push((n, m, fluxes));
            }
            out
        })
        .collect();
    let mut out: [Vec<f64>; 4] = std::array::from_fn(|_| vec![f64::NAN; nodes]);
    for row in &rows {
        for &(n, m, f) in row {
            for t in 0..2 {
                // Absil at n and m; injection at n is Absil at m, and the other way round
                out[t][n] = f[2 * t];
                out[2 + t][m] = f[2 * t];
                out[t][m] = f[2 * t + 1];
                out[2 + t][n] = f[2 * t + 1];
            }
        }
    }
    out
}

/// A key whose unsigned order is the total order of f64 (negative numbers flipped), so that
/// selection compares integers.
fn key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 {
        !b
    } else {
        b | (1 << 63)
    }
}

fn unkey(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

/// The q-quantiles for increasing q (linear interpolation between order statistics, as numpy's
/// default), by selection rather than a full sort: each selection runs on the part above the
/// previous one.
fn quantiles<const Q: usize>(keys: &mut [u64], qs: [f64; Q]) -> [f64; Q] {
    let mut out = [f64::NAN; Q];
    if keys.is_empty() {
        return out;
    }
    let mut from = 0;
    for (o, q) in out.iter_mut().zip(qs) {
        let pos = q * (keys.len() - 1) as f64;
        let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
        let (_, &mut low, upper) = keys[from..].select_nth_unstable(lo - from);
        let low = unkey(low);
        let high = if hi > lo {
            unkey(upper.iter().copied().min().unwrap_or(key(low)))
        } else {
            low
        };
        *o = low + (high - low) * (pos - lo as f64);
        from = lo;
    }
    out
}

fn dmag(f: f64) -> f64 {
    -2.5 * portable::ln(f.min(1.0)) / portable::ln(10.0)
}

/// The curves (§8) from [`node_limits`]' per-node limits: annuli `bin_mas` wide from r_min,
/// median and 99th percentile of f.
pub fn curves(grid: &Grid, limits: &[Vec<f64>; 4], bin_mas: f64) -> Vec<LimitPoint> {
    let nbins = ((grid.rmax_mas - grid.rmin_mas) / bin_mas).ceil().max(1.0) as usize;
    // the nodes of each annulus, in the plane's order
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); nbins];
    let h = grid.half;
    for j in -h..=h {
        for i in -h..=h {
            let n = grid.index(i, j);
            if limits[0][n].is_nan() {
                continue;
            }
            let r = grid.step_mas * ((i * i + j * j) as f64).sqrt();
            let b = (((r - grid.rmin_mas) / bin_mas) as usize).min(nbins - 1);
            members[b].push(n as u32);
        }
    }
    let mut keys: Vec<u64> = Vec::with_capacity(members.iter().map(Vec::len).max().unwrap_or(0));
    members
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.is_empty())
        .map(|(k, m)| {
            // f_I(x) = f_A(−x) at every node (node_limits) and an annulus holds x and −x: the
            // injection limits of an annulus are its Absil limits, the same multiset
            let [[m0, p0], [m1, p1]] = std::array::from_fn(|q| {
                keys.clear();
                keys.extend(m.iter().map(|&n| key(limits[q][n as usize])));
                quantiles(&mut keys, [0.5, 0.99]).map(dmag)
            });
            let [[m2, p2], [m3, p3]] = [[m0, p0], [m1, p1]];
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
