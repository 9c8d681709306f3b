//! Significance in log space (companion.md §7): ln Q(a, x), the regularised upper incomplete
//! gamma function (a series below x = a + 1, Lentz's continued fraction above, as in Numerical
//! Recipes §6.2), so that χ² tail probabilities far below 1e-300 keep their logarithm; and the
//! number of Gaussian sigmas of a tail probability, z with erfc(z/√2) = p, by Newton's method
//! on ln erfc(t) = ln Q(1/2, t²). Neither caps anything (CANDID and fouriever stop at 8σ).

use crate::portable;

const EPS: f64 = 1e-16;
const TINY: f64 = 1e-300;

/// ln Γ(a) for a > 0.
fn ln_gamma(a: f64) -> f64 {
    libm::lgamma(a)
}

/// ln Q(a, x) = ln Γ(a, x)/Γ(a) for a > 0, x ≥ 0.
pub fn ln_gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let prefactor = -x + a * portable::ln(x) - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) by its series; Q = 1 − P is not small here
        let (mut term, mut sum, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * EPS {
                break;
            }
        }
        return libm::log1p(-portable::exp(prefactor) * sum);
    }
    // modified Lentz on the continued fraction of Q
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / TINY;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < TINY {
            d = TINY;
        }
        c = b + an / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    prefactor + portable::ln(h)
}

/// ln P(χ²_n > x), the upper tail of the χ² distribution with n degrees of freedom.
pub fn ln_chi2_sf(n: f64, x: f64) -> f64 {
    ln_gamma_q(n / 2.0, x / 2.0)
}

/// z ≥ 0 with erfc(z/√2) = p, from ln p (≤ 0): the two-sided Gaussian "n sigma" of §7.
pub fn nsigma_from_ln_p(ln_p: f64) -> f64 {
    if ln_p.is_nan() || ln_p >= 0.0 {
        return 0.0;
    }
    // ln erfc(z/√2) = ln Q(1/2, z²/2); start from its asymptote, then Newton
    let mut z = if ln_p < -1.0 {
        (-2.0 * ln_p).sqrt()
    } else {
        1.0
    };
    for _ in 0..100 {
        let ln_erfc = ln_gamma_q(0.5, z * z / 2.0);
        let f = ln_erfc - ln_p;
        let slope = -(2.0 / std::f64::consts::PI).sqrt() * portable::exp(-z * z / 2.0 - ln_erfc);
        let step = f / slope;
        let next = (z - step).max(z / 4.0).max(1e-12);
        if (next - z).abs() < 1e-13 * z.max(1.0) {
            return next;
        }
        z = next;
    }
    z
}

/// §7's nsigma: the likelihood-ratio test of Δχ² with `n_params` parameters, Δχ² scaled by
/// s = max(1, χ²_r).
pub fn nsigma_lr(delta_chi2: f64, n_params: usize, chi2r: f64) -> f64 {
    let s = chi2r.max(1.0);
    nsigma_from_ln_p(ln_chi2_sf(n_params as f64, delta_chi2.max(0.0) / s))
}

/// Absil et al. 2011's nsigma: p = P(χ²_N > N χ²_null/χ²_bin).
pub fn nsigma_absil(n_data: usize, chi2_null: f64, chi2_bin: f64) -> f64 {
    let x = n_data as f64 * chi2_null / chi2_bin.max(TINY);
    nsigma_from_ln_p(ln_chi2_sf(n_data as f64, x))
}

/// X with P(χ²_n > X) = p (§8's thresholds), by bisection on ln Q.
pub fn chi2_isf(n: f64, p: f64) -> f64 {
    let target = portable::ln(p);
    let (mut lo, mut hi) = (0.0, n + 10.0);
    while ln_chi2_sf(n, hi) > target {
        hi *= 2.0;
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if ln_chi2_sf(n, mid) > target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}
