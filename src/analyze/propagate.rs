//! Errors of one integration's observables from the covariance of its fit coefficients (ami3.md
//! §4: a single integration has no scatter to measure). First-order propagation: coefficients
//! -> normalised cos/sin terms -> amplitudes and phases -> closure quantities and pistons.

use super::observables::Orders;
use crate::portable;
use crate::products::observables::ObservableSet;

/// Fills the error fields of `set` (whose values are one integration's) from the coefficient
/// covariance `cov` (row-major ns x ns) of the raw coefficients `coeffs`.
/// `extra_phase_cov` (nb x nb, row-major) is added to the fringe-phase covariance: the part of
/// the phase noise that comes from the centroid, which the fit takes as given.
pub fn propagate_errors(
    orders: &Orders,
    coeffs: &[f64],
    cov: &[f64],
    extra_phase_cov: Option<&[f64]>,
    set: &mut ObservableSet,
) {
    let ns = coeffs.len();
    let nb = orders.baselines.len();
    let x0 = coeffs[0];
    // normalised c_k = x_{2k+1}/x0, s_k = x_{2k+2}/x0, and their Jacobian (row-major 2nb x ns)
    let mut j_cs = vec![0.0; 2 * nb * ns];
    for k in 0..nb {
        for (row, col) in [(2 * k, 2 * k + 1), (2 * k + 1, 2 * k + 2)] {
            j_cs[row * ns + col] = 1.0 / x0;
            j_cs[row * ns] = -coeffs[col] / (x0 * x0);
        }
    }
    let cov_cs = portable::sandwich(&j_cs, cov, 2 * nb, ns);
    let mut j_amp = vec![0.0; nb * 2 * nb];
    let mut j_pha = vec![0.0; nb * 2 * nb];
    for k in 0..nb {
        let (c, s) = (coeffs[2 * k + 1] / x0, coeffs[2 * k + 2] / x0);
        let v2 = c * c + s * s;
        let v = v2.sqrt();
        let row = k * 2 * nb;
        j_amp[row + 2 * k] = c / v;
        j_amp[row + 2 * k + 1] = s / v;
        j_pha[row + 2 * k] = -s / v2;
        j_pha[row + 2 * k + 1] = c / v2;
    }
    let cov_amp = portable::sandwich(&j_amp, &cov_cs, nb, 2 * nb);
    let mut cov_pha = portable::sandwich(&j_pha, &cov_cs, nb, 2 * nb);
    if let Some(extra) = extra_phase_cov {
        assert_eq!(extra.len(), nb * nb, "extra phase covariance is nb x nb");
        for (p, e) in cov_pha.iter_mut().zip(extra) {
            *p += e;
        }
    }
    let sd = |m: &[f64], g: &[f64]| portable::quadratic_form(g, m).max(0.0).sqrt();
    let unit = |k: usize, w: f64| {
        let mut g = vec![0.0; nb];
        g[k] = w;
        g
    };
    set.fringe_amp_err = (0..nb).map(|k| sd(&cov_amp, &unit(k, 1.0))).collect();
    set.fringe_phase_err_rad = (0..nb).map(|k| sd(&cov_pha, &unit(k, 1.0))).collect();
    set.vis2_err = (0..nb)
        .map(|k| sd(&cov_amp, &unit(k, 2.0 * set.fringe_amp[k])))
        .collect();
    let bidx = |a: usize, b: usize| {
        crate::niriss::mask::baseline_index(orders.n_holes, a.min(b), a.max(b))
    };
    let amp = &set.fringe_amp;
    set.closure_phase_err_rad = orders
        .triangles
        .iter()
        .map(|&[a, b, c]| {
            let mut g = vec![0.0; nb];
            g[bidx(a, b)] += 1.0;
            g[bidx(b, c)] += 1.0;
            g[bidx(a, c)] -= 1.0;
            sd(&cov_pha, &g)
        })
        .collect();
    set.t3_amp_err = orders
        .triangles
        .iter()
        .zip(&set.t3_amp)
        .map(|(&[a, b, c], &t3)| {
            let mut g = vec![0.0; nb];
            for k in [bidx(a, b), bidx(b, c), bidx(a, c)] {
                g[k] += t3 / amp[k];
            }
            sd(&cov_amp, &g)
        })
        .collect();
    set.closure_amp_err = orders
        .quads
        .iter()
        .zip(&set.closure_amp)
        .map(|(&[a, b, c, d], &ca)| {
            let mut g = vec![0.0; nb];
            g[bidx(a, b)] += ca / amp[bidx(a, b)];
            g[bidx(c, d)] += ca / amp[bidx(c, d)];
            g[bidx(a, c)] -= ca / amp[bidx(a, c)];
            g[bidx(b, d)] -= ca / amp[bidx(b, d)];
            sd(&cov_amp, &g)
        })
        .collect();
    set.quad_phase_err_rad = orders
        .quads
        .iter()
        .map(|&[a, b, c, d]| {
            // Phi[a,b] + Phi[d,c] - Phi[a,c] - Phi[b,d] with Phi[d,c] = -Phi_cd
            let mut g = vec![0.0; nb];
            g[bidx(a, b)] += 1.0;
            g[bidx(c, d)] -= 1.0;
            g[bidx(a, c)] -= 1.0;
            g[bidx(b, d)] -= 1.0;
            sd(&cov_pha, &g)
        })
        .collect();
    let nh = orders.n_holes;
    set.piston_err_rad = (0..nh)
        .map(|h| {
            let mut g = vec![0.0; nb];
            for (k, &[a, b]) in orders.baselines.iter().enumerate() {
                if b == h {
                    g[k] += 1.0 / nh as f64;
                }
                if a == h {
                    g[k] -= 1.0 / nh as f64;
                }
            }
            sd(&cov_pha, &g)
        })
        .collect();
}
