//! Sub-pixel centroid of the cropped AMI image from the slope of its Fourier phase
//! (upstream.md §3.7): a shift of the image by s pixels tilts the phase of its transform by
//! 2π s / n per frequency sample, so the mean phase slope near zero frequency measures the shift.
//! The result is relative to the array centre (n − 1)/2 and feeds the fringe model's PSF offset.
//! It assumes bad pixels were already corrected and does no cropping or peak finding itself.

use super::mdft::MatrixDft;
use crate::error::{Error, Result, Stage};
use crate::portable;
use ndarray::{Array2, ArrayView2};
use std::f64::consts::PI;

/// Centroid offset from the array centre, in detector pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PixelOffset {
    /// Column (detector x) offset, positive towards higher column index.
    pub x_px: f64,
    /// Row (detector y) offset, positive towards higher row index.
    pub y_px: f64,
}

/// A planned centroid measurement for n × n images (the matrix DFT exponents are computed once).
#[derive(Debug, Clone)]
pub struct Centroider {
    n: usize,
    dft: MatrixDft,
}

impl Centroider {
    /// Plans for n × n images. n must be at least 3 so that the central 2 × 2 block of the slope
    /// maps exists.
    pub fn new(n: usize) -> Result<Self> {
        if n < 3 {
            return Err(Error::analysis(
                Stage::Centroid,
                format!("image is {n}×{n}; the phase-slope centroid needs at least 3×3"),
            ));
        }
        // Sampled like an FFT (nlam_d = n, n samples) but centred on the array centre (§3.7).
        Ok(Centroider {
            n,
            dft: MatrixDft::new((n, n), (n, n), n as f64),
        })
    }

    /// Image side this plan accepts.
    pub fn size(&self) -> usize {
        self.n
    }

    /// Centroid of `image` (n × n, `[row, col]`) relative to its centre (n − 1)/2.
    ///
    /// Follows jwst 3.0.0 `find_centroid` exactly: phase of the centred DFT (not unwrapped),
    /// central differences with zero for neighbours outside the array, a 5σ cut about the mean of
    /// the central 2 × 2 block, and the mean slope scaled by n / 2π. Returns NaN components when
    /// the central block has no spread (nothing passes the strict cut), as jwst does.
    pub fn centroid(&self, image: ArrayView2<f64>) -> Result<PixelOffset> {
        let n = self.n;
        if image.dim() != (n, n) {
            return Err(Error::analysis(
                Stage::Centroid,
                format!("image is {:?}, planned for {n}×{n}", image.dim()),
            ));
        }
        let phase: Array2<f64> = self.dft.transform_real(image).mapv(portable::arg);
        let at = |r: isize, c: isize| -> f64 {
            if r < 0 || c < 0 || r >= n as isize || c >= n as isize {
                0.0
            } else {
                phase[[r as usize, c as usize]]
            }
        };
        // Raw slopes along rows and along columns (§3.7): (ψ[i−1] − ψ[i+1]) / 2. The sign makes a
        // positive image shift give a positive slope under the exp(−2πi …) convention.
        let row_slope = Array2::from_shape_fn((n, n), |(r, c)| {
            let (r, c) = (r as isize, c as isize);
            (at(r - 1, c) - at(r + 1, c)) / 2.0
        });
        let col_slope = Array2::from_shape_fn((n, n), |(r, c)| {
            let (r, c) = (r as isize, c as isize);
            (at(r, c - 1) - at(r, c + 1)) / 2.0
        });
        let gain = n as f64 / (2.0 * PI);
        Ok(PixelOffset {
            x_px: gain * clipped_mean(&col_slope, n),
            y_px: gain * clipped_mean(&row_slope, n),
        })
    }
}

/// Mean of the slope map over the samples within 5σ of the central 2 × 2 block's mean (strict
/// inequality; population σ of the block's four values), as jwst's `findslope` selects them.
fn clipped_mean(slope: &Array2<f64>, n: usize) -> f64 {
    // c = ⌊n/2 − 1/2⌋: the centre pixel for odd n, the lower-left of the central four for even n.
    let c = (0.5 * n as f64 - 0.5) as usize;
    let block = [
        slope[[c - 1, c - 1]],
        slope[[c - 1, c]],
        slope[[c, c - 1]],
        slope[[c, c]],
    ];
    let mean = block.iter().sum::<f64>() / 4.0;
    let sigma = (block.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 4.0).sqrt();
    let (sum, count) = slope
        .iter()
        .filter(|&&v| (v - mean).abs() < 5.0 * sigma)
        .fold((0.0, 0usize), |(s, k), &v| (s + v, k + 1));
    sum / count as f64
}

/// One-off centroid of an n × n image (plans a [`Centroider`]; keep one to reuse it).
pub fn find_centroid(image: ArrayView2<f64>) -> Result<PixelOffset> {
    let (rows, cols) = image.dim();
    if rows != cols {
        return Err(Error::analysis(
            Stage::Centroid,
            format!("image is {rows}×{cols}; the phase-slope centroid needs a square image"),
        ));
    }
    Centroider::new(rows)?.centroid(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pixel-integrated circular Gaussian (exact integral over each pixel via erf) centred at
    /// (row0, col0): a symmetric, well-sampled PSF whose centroid is (row0, col0) exactly.
    fn gaussian_image(n: usize, row0: f64, col0: f64, sigma_px: f64) -> Array2<f64> {
        let edge = |i: usize, centre: f64| {
            let a = (i as f64 - 0.5 - centre) / (sigma_px * 2f64.sqrt());
            let b = (i as f64 + 0.5 - centre) / (sigma_px * 2f64.sqrt());
            0.5 * (erf(b) - erf(a))
        };
        Array2::from_shape_fn((n, n), |(r, c)| edge(r, row0) * edge(c, col0))
    }

    /// erf to ~1e-16 (Taylor series for small |x|, continued fraction for large |x|).
    fn erf(x: f64) -> f64 {
        if x.abs() > 3.0 {
            return x.signum() * (1.0 - erfc_cf(x.abs()));
        }
        let mut term = x;
        let mut sum = x;
        for k in 1..200 {
            term *= -x * x / k as f64;
            let add = term / (2 * k + 1) as f64;
            sum += add;
            if add.abs() < 1e-18 {
                break;
            }
        }
        sum * 2.0 / PI.sqrt()
    }

    fn erfc_cf(x: f64) -> f64 {
        // Lentz-free backward evaluation of the Laplace continued fraction.
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (x + f);
        }
        portable::exp(-x * x) / PI.sqrt() / (x + f)
    }

    #[test]
    fn recovers_a_known_subpixel_shift_of_a_gaussian() {
        for &(n, dy, dx) in &[(71, 0.3, -0.2), (67, -0.45, 0.37), (70, 0.11, 0.42)] {
            let centre = (n as f64 - 1.0) / 2.0;
            let image = gaussian_image(n, centre + dy, centre + dx, 2.0);
            let offset = find_centroid(image.view()).unwrap();
            assert!((offset.x_px - dx).abs() < 0.01, "n={n} x: {offset:?}");
            assert!((offset.y_px - dy).abs() < 0.01, "n={n} y: {offset:?}");
        }
    }

    #[test]
    fn centred_symmetric_image_has_zero_offset() {
        let image = gaussian_image(69, 34.0, 34.0, 3.0);
        let offset = find_centroid(image.view()).unwrap();
        assert!(
            offset.x_px.abs() < 1e-9 && offset.y_px.abs() < 1e-9,
            "{offset:?}"
        );
    }

    #[test]
    fn rejects_non_square_and_tiny_images() {
        assert!(find_centroid(Array2::zeros((5, 6)).view()).is_err());
        assert!(find_centroid(Array2::zeros((2, 2)).view()).is_err());
        let plan = Centroider::new(5).unwrap();
        assert!(plan.centroid(Array2::zeros((6, 6)).view()).is_err());
    }
}
