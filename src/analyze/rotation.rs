//! Rotation search (upstream.md §5.7, §3.8): when no affine distortion is given, simulate the
//! PSF at a grid of pupil rotations, score each by its peak normalised cross-correlation with
//! the data, and take the vertex of a parabola through the scores.

use super::fft::{Direction, Fft};
use super::lgmodel::LgModel;
use crate::error::{Error, Result, Stage};
use crate::niriss::affine::{avoid_hex_singularity_deg, Affine2d};
use rustfft::num_complex::Complex64;

/// The search grid: start, start + step, ... (< stop), then stop itself (upstream.md §5.2).
pub fn search_grid_deg(start: f64, stop: f64, step: f64) -> Result<Vec<f64>> {
    if step.is_nan() || step <= 0.0 || !start.is_finite() || !stop.is_finite() || stop <= start {
        return Err(Error::analysis(
            Stage::Plan,
            format!("rotation search '{start} {stop} {step}' needs start < stop and step > 0"),
        ));
    }
    let count = ((stop - start) / step).ceil() as usize;
    if count > 10_000 {
        return Err(Error::analysis(
            Stage::Plan,
            format!("rotation search '{start} {stop} {step}' has too many steps"),
        ));
    }
    let mut grid: Vec<f64> = (0..count).map(|i| start + i as f64 * step).collect();
    grid.push(stop);
    Ok(grid)
}

/// Peak of the normalised circular cross-correlation of two equal-size real images.
pub fn peak_cross_correlation(a: &[f64], b: &[f64], ny: usize, nx: usize) -> f64 {
    let fwd_x = Fft::new(nx, Direction::Forward);
    let fwd_y = Fft::new(ny, Direction::Forward);
    let inv_x = Fft::new(nx, Direction::Inverse);
    let inv_y = Fft::new(ny, Direction::Inverse);
    let fft2 = |v: &[f64]| {
        let mut buf: Vec<Complex64> = v.iter().map(|&x| Complex64::new(x, 0.0)).collect();
        transform_2d(&mut buf, ny, nx, &fwd_x, &fwd_y);
        buf
    };
    let fa = fft2(a);
    let fb = fft2(b);
    let mut prod: Vec<Complex64> = fa.iter().zip(&fb).map(|(x, y)| x * y.conj()).collect();
    transform_2d(&mut prod, ny, nx, &inv_x, &inv_y);
    let norm = (a.iter().map(|v| v * v).sum::<f64>() * b.iter().map(|v| v * v).sum::<f64>()).sqrt();
    let scale = 1.0 / (norm * (nx * ny) as f64);
    prod.iter()
        .map(|c| c.re * scale)
        .fold(f64::NEG_INFINITY, f64::max)
}

fn transform_2d(buf: &mut [Complex64], ny: usize, nx: usize, fx: &Fft, fy: &Fft) {
    for row in buf.chunks_mut(nx) {
        fx.process(row);
    }
    let mut col = vec![Complex64::new(0.0, 0.0); ny];
    for x in 0..nx {
        for y in 0..ny {
            col[y] = buf[y * nx + x];
        }
        fy.process(&mut col);
        for y in 0..ny {
            buf[y * nx + x] = col[y];
        }
    }
}

/// Least-squares parabola through (x, y) points; returns the vertex abscissa.
pub fn parabola_vertex(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() < 3 {
        return None;
    }
    // normal equations of y = p0 x^2 + p1 x + p2, centred for conditioning
    let xm = x.iter().sum::<f64>() / x.len() as f64;
    let mut s = [0.0; 5];
    let mut t = [0.0; 3];
    for (&xi, &yi) in x.iter().zip(y) {
        let d = xi - xm;
        let mut p = 1.0;
        for (k, sk) in s.iter_mut().enumerate() {
            *sk += p;
            if k < 3 {
                t[k] += p * yi;
            }
            p *= d;
        }
    }
    let m = nalgebra::Matrix3::new(s[4], s[3], s[2], s[3], s[2], s[1], s[2], s[1], s[0]);
    let rhs = nalgebra::Vector3::new(t[2], t[1], t[0]);
    let p = m.lu().solve(&rhs)?;
    if p[0] == 0.0 {
        return None;
    }
    Some(xm - p[1] / (2.0 * p[0]))
}

/// Finds the pupil rotation (degrees) that best matches `image` (ny x nx, NaN-free).
/// `base` is the model with the bandpass, geometry, pixel scale and oversampling to use.
pub fn find_rotation_deg(
    base: &LgModel,
    image: &[f64],
    ny: usize,
    nx: usize,
    psf_offset: (f64, f64),
    grid_deg: &[f64],
) -> Result<f64> {
    if ny != nx {
        return Err(Error::analysis(
            Stage::Plan,
            format!("rotation search needs a square image, got {ny}x{nx}"),
        ));
    }
    let scores: Vec<f64> = grid_deg
        .iter()
        .map(|&deg| {
            let rad = avoid_hex_singularity_deg(deg).to_radians();
            let model = LgModel {
                affine: Affine2d::rotation(rad),
                ..base.clone()
            };
            let psf = model.simulate_psf(nx, psf_offset);
            peak_cross_correlation(image, &psf, ny, nx)
        })
        .collect();
    parabola_vertex(grid_deg, &scores).ok_or_else(|| {
        Error::analysis(
            Stage::Plan,
            "rotation search: scores do not define a parabola",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_includes_the_stop_value() {
        assert_eq!(
            search_grid_deg(-3.0, 3.0, 1.0).unwrap(),
            vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
        );
    }

    #[test]
    fn parabola_vertex_of_exact_parabola() {
        let x = [-2.0, -1.0, 0.0, 1.0, 2.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| -(v - 0.37).powi(2) + 4.0).collect();
        assert!((parabola_vertex(&x, &y).unwrap() - 0.37).abs() < 1e-12);
    }

    #[test]
    fn self_correlation_peaks_at_one() {
        let a: Vec<f64> = (0..64).map(|i| ((i * 7) % 11) as f64).collect();
        assert!((peak_cross_correlation(&a, &a, 8, 8) - 1.0).abs() < 1e-12);
    }
}
