//! The likelihood (companion.md §4): the covariance of one file's closure phases (OI_CORR is
//! not read yet: `fringe-phase` C = T Σ_φ Tᵀ when the fringe-phase errors are consistent with
//! T3PHIERR, else `ttT` C = D^½ (TTᵀ/3) D^½ after Kammerer et al. 2020), whitening by its
//! eigen-decomposition keeping eigenvalues above 1e-10 × the largest, and the precomputed
//! A = W T, d̃ = W d, a = Aᵀ d̃, χ²₀ = ‖d̃‖² the search walks with. `--errors diagonal` is
//! CANDID's W = diag(1/T3PHIERR) (Gallenne et al. 2015), kept for comparison only.

use super::input::{OiObservation, N_BASELINES};
use super::linalg::symmetric_eigen;
use super::model::wrap;
use crate::portable;

/// Eigenvalues kept: above this fraction of the largest (§4).
const EIGEN_CUT: f64 = 1e-10;
/// The fringe-phase covariance is used when median √diag C / T3PHIERR is in this range (§4).
const FRINGE_PHASE_RATIO: (f64, f64) = (0.8, 1.25);

/// Which covariance whitens a file (§4), as `files[].covariance` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovarianceKind {
    FringePhase,
    TtT,
    Diagonal,
}

impl CovarianceKind {
    pub fn name(self) -> &'static str {
        match self {
            CovarianceKind::FringePhase => "fringe-phase",
            CovarianceKind::TtT => "ttT",
            CovarianceKind::Diagonal => "diagonal",
        }
    }
}

/// One file's whitened closure phases.
#[derive(Debug, Clone)]
pub struct Whitened {
    pub kind: CovarianceKind,
    /// The OI_T3 rows used (FLAG = F), in order.
    pub rows: Vec<usize>,
    /// Rank kept: the number of whitened data.
    pub rank: usize,
    /// W (rank × rows.len()), row-major.
    pub w: Vec<f64>,
    /// A = W T over the used rows (rank × 21), row-major.
    pub a: Vec<f64>,
    /// d̃ = W d (rank).
    pub d_tilde: Vec<f64>,
    /// χ²₀ = ‖d̃‖², the single star's χ².
    pub chi2_null: f64,
}

/// The covariance of the used rows (§4) and its name.
fn covariance(obs: &OiObservation, rows: &[usize], diagonal: bool) -> (CovarianceKind, Vec<f64>) {
    let n = rows.len();
    let err: Vec<f64> = rows.iter().map(|&r| obs.cp_err_rad[r]).collect();
    let t_row = |r: usize| &obs.t_matrix[r * N_BASELINES..(r + 1) * N_BASELINES];
    if diagonal {
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            c[i * n + i] = err[i] * err[i];
        }
        return (CovarianceKind::Diagonal, c);
    }
    let ttt = |i: usize, j: usize| portable::dot(t_row(rows[i]), t_row(rows[j]));
    if let Some(phi_err) = &obs.vis_phi_err_rad {
        if phi_err.iter().all(|e| e.is_finite() && *e > 0.0) {
            let var: Vec<f64> = phi_err.iter().map(|e| e * e).collect();
            let mut c = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    let (ti, tj) = (t_row(rows[i]), t_row(rows[j]));
                    c[i * n + j] = (0..N_BASELINES).map(|b| ti[b] * var[b] * tj[b]).sum();
                }
            }
            let mut ratio: Vec<f64> = (0..n).map(|i| c[i * n + i].sqrt() / err[i]).collect();
            ratio.sort_by(f64::total_cmp);
            let median = if n % 2 == 1 {
                ratio[n / 2]
            } else {
                0.5 * (ratio[n / 2 - 1] + ratio[n / 2])
            };
            if (FRINGE_PHASE_RATIO.0..=FRINGE_PHASE_RATIO.1).contains(&median) {
                return (CovarianceKind::FringePhase, c);
            }
        }
    }
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            c[i * n + j] = err[i] * err[j] * ttt(i, j) / 3.0;
        }
    }
    (CovarianceKind::TtT, c)
}

/// Whitens one file's closure phases (§4).
pub fn whiten(obs: &OiObservation, diagonal: bool) -> Whitened {
    let rows: Vec<usize> = (0..obs.cp_rad.len()).filter(|&r| !obs.cp_flag[r]).collect();
    let n = rows.len();
    let (kind, c) = covariance(obs, &rows, diagonal);
    let (values, vectors) = symmetric_eigen(&c, n);
    let largest = values.iter().copied().fold(0.0, f64::max);
    let kept: Vec<usize> = (0..n)
        .filter(|&k| values[k] > EIGEN_CUT * largest)
        .collect();
    let rank = kept.len();
    let mut w = vec![0.0; rank * n];
    for (row, &k) in kept.iter().enumerate() {
        let scale = 1.0 / values[k].sqrt();
        for i in 0..n {
            w[row * n + i] = vectors[i * n + k] * scale;
        }
    }
    let t_used: Vec<f64> = rows
        .iter()
        .flat_map(|&r| {
            obs.t_matrix[r * N_BASELINES..(r + 1) * N_BASELINES]
                .iter()
                .copied()
        })
        .collect();
    let a = portable::matmul(&w, &t_used, rank, n, N_BASELINES);
    let d: Vec<f64> = rows.iter().map(|&r| obs.cp_rad[r]).collect();
    let d_tilde: Vec<f64> = (0..rank)
        .map(|i| portable::dot(&w[i * n..(i + 1) * n], &d))
        .collect();
    let chi2_null = portable::dot(&d_tilde, &d_tilde);
    Whitened {
        kind,
        rows,
        rank,
        w,
        a,
        d_tilde,
        chi2_null,
    }
}

impl Whitened {
    /// W wrap(d − m) for model closure phases m of all OI_T3 rows (§4).
    pub fn residual(&self, data_cp: &[f64], model_cp: &[f64]) -> Vec<f64> {
        let r: Vec<f64> = self
            .rows
            .iter()
            .map(|&k| wrap(data_cp[k] - model_cp[k]))
            .collect();
        let n = self.rows.len();
        (0..self.rank)
            .map(|i| portable::dot(&self.w[i * n..(i + 1) * n], &r))
            .collect()
    }

    /// The same whitening for other data `d` (all OI_T3 rows): (d̃, χ²₀).
    pub fn with_data(&self, data_cp: &[f64]) -> (Vec<f64>, f64) {
        let zero = vec![0.0; data_cp.len()];
        let d_tilde = self.residual(data_cp, &zero);
        let chi2 = portable::dot(&d_tilde, &d_tilde);
        (d_tilde, chi2)
    }
}
