//! Linear least squares of one integration against the model basis (upstream.md §3.9): the
//! unweighted normal equations, solved by Cholesky factorisation (not an explicit inverse), with
//! flagged pixels left out. Optionally the covariance of the coefficients, propagated from the
//! per-pixel ERR of the data through this (unweighted) estimator.

use super::lgmodel::ModelBasis;
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
    /// Covariance of `coeffs` (row-major n_slices x n_slices), when errors were given.
    pub covariance: Option<Vec<f64>>,
    /// Number of pixels used.
    pub n_used: usize,
}

/// Fits `data` (n x n) with the basis, leaving out pixels where `excluded` is true. With
/// `err` (n x n, same units as data), also returns the coefficient covariance
/// (A'A)^-1 A' diag(err^2) A (A'A)^-1, the covariance of the unweighted estimator.
pub fn fit(
    basis: &ModelBasis,
    data: &[f64],
    excluded: &[bool],
    err: Option<&[f64]>,
) -> Result<LinearFit, String> {
    let np = basis.n * basis.n;
    let ns = basis.n_slices;
    let used: Vec<usize> = (0..np)
        .filter(|&p| !excluded[p] && data[p].is_finite())
        .collect();
    if used.len() <= ns {
        return Err(format!(
            "only {} usable pixels for {} model terms: too many pixels flagged or NaN",
            used.len(),
            ns
        ));
    }
    // design matrix of the used pixels, column-major (one column per slice)
    let mut design = Vec::with_capacity(used.len() * ns);
    for s in 0..ns {
        let slice = basis.slice(s);
        design.extend(used.iter().map(|&p| slice[p]));
    }
    let a = DMatrix::from_vec(used.len(), ns, design);
    let b = DVector::from_iterator(used.len(), used.iter().map(|&p| data[p]));
    let normal = a.tr_mul(&a);
    let rhs = a.tr_mul(&b);
    let chol = normal
        .clone()
        .cholesky()
        .ok_or_else(|| "the normal matrix of the fringe fit is singular".to_string())?;
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
    let covariance = err.map(|e| {
        let mut weighted = a.clone();
        for (r, &p) in used.iter().enumerate() {
            let sigma = e[p];
            let sigma = if sigma.is_finite() { sigma } else { 0.0 };
            for s in 0..ns {
                weighted[(r, s)] *= sigma;
            }
        }
        let middle = weighted.tr_mul(&weighted);
        let inv = chol.inverse();
        let cov = &inv * middle * &inv;
        // row-major copy (the matrix is symmetric, so either order reads the same)
        cov.iter().copied().collect()
    });
    Ok(LinearFit {
        coeffs,
        model_image,
        residual,
        covariance,
        n_used: used.len(),
    })
}
