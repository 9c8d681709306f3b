//! One model basis per exposure (issue 14, lever 8): the LG basis (upstream.md §3.3–3.5)
//! depends on an integration only through its centroid, and the centroids of an exposure differ
//! by a few thousandths of a pixel, so the basis of every integration is interpolated from bases
//! built once, at six centres about a reference centroid c0, by the quadratic through them:
//! A(c0 + δ) ≈ Σ_i L_i(δ) A(c0 + p_i), with p_i the stencil below. That is the second-order
//! Taylor expansion with central finite differences for ∂x, ∂y, ∂xx, ∂yy and a forward one for
//! ∂xy, written as weights on the six bases. The normal matrix is interpolated the same way,
//! AᵀA ≈ Σ_i L_i (A_iᵀA_i) (each A_iᵀA_i over every pixel, once per exposure), minus the
//! outer products of the rows of the pixels an integration leaves out; Aᵀb is Σ_i L_i (A_iᵀb).
//! An integration then costs six matrix-vector products instead of a basis and a Gram matrix.
//!
//! How far it is from the exact basis: a fringe of wavenumber k (rad per pixel, at most ~2.3 on
//! the longest baseline at F380M) moved by δ is off by about (k |δ|)³/6 in phase, 3e-7 rad at
//! |δ| = 0.0055 px, the spread of an exposure; the fit's phases are off by as much (measured in
//! the tests and in BENCHMARKS.md, against the exact path and against jwst 3.0.0). An
//! integration further than [`MAX_SHIFT_PX`] from c0 gets the exact basis.

use super::lgmodel::{BasisPlan, LgModel, ModelBasis};
use super::solve::LinearFit;
use crate::error::{Error, Result, Stage};
use crate::portable;
use nalgebra::{DMatrix, DVector};
use rayon::prelude::*;

/// Step of the stencil, detector pixels. The interpolant's error grows as the cube of the
/// larger of δ and the step, so the step is about the half-spread of an exposure's centroids
/// (0.0055 px): the finite differences' truncation (k h)²/6 ≈ 5e-6 of the derivative terms, which
/// enter multiplied by k δ ≤ 0.02, is ~1e-7 rad, and their rounding, ε |A| / (k h)² ≈ 7e-12 of
/// the second-derivative terms, entering with (k δ)² ≤ 4e-4, is below 1e-14: both far below the
/// gate of issue 14 (0.001° = 1.7e-5 rad).
pub const STEP_PX: f64 = 2.5e-3;

/// The largest centroid offset from c0 (either axis, pixels) interpolated: at 0.01 px the
/// truncation, (k δ)³/6 ≈ 2e-6 rad on the longest baseline, is still a tenth of the gate.
pub const MAX_SHIFT_PX: f64 = 0.01;

/// Stencil centres, (x, y) in units of [`STEP_PX`] about c0.
const STENCIL: [(f64, f64); 6] = [
    (0.0, 0.0),
    (1.0, 0.0),
    (-1.0, 0.0),
    (0.0, 1.0),
    (0.0, -1.0),
    (1.0, 1.0),
];

/// The bases at the stencil's centres about a reference centroid and their Gram matrices.
#[derive(Debug, Clone)]
pub struct ShiftedBasis {
    /// Reference centroid (x = column, y = row), pixels from the crop centre.
    pub reference_px: (f64, f64),
    /// The oversampled sample of the truncated centre shared by every stencil centre
    /// ([`LgModel::centre_sample`]).
    cell: (f64, f64),
    n: usize,
    n_slices: usize,
    bases: Vec<ModelBasis>,
    /// A_iᵀA_i over every pixel, row-major n_slices².
    grams: Vec<Vec<f64>>,
}

impl ShiftedBasis {
    /// Builds the six bases about `reference_px`, moved into its cell if the stencil would
    /// cross a cell's edge (in parallel: each is computed alone, so the bits do not depend on
    /// the threads), and their Gram matrices.
    pub fn new(model: &LgModel, plan: &BasisPlan, reference_px: (f64, f64)) -> ShiftedBasis {
        let reference_px = inside_one_cell(model, reference_px);
        let cell = model.centre_sample(reference_px);
        let bases: Vec<ModelBasis> = STENCIL
            .par_iter()
            .map(|&(u, v)| {
                model.basis_with(
                    plan,
                    (reference_px.0 + u * STEP_PX, reference_px.1 + v * STEP_PX),
                )
            })
            .collect();
        let (n, n_slices) = (bases[0].n, bases[0].n_slices);
        let grams = bases
            .par_iter()
            .map(|b| portable::gram_of_rows(&b.slices, n_slices, n * n))
            .collect();
        ShiftedBasis {
            reference_px,
            cell,
            n,
            n_slices,
            bases,
            grams,
        }
    }

    /// The weights of the six bases for a centroid, or None when it is further than
    /// [`MAX_SHIFT_PX`] from the reference (or not finite) or its centre is in another cell
    /// (`model` is the one the bases were built from).
    pub fn weights(&self, model: &LgModel, centroid_px: (f64, f64)) -> Option<[f64; 6]> {
        let (dx, dy) = (
            centroid_px.0 - self.reference_px.0,
            centroid_px.1 - self.reference_px.1,
        );
        if !(dx.abs() <= MAX_SHIFT_PX && dy.abs() <= MAX_SHIFT_PX) {
            return None;
        }
        if model.centre_sample(centroid_px) != self.cell {
            return None;
        }
        Some(self.weights_unchecked(centroid_px))
    }

    /// The weights at any centroid, however far (experiments: examples/lever8_error.rs).
    pub fn weights_unchecked(&self, centroid_px: (f64, f64)) -> [f64; 6] {
        stencil_weights(
            (centroid_px.0 - self.reference_px.0) / STEP_PX,
            (centroid_px.1 - self.reference_px.1) / STEP_PX,
        )
    }

    /// The interpolated basis for `weights` (for tests and experiments; the fit never forms it).
    pub fn basis(&self, weights: &[f64; 6]) -> ModelBasis {
        let mut slices = vec![0.0; self.bases[0].slices.len()];
        for (b, &w) in self.bases.iter().zip(weights) {
            for (s, &v) in slices.iter_mut().zip(&b.slices) {
                *s += w * v;
            }
        }
        ModelBasis {
            n: self.n,
            n_slices: self.n_slices,
            slices,
        }
    }

    /// The least-squares fit of `data` (n × n) by the interpolated basis, leaving out the pixels
    /// `excluded` marks and those not finite: [`super::solve::fit`]'s solution without its
    /// covariance (a lone integration, which needs it, takes the exact path). None when so many
    /// pixels are left out that subtracting their rows from the full Gram matrix would cost more
    /// digits than it saves time (the caller then fits exactly).
    pub fn fit(
        &self,
        weights: &[f64; 6],
        data: &[f64],
        excluded: &[bool],
    ) -> Option<Result<LinearFit>> {
        let (n, ns) = (self.n, self.n_slices);
        let np = n * n;
        let used: Vec<bool> = (0..np)
            .map(|p| !excluded[p] && data[p].is_finite())
            .collect();
        let n_used = used.iter().filter(|&&u| u).count();
        if n_used <= ns {
            return Some(Err(Error::analysis(
                Stage::Fit,
                format!(
                    "only {n_used} usable pixels for {ns} model terms: too many pixels flagged or NaN"
                ),
            )));
        }
        if 4 * (np - n_used) > np {
            return None;
        }
        let mut normal = vec![0.0; ns * ns];
        for (g, &w) in self.grams.iter().zip(weights) {
            for (a, &v) in normal.iter_mut().zip(g) {
                *a += w * v;
            }
        }
        // the rows of the pixels left out, each the same weighted sum as `basis` forms
        let mut row = vec![0.0; ns];
        for p in (0..np).filter(|&p| !used[p]) {
            for (s, r) in row.iter_mut().enumerate() {
                *r = 0.0;
                for (b, &w) in self.bases.iter().zip(weights) {
                    *r += w * b.slices[s * np + p];
                }
            }
            for (s, &rs) in row.iter().enumerate() {
                for (a, &rt) in normal[s * ns..(s + 1) * ns].iter_mut().zip(&row) {
                    *a -= rs * rt;
                }
            }
        }
        let b_used: Vec<f64> = (0..np)
            .map(|p| if used[p] { data[p] } else { 0.0 })
            .collect();
        let mut rhs = vec![0.0; ns];
        for (b, &w) in self.bases.iter().zip(weights) {
            let dots = portable::dots_of_rows(&b.slices, ns, np, &b_used);
            for (r, d) in rhs.iter_mut().zip(dots) {
                *r += w * d;
            }
        }
        let chol = match DMatrix::from_row_slice(ns, ns, &normal).cholesky() {
            Some(c) => c,
            None => {
                return Some(Err(Error::analysis(
                    Stage::Fit,
                    "the normal matrix of the fringe fit is singular",
                )))
            }
        };
        let coeffs: Vec<f64> = chol
            .solve(&DVector::from_vec(rhs))
            .iter()
            .copied()
            .collect();
        let mut model_image = vec![0.0; np];
        for (b, &w) in self.bases.iter().zip(weights) {
            for (slice, &c) in b.slices.chunks_exact(np).zip(&coeffs) {
                portable::axpy(&mut model_image, w * c, slice);
            }
        }
        let residual = (0..np)
            .map(|p| {
                if used[p] {
                    data[p] - model_image[p]
                } else {
                    f64::NAN
                }
            })
            .collect();
        Some(Ok(LinearFit {
            coeffs,
            model_image,
            residual,
            covariance: None,
            n_used,
        }))
    }
}

/// `reference_px` moved by whole steps (at most two per axis) until every stencil centre is in
/// the cell of the truncated centre of the first; the cells are 1/oversample px wide, 67 steps
/// for the usual 3, so this always succeeds for oversample ≤ 15 (40 steps, ami_analyze's limit).
fn inside_one_cell(model: &LgModel, reference_px: (f64, f64)) -> (f64, f64) {
    let at = |c: (f64, f64), (u, v): (f64, f64)| (c.0 + u * STEP_PX, c.1 + v * STEP_PX);
    let one_cell = |c: (f64, f64)| {
        let cell = model.centre_sample(c);
        STENCIL
            .iter()
            .all(|&p| model.centre_sample(at(c, p)) == cell)
    };
    let moves = [-2.0, -1.0, 0.0, 1.0, 2.0];
    let mut best = None;
    for &u in &moves {
        for &v in &moves {
            let c = at(reference_px, (u, v));
            let cost = u * u + v * v;
            if one_cell(c) && best.is_none_or(|(b, _)| cost < b) {
                best = Some((cost, c));
            }
        }
    }
    best.map_or(reference_px, |(_, c)| c)
}

/// Weights of the [`STENCIL`] bases at (u, v) steps from c0: the quadratic
/// f0 + u fx + v fy + u²/2 fxx + u v fxy + v²/2 fyy with fx = (f1 − f2)/2, fy = (f3 − f4)/2,
/// fxx = f1 − 2 f0 + f2, fyy = f3 − 2 f0 + f4, fxy = f5 − f1 − f3 + f0, collected per f_i. They
/// sum to 1 and give f_i itself at the i-th centre.
fn stencil_weights(u: f64, v: f64) -> [f64; 6] {
    let (uu, vv, uv) = (u * u, v * v, u * v);
    [
        1.0 - uu - vv + uv,
        0.5 * u + 0.5 * uu - uv,
        -0.5 * u + 0.5 * uu,
        0.5 * v + 0.5 * vv - uv,
        -0.5 * v + 0.5 * vv,
        uv,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The weights reproduce every quadratic in (u, v) exactly (closed form: the stencil is
    /// unisolvent for the six monomials 1, u, v, u², uv, v²).
    #[test]
    fn the_weights_reproduce_quadratics() {
        let q = |u: f64, v: f64| 0.3 - 1.1 * u + 0.7 * v + 2.0 * u * u - 0.4 * u * v + 0.9 * v * v;
        for &(u, v) in &[(0.0, 0.0), (0.3, -0.8), (-2.5, 1.7), (4.0, 4.0)] {
            let w = stencil_weights(u, v);
            let got: f64 = STENCIL
                .iter()
                .zip(&w)
                .map(|(&(a, b), &wi)| wi * q(a, b))
                .sum();
            assert!(
                (got - q(u, v)).abs() < 1e-12,
                "({u}, {v}): {got} vs {}",
                q(u, v)
            );
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
    }
}
