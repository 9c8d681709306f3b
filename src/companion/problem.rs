//! The fit problem assembled from the files (companion.md §2–§4): per file its model in the fit
//! frame, its whitening, its contrast group (one for a common contrast, one per filter
//! otherwise), and the exact whitened residuals and Jacobian of the smeared model that the
//! refinement, the errors and the limits use. With `--v2` each file adds its 21
//! (V²_data − V²_model)/VIS2ERR rows.

use super::input::{OiObservation, N_BASELINES};
use super::likelihood::Whitened;
use super::model::{phase_jacobian, sparse_dot, FileModel, SparseRow, MAS_RAD};
use crate::portable;
use rustfft::num_complex::Complex64;

/// One file of the fit.
#[derive(Debug, Clone)]
pub struct FitFile {
    pub obs: OiObservation,
    pub model: FileModel,
    pub white: Whitened,
    /// Index of this file's contrast.
    pub group: usize,
    /// Whether its V² rows are fitted.
    pub v2: bool,
    /// Rotation applied to its (u, v), degrees (§3).
    pub rotation_deg: f64,
    /// T as three entries per row, for the exact model's closure phases.
    pub t_sparse: Vec<SparseRow>,
}

impl FitFile {
    /// Number of whitened data of this file.
    pub fn n_data(&self) -> usize {
        self.white.rank + if self.v2 { N_BASELINES } else { 0 }
    }

    /// χ² of the single star: CPs zero, V² one.
    pub fn chi2_null(&self) -> f64 {
        let v2: f64 = if self.v2 {
            (0..N_BASELINES)
                .map(|b| ((self.obs.vis2[b] - 1.0) / self.obs.vis2_err[b]).powi(2))
                .sum()
        } else {
            0.0
        };
        self.white.chi2_null + v2
    }

    /// Model closure phases (all OI_T3 rows) at (east, north) mas and ratio r.
    pub fn model_cp(&self, east_mas: f64, north_mas: f64, ratio: f64) -> Vec<f64> {
        let phi = self
            .model
            .baseline_phases(east_mas * MAS_RAD, north_mas * MAS_RAD, ratio);
        self.t_sparse
            .iter()
            .map(|row| sparse_dot(row, &phi))
            .collect()
    }

    /// Whitened residuals of this file at (east, north) mas and ratio r, with the Jacobian
    /// columns ∂res/∂(east_mas, north_mas, r) when asked (row-major rows × 3).
    pub fn residuals(
        &self,
        east_mas: f64,
        north_mas: f64,
        ratio: f64,
        jac: bool,
    ) -> (Vec<f64>, Vec<f64>) {
        let (e, n) = (east_mas * MAS_RAD, north_mas * MAS_RAD);
        // the derivatives only when the Jacobian is asked for
        let full = jac.then(|| self.model.phasors(e, n));
        let f_only;
        let f: &[Complex64] = match &full {
            Some(p) => &p.f,
            None => {
                f_only = self.model.band_f(e, n);
                &f_only
            }
        };
        let one = Complex64::new(1.0, 0.0);
        let phi: Vec<f64> = f.iter().map(|f| portable::arg(one + f * ratio)).collect();
        let m: Vec<f64> = self
            .t_sparse
            .iter()
            .map(|row| sparse_dot(row, &phi))
            .collect();
        let mut res = self.white.residual(&self.obs.cp_rad, &m);
        let mut jacobian = Vec::new();
        if let Some(p) = &full {
            let dphi = phase_jacobian(p, ratio);
            let rank = self.white.rank;
            jacobian = vec![0.0; rank * 3];
            for i in 0..rank {
                let a_row = &self.white.a[i * N_BASELINES..(i + 1) * N_BASELINES];
                for c in 0..3 {
                    let d: f64 = (0..N_BASELINES).map(|b| a_row[b] * dphi[b][c]).sum();
                    let scale = if c < 2 { MAS_RAD } else { 1.0 };
                    jacobian[i * 3 + c] = -d * scale;
                }
            }
        }
        if self.v2 {
            let norm = 1.0 / ((1.0 + ratio) * (1.0 + ratio));
            for (b, &fb) in f.iter().enumerate() {
                let d = one + fb * ratio;
                let sigma = self.obs.vis2_err[b];
                res.push((self.obs.vis2[b] - d.norm_sqr() * norm) / sigma);
                if let Some(p) = &full {
                    let dd = [p.d_east[b] * ratio, p.d_north[b] * ratio];
                    for ddc in &dd {
                        let dv = 2.0 * (d.conj() * ddc).re * norm * MAS_RAD;
                        jacobian.push(-dv / sigma);
                    }
                    let dv_dr =
                        2.0 * (d.conj() * fb).re * norm - 2.0 * d.norm_sqr() * norm / (1.0 + ratio);
                    jacobian.push(-dv_dr / sigma);
                }
            }
        }
        (res, jacobian)
    }
}

/// The parameters of a binary: (east, north) mas and one ratio per contrast group.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub east_mas: f64,
    pub north_mas: f64,
    pub ratios: Vec<f64>,
}

impl Params {
    pub fn to_vec(&self) -> Vec<f64> {
        let mut v = vec![self.east_mas, self.north_mas];
        v.extend(&self.ratios);
        v
    }
    pub fn from_slice(v: &[f64]) -> Params {
        Params {
            east_mas: v[0],
            north_mas: v[1],
            ratios: v[2..].to_vec(),
        }
    }
}

/// All files' whitened residuals and, when asked, the Jacobian (rows × (2 + groups)).
pub fn stacked_residuals(files: &[FitFile], p: &Params, jac: bool) -> (Vec<f64>, Vec<f64>) {
    let np = 2 + p.ratios.len();
    let (mut res, mut jacobian) = (Vec::new(), Vec::new());
    for f in files {
        let (r, j) = f.residuals(p.east_mas, p.north_mas, p.ratios[f.group], jac);
        if jac {
            for row in j.chunks_exact(3) {
                let mut full = vec![0.0; np];
                full[0] = row[0];
                full[1] = row[1];
                full[2 + f.group] = row[2];
                jacobian.extend(full);
            }
        }
        res.extend(r);
    }
    (res, jacobian)
}

/// χ² of all files at `p`.
pub fn chi2(files: &[FitFile], p: &Params) -> f64 {
    let (r, _) = stacked_residuals(files, p, false);
    portable::dot(&r, &r)
}
