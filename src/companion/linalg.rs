//! Small dense linear algebra for the companion search: a cyclic Jacobi eigen-decomposition of a
//! symmetric matrix (the 35×35 closure-phase covariance, §4, and the K×K Jacobi matrix of the
//! Golub–Welsch rule, §2) and Gauss–Jordan inversion of the few-parameter normal matrix (§5.5,
//! §6). Row-major, written out in a fixed order with `portable` functions so that the page and
//! the command line get the same bits. Not a general library: sizes here are at most ~40, where
//! Jacobi's O(n³) per sweep is cheap and its accuracy (small relative errors in every
//! eigenvalue) is what whitening needs.

use crate::portable;

/// Eigenvalues (ascending) and eigenvectors (column k of the returned row-major n×n matrix is
/// the vector of eigenvalue k) of the symmetric row-major matrix `a` (n×n).
pub fn symmetric_eigen(a: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut m = a[..n * n].to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i * n + j] * m[i * n + j])
            .sum();
        let diag: f64 = (0..n).map(|i| m[i * n + i] * m[i * n + i]).sum();
        if off <= 1e-30 * diag || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                rotate(&mut m, &mut v, n, p, q);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| m[x * n + x].total_cmp(&m[y * n + y]));
    let values = order.iter().map(|&k| m[k * n + k]).collect();
    let mut vectors = vec![0.0; n * n];
    for (col, &k) in order.iter().enumerate() {
        for r in 0..n {
            vectors[r * n + col] = v[r * n + k];
        }
    }
    (values, vectors)
}

/// One Jacobi rotation zeroing m[p][q], accumulated into v.
fn rotate(m: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let apq = m[p * n + q];
    if apq == 0.0 {
        return;
    }
    let theta = (m[q * n + q] - m[p * n + p]) / (2.0 * apq);
    let t = theta.signum() / (theta.abs() + portable::hypot(theta, 1.0));
    let t = if theta == 0.0 { 1.0 } else { t };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    for k in 0..n {
        let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
        m[k * n + p] = c * mkp - s * mkq;
        m[k * n + q] = s * mkp + c * mkq;
    }
    for k in 0..n {
        let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
        m[p * n + k] = c * mpk - s * mqk;
        m[q * n + k] = s * mpk + c * mqk;
    }
    for k in 0..n {
        let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
        v[k * n + p] = c * vkp - s * vkq;
        v[k * n + q] = s * vkp + c * vkq;
    }
}

/// Inverse of the row-major n×n matrix `a` by Gauss–Jordan elimination with partial pivoting;
/// None when it is singular to working precision.
pub fn invert(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut m = a[..n * n].to_vec();
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    let scale = m.iter().fold(0.0f64, |s, x| s.max(x.abs()));
    for col in 0..n {
        let piv =
            (col..n).max_by(|&x, &y| m[x * n + col].abs().total_cmp(&m[y * n + col].abs()))?;
        if m[piv * n + col].abs() <= 1e-14 * scale || scale == 0.0 {
            return None;
        }
        for k in 0..n {
            m.swap(col * n + k, piv * n + k);
            inv.swap(col * n + k, piv * n + k);
        }
        let d = m[col * n + col];
        for k in 0..n {
            m[col * n + k] /= d;
            inv[col * n + k] /= d;
        }
        for r in 0..n {
            if r != col {
                let f = m[r * n + col];
                if f != 0.0 {
                    for k in 0..n {
                        m[r * n + k] -= f * m[col * n + k];
                        inv[r * n + k] -= f * inv[col * n + k];
                    }
                }
            }
        }
    }
    Some(inv)
}

/// x solving A x = b (row-major n×n), via [`invert`].
pub fn solve(a: &[f64], b: &[f64], n: usize) -> Option<Vec<f64>> {
    let inv = invert(a, n)?;
    Some(
        (0..n)
            .map(|i| portable::dot(&inv[i * n..(i + 1) * n], b))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_reconstructs_a_symmetric_matrix() {
        let n = 6;
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = 1.0 / (1.0 + i as f64 + j as f64) + if i == j { 0.5 } else { 0.0 };
            }
        }
        let (w, v) = symmetric_eigen(&a, n);
        assert!(w.windows(2).all(|p| p[0] <= p[1]));
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n).map(|k| v[i * n + k] * w[k] * v[j * n + k]).sum();
                assert!((r - a[i * n + j]).abs() < 1e-12);
            }
        }
        let inv = invert(&a, n).unwrap();
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n).map(|k| a[i * n + k] * inv[k * n + j]).sum();
                assert!((r - if i == j { 1.0 } else { 0.0 }).abs() < 1e-10);
            }
        }
    }
}
