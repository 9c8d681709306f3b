//! Floating point that gives the same bits on every target, so the page (wasm32) writes the
//! same bytes as `ami3 run` (x86_64): ami3.md §6 asks for identical downloads.
//!
//! Two things make results target-dependent, and this module replaces both:
//! - the transcendental functions of `std` call the platform's libm (glibc natively, a Rust port
//!   on wasm32, and another version of it in the nightly toolchain of the threaded build): here
//!   they all come from the `libm` crate, one version pinned by Cargo.lock;
//! - dense products from `ndarray`/`nalgebra` go through `matrixmultiply`, which picks an
//!   FMA kernel at run time on x86_64 and a plain one elsewhere: here every sum is written out
//!   in one fixed order, with separate multiplies and adds (Rust never fuses them on its own).
//!
//! Square roots, `+ - * /` and `%` are exact IEEE operations everywhere and need nothing here.
//! What does not belong here: any science; callers own their formulas.

/// sin(x), the same bits on every target.
#[inline]
pub fn sin(x: f64) -> f64 {
    libm::sin(x)
}

/// cos(x), the same bits on every target.
#[inline]
pub fn cos(x: f64) -> f64 {
    libm::cos(x)
}

/// (sin(x), cos(x)), the same bits on every target.
#[inline]
pub fn sin_cos(x: f64) -> (f64, f64) {
    libm::sincos(x)
}

/// atan2(y, x) in (−π, π], the same bits on every target.
#[inline]
pub fn atan2(y: f64, x: f64) -> f64 {
    libm::atan2(y, x)
}

/// √(x² + y²) without undue overflow, the same bits on every target.
#[inline]
pub fn hypot(x: f64, y: f64) -> f64 {
    libm::hypot(x, y)
}

/// eˣ, the same bits on every target.
#[inline]
pub fn exp(x: f64) -> f64 {
    libm::exp(x)
}

/// Natural logarithm, the same bits on every target.
#[inline]
pub fn ln(x: f64) -> f64 {
    libm::log(x)
}

/// Argument of a complex number (atan2 of its parts).
#[inline]
pub fn arg(z: rustfft::num_complex::Complex64) -> f64 {
    atan2(z.im, z.re)
}

/// Modulus of a complex number (hypot of its parts).
#[inline]
pub fn abs(z: rustfft::num_complex::Complex64) -> f64 {
    hypot(z.re, z.im)
}

/// Accumulators of [`dot`]: enough independent sums to keep a SIMD unit busy, and a fixed
/// number, so the order of additions does not depend on the target's vector width.
const LANES: usize = 8;

/// Σ a_i b_i over the common length, in a fixed order: lane l sums the products i ≡ l (mod 8)
/// in increasing i, the lanes are added pairwise, then the tail in increasing i.
#[inline]
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; LANES];
    let full = n - n % LANES;
    for (ca, cb) in a[..full]
        .chunks_exact(LANES)
        .zip(b[..full].chunks_exact(LANES))
    {
        for l in 0..LANES {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for i in full..n {
        sum += a[i] * b[i];
    }
    sum
}

/// C = A B for row-major A (m × k) and B (k × n); C is m × n, row-major. Each element is summed
/// over k in increasing order (the row of C is updated by whole rows of B, which vectorises
/// across columns without changing any element's order of additions).
pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    assert!(a.len() >= m * k && b.len() >= k * n, "matmul: shapes");
    let mut c = vec![0.0; m * n];
    for (i, c_row) in c.chunks_exact_mut(n.max(1)).take(m).enumerate() {
        for kk in 0..k {
            let aik = a[i * k + kk];
            for (cv, &bv) in c_row.iter_mut().zip(&b[kk * n..(kk + 1) * n]) {
                *cv += aik * bv;
            }
        }
    }
    c
}

/// C = Aᵀ B for row-major A (k × m) and B (k × n); C is m × n, row-major, summed over k in
/// increasing order like [`matmul`].
pub fn matmul_tn(a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
    assert!(a.len() >= k * m && b.len() >= k * n, "matmul_tn: shapes");
    let mut c = vec![0.0; m * n];
    for kk in 0..k {
        let b_row = &b[kk * n..(kk + 1) * n];
        for i in 0..m {
            let aki = a[kk * m + i];
            for (cv, &bv) in c[i * n..(i + 1) * n].iter_mut().zip(b_row) {
                *cv += aki * bv;
            }
        }
    }
    c
}

/// G = D Dᵀ for row-major D (rows × cols): the Gram matrix of D's rows, row-major rows × rows,
/// each element a [`dot`] of two rows (computed once per pair; G is symmetric by construction).
/// Four rows at a time share the loads of the fourth ([`dots`]); each element keeps [`dot`]'s
/// lanes and order, so the bits do not depend on the blocking, on AVX2 (chosen at run time on
/// x86_64) or on the target.
pub fn gram_of_rows(d: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    assert!(d.len() >= rows * cols, "gram_of_rows: shape");
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for
            return unsafe { gram_of_rows_avx2(d, rows, cols) };
        }
    }
    gram_of_rows_generic(d, rows, cols)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn gram_of_rows_avx2(d: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    gram_of_rows_generic(d, rows, cols)
}

#[inline(always)]
fn gram_of_rows_generic(d: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    const R: usize = 4;
    let row = |i: usize| &d[i * cols..(i + 1) * cols];
    let mut g = vec![0.0; rows * rows];
    let mut i = 0;
    while i + R <= rows {
        let block = [row(i), row(i + 1), row(i + 2), row(i + 3)];
        for j in i..rows {
            let v = dots(block, row(j));
            for (q, &vq) in v.iter().enumerate() {
                if j >= i + q {
                    g[(i + q) * rows + j] = vq;
                    g[j * rows + i + q] = vq;
                }
            }
        }
        i += R;
    }
    for i in i..rows {
        for j in i..rows {
            let v = dots([row(i)], row(j))[0];
            g[i * rows + j] = v;
            g[j * rows + i] = v;
        }
    }
    g
}

/// [`dot`] of each row of row-major `d` (rows × cols) with `b` (length cols), the same bits as
/// `dot(row, b)`: four rows per pass over `b` ([`dots`]), AVX2 chosen at run time on x86_64.
pub fn dots_of_rows(d: &[f64], rows: usize, cols: usize, b: &[f64]) -> Vec<f64> {
    assert!(
        d.len() >= rows * cols && b.len() == cols,
        "dots_of_rows: shapes"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for
            return unsafe { dots_of_rows_avx2(d, rows, cols, b) };
        }
    }
    dots_of_rows_generic(d, rows, cols, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dots_of_rows_avx2(d: &[f64], rows: usize, cols: usize, b: &[f64]) -> Vec<f64> {
    dots_of_rows_generic(d, rows, cols, b)
}

#[inline(always)]
fn dots_of_rows_generic(d: &[f64], rows: usize, cols: usize, b: &[f64]) -> Vec<f64> {
    const R: usize = 4;
    let row = |i: usize| &d[i * cols..(i + 1) * cols];
    let mut out = Vec::with_capacity(rows);
    let mut i = 0;
    while i + R <= rows {
        out.extend(dots([row(i), row(i + 1), row(i + 2), row(i + 3)], b));
        i += R;
    }
    for i in i..rows {
        out.push(dots([row(i)], b)[0]);
    }
    out
}

/// y_i += a x_i over the common length, a multiply then an add per element (each element on
/// its own, so the bits do not depend on the vector width); AVX2 chosen at run time on x86_64.
pub fn axpy(y: &mut [f64], a: f64, x: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for
            return unsafe { axpy_avx2(y, a, x) };
        }
    }
    axpy_generic(y, a, x)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn axpy_avx2(y: &mut [f64], a: f64, x: &[f64]) {
    axpy_generic(y, a, x)
}

#[inline(always)]
fn axpy_generic(y: &mut [f64], a: f64, x: &[f64]) {
    for (yv, &xv) in y.iter_mut().zip(x) {
        *yv += a * xv;
    }
}

/// [`dot`] of each of `a` with `b` (all of b's length), in one pass over `b`: lane by lane the
/// same products and sums in the same order as [`dot`].
#[inline(always)]
fn dots<const R: usize>(a: [&[f64]; R], b: &[f64]) -> [f64; R] {
    let n = b.len();
    let a = a.map(|a| &a[..n]);
    let full = n - n % LANES;
    let mut acc = [[0.0f64; LANES]; R];
    for c in (0..full).step_by(LANES) {
        let cb: &[f64; LANES] = b[c..c + LANES].try_into().expect("LANES values");
        for (acc, a) in acc.iter_mut().zip(&a) {
            let ca: &[f64; LANES] = a[c..c + LANES].try_into().expect("LANES values");
            for l in 0..LANES {
                acc[l] += ca[l] * cb[l];
            }
        }
    }
    let mut out = [0.0; R];
    for ((o, acc), a) in out.iter_mut().zip(&acc).zip(&a) {
        let mut sum =
            ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for i in full..n {
            sum += a[i] * b[i];
        }
        *o = sum;
    }
    out
}

/// J C Jᵀ for row-major J (m × n) and C (n × n): how a covariance C transforms under the
/// Jacobian J. Row-major m × m.
pub fn sandwich(j: &[f64], c: &[f64], m: usize, n: usize) -> Vec<f64> {
    let jc = matmul(j, c, m, n, n);
    let mut out = vec![0.0; m * m];
    for r in 0..m {
        for s in 0..m {
            out[r * m + s] = dot(&jc[r * n..(r + 1) * n], &j[s * n..(s + 1) * n]);
        }
    }
    out
}

/// gᵀ C g for a vector g (length n) and row-major C (n × n).
pub fn quadratic_form(g: &[f64], c: &[f64]) -> f64 {
    let n = g.len();
    let mut sum = 0.0;
    for (r, &gr) in g.iter().enumerate() {
        if gr != 0.0 {
            sum += gr * dot(&c[r * n..(r + 1) * n], g);
        }
    }
    sum
}

/// A small deterministic random generator (xorshift64*), with normal deviates: the same
/// sequence on every target (the centroid's noise copies and the simulator use it).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * ln(u)).sqrt() * cos(2.0 * std::f64::consts::PI * v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|t| a[i * k + t] * b[t * n + j]).sum();
            }
        }
        c
    }

    /// The blocked, dispatched kernels give [`dot`]'s bits and a plain loop's (closed form:
    /// the same operations in the same order).
    #[test]
    fn dots_of_rows_and_axpy_give_the_plain_bits() {
        let (rows, cols) = (7, 45);
        let d: Vec<f64> = (0..rows * cols).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..cols).map(|i| (i as f64 * 0.11).cos()).collect();
        let got = dots_of_rows(&d, rows, cols, &b);
        for (r, g) in got.iter().enumerate() {
            assert_eq!(g.to_bits(), dot(&d[r * cols..(r + 1) * cols], &b).to_bits());
        }
        let mut y: Vec<f64> = b.iter().map(|v| v * 3.0).collect();
        let mut plain = y.clone();
        axpy(&mut y, 0.3, &d[..cols]);
        for (p, &x) in plain.iter_mut().zip(&d[..cols]) {
            *p += 0.3 * x;
        }
        assert_eq!(y, plain);
    }

    #[test]
    fn matmul_sums_each_element_in_increasing_k_like_a_plain_loop() {
        let (m, k, n) = (5, 13, 7);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        // the same order of additions as the naive loop, so bit-identical
        assert_eq!(matmul(&a, &b, m, k, n), naive(&a, &b, m, k, n));
        let mut at = vec![0.0; k * m];
        for i in 0..m {
            for t in 0..k {
                at[t * m + i] = a[i * k + t];
            }
        }
        assert_eq!(matmul_tn(&at, &b, k, m, n), naive(&a, &b, m, k, n));
    }

    #[test]
    fn dot_of_integers_is_exact_for_every_tail_length() {
        for n in 0..40 {
            let a: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let b: Vec<f64> = (0..n).map(|i| (2 * i + 1) as f64).collect();
            let expected: i64 = (0..n as i64).map(|i| i * (2 * i + 1)).sum();
            assert_eq!(dot(&a, &b), expected as f64, "n = {n}");
        }
    }

    #[test]
    fn gram_is_dot_of_each_pair_bit_for_bit_on_every_path() {
        for (rows, cols) in [(9, 37), (8, 16), (3, 5), (44, 101)] {
            let d: Vec<f64> = (0..rows * cols).map(|i| (i as f64 * 0.731).sin()).collect();
            let expect: Vec<f64> = (0..rows * rows)
                .map(|ij| {
                    let (i, j) = (ij / rows, ij % rows);
                    let (lo, hi) = (i.min(j), i.max(j));
                    dot(
                        &d[lo * cols..(lo + 1) * cols],
                        &d[hi * cols..(hi + 1) * cols],
                    )
                })
                .collect();
            assert_eq!(gram_of_rows(&d, rows, cols), expect, "{rows} x {cols}");
            assert_eq!(gram_of_rows_generic(&d, rows, cols), expect);
        }
    }

    #[test]
    fn gram_sandwich_and_quadratic_form_agree_with_their_definitions() {
        let (rows, cols) = (4, 11);
        let d: Vec<f64> = (0..rows * cols).map(|i| (i as f64 * 0.7).cos()).collect();
        let mut dt = vec![0.0; cols * rows];
        for r in 0..rows {
            for c in 0..cols {
                dt[c * rows + r] = d[r * cols + c];
            }
        }
        let g = gram_of_rows(&d, rows, cols);
        let expected = naive(&d, &dt, rows, cols, rows);
        for (x, y) in g.iter().zip(&expected) {
            assert!((x - y).abs() < 1e-13);
        }
        // J = identity rows 0 and 2 of a 4x4: J G Jᵀ picks G's (0,2) block
        let mut j = vec![0.0; 2 * rows];
        j[0] = 1.0;
        j[rows + 2] = 1.0;
        let s = sandwich(&j, &g, 2, rows);
        assert_eq!(s, vec![g[0], g[2], g[2 * rows], g[2 * rows + 2]]);
        let v = [1.0, 0.0, -2.0, 0.5];
        let direct: f64 = (0..rows)
            .flat_map(|r| (0..rows).map(move |c| (r, c)))
            .map(|(r, c)| v[r] * g[r * rows + c] * v[c])
            .sum();
        assert!((quadratic_form(&v, &g) - direct).abs() < 1e-12);
    }

    #[test]
    fn functions_match_std_to_an_ulp_or_two() {
        for i in -50..50 {
            let x = i as f64 * 0.731;
            assert!((sin(x) - x.sin()).abs() <= 4.0 * f64::EPSILON);
            assert!((cos(x) - x.cos()).abs() <= 4.0 * f64::EPSILON);
            assert_eq!(sin_cos(x), (sin(x), cos(x)));
            assert!((atan2(x, 1.3) - x.atan2(1.3)).abs() <= 4.0 * f64::EPSILON);
            assert!((hypot(x, 2.0) - x.hypot(2.0)).abs() <= 4.0 * f64::EPSILON * x.abs().max(2.0));
            assert!((exp(x / 10.0) - (x / 10.0).exp()).abs() <= 4.0 * f64::EPSILON * exp(x / 10.0));
        }
        assert_eq!(ln(1.0), 0.0);
    }
}
