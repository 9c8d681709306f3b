//! The analytic Fourier transform of a hexagonal hole (upstream.md §3.2) and its square, the
//! primary beam of the LG model. The sum g(xi, eta) + g(-xi, eta) of upstream's two complex
//! half-hexagon terms is real; written out it is three cosines of linear functions of the
//! coordinates, which is what we evaluate (identical values, a third of the work, and separable
//! on a grid).

use crate::portable;
use std::f64::consts::PI;

const SQRT3: f64 = 1.732_050_807_568_877_2;

/// H(xi, eta) for a unit flat-to-flat hexagon with flats perpendicular to the first axis;
/// H(0, 0) = sqrt(3)/2 (its area). Singular (0/0) on eta = 0 and eta = +-sqrt(3) xi, as upstream.
pub fn hexagon_transform(xi: f64, eta: f64) -> f64 {
    let c1 = portable::cos(PI * (eta / SQRT3 - xi));
    let c2 = portable::cos(PI * (eta / SQRT3 + xi));
    let c3 = portable::cos(2.0 * PI * eta / SQRT3);
    hexagon_from_cosines(xi, eta, c1, c2, c3)
}

/// H from precomputed cos(pi(eta/sqrt3 - xi)), cos(pi(eta/sqrt3 + xi)), cos(2 pi eta/sqrt3).
#[inline(always)]
pub fn hexagon_from_cosines(xi: f64, eta: f64, c1: f64, c2: f64, c3: f64) -> f64 {
    let numerator = 2.0 * (SQRT3 * eta - 3.0 * xi) * c1 + 2.0 * (SQRT3 * eta + 3.0 * xi) * c2
        - 4.0 * SQRT3 * eta * c3;
    let denominator = 4.0 * PI * PI * eta * (eta * eta - 3.0 * xi * xi);
    numerator / denominator
}

/// The three cosine arguments as linear forms in (xi, eta): pi(eta/sqrt3 - xi),
/// pi(eta/sqrt3 + xi), 2 pi eta/sqrt3, as (coefficient of xi, coefficient of eta).
pub const COSINE_ARGUMENTS: [(f64, f64); 3] =
    [(-PI, PI / SQRT3), (PI, PI / SQRT3), (0.0, 2.0 * PI / SQRT3)];

/// Value the model forces at the grid pixel holding the beam centre (upstream.md §3.2 step 3).
pub const CENTRE_VALUE: f64 = SQRT3 / 2.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_near_origin_is_the_hexagon_area() {
        // the closed form is 0/0 at the origin; near it the value tends to the area
        let h = hexagon_transform(1e-3, 2e-3);
        assert!((h - 3f64.sqrt() / 2.0).abs() < 1e-4, "{h}");
        assert_eq!(CENTRE_VALUE, 3f64.sqrt() / 2.0);
    }

    #[test]
    fn transform_is_even_and_mirror_symmetric() {
        for &(x, y) in &[(0.3, 0.7), (1.2, -0.4), (-2.1, 0.9)] {
            let h = hexagon_transform(x, y);
            assert!((h - hexagon_transform(-x, -y)).abs() < 1e-13);
            assert!((h - hexagon_transform(-x, y)).abs() < 1e-13);
            assert!((h - hexagon_transform(x, -y)).abs() < 1e-13);
        }
    }

    #[test]
    fn transform_has_sixfold_symmetry() {
        // a regular hexagon is invariant under 60-degree rotations, so is its transform
        let (x, y) = (0.37, 0.61);
        let a = PI / 3.0;
        let (xr, yr) = (x * a.cos() - y * a.sin(), x * a.sin() + y * a.cos());
        assert!((hexagon_transform(x, y) - hexagon_transform(xr, yr)).abs() < 1e-12);
    }

    #[test]
    fn transform_equals_numerical_integral_over_the_hexagon() {
        // integrate exp(-2 pi i (xi x + eta y)) over the hexagon with flats at x = +-1/2
        // (perpendicular to the first axis) and vertices at y = +-1/sqrt3.
        let (xi, eta) = (0.42, 0.27);
        let steps = 1200;
        let mut sum = 0.0;
        let h = 1.0 / steps as f64;
        for ix in 0..steps {
            let x = -0.5 + (ix as f64 + 0.5) * h;
            // half-width in y at this x: 1/sqrt3 - |x|/sqrt3 ... for flats at x=+-1/2 the
            // hexagon is |y| <= (1 - |x|) / sqrt3
            let ymax = (1.0 - x.abs()) / SQRT3;
            let ny = steps;
            let hy = 2.0 * ymax / ny as f64;
            for iy in 0..ny {
                let y = -ymax + (iy as f64 + 0.5) * hy;
                sum += (2.0 * PI * (xi * x + eta * y)).cos() * h * hy;
            }
        }
        let analytic = hexagon_transform(xi, eta);
        assert!((sum - analytic).abs() < 1e-5, "{sum} vs {analytic}");
    }
}
