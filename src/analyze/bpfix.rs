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

use super::mdft::MatrixDft;
use crate::error::{Error, Result};
use crate::niriss::filters::filter_by_name;
use nalgebra::{DMatrix, DVector};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use rustfft::num_complex::Complex64;
use rustfft::{Fft, FftPlanner};
use std::f64::consts::PI;
use std::sync::Arc;

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
    forward: Arc<dyn Fft<f64>>,
    inverse: Arc<dyn Fft<f64>>,
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
    // Divide by 1e6 rather than multiply by 1e-6: it reproduces the metre literals jwst uses.
    let centre = f.pivot_um / 1e6;
    let (lo, hi) = (f.half_power_um.0 / 1e6, f.half_power_um.1 / 1e6);
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
            return Err(Error::new(
                "NRM reference file",
                "pupil image is empty or holds non-finite values",
            ));
        }
        if !(pixscale_rad.is_finite() && pixscale_rad > 0.0) {
            return Err(Error::new(
                "SCI header",
                format!("pixel scale {pixscale_rad} rad is not a positive number"),
            ));
        }
        if n < 4 {
            return Err(Error::new(
                "cropped image",
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
            .mapv(|c| c.norm());
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

        let mut planner = FftPlanner::<f64>::new();
        let forward = planner.plan_fft_forward(w);
        let inverse = planner.plan_fft_inverse(w);
        let fft_scratch_len = forward
            .get_inplace_scratch_len()
            .max(inverse.get_inplace_scratch_len());
        let (cos_table, sin_table): (Vec<f64>, Vec<f64>) = (0..w)
            .map(|k| (2.0 * PI * k as f64 / w as f64).sin_cos())
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
            return Err(Error::new(
                "cropped image",
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
                Error::new(
                    "bad-pixel correction",
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

        // Normalise by the expected noise (photon + read) from the locally smoothed image. A
        // negative enough image gives NaN here; jwst then finds nothing (the median is NaN).
        median_filter_3x3(&ws.image, &mut ws.smooth, w);
        for (hp, &level) in ws.highpass.iter_mut().zip(&ws.smooth) {
            *hp /= (level / GAIN_E_PER_ADU + READ_NOISE_E * READ_NOISE_E).sqrt();
        }
        median_filter_3x3(&ws.highpass, &mut ws.smooth, w);
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
            for c in 0..half {
                row[c] = ws.columns[c * w + r];
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
fn median_filter_3x3(src: &[f64], dst: &mut [f64], w: usize) {
    let clamp = |i: isize| i.clamp(0, w as isize - 1) as usize;
    for r in 0..w {
        let rows = [clamp(r as isize - 1), r, clamp(r as isize + 1)];
        for c in 0..w {
            let cols = [clamp(c as isize - 1), c, clamp(c as isize + 1)];
            let mut window = [0.0; 9];
            for (k, &rr) in rows.iter().enumerate() {
                for (l, &cc) in cols.iter().enumerate() {
                    window[3 * k + l] = src[rr * w + cc];
                }
            }
            let (_, median, _) = window.select_nth_unstable_by(4, f64::total_cmp);
            dst[r * w + c] = *median;
        }
    }
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
