//! Linear least squares of one integration against the model basis (upstream.md §3.9): the
//! unweighted normal equations, solved by Cholesky factorisation (not an explicit inverse), with
//! flagged pixels left out. Optionally the covariance of the coefficients: propagated from the
//! per-pixel ERR of the data through this (unweighted) estimator, or, without ERR, from the
//! scatter of the residuals.

use super::lgmodel::ModelBasis;
use crate::error::{Error, Result, Stage};
use crate::portable;
use nalgebra::{DMatrix, DVector};

/// The fit of one integration.
#[derive(Debug, Clone)]
pub struct LinearFit {
    /// Raw coefficients x (flux first, constant last), in the basis' slice order.
    pub coeffs: Vec<f64>,
    /// Model image sum_k x_k A_k (n x n, all slices including the constant).
    pub model_image: Vec<f64>,
    /// data - model, NaN at excluded pixels (jwst >= 1.14 sign).
    pub residual: Vec<f64>,
    /// Covariance of `coeffs` (row-major n_slices x n_slices), when one was asked for.
    pub covariance: Option<Vec<f64>>,
    /// Number of pixels used.
    pub n_used: usize,
}

/// Which coefficient covariance [`fit`] returns.
#[derive(Debug, Clone, Copy)]
pub enum Covariance<'a> {
    /// None.
    Skip,
    /// From the per-pixel errors (n x n, same units as data): (A'A)^-1 A' diag(err^2) A (A'A)^-1,
    /// the covariance of the unweighted estimator.
    FromErr(&'a [f64]),
    /// s^2 (A'A)^-1, s^2 the residuals' sum of squares over (pixels used - terms): when there
    /// is no ERR.
    FromResiduals,
}

/// Fits `data` (n x n) with the basis, leaving out pixels where `excluded` is true, with the
/// coefficient covariance `covariance` asks for.
pub fn fit(
    basis: &ModelBasis,
    data: &[f64],
    excluded: &[bool],
    covariance: Covariance,
) -> Result<LinearFit> {
    let np = basis.n * basis.n;
    let ns = basis.n_slices;
    let used: Vec<usize> = (0..np)
        .filter(|&p| !excluded[p] && data[p].is_finite())
        .collect();
    if used.len() <= ns {
        return Err(Error::analysis(
            Stage::Fit,
            format!(
                "only {} usable pixels for {} model terms: too many pixels flagged or NaN",
                used.len(),
                ns
            ),
        ));
    }
    // design matrix of the used pixels, one row per slice (D = A^T), so A^T A = D D^T and
    // A^T b = D b are dot products of contiguous rows (in a fixed order: crate::portable)
    let mut design = Vec::with_capacity(used.len() * ns);
    for s in 0..ns {
        let slice = basis.slice(s);
        design.extend(used.iter().map(|&p| slice[p]));
    }
    let nu = used.len();
    let b_vec: Vec<f64> = used.iter().map(|&p| data[p]).collect();
    let normal = DMatrix::from_row_slice(ns, ns, &portable::gram_of_rows(&design, ns, nu));
    let rhs = DVector::from_iterator(
        ns,
        design
            .chunks_exact(nu)
            .map(|row| portable::dot(row, &b_vec)),
    );
    let chol = normal.clone().cholesky().ok_or_else(|| {
        Error::analysis(
            Stage::Fit,
            "the normal matrix of the fringe fit is singular",
        )
    })?;
    let x = chol.solve(&rhs);
    let coeffs: Vec<f64> = x.iter().copied().collect();

    let mut model_image = vec![0.0; np];
    for (s, &c) in coeffs.iter().enumerate() {
        for (m, &v) in model_image.iter_mut().zip(basis.slice(s)) {
            *m += c * v;
        }
    }
    let mut residual = vec![f64::NAN; np];
    for &p in &used {
        residual[p] = data[p] - model_image[p];
    }
    // nalgebra stores column-major: the transpose's storage is the row-major inverse
    let inverse = || -> Vec<f64> { chol.inverse().transpose().iter().copied().collect() };
    let covariance = match covariance {
        Covariance::Skip => None,
        Covariance::FromErr(e) => {
            // D diag(err^2) D^T, the middle of the sandwich
            let sigma: Vec<f64> = used
                .iter()
                .map(|&p| if e[p].is_finite() { e[p] } else { 0.0 })
                .collect();
            let mut weighted = design.clone();
            for row in weighted.chunks_exact_mut(nu) {
                for (v, s) in row.iter_mut().zip(&sigma) {
                    *v *= s;
                }
            }
            let middle = portable::gram_of_rows(&weighted, ns, nu);
            let inv = inverse();
            Some(portable::matmul(
                &portable::matmul(&inv, &middle, ns, ns, ns),
                &inv,
                ns,
                ns,
                ns,
            ))
        }
        Covariance::FromResiduals => {
            let s2 =
                used.iter().map(|&p| residual[p] * residual[p]).sum::<f64>() / (nu - ns) as f64;
            Some(inverse().into_iter().map(|v| v * s2).collect())
        }
    };
    Ok(LinearFit {
        coeffs,
        model_image,
        residual,
        covariance,
        n_used: used.len(),
    })
}
