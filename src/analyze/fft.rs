//! Fast Fourier transforms whose every bit is the same on every target (ami3.md §6: the page's
//! products must equal `ami3 run`'s byte for byte). rustfft computes its twiddle factors with
//! `std`'s sin and cos, that is with the platform's libm: glibc natively, another libm in wasm,
//! and the two disagree in the last bit for about 3 % of twiddles (measured on glibc: 523 179
//! of the 16.8 M sin and cos values rustfft would compute for lengths up to 4096). Here the
//! twiddles come from [`crate::portable`], and the transform is a mixed-radix Cooley–Tukey
//! (decimation in time, smallest prime factor first, a direct DFT for each prime), written out
//! with plain multiplies and adds. Unnormalised in both directions, like rustfft.
//! It does not try to be rustfft: no SIMD, no real-input special case, and no algorithms for
//! large primes (sizes here are image sides, a few hundred at most).

use crate::portable;
use rustfft::num_complex::Complex64;
use std::f64::consts::PI;

/// Forward (e^{−2πi jk/n}) or inverse (e^{+2πi jk/n}) transform.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Inverse,
}

/// A planned transform of one length and direction.
#[derive(Debug, Clone)]
pub struct Fft {
    n: usize,
    /// Prime factors of n, smallest first (the radix of each level of the recursion).
    factors: Vec<usize>,
    /// e^{∓2πi k/n}, k = 0..n.
    twiddles: Vec<Complex64>,
}

impl Fft {
    /// Plans a transform of length `n` (n ≥ 1).
    pub fn new(n: usize, direction: Direction) -> Self {
        assert!(n >= 1, "FFT length must be at least 1");
        let sign = match direction {
            Direction::Forward => -1.0,
            Direction::Inverse => 1.0,
        };
        let twiddles = (0..n)
            .map(|k| {
                let (s, c) = portable::sin_cos(2.0 * PI * k as f64 / n as f64);
                Complex64::new(c, sign * s)
            })
            .collect();
        Fft {
            n,
            factors: prime_factors(n),
            twiddles,
        }
    }

    /// Length of the transform.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: a transform has at least one point.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Scratch length [`Self::process_with_scratch`] needs.
    pub fn scratch_len(&self) -> usize {
        self.n
    }

    /// Transforms, in place, each consecutive chunk of `len()` values of `buffer`.
    ///
    /// # Panics
    /// If `buffer` is not a whole number of chunks or `scratch` is shorter than `scratch_len()`.
    pub fn process_with_scratch(&self, buffer: &mut [Complex64], scratch: &mut [Complex64]) {
        let n = self.n;
        assert!(
            buffer.len().is_multiple_of(n),
            "FFT buffer is not a multiple of its length"
        );
        let input = &mut scratch[..n];
        for chunk in buffer.chunks_exact_mut(n) {
            input.copy_from_slice(chunk);
            self.transform(input, 1, chunk, 0, 1);
        }
    }

    /// Like [`Self::process_with_scratch`], with its own scratch.
    pub fn process(&self, buffer: &mut [Complex64]) {
        let mut scratch = vec![Complex64::new(0.0, 0.0); self.n];
        self.process_with_scratch(buffer, &mut scratch);
    }

    /// DFT of `input[0], input[stride], …` (out.len() values) into `out`. `level` indexes
    /// `factors`; `step` = n / out.len() turns a twiddle of this length into one of length n.
    fn transform(
        &self,
        input: &[Complex64],
        stride: usize,
        out: &mut [Complex64],
        level: usize,
        step: usize,
    ) {
        let len = out.len();
        if len == 1 {
            out[0] = input[0];
            return;
        }
        let p = self.factors[level];
        let m = len / p;
        // p interleaved sub-sequences x[q], x[q + p], ... each transformed into out[q m .. (q+1) m]
        for q in 0..p {
            self.transform(
                &input[q * stride..],
                stride * p,
                &mut out[q * m..(q + 1) * m],
                level + 1,
                step * p,
            );
        }
        // X[k + s m] = Σ_q W_len^{q k} Y_q[k] · W_p^{q s}
        let mut t = [Complex64::new(0.0, 0.0); MAX_DIRECT_RADIX];
        let mut t_heap = Vec::new();
        let t: &mut [Complex64] = if p <= MAX_DIRECT_RADIX {
            &mut t[..p]
        } else {
            t_heap.resize(p, Complex64::new(0.0, 0.0));
            &mut t_heap
        };
        let n = self.n;
        let radix_step = n / p;
        for k in 0..m {
            for (q, tq) in t.iter_mut().enumerate() {
                let y = out[q * m + k];
                *tq = if q == 0 || k == 0 {
                    y
                } else {
                    mul(y, self.twiddles[(q * k * step) % n])
                };
            }
            for s in 0..p {
                let mut acc = t[0];
                for (q, &tq) in t.iter().enumerate().skip(1) {
                    let w = self.twiddles[((q * s) % p) * radix_step];
                    acc = add(acc, mul(tq, w));
                }
                out[k + s * m] = acc;
            }
        }
    }
}

/// Radices up to this use a buffer on the stack.
const MAX_DIRECT_RADIX: usize = 16;

/// (a + bi)(c + di) with separate multiplies and adds.
#[inline(always)]
fn mul(x: Complex64, y: Complex64) -> Complex64 {
    Complex64::new(x.re * y.re - x.im * y.im, x.re * y.im + x.im * y.re)
}

#[inline(always)]
fn add(x: Complex64, y: Complex64) -> Complex64 {
    Complex64::new(x.re + y.re, x.im + y.im)
}

/// Prime factors of n in increasing order (empty for 1).
fn prime_factors(mut n: usize) -> Vec<usize> {
    let mut factors = Vec::new();
    let mut p = 2;
    while p * p <= n {
        while n.is_multiple_of(p) {
            factors.push(p);
            n /= p;
        }
        p += 1;
    }
    if n > 1 {
        factors.push(n);
    }
    factors
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustfft::FftPlanner;

    fn signal(n: usize) -> Vec<Complex64> {
        (0..n)
            .map(|k| {
                Complex64::new(
                    (k as f64 * 0.37).sin() + 0.1 * k as f64,
                    (k as f64 * 1.3).cos(),
                )
            })
            .collect()
    }

    fn naive_dft(x: &[Complex64], sign: f64) -> Vec<Complex64> {
        let n = x.len();
        (0..n)
            .map(|k| {
                x.iter()
                    .enumerate()
                    .fold(Complex64::new(0.0, 0.0), |acc, (j, &v)| {
                        let a = sign * 2.0 * PI * ((j * k) % n) as f64 / n as f64;
                        acc + v * Complex64::new(a.cos(), a.sin())
                    })
            })
            .collect()
    }

    #[test]
    fn prime_factors_multiply_back_in_increasing_order() {
        assert_eq!(prime_factors(1), Vec::<usize>::new());
        assert_eq!(prime_factors(70), vec![2, 5, 7]);
        assert_eq!(prime_factors(71), vec![71]);
        assert_eq!(prime_factors(256), vec![2; 8]);
        assert_eq!(prime_factors(2 * 3 * 3 * 97), vec![2, 3, 3, 97]);
    }

    #[test]
    fn matches_the_direct_dft_and_rustfft_for_many_lengths_both_ways() {
        let mut planner = FftPlanner::<f64>::new();
        for n in (1..=80).chain([97, 128, 140, 142, 210, 256]) {
            let x = signal(n);
            for (direction, sign) in [(Direction::Forward, -1.0), (Direction::Inverse, 1.0)] {
                let mut ours = x.clone();
                Fft::new(n, direction).process(&mut ours);
                let direct = naive_dft(&x, sign);
                let mut theirs = x.clone();
                match direction {
                    Direction::Forward => planner.plan_fft_forward(n).process(&mut theirs),
                    Direction::Inverse => planner.plan_fft_inverse(n).process(&mut theirs),
                }
                let scale = n as f64;
                for k in 0..n {
                    assert!(
                        (ours[k] - direct[k]).norm() < 1e-11 * scale,
                        "n {n} k {k} vs direct"
                    );
                    assert!(
                        (ours[k] - theirs[k]).norm() < 1e-11 * scale,
                        "n {n} k {k} vs rustfft"
                    );
                }
            }
        }
    }

    #[test]
    fn forward_then_inverse_gives_n_times_the_input_for_chunked_buffers() {
        let n = 70;
        let x: Vec<Complex64> = signal(3 * n);
        let mut y = x.clone();
        let mut scratch = vec![Complex64::new(0.0, 0.0); n];
        Fft::new(n, Direction::Forward).process_with_scratch(&mut y, &mut scratch);
        Fft::new(n, Direction::Inverse).process_with_scratch(&mut y, &mut scratch);
        for (a, b) in x.iter().zip(&y) {
            assert!((a * n as f64 - b).norm() < 1e-10);
        }
    }
}
