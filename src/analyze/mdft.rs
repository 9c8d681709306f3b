//! Matrix discrete Fourier transform with "ADJUSTABLE" centring (Soummer et al. 2007;
//! upstream.md §3.6): an arbitrary-size input plane sampled onto an arbitrary-size output plane
//! spanning `nlam_d` resolution elements, centred on the central pixel (odd sizes) or the central
//! pixel corner (even sizes). It is two matrix products with exponent matrices that depend only on
//! the sizes and `nlam_d`, so a [`MatrixDft`] is planned once and applied to many inputs.
//! Arrays are `ndarray` row-major `[row, col]` = `[y, x]`; output axis 0 corresponds to input
//! axis 0. It does not do offsets, inverse transforms or other centrings: nothing here needs them.

use crate::portable;
use ndarray::{Array2, ArrayView2, Zip};
use rustfft::num_complex::Complex64;
use std::f64::consts::PI;

/// Below this fraction of non-zero input samples, the first product accumulates only the non-zero
/// samples instead of a dense matrix product. The NRM pupil (1024², ~9 % ones) takes this path and
/// costs ~6 M complex multiply-adds per wavelength instead of ~150 M.
const SPARSE_FRACTION: f64 = 0.25;

/// A planned matrix DFT for one (input shape, output shape, `nlam_d`) triple.
///
/// With N = input shape (rows Ny, cols Nx), M = output shape (rows My, cols Mx), the transform is
/// (upstream.md §3.6)
/// `F[v, u] = norm · Σ_y Σ_x P[y, x] · exp(−2πi (y_s v_t + x_s u_t))`, with
/// `x_s = (s − Nx/2 + 1/2)/Nx`, `u_t = (t − Mx/2 + 1/2)·nlam_d/Mx` (likewise y, v) and
/// `norm = √(nlam_d² / (Ny Nx My Mx))`.
#[derive(Debug, Clone)]
pub struct MatrixDft {
    input_shape: (usize, usize),
    output_shape: (usize, usize),
    /// exp(−2πi y_s v_t) as [s, t]: Ny × My, real and imaginary parts (kept apart so the products
    /// are real matrix products, [`portable::matmul`]: the same bits on every target).
    rows_re: Array2<f64>,
    rows_im: Array2<f64>,
    /// exp(−2πi x_s u_t) as [s, t]: Nx × Mx.
    cols_re: Array2<f64>,
    cols_im: Array2<f64>,
    norm: f64,
}

/// Exponent matrix exp(−2πi a_s b_t) as [s, t] for one axis of `n_in` input and `n_out` output
/// samples spanning `nlam_d` resolution elements.
fn axis_exponents(n_in: usize, n_out: usize, nlam_d: f64) -> (Array2<f64>, Array2<f64>) {
    let d_in = 1.0 / n_in as f64;
    let d_out = nlam_d / n_out as f64;
    // The same rounding sequence as the reference: centred index first, then scale, then the
    // product, then −2π; keeps the phases identical to the last bit in most samples.
    let input: Vec<f64> = (0..n_in)
        .map(|s| (s as f64 - n_in as f64 / 2.0 + 0.5) * d_in)
        .collect();
    let output: Vec<f64> = (0..n_out)
        .map(|t| (t as f64 - n_out as f64 / 2.0 + 0.5) * d_out)
        .collect();
    // Both sample sets are exactly antisymmetric (sample n − 1 − s is the exact negative of
    // sample s), so the phases at (n_in − 1 − s, t) and (s, n_out − 1 − t) are the exact negative
    // of the phase at (s, t) and the one at (n_in − 1 − s, n_out − 1 − t) equals it. libm's sin is
    // exactly odd and its cos exactly even (tested below), so one quadrant of sincos calls fills
    // the matrix with the bits of the direct evaluation.
    let mut re = Array2::zeros((n_in, n_out));
    let mut im = Array2::zeros((n_in, n_out));
    for (s, a) in input.iter().enumerate().take(n_in.div_ceil(2)) {
        for (t, b) in output.iter().enumerate().take(n_out.div_ceil(2)) {
            let (sin, cos) = portable::sin_cos((-2.0 * PI) * (a * b));
            let (s2, t2) = (n_in - 1 - s, n_out - 1 - t);
            // (s, t) last: for the middle sample (s = s2 or t = t2, where the sample is +0 and
            // not the negative of itself) the direct value is the one kept
            for (i, j, sign) in [(s2, t2, sin), (s2, t, -sin), (s, t2, -sin), (s, t, sin)] {
                re[[i, j]] = cos;
                im[[i, j]] = sign;
            }
        }
    }
    (re, im)
}

/// [`axis_exponents`] evaluated at every sample, for the test of its symmetry shortcut.
#[cfg(test)]
fn axis_exponents_direct(n_in: usize, n_out: usize, nlam_d: f64) -> (Array2<f64>, Array2<f64>) {
    let d_in = 1.0 / n_in as f64;
    let d_out = nlam_d / n_out as f64;
    let mut re = Array2::zeros((n_in, n_out));
    let mut im = Array2::zeros((n_in, n_out));
    for s in 0..n_in {
        let a = (s as f64 - n_in as f64 / 2.0 + 0.5) * d_in;
        for t in 0..n_out {
            let b = (t as f64 - n_out as f64 / 2.0 + 0.5) * d_out;
            let (sin, cos) = portable::sin_cos((-2.0 * PI) * (a * b));
            re[[s, t]] = cos;
            im[[s, t]] = sin;
        }
    }
    (re, im)
}

impl MatrixDft {
    /// Plans the transform of a `input_shape` = (rows, cols) plane to an `output_shape` plane that
    /// spans `nlam_d` resolution elements (λ/D, D = the input plane's width) on each axis.
    pub fn new(input_shape: (usize, usize), output_shape: (usize, usize), nlam_d: f64) -> Self {
        let (rows_re, rows_im) = axis_exponents(input_shape.0, output_shape.0, nlam_d);
        // Square in and out (the usual case) makes both axes' matrices identical.
        let (cols_re, cols_im) =
            if input_shape.0 == input_shape.1 && output_shape.0 == output_shape.1 {
                (rows_re.clone(), rows_im.clone())
            } else {
                axis_exponents(input_shape.1, output_shape.1, nlam_d)
            };
        // in f64: the product overflows a 32-bit usize (wasm32) for a 1024^2 pupil
        let count = input_shape.0 as f64
            * input_shape.1 as f64
            * output_shape.0 as f64
            * output_shape.1 as f64;
        MatrixDft {
            input_shape,
            output_shape,
            rows_re,
            rows_im,
            cols_re,
            cols_im,
            norm: (nlam_d * nlam_d / count).sqrt(),
        }
    }

    /// Input shape (rows, cols) this plan accepts.
    pub fn input_shape(&self) -> (usize, usize) {
        self.input_shape
    }

    /// Output shape (rows, cols) this plan produces.
    pub fn output_shape(&self) -> (usize, usize) {
        self.output_shape
    }

    fn check_shape(&self, shape: &[usize]) {
        assert_eq!(
            (shape[0], shape[1]),
            self.input_shape,
            "matrix DFT planned for another input shape"
        );
    }

    /// Transforms a real plane. Returns the complex output, shape `output_shape()`.
    ///
    /// Only the first ⌈My/2⌉ output rows are computed: for a real input the exponent matrices'
    /// exact symmetry (see [`axis_exponents`]) makes F[My − 1 − v, Mx − 1 − u] the exact
    /// conjugate of F[v, u] (every term of its sums is the same product or its exact negative, in
    /// the same order), so the other rows are mirrored with the bits a full evaluation gives
    /// (test below).
    ///
    /// # Panics
    /// If `input` does not have the planned input shape.
    pub fn transform_real(&self, input: ArrayView2<f64>) -> Array2<Complex64> {
        self.check_shape(input.shape());
        let (my, mx) = self.output_shape;
        let h = my.div_ceil(2);
        let nonzero = input.iter().filter(|&&v| v != 0.0).count();
        // First product: the first h rows of T = E_rowsᵀ · P (My × Nx), real and imaginary parts.
        let (t_re, t_im) = if (nonzero as f64) < SPARSE_FRACTION * input.len() as f64 {
            self.rows_product_sparse(input, h)
        } else {
            let p = input.as_standard_layout();
            let p = p.as_slice().expect("standard layout");
            (
                self.rows_product_first(&self.rows_re, p, h),
                self.rows_product_first(&self.rows_im, p, h),
            )
        };
        let upper = self.finish(&t_re, &t_im);
        Array2::from_shape_fn((my, mx), |(v, u)| {
            if v < h {
                upper[[v, u]]
            } else {
                // a computed sum is never −0 (it starts at +0), so a zero stays +0
                let z = upper[[my - 1 - v, mx - 1 - u]];
                Complex64::new(z.re, if z.im == 0.0 { 0.0 } else { -z.im })
            }
        })
    }

    /// Transforms a complex plane. Returns the complex output, shape `output_shape()`.
    ///
    /// # Panics
    /// If `input` does not have the planned input shape.
    pub fn transform_complex(&self, input: ArrayView2<Complex64>) -> Array2<Complex64> {
        self.check_shape(input.shape());
        // in standard (row-major) layout whatever the input's memory order
        let p_re = Array2::from_shape_fn(input.dim(), |ix| input[ix].re);
        let p_im = Array2::from_shape_fn(input.dim(), |ix| input[ix].im);
        let (er, ei) = (&self.rows_re, &self.rows_im);
        let (p_re, p_im) = (standard(&p_re), standard(&p_im));
        let t_re = self.rows_product(er, p_re) - self.rows_product(ei, p_im);
        let t_im = self.rows_product(er, p_im) + self.rows_product(ei, p_re);
        self.finish(&t_re, &t_im)
    }

    /// Eᵀ · P for an exponent matrix E (Ny × My) and a plane P (Ny × Nx): My × Nx.
    fn rows_product(&self, e: &Array2<f64>, p: &[f64]) -> Array2<f64> {
        let (ny, nx) = self.input_shape;
        let my = self.output_shape.0;
        let t = portable::matmul_tn(standard(e), p, ny, my, nx);
        Array2::from_shape_vec((my, nx), t).expect("my x nx")
    }

    /// The first `h` rows of [`Self::rows_product`], each element summed over y in increasing
    /// order as [`portable::matmul_tn`] does: h × Nx.
    fn rows_product_first(&self, e: &Array2<f64>, p: &[f64], h: usize) -> Array2<f64> {
        let (ny, nx) = self.input_shape;
        let my = self.output_shape.0;
        let e = standard(e);
        let mut t = vec![0.0; h * nx];
        for y in 0..ny {
            let p_row = &p[y * nx..(y + 1) * nx];
            for (i, t_row) in t.chunks_exact_mut(nx).enumerate() {
                let e_yi = e[y * my + i];
                for (tv, &pv) in t_row.iter_mut().zip(p_row) {
                    *tv += e_yi * pv;
                }
            }
        }
        Array2::from_shape_vec((h, nx), t).expect("h x nx")
    }

    /// The first `h` rows of the first product for a mostly-zero real input: accumulate, for each
    /// non-zero sample P[y, x], P[y, x] · E_rows[y, ..h] into column x of T. Rows of E_rows are
    /// contiguous, so each update is a short contiguous multiply-add.
    fn rows_product_sparse(&self, input: ArrayView2<f64>, h: usize) -> (Array2<f64>, Array2<f64>) {
        let (ny, nx) = self.input_shape;
        // Accumulate transposed (Nx × h) so each update writes one contiguous row.
        let mut tt_re = Array2::<f64>::zeros((nx, h));
        let mut tt_im = Array2::<f64>::zeros((nx, h));
        let tt_re_rows = tt_re.as_slice_mut().expect("fresh array is contiguous");
        let tt_im_rows = tt_im.as_slice_mut().expect("fresh array is contiguous");
        for y in 0..ny {
            let e_re = self.rows_re.row(y);
            let e_im = self.rows_im.row(y);
            let (e_re, e_im) = (
                &e_re.as_slice().expect("planned arrays are contiguous")[..h],
                &e_im.as_slice().expect("planned arrays are contiguous")[..h],
            );
            for x in 0..nx {
                let p = input[[y, x]];
                if p == 0.0 {
                    continue;
                }
                let acc_re = &mut tt_re_rows[x * h..(x + 1) * h];
                for (acc, &e) in acc_re.iter_mut().zip(e_re) {
                    *acc += p * e;
                }
                let acc_im = &mut tt_im_rows[x * h..(x + 1) * h];
                for (acc, &e) in acc_im.iter_mut().zip(e_im) {
                    *acc += p * e;
                }
            }
        }
        (
            tt_re.t().as_standard_layout().into_owned(),
            tt_im.t().as_standard_layout().into_owned(),
        )
    }

    /// Second product F = norm · T · E_cols for the rows of T given, assembled into complex
    /// numbers.
    fn finish(&self, t_re: &Array2<f64>, t_im: &Array2<f64>) -> Array2<Complex64> {
        let (my, nx) = (t_re.nrows(), self.input_shape.1);
        let mx = self.output_shape.1;
        let product = |t: &Array2<f64>, e: &Array2<f64>| {
            let f = matmul_skipping_zeros(standard(t), standard(e), my, nx, mx);
            Array2::from_shape_vec((my, mx), f).expect("my x mx")
        };
        let f_re = product(t_re, &self.cols_re) - product(t_im, &self.cols_im);
        let f_im = product(t_re, &self.cols_im) + product(t_im, &self.cols_re);
        let norm = self.norm;
        Zip::from(&f_re)
            .and(&f_im)
            .map_collect(|&re, &im| Complex64::new(norm * re, norm * im))
    }
}

/// [`portable::matmul`] (C = A B, each element summed in increasing k) without the terms whose
/// A entry is zero: T of the sparse pupil has whole zero columns (pupil columns with no hole).
/// B (an exponent matrix) is finite, so a skipped term is ±0, and adding ±0 to a sum that started
/// at +0 changes no bit (x + ±0 = x for x ≠ 0, +0 + ±0 = +0, and no sum of these becomes −0).
fn matmul_skipping_zeros(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    assert!(a.len() >= m * k && b.len() >= k * n, "matmul: shapes");
    let mut c = vec![0.0; m * n];
    for (i, c_row) in c.chunks_exact_mut(n.max(1)).take(m).enumerate() {
        for kk in 0..k {
            let aik = a[i * k + kk];
            if aik == 0.0 {
                continue;
            }
            for (cv, &bv) in c_row.iter_mut().zip(&b[kk * n..(kk + 1) * n]) {
                *cv += aik * bv;
            }
        }
    }
    c
}

/// The row-major data of an array this module built (always in standard layout).
fn standard(a: &Array2<f64>) -> &[f64] {
    a.as_slice()
        .expect("arrays built here are in standard layout")
}

/// One-off transform of a real plane to `output_shape` spanning `nlam_d` resolution elements
/// (plans and applies a [`MatrixDft`]; plan it yourself to reuse it).
pub fn matrix_dft(
    input: ArrayView2<f64>,
    nlam_d: f64,
    output_shape: (usize, usize),
) -> Array2<Complex64> {
    let (rows, cols) = input.dim();
    MatrixDft::new((rows, cols), output_shape, nlam_d).transform_real(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct evaluation of the §3.6 double sum, one output sample at a time.
    fn brute_force(
        input: &Array2<Complex64>,
        nlam_d: f64,
        output_shape: (usize, usize),
    ) -> Array2<Complex64> {
        let (ny, nx) = input.dim();
        let (my, mx) = output_shape;
        let centred = |i: usize, n: usize, d: f64| (i as f64 - n as f64 / 2.0 + 0.5) * d;
        let norm = (nlam_d * nlam_d / (ny * nx * my * mx) as f64).sqrt();
        Array2::from_shape_fn(output_shape, |(v, u)| {
            let mut sum = Complex64::new(0.0, 0.0);
            for y in 0..ny {
                for x in 0..nx {
                    let phase = -2.0
                        * PI
                        * (centred(y, ny, 1.0 / ny as f64) * centred(v, my, nlam_d / my as f64)
                            + centred(x, nx, 1.0 / nx as f64) * centred(u, mx, nlam_d / mx as f64));
                    sum += input[[y, x]] * Complex64::from_polar(1.0, phase);
                }
            }
            sum * norm
        })
    }

    /// Deterministic pseudo-random numbers in [-1, 1) (a 64-bit LCG; no test dependency needed).
    fn pseudo_random(count: usize, seed: u64) -> Vec<f64> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    fn max_abs_diff(a: &Array2<Complex64>, b: &Array2<Complex64>) -> f64 {
        Zip::from(a)
            .and(b)
            .fold(0.0_f64, |m, x, y| m.max((x - y).norm()))
    }

    #[test]
    fn delta_transforms_to_a_pure_phase_ramp() {
        let (ny, nx, my, mx, nlam_d) = (6, 5, 4, 7, 2.5);
        let (y0, x0) = (1, 3);
        let mut input = Array2::zeros((ny, nx));
        input[[y0, x0]] = 1.0;
        let out = matrix_dft(input.view(), nlam_d, (my, mx));
        let norm = (nlam_d * nlam_d / (ny * nx * my * mx) as f64).sqrt();
        let ys = (y0 as f64 - ny as f64 / 2.0 + 0.5) / ny as f64;
        let xs = (x0 as f64 - nx as f64 / 2.0 + 0.5) / nx as f64;
        for ((v, u), value) in out.indexed_iter() {
            let vt = (v as f64 - my as f64 / 2.0 + 0.5) * nlam_d / my as f64;
            let ut = (u as f64 - mx as f64 / 2.0 + 0.5) * nlam_d / mx as f64;
            let expected = Complex64::from_polar(norm, -2.0 * PI * (ys * vt + xs * ut));
            assert!((value - expected).norm() < 1e-14, "at ({v}, {u})");
        }
    }

    #[test]
    fn constant_transforms_to_a_dirichlet_kernel() {
        // Σ_s exp(−2πi (s − (N−1)/2) w / N) = sin(π w) / sin(π w / N): real, as the sampling is
        // symmetric about the plane centre.
        let (n, m, nlam_d) = (8, 9, 5.0);
        let input = Array2::from_elem((n, n), 1.0);
        let out = matrix_dft(input.view(), nlam_d, (m, m));
        let norm = (nlam_d * nlam_d / (n * n * m * m) as f64).sqrt();
        let kernel = |t: usize| {
            let w = (t as f64 - m as f64 / 2.0 + 0.5) * nlam_d / m as f64;
            if w == 0.0 {
                n as f64
            } else {
                (PI * w).sin() / (PI * w / n as f64).sin()
            }
        };
        for ((v, u), value) in out.indexed_iter() {
            let expected = norm * kernel(v) * kernel(u);
            assert!((value.re - expected).abs() < 1e-13, "re at ({v}, {u})");
            assert!(value.im.abs() < 1e-13, "im at ({v}, {u})");
        }
        // Odd output size, nlam_d = n: the centre sample is the plain sum times the norm.
        assert!((out[[4, 4]].re - norm * (n * n) as f64).abs() < 1e-12);
    }

    #[test]
    fn real_dense_input_matches_brute_force() {
        let (ny, nx, my, mx, nlam_d) = (7, 10, 6, 5, 3.3);
        let input = Array2::from_shape_vec((ny, nx), pseudo_random(ny * nx, 1)).unwrap();
        let fast = matrix_dft(input.view(), nlam_d, (my, mx));
        let slow = brute_force(&input.mapv(|v| Complex64::new(v, 0.0)), nlam_d, (my, mx));
        assert!(max_abs_diff(&fast, &slow) < 1e-13);
    }

    #[test]
    fn real_sparse_input_matches_brute_force() {
        let (ny, nx, my, mx, nlam_d) = (12, 11, 5, 8, 4.7);
        let mut input = Array2::zeros((ny, nx));
        for ((k, v), x) in pseudo_random(9, 2).into_iter().enumerate().zip([0, 3, 10]) {
            input[[k, x]] = v;
        }
        let fast = matrix_dft(input.view(), nlam_d, (my, mx));
        let slow = brute_force(&input.mapv(|v| Complex64::new(v, 0.0)), nlam_d, (my, mx));
        assert!(max_abs_diff(&fast, &slow) < 1e-13);
    }

    #[test]
    fn complex_input_matches_brute_force() {
        let (ny, nx, my, mx, nlam_d) = (6, 9, 8, 7, 2.2);
        let re = pseudo_random(ny * nx, 3);
        let im = pseudo_random(ny * nx, 4);
        let input = Array2::from_shape_fn((ny, nx), |(y, x)| {
            Complex64::new(re[y * nx + x], im[y * nx + x])
        });
        let plan = MatrixDft::new((ny, nx), (my, mx), nlam_d);
        let fast = plan.transform_complex(input.view());
        let slow = brute_force(&input, nlam_d, (my, mx));
        assert!(max_abs_diff(&fast, &slow) < 1e-13);
    }

    #[test]
    fn symmetric_exponents_have_the_bits_of_the_direct_evaluation() {
        // the shapes the pipeline plans: the 1024² pupil onto the bad-pixel grid at the three
        // support wavelengths of each filter's range of nlam_d, the centroid and support
        // visibility planes, and small odd and even sides
        let mut cases = vec![(71, 71, 71.0), (70, 70, 70.0), (5, 4, 2.5), (4, 7, 3.3)];
        for nlam_d in [25.3, 30.6, 33.9, 38.2, 44.7, 52.1, 61.0] {
            cases.push((1024, 70, nlam_d));
            cases.push((1024, 78, nlam_d * 78.0 / 70.0));
        }
        for (n_in, n_out, nlam_d) in cases {
            let (re, im) = axis_exponents(n_in, n_out, nlam_d);
            let (dre, dim) = axis_exponents_direct(n_in, n_out, nlam_d);
            let bits = |a: &Array2<f64>| a.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&re), bits(&dre), "cos {n_in} {n_out} {nlam_d}");
            assert_eq!(bits(&im), bits(&dim), "sin {n_in} {n_out} {nlam_d}");
        }
    }

    /// transform_real as it was before the Hermitian shortcut: every output row evaluated.
    fn transform_real_every_row(plan: &MatrixDft, input: ArrayView2<f64>) -> Array2<Complex64> {
        let p = input.as_standard_layout();
        let p = p.as_slice().unwrap();
        let t_re = plan.rows_product(&plan.rows_re, p);
        let t_im = plan.rows_product(&plan.rows_im, p);
        plan.finish(&t_re, &t_im)
    }

    #[test]
    fn mirrored_half_has_the_bits_of_every_row_evaluated() {
        let bits = |a: &Array2<Complex64>| {
            a.iter()
                .flat_map(|c| [c.re.to_bits(), c.im.to_bits()])
                .collect::<Vec<_>>()
        };
        // dense (the centroid's 71² and the support's 70² planes, odd and even small sides)
        for (n, m, nlam_d) in [(71, 71, 71.0), (70, 70, 70.0), (7, 6, 3.1), (6, 9, 4.4)] {
            let input = Array2::from_shape_vec((n, n), pseudo_random(n * n, n as u64)).unwrap();
            let plan = MatrixDft::new((n, n), (m, m), nlam_d);
            let fast = plan.transform_real(input.view());
            assert_eq!(
                bits(&fast),
                bits(&transform_real_every_row(&plan, input.view()))
            );
        }
        // point-symmetric images, whose transform is real in exact arithmetic: computed
        // imaginary parts of exactly zero, whose sign the mirror must get right
        for n in [71usize, 70] {
            let half = pseudo_random(n * n, 9);
            let input = Array2::from_shape_fn((n, n), |(r, c)| {
                half[r * n + c] + half[(n - 1 - r) * n + (n - 1 - c)]
            });
            let plan = MatrixDft::new((n, n), (n, n), n as f64);
            let fast = plan.transform_real(input.view());
            assert_eq!(
                bits(&fast),
                bits(&transform_real_every_row(&plan, input.view()))
            );
            let ones = Array2::from_elem((n, n), 1.0);
            let fast = plan.transform_real(ones.view());
            assert_eq!(
                bits(&fast),
                bits(&transform_real_every_row(&plan, ones.view()))
            );
        }
        // sparse: a 0/1 plane with a few filled discs, like the NRM pupil
        let n = 256;
        let disc = |y: usize, x: usize| {
            [(60.0, 90.0), (128.0, 40.0), (190.0, 170.0), (100.0, 200.0)]
                .iter()
                .any(|&(cy, cx): &(f64, f64)| (y as f64 - cy).hypot(x as f64 - cx) < 18.0)
        };
        let pupil = Array2::from_shape_fn((n, n), |(y, x)| f64::from(u8::from(disc(y, x))));
        for (m, nlam_d) in [(70, 30.6), (71, 38.2)] {
            let plan = MatrixDft::new((n, n), (m, m), nlam_d);
            let fast = plan.transform_real(pupil.view());
            assert_eq!(
                bits(&fast),
                bits(&transform_real_every_row(&plan, pupil.view()))
            );
        }
    }

    #[test]
    fn skipping_zero_terms_keeps_every_bit_of_the_plain_product() {
        let (m, k, n) = (6, 40, 9);
        let mut a = pseudo_random(m * k, 5);
        // whole zero columns, scattered zeros and negative zeros
        for (i, v) in a.iter_mut().enumerate() {
            if i % k < 12 || i % 7 == 0 {
                *v = 0.0;
            } else if i % 11 == 0 {
                *v = -0.0;
            }
        }
        a[0..k].iter_mut().for_each(|v| *v = -0.0);
        let b = pseudo_random(k * n, 6);
        let bits = |c: Vec<f64>| c.into_iter().map(f64::to_bits).collect::<Vec<_>>();
        assert_eq!(
            bits(matmul_skipping_zeros(&a, &b, m, k, n)),
            bits(portable::matmul(&a, &b, m, k, n))
        );
    }

    #[test]
    #[should_panic(expected = "another input shape")]
    fn wrong_input_shape_panics() {
        let plan = MatrixDft::new((4, 4), (3, 3), 2.0);
        plan.transform_real(Array2::zeros((5, 4)).view());
    }
}
