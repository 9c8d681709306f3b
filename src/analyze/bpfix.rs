//! Fourier bad-pixel correction of the cropped AMI image (Ireland 2013 §2.5; upstream.md §5.5, as
//! jwst 3.0.0 `bp_fix` does it). An NRM image has no power outside the mask's autocorrelation
//! support ("splodges"), so bad pixels are replaced by the values that null the image's Fourier
//! power in that empty region Z, and further bad pixels are found iteratively as outliers of the
//! high-pass (Z-only) image. [`BadPixelFixer::new`] does the once-per-exposure work (support mask
//! from the NRM pupil, the Z index set, FFT plans, the Z Gram table); [`BadPixelFixer::fix`] then
//! corrects one integration in place. It does not crop, read DQ bits or touch other integrations.
//!
//! Deviation from jwst (upstream.md §8.2 item 9): every non-finite pixel (NaN or ±inf) is set to 0
//! and treated as bad from the start, in the corrected region and in the odd-size last row/column
//! alike. jwst zeroes NaNs only when the cube holds more than one, and never adds them to the
//! working bad-pixel map (they are corrected only if the outlier search happens to catch them).
//! With NaNs that are also flagged DO_NOT_USE, as in calibrated products, both agree.

use super::fft::{Direction, Fft};
use super::mdft::MatrixDft;
use crate::error::{Error, Result, Stage};
use crate::niriss::filters::filter_by_name;
use crate::portable;
use nalgebra::{DMatrix, DVector};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rustfft::num_complex::Complex64;
use std::f64::consts::PI;

/// Diameter spanned by the NRM pupil image, incl. padding (m) (upstream.md §5.5).
pub const PUPIL_IMAGE_DIAMETER_M: f64 = 6.603464;
/// Detector gain assumed by the noise model (e⁻/ADU). The model treats the data as DN although
/// `_calints` are calibrated surface brightness (upstream.md §8.2 item 9); kept for compatibility.
pub const GAIN_E_PER_ADU: f64 = 1.61;
/// Read noise assumed by the noise model (e⁻).
pub const READ_NOISE_E: f64 = 18.32;
/// A pixel is a new bad pixel when its normalised high-pass residual exceeds this many times the
/// median residual.
pub const DETECTION_THRESHOLD: f64 = 50.0;
/// At most this many correct-and-detect rounds per integration.
pub const MAX_ITERATIONS: usize = 10;
/// Frequencies where the normalised pupil-support visibility is below this belong to Z.
pub const SUPPORT_THRESHOLD: f64 = 1e-3;
/// The filter's half-power half-widths are stretched by this fraction when choosing the three
/// wavelengths of the support.
pub const WAVELENGTH_OVERSIZE: f64 = 0.1;

/// What one [`BadPixelFixer::fix`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FixSummary {
    /// Pixels that were non-finite on input (set to 0 and flagged bad).
    pub nonfinite: usize,
    /// Bad pixels in the corrected region at the start (input flags and non-finite pixels).
    pub initially_bad: usize,
    /// Pixels added by the outlier search.
    pub detected: usize,
    /// Correct-and-detect rounds run (1..=MAX_ITERATIONS).
    pub iterations: usize,
}

/// Once-per-exposure state of the Fourier bad-pixel correction for n × n cropped images.
pub struct BadPixelFixer {
    /// Side of the input images.
    n: usize,
    /// Side of the corrected region, 2⌊n/2⌋ (even).
    w: usize,
    /// Z in the half-plane (real-FFT) layout, W × (W/2 + 1): true outside the pupil support.
    z_mask: Array2<bool>,
    /// Z as (row frequency mod W, column frequency) pairs, in row-major order of `z_mask`.
    z_freqs: Vec<(usize, usize)>,
    /// Gram table: `gram[a, b] = Σ_Z cos(2π (a·f + b·κ) / W)`, for pixel separations (a, b) taken
    /// mod W. Entry (i, j) of B·Bᵀ is the table at the separation of bad pixels i and j.
    gram: Array2<f64>,
    /// cos and sin of 2πk/W, k = 0..W.
    cos_table: Vec<f64>,
    sin_table: Vec<f64>,
    forward: Fft,
    inverse: Fft,
    fft_scratch_len: usize,
}

impl std::fmt::Debug for BadPixelFixer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BadPixelFixer")
            .field("n", &self.n)
            .field("w", &self.w)
            .field("z_count", &self.z_freqs.len())
            .finish()
    }
}

/// Pivot and the two stretched half-power wavelengths (m), in the order the support PSFs are
/// summed (upstream.md §5.5 setup step 4).
fn support_wavelengths_m(filter: &str) -> Result<[f64; 3]> {
    let f = filter_by_name(filter)?;
    let centre = f.pivot_m();
    let (lo, hi) = f.half_power_m();
    let below = (centre - lo) * (1.0 + WAVELENGTH_OVERSIZE);
    let above = (hi - centre) * (1.0 + WAVELENGTH_OVERSIZE);
    Ok([centre, centre - below, centre + above])
}

impl BadPixelFixer {
    /// Prepares the correction for n × n images of one exposure.
    ///
    /// `nrm_pupil` is the NRM reference file's pupil raster (1024 × 1024 of 0/1, spanning
    /// [`PUPIL_IMAGE_DIAMETER_M`]); `filter` the FILTER keyword; `pixscale_rad` the mean pixel
    /// scale (radians per pixel, upstream.md §2.3); `n` the side of the cropped images (≥ 4).
    pub fn new(
        nrm_pupil: ArrayView2<f64>,
        filter: &str,
        pixscale_rad: f64,
        n: usize,
    ) -> Result<Self> {
        if nrm_pupil.is_empty() || nrm_pupil.iter().any(|v| !v.is_finite()) {
            return Err(Error::analysis(
                Stage::BadPixelFix,
                "pupil image is empty or holds non-finite values",
            ));
        }
        if !(pixscale_rad.is_finite() && pixscale_rad > 0.0) {
            return Err(Error::analysis(
                Stage::BadPixelFix,
                format!("pixel scale {pixscale_rad} rad is not a positive number"),
            ));
        }
        if n < 4 {
            return Err(Error::analysis(
                Stage::BadPixelFix,
                format!("{n}×{n} is too small for the Fourier bad-pixel correction"),
            ));
        }
        let wavelengths_m = support_wavelengths_m(filter)?;
        let w = 2 * (n / 2);
        let half = w / 2;

        // Polychromatic PSF on the W × W detector grid: Σ_λ |DFT(pupil)|² (§5.5 step 4).
        let mut psf_sum = Array2::<f64>::zeros((w, w));
        for wavelength_m in wavelengths_m {
            let resolution_rad = wavelength_m / PUPIL_IMAGE_DIAMETER_M;
            let nlam_d = w as f64 * pixscale_rad / resolution_rad;
            let field = MatrixDft::new(nrm_pupil.dim(), (w, w), nlam_d).transform_real(nrm_pupil);
            psf_sum.zip_mut_with(&field, |acc, c| *acc += c.re * c.re + c.im * c.im);
        }
        // Its visibility modulus, normalised to a unit peak; Z is where it is negligible.
        let visibility = MatrixDft::new((w, w), (w, w), w as f64)
            .transform_real(psf_sum.view())
            .mapv(portable::abs);
        let peak = visibility.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        // fftshift, then keep the first W/2 + 1 columns (the real-FFT half plane). The centred
        // DFT samples half-integer frequencies for even W, so this registration is half a sample
        // off; jwst does the same and the mask is generous, so it is kept for compatibility.
        let z_mask = Array2::from_shape_fn((w, half + 1), |(r, c)| {
            visibility[[(r + half) % w, (c + half) % w]] / peak < SUPPORT_THRESHOLD
        });
        let z_freqs: Vec<(usize, usize)> = z_mask
            .indexed_iter()
            .filter(|(_, &inside)| inside)
            .map(|(rc, _)| rc)
            .collect();

        let forward = Fft::new(w, Direction::Forward);
        let inverse = Fft::new(w, Direction::Inverse);
        let fft_scratch_len = forward.scratch_len().max(inverse.scratch_len());
        let (cos_table, sin_table): (Vec<f64>, Vec<f64>) = (0..w)
            .map(|k| portable::sin_cos(2.0 * PI * k as f64 / w as f64))
            .map(|(s, c)| (c, s))
            .unzip();

        let mut fixer = BadPixelFixer {
            n,
            w,
            z_mask,
            z_freqs,
            gram: Array2::zeros((w, w)),
            cos_table,
            sin_table,
            forward,
            inverse,
            fft_scratch_len,
        };
        fixer.gram = fixer.gram_table();
        Ok(fixer)
    }

    /// Side of the images this fixer accepts.
    pub fn size(&self) -> usize {
        self.n
    }

    /// Side of the corrected region: 2⌊n/2⌋ (the last row and column stay as they are for odd n).
    pub fn work_size(&self) -> usize {
        self.w
    }

    /// The Z mask in real-FFT half-plane layout, W × (W/2 + 1), `[row frequency, col frequency]`
    /// with rows in FFT order: true where the image should carry no power.
    pub fn z_mask(&self) -> ArrayView2<'_, bool> {
        self.z_mask.view()
    }

    /// `Σ_Z cos(2π(a f + b κ)/W)` for every separation (a, b) mod W, as one unnormalised inverse
    /// 2-D FFT of Z's indicator on the full W × W frequency grid (row frequency f ≡ its FFT row).
    fn gram_table(&self) -> Array2<f64> {
        let w = self.w;
        let mut grid = vec![Complex64::new(0.0, 0.0); w * w];
        for &(r, c) in &self.z_freqs {
            grid[r * w + c] = Complex64::new(1.0, 0.0);
        }
        let mut scratch = vec![Complex64::new(0.0, 0.0); self.fft_scratch_len];
        let mut column = vec![Complex64::new(0.0, 0.0); w * w];
        self.inverse.process_with_scratch(&mut grid, &mut scratch);
        transpose(&grid, &mut column, w, w);
        self.inverse.process_with_scratch(&mut column, &mut scratch);
        // `column` is indexed [b][a] after the second pass.
        Array2::from_shape_fn((w, w), |(a, b)| column[b * w + a].re)
    }

    /// Corrects one integration in place.
    ///
    /// `data` (n × n, `[row, col]`) is the cropped image; `bad` (n × n) is true where the DQ has
    /// DO_NOT_USE or JUMP_DET. On return, in the leading W × W region `data` holds corrected
    /// values at every bad pixel (unchanged elsewhere) and `bad` is the final bad-pixel map, input
    /// flags plus detected outliers: the caller should keep excluding them from the fit (jwst
    /// marks them DO_NOT_USE). For odd n the last row and column keep their values and flags,
    /// except that non-finite pixels there are set to 0 and flagged (see the module note).
    pub fn fix(
        &self,
        mut data: ArrayViewMut2<f64>,
        mut bad: ArrayViewMut2<bool>,
    ) -> Result<FixSummary> {
        let (n, w) = (self.n, self.w);
        if data.dim() != (n, n) || bad.dim() != (n, n) {
            return Err(Error::analysis(
                Stage::BadPixelFix,
                format!(
                    "data {:?} and bad-pixel map {:?} must both be {n}×{n}",
                    data.dim(),
                    bad.dim()
                ),
            ));
        }
        let mut summary = FixSummary::default();
        for (value, flag) in data.iter_mut().zip(bad.iter_mut()) {
            if !value.is_finite() {
                *value = 0.0;
                *flag = true;
                summary.nonfinite += 1;
            }
        }

        let mut ws = Workspace::new(self);
        for r in 0..w {
            for c in 0..w {
                ws.original[r * w + c] = data[[r, c]];
                ws.bad[r * w + c] = bad[[r, c]];
            }
        }
        summary.initially_bad = ws.bad.iter().filter(|&&b| b).count();
        ws.image.copy_from_slice(&ws.original);

        for iteration in 0..MAX_ITERATIONS {
            summary.iterations = iteration + 1;
            self.correct(&mut ws)?;
            let new_count = self.detect(&mut ws);
            if new_count == 0 {
                break;
            }
            summary.detected += new_count;
            for (b, &d) in ws.bad.iter_mut().zip(&ws.detected) {
                *b |= d;
            }
        }

        // The final correction starts again from the uncorrected image with the final map; bad
        // pixels are zeroed before the solve, so only the good pixels' values matter (§5.5 step 3).
        ws.image.copy_from_slice(&ws.original);
        self.correct(&mut ws)?;
        for r in 0..w {
            for c in 0..w {
                data[[r, c]] = ws.image[r * w + c];
                bad[[r, c]] = ws.bad[r * w + c];
            }
        }
        Ok(summary)
    }

    /// `fourier_corr` (§5.5): replaces the bad pixels of `ws.image` by the values that null its
    /// Fourier transform on Z in the least-squares sense, solving (B Bᵀ) y = B f, correction = −y.
    fn correct(&self, ws: &mut Workspace) -> Result<()> {
        let w = self.w;
        let bad: Vec<(usize, usize)> = (0..w * w)
            .filter(|&k| ws.bad[k])
            .map(|k| (k / w, k % w))
            .collect();
        if bad.is_empty() {
            return Ok(());
        }
        for &(r, c) in &bad {
            ws.image[r * w + c] = 0.0;
        }
        self.rfft2(ws);

        let m = bad.len();
        // (B f)_i = Σ_Z Re(F) cos θ − Im(F) sin θ, θ = 2π (r f + c κ)/W reduced mod W exactly.
        let half = w / 2 + 1;
        let rhs = DVector::from_iterator(
            m,
            bad.iter().map(|&(r, c)| {
                self.z_freqs
                    .iter()
                    .map(|&(fr, fc)| {
                        let k = (r * fr + c * fc) % w;
                        let f = ws.spectrum[fr * half + fc];
                        f.re * self.cos_table[k] - f.im * self.sin_table[k]
                    })
                    .sum::<f64>()
            }),
        );
        let gram = DMatrix::from_fn(m, m, |i, j| {
            let (ri, ci) = bad[i];
            let (rj, cj) = bad[j];
            self.gram[[(ri + w - rj) % w, (ci + w - cj) % w]]
        });
        let y = match gram.clone().cholesky() {
            Some(chol) => chol.solve(&rhs),
            None => gram.lu().solve(&rhs).ok_or_else(|| {
                Error::analysis(
                    Stage::BadPixelFix,
                    format!("{m} bad pixels leave the Fourier least-squares problem singular"),
                )
            })?,
        };
        for (&(r, c), correction) in bad.iter().zip(y.iter()) {
            ws.image[r * w + c] = -correction;
        }
        Ok(())
    }

    /// One outlier search (§5.5 steps 2b–2e) on the current corrected image; fills `ws.detected`
    /// and returns how many of its pixels are not yet in `ws.bad`.
    fn detect(&self, ws: &mut Workspace) -> usize {
        let w = self.w;
        let half = w / 2 + 1;
        // High-pass image: only the Z frequencies survive.
        self.rfft2(ws);
        for (f, &keep) in ws.spectrum.iter_mut().zip(self.z_mask.iter()) {
            if !keep {
                *f = Complex64::new(0.0, 0.0);
            }
        }
        debug_assert_eq!(ws.spectrum.len(), w * half);
        self.irfft2(ws);

        // Normalise by the expected noise (photon + read) from the locally smoothed image.
        median_filter_3x3(&ws.image, &mut ws.smooth, w, &mut ws.sorted);
        let mut any_nan = false;
        for (hp, &level) in ws.highpass.iter_mut().zip(&ws.smooth) {
            *hp /= (level / GAIN_E_PER_ADU + READ_NOISE_E * READ_NOISE_E).sqrt();
            any_nan |= hp.is_nan();
        }
        if any_nan {
            // jwst's median of the residuals is then NaN and no pixel passes the threshold.
            ws.detected.fill(false);
            return 0;
        }
        median_filter_3x3(&ws.highpass, &mut ws.smooth, w, &mut ws.sorted);
        for ((d, &hp), &m) in ws.residual.iter_mut().zip(&ws.highpass).zip(&ws.smooth) {
            *d = (hp - m).abs();
        }
        let threshold = DETECTION_THRESHOLD * median_nan_aware(&ws.residual, &mut ws.sort_buf);
        let mut new_count = 0;
        for ((det, &d), &already) in ws.detected.iter_mut().zip(&ws.residual).zip(&ws.bad) {
            *det = d > threshold;
            if *det && !already {
                new_count += 1;
            }
        }
        new_count
    }

    /// Real 2-D FFT of `ws.image` (W × W) into `ws.spectrum` (W × (W/2 + 1), numpy `rfft2`
    /// layout): full-length FFTs of the rows, keep the non-negative column frequencies, then FFT
    /// the kept columns.
    fn rfft2(&self, ws: &mut Workspace) {
        let w = self.w;
        let half = w / 2 + 1;
        for (dst, &src) in ws.rows.iter_mut().zip(&ws.image) {
            *dst = Complex64::new(src, 0.0);
        }
        self.forward
            .process_with_scratch(&mut ws.rows, &mut ws.fft_scratch);
        // Columns 0..half of the row spectra, transposed so each becomes one contiguous FFT.
        for r in 0..w {
            for c in 0..half {
                ws.columns[c * w + r] = ws.rows[r * w + c];
            }
        }
        let cols = &mut ws.columns[..half * w];
        self.forward.process_with_scratch(cols, &mut ws.fft_scratch);
        for c in 0..half {
            for r in 0..w {
                ws.spectrum[r * half + c] = ws.columns[c * w + r];
            }
        }
    }

    /// Inverse of [`Self::rfft2`] like numpy `irfft2`: inverse FFT of the columns, then a
    /// Hermitian row inverse that uses only the real parts of the zero and Nyquist columns.
    /// Reads `ws.spectrum`, writes `ws.highpass`.
    fn irfft2(&self, ws: &mut Workspace) {
        let w = self.w;
        let half = w / 2 + 1;
        for c in 0..half {
            for r in 0..w {
                ws.columns[c * w + r] = ws.spectrum[r * half + c];
            }
        }
        let cols = &mut ws.columns[..half * w];
        self.inverse.process_with_scratch(cols, &mut ws.fft_scratch);
        for r in 0..w {
            let row = &mut ws.rows[r * w..(r + 1) * w];
            for (c, value) in row[..half].iter_mut().enumerate() {
                *value = ws.columns[c * w + r];
            }
            row[0].im = 0.0;
            row[w / 2].im = 0.0;
            for c in 1..w / 2 {
                row[w - c] = row[c].conj();
            }
        }
        self.inverse
            .process_with_scratch(&mut ws.rows, &mut ws.fft_scratch);
        let scale = 1.0 / (w * w) as f64;
        for (dst, src) in ws.highpass.iter_mut().zip(&ws.rows) {
            *dst = src.re * scale;
        }
    }
}

/// Per-call buffers, allocated once per [`BadPixelFixer::fix`] and reused by every round.
struct Workspace {
    original: Vec<f64>,
    image: Vec<f64>,
    bad: Vec<bool>,
    detected: Vec<bool>,
    highpass: Vec<f64>,
    smooth: Vec<f64>,
    residual: Vec<f64>,
    sort_buf: Vec<f64>,
    sorted: Vec<[f64; 3]>,
    rows: Vec<Complex64>,
    columns: Vec<Complex64>,
    spectrum: Vec<Complex64>,
    fft_scratch: Vec<Complex64>,
}

impl Workspace {
    fn new(fixer: &BadPixelFixer) -> Self {
        let w = fixer.w;
        let zero = Complex64::new(0.0, 0.0);
        Workspace {
            original: vec![0.0; w * w],
            image: vec![0.0; w * w],
            bad: vec![false; w * w],
            detected: vec![false; w * w],
            highpass: vec![0.0; w * w],
            smooth: vec![0.0; w * w],
            residual: vec![0.0; w * w],
            sort_buf: Vec::with_capacity(w * w),
            sorted: vec![[0.0; 3]; w],
            rows: vec![zero; w * w],
            columns: vec![zero; w * w],
            spectrum: vec![zero; w * (w / 2 + 1)],
            fft_scratch: vec![zero; fixer.fft_scratch_len],
        }
    }
}

/// Copies a rows × cols row-major matrix into its transpose.
fn transpose(src: &[Complex64], dst: &mut [Complex64], rows: usize, cols: usize) {
    for r in 0..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// 3 × 3 median filter of a w × w image with scipy.ndimage's default 'reflect' boundary
/// (d c b a | a b c d | d c b a): for a radius of one pixel that repeats the edge pixel.
///
/// Uses the exact median-of-nine decomposition: sort each window column's three values; the
/// median is the median of (largest column minimum, median of column medians, smallest column
/// maximum). Inputs must not contain NaN (callers check).
fn median_filter_3x3(src: &[f64], dst: &mut [f64], w: usize, sorted: &mut [[f64; 3]]) {
    let clamp = |i: isize| i.clamp(0, w as isize - 1) as usize;
    for r in 0..w {
        let above = &src[clamp(r as isize - 1) * w..][..w];
        let here = &src[r * w..][..w];
        let below = &src[clamp(r as isize + 1) * w..][..w];
        for (c, triple) in sorted[..w].iter_mut().enumerate() {
            *triple = sort3(above[c], here[c], below[c]);
        }
        for c in 0..w {
            let (left, right) = (sorted[clamp(c as isize - 1)], sorted[clamp(c as isize + 1)]);
            let centre = sorted[c];
            let low = left[0].max(centre[0]).max(right[0]);
            let mid = sort3(left[1], centre[1], right[1])[1];
            let high = left[2].min(centre[2]).min(right[2]);
            dst[r * w + c] = sort3(low, mid, high)[1];
        }
    }
}

/// The three values in ascending order.
fn sort3(a: f64, b: f64, c: f64) -> [f64; 3] {
    let (a, b) = if b < a { (b, a) } else { (a, b) };
    let (b, c) = if c < b { (c, b) } else { (b, c) };
    let (a, b) = if b < a { (b, a) } else { (a, b) };
    [a, b, c]
}

/// Median like numpy's: NaN if any value is NaN; the mean of the two middle values for an even
/// count.
fn median_nan_aware(values: &[f64], buf: &mut Vec<f64>) -> f64 {
    if values.is_empty() || values.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    buf.clear();
    buf.extend_from_slice(values);
    let k = buf.len() / 2;
    let (lower, upper, _) = buf.select_nth_unstable_by(k, f64::total_cmp);
    let upper = *upper;
    if values.len() % 2 == 1 {
        upper
    } else {
        let below = lower.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        (below + upper) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PIXSCALE_RAD: f64 = 65.6e-3 / 206_264.806_247_096_36;

    /// Deterministic pseudo-random numbers in [0, 1) (64-bit LCG).
    fn uniform(count: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64
            })
            .collect()
    }

    /// A 128 × 128 pupil raster spanning the pupil-image diameter with three non-redundant
    /// circular holes of 0.8 m diameter.
    fn three_hole_pupil() -> Array2<f64> {
        let size = 128;
        let metres_per_px = PUPIL_IMAGE_DIAMETER_M / size as f64;
        let holes_m = [(0.0, -2.64), (-2.28631, 0.0), (2.28631, 1.32)];
        Array2::from_shape_fn((size, size), |(r, c)| {
            let y = (r as f64 - size as f64 / 2.0 + 0.5) * metres_per_px;
            let x = (c as f64 - size as f64 / 2.0 + 0.5) * metres_per_px;
            let inside = holes_m
                .iter()
                .any(|(hx, hy)| (x - hx).powi(2) + (y - hy).powi(2) < 0.4 * 0.4);
            if inside {
                1.0
            } else {
                0.0
            }
        })
    }

    /// An n × n image whose W × W part has power only outside Z (inside the pupil support):
    /// a positive constant plus fringes at every support frequency with 0 < κ < W/2, whose
    /// conjugates fall outside the half plane. The odd-size last row/column continue it.
    fn band_limited_image(fixer: &BadPixelFixer, seed: u64) -> Array2<f64> {
        let (n, w) = (fixer.size(), fixer.work_size());
        let support: Vec<(usize, usize)> = fixer
            .z_mask()
            .indexed_iter()
            .filter(|&((_, c), &z)| !z && c > 0 && c < w / 2)
            .map(|(rc, _)| rc)
            .collect();
        assert!(support.len() > 10, "support too small for a useful test");
        let amplitudes = uniform(support.len(), seed);
        let phases = uniform(support.len(), seed + 1);
        Array2::from_shape_fn((n, n), |(r, c)| {
            let fringes: f64 = support
                .iter()
                .zip(amplitudes.iter().zip(&phases))
                .map(|(&(fr, fc), (a, p))| {
                    let k = (r * fr + c * fc) % w;
                    100.0 * a * (2.0 * PI * (k as f64 / w as f64 + p)).cos()
                })
                .sum();
            5000.0 + fringes
        })
    }

    fn fixer(n: usize) -> BadPixelFixer {
        BadPixelFixer::new(three_hole_pupil().view(), "F480M", PIXSCALE_RAD, n).unwrap()
    }

    #[test]
    fn flagged_pixels_of_a_band_limited_image_are_restored() {
        let fixer = fixer(40);
        let truth = band_limited_image(&fixer, 7);
        let mut data = truth.clone();
        let mut bad = Array2::from_elem((40, 40), false);
        let corrupted = [
            (20, 20, 0.0),
            (20, 21, 9e4),
            (3, 35, -500.0),
            (0, 0, 1e6),
            (39, 12, 7.0),
        ];
        for &(r, c, v) in &corrupted {
            data[[r, c]] = v;
            bad[[r, c]] = true;
        }
        let summary = fixer.fix(data.view_mut(), bad.view_mut()).unwrap();
        assert_eq!(summary.initially_bad, corrupted.len());
        for &(r, c, _) in &corrupted {
            let relative = (data[[r, c]] - truth[[r, c]]).abs() / truth[[r, c]].abs();
            assert!(
                relative < 1e-6,
                "({r}, {c}): {} vs {}",
                data[[r, c]],
                truth[[r, c]]
            );
            assert!(bad[[r, c]], "corrected pixels stay flagged");
        }
    }

    #[test]
    fn unflagged_hot_pixel_is_detected_and_restored() {
        let fixer = fixer(40);
        let truth = band_limited_image(&fixer, 11);
        let mut data = truth.clone();
        data[[12, 25]] += 2e4;
        let mut bad = Array2::from_elem((40, 40), false);
        let summary = fixer.fix(data.view_mut(), bad.view_mut()).unwrap();
        assert!(bad[[12, 25]], "hot pixel found");
        assert!(summary.detected >= 1 && summary.iterations >= 2);
        for ((r, c), &v) in data.indexed_iter() {
            let relative = (v - truth[[r, c]]).abs() / truth[[r, c]].abs();
            assert!(relative < 1e-6, "({r}, {c}): {v} vs {}", truth[[r, c]]);
        }
    }

    #[test]
    fn odd_size_keeps_last_row_and_column_and_non_finite_pixels_become_bad() {
        let fixer = fixer(41);
        assert_eq!(fixer.work_size(), 40);
        let truth = band_limited_image(&fixer, 3);
        let mut data = truth.clone();
        let mut bad = Array2::from_elem((41, 41), false);
        // Flagged garbage in the last row stays; NaN inside is corrected although not flagged
        // (deviation from jwst, module note); NaN and inf in the last row/column become 0, bad.
        data[[40, 7]] = -1234.0;
        bad[[40, 7]] = true;
        data[[15, 16]] = f64::NAN;
        data[[9, 40]] = f64::NAN;
        data[[40, 40]] = f64::INFINITY;
        let summary = fixer.fix(data.view_mut(), bad.view_mut()).unwrap();
        assert_eq!(summary.nonfinite, 3);
        assert_eq!(data[[40, 7]], -1234.0);
        assert!(bad[[40, 7]]);
        assert!(bad[[15, 16]]);
        assert!((data[[15, 16]] - truth[[15, 16]]).abs() / truth[[15, 16]] < 1e-6);
        for (r, c) in [(9, 40), (40, 40)] {
            assert_eq!(data[[r, c]], 0.0);
            assert!(bad[[r, c]]);
        }
        for r in 0..40 {
            assert_eq!(data[[r, 39]].to_bits(), truth[[r, 39]].to_bits());
        }
    }

    #[test]
    fn clean_image_is_left_alone() {
        let fixer = fixer(40);
        let truth = band_limited_image(&fixer, 5);
        let mut data = truth.clone();
        let mut bad = Array2::from_elem((40, 40), false);
        let summary = fixer.fix(data.view_mut(), bad.view_mut()).unwrap();
        assert_eq!(summary.detected, 0);
        assert_eq!(summary.iterations, 1);
        assert_eq!(data, truth);
        assert!(bad.iter().all(|&b| !b));
    }

    #[test]
    fn rejects_bad_arguments() {
        let pupil = three_hole_pupil();
        assert!(BadPixelFixer::new(pupil.view(), "F999X", PIXSCALE_RAD, 40).is_err());
        assert!(BadPixelFixer::new(pupil.view(), "F480M", -1.0, 40).is_err());
        assert!(BadPixelFixer::new(pupil.view(), "F480M", PIXSCALE_RAD, 3).is_err());
        let fixer = fixer(40);
        let mut data = Array2::zeros((41, 41));
        let mut bad = Array2::from_elem((41, 41), false);
        assert!(fixer.fix(data.view_mut(), bad.view_mut()).is_err());
    }

    #[test]
    fn support_wavelengths_stretch_the_half_power_band_by_ten_percent() {
        let [centre, low, high] = support_wavelengths_m("F480M").unwrap();
        assert_eq!(centre, 4.817e-6);
        assert!((low - (4.817e-6 - 1.1 * 0.148e-6)).abs() < 1e-18);
        assert!((high - (4.817e-6 + 1.1 * 0.154e-6)).abs() < 1e-18);
    }

    #[test]
    fn real_fft_matches_a_direct_dft_and_inverts() {
        let fixer = fixer(12);
        let w = fixer.work_size();
        let half = w / 2 + 1;
        let mut ws = Workspace::new(&fixer);
        ws.image.copy_from_slice(&uniform(w * w, 9));
        fixer.rfft2(&mut ws);
        for rho in 0..w {
            for kappa in 0..half {
                let direct: Complex64 = (0..w * w)
                    .map(|k| {
                        let phase =
                            -2.0 * PI * ((k / w * rho + k % w * kappa) % w) as f64 / w as f64;
                        ws.image[k] * Complex64::from_polar(1.0, phase)
                    })
                    .sum();
                assert!((ws.spectrum[rho * half + kappa] - direct).norm() < 1e-12);
            }
        }
        fixer.irfft2(&mut ws);
        for (a, b) in ws.highpass.iter().zip(&ws.image) {
            assert!((a - b).abs() < 1e-14);
        }
    }

    #[test]
    fn gram_table_is_the_sum_over_z_of_cosines() {
        let fixer = fixer(16);
        let w = fixer.work_size();
        for (a, b) in [(0, 0), (1, 0), (0, 3), (5, 7), (15, 15)] {
            let direct: f64 = fixer
                .z_freqs
                .iter()
                .map(|&(f, k)| (2.0 * PI * ((a * f + b * k) % w) as f64 / w as f64).cos())
                .sum();
            assert!((fixer.gram[[a, b]] - direct).abs() < 1e-10, "({a}, {b})");
        }
        assert_eq!(fixer.gram[[0, 0]], fixer.z_freqs.len() as f64);
    }

    #[test]
    fn median_filter_matches_sorting_each_reflected_window() {
        let w = 9;
        // Few distinct values, so ties are exercised.
        let image: Vec<f64> = uniform(w * w, 4)
            .iter()
            .map(|v| (v * 5.0).floor())
            .collect();
        let mut fast = vec![0.0; w * w];
        median_filter_3x3(&image, &mut fast, w, &mut vec![[0.0; 3]; w]);
        let clamp = |i: isize| i.clamp(0, w as isize - 1) as usize;
        for r in 0..w {
            for c in 0..w {
                let mut window: Vec<f64> = (-1..=1)
                    .flat_map(|dr| (-1..=1).map(move |dc| (dr, dc)))
                    .map(|(dr, dc)| image[clamp(r as isize + dr) * w + clamp(c as isize + dc)])
                    .collect();
                window.sort_by(f64::total_cmp);
                assert_eq!(fast[r * w + c], window[4], "({r}, {c})");
            }
        }
    }

    #[test]
    fn median_is_numpy_like() {
        let mut buf = Vec::new();
        assert_eq!(median_nan_aware(&[3.0, 1.0, 2.0], &mut buf), 2.0);
        assert_eq!(median_nan_aware(&[4.0, 1.0, 3.0, 2.0], &mut buf), 2.5);
        assert!(median_nan_aware(&[1.0, f64::NAN, 2.0], &mut buf).is_nan());
    }
}
