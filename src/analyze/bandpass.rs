//! The polychromatic bandpass of the model (upstream.md §5.6): 19 (weight, wavelength) samples
//! from a filter throughput curve times a flat photon spectrum, and the scalars derived from any
//! bandpass (centre wavelength, equivalent width). Reproduces jwst 3.0.0 / synphot, including
//! its float32 wavelength grid, its trim that drops the last sample above 1 %, and synphot's
//! box sampling (a 0.01 Angstrom grid with one point outside each edge).

use crate::error::{Error, Kind, Result};
use crate::niriss::filters::BandpassSample;

/// Number of wavelength bins of the default bandpass.
pub const N_BINS: usize = 19;
/// Samples with throughput at or below this fraction are trimmed from the ends.
const TRIM_THROUGHPUT: f64 = 0.01;
/// The most rows a throughput table may have (CRDS files have a few thousand).
const MAX_THROUGHPUT_ROWS: usize = 1_000_000;
/// Wavelengths NIRISS sees, Angstrom.
const NIRISS_ANGSTROM: (f32, f32) = (5_000.0, 60_000.0);
/// synphot's box sampling step, Angstrom.
const BOX_STEP_ANGSTROM: f64 = 0.01;

/// numpy's float32 `linspace(start, stop, num)`.
fn linspace_f32(start: f32, stop: f32, num: usize) -> Vec<f32> {
    let step = (stop - start) / (num - 1) as f32;
    let mut out: Vec<f32> = (0..num).map(|i| i as f32 * step + start).collect();
    out[num - 1] = stop;
    out
}

/// Default bandpass from a throughput table (wavelength in Angstrom, throughput), as jwst
/// builds it for a flat photon spectrum. The table's values are float32 in THROUGHPUT files.
pub fn from_throughput(
    wavelength_angstrom: &[f32],
    throughput: &[f32],
) -> Result<Vec<BandpassSample>> {
    if wavelength_angstrom.len() != throughput.len() || wavelength_angstrom.len() < 3 {
        return Err(Error::unnamed(
            Kind::BadReference,
            "throughput table needs at least 3 (wavelength, throughput) rows",
        ));
    }
    if wavelength_angstrom
        .windows(2)
        .any(|w| w[1] <= w[0] || w[1].is_nan())
    {
        return Err(Error::unnamed(
            Kind::BadReference,
            "throughput wavelengths must be strictly increasing",
        ));
    }
    if wavelength_angstrom.len() > MAX_THROUGHPUT_ROWS {
        return Err(Error::unnamed(
            Kind::BadReference,
            format!(
                "throughput table has {} rows: at most {MAX_THROUGHPUT_ROWS}",
                wavelength_angstrom.len()
            ),
        ));
    }
    let xs: Vec<f64> = wavelength_angstrom.iter().map(|&v| v as f64).collect();
    let ys: Vec<f64> = throughput.iter().map(|&v| (v as f64).max(0.0)).collect();
    let above: Vec<usize> = (0..ys.len()).filter(|&i| ys[i] > TRIM_THROUGHPUT).collect();
    if above.len() < 2 {
        return Err(Error::unnamed(
            Kind::BadReference,
            "throughput never exceeds 1 %: not a filter curve",
        ));
    }
    // upstream keeps [first, last) of the samples above the trim level
    let (lo, hi) = (above[0], above[above.len() - 1]);
    let kept = &wavelength_angstrom[lo..hi];
    let wmin = kept.iter().copied().fold(f32::INFINITY, f32::min);
    let wmax = kept.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // synphot's 0.01 Å sampling makes the work (and memory) grow with the span: a curve outside
    // NIRISS's wavelengths is in the wrong unit (µm or m), or not a NIRISS filter
    if !(wmin >= NIRISS_ANGSTROM.0 && wmax <= NIRISS_ANGSTROM.1) {
        return Err(Error::unnamed(
            Kind::BadReference,
            format!(
                "throughput above 1 % from {wmin} to {wmax}: NIRISS sees {}–{} Å, so the \
                 wavelength column is not in Angstrom (µm or m?) or not a NIRISS filter",
                NIRISS_ANGSTROM.0, NIRISS_ANGSTROM.1
            ),
        ));
    }
    let edges = linspace_f32(wmin, wmax, N_BINS + 1);
    let width = edges[1] - edges[0];
    let mut weights = Vec::with_capacity(N_BINS);
    let mut centres = Vec::with_capacity(N_BINS);
    for k in 0..N_BINS {
        let centre = (edges[k] + edges[k + 1]) / 2.0;
        centres.push(centre);
        weights.push(box_integral(centre as f64, width as f64, &xs, &ys));
    }
    let total: f64 = weights.iter().sum();
    if total.is_nan() || total <= 0.0 {
        return Err(Error::unnamed(
            Kind::BadReference,
            "throughput integrates to zero",
        ));
    }
    Ok(weights
        .iter()
        .zip(&centres)
        .map(|(&w, &c)| BandpassSample {
            weight: w / total,
            wavelength_m: (c * 1e-10f32) as f64,
        })
        .collect())
}

/// Trapezoid integral of box(centre, width) x T on synphot's merged sample grid.
fn box_integral(centre: f64, width: f64, xs: &[f64], ys: &[f64]) -> f64 {
    let w1 = centre - width / 2.0;
    let w2 = centre + width / 2.0;
    let start = w1 - BOX_STEP_ANGSTROM;
    let stop = w2 + 2.0 * BOX_STEP_ANGSTROM;
    let count = ((stop - start) / BOX_STEP_ANGSTROM).ceil() as usize;
    let step = |i: usize| start + i as f64 * BOX_STEP_ANGSTROM;
    let (gmin, gmax) = (step(0), step(count - 1));
    // synphot's merged grid: the regular grid and the table's wavelengths within it, sorted, with
    // points within 1e-12 Å of the last one kept dropped. Both lists are sorted already (the
    // regular grid is monotonic, the table strictly increasing), so they are merged as they are
    // walked: the same points in the same order as sorting their concatenation, no allocation.
    let table = xs.iter().copied().filter(|&x| x >= gmin && x <= gmax);
    let mut merged = Merge {
        regular: (0..count).map(step).peekable(),
        table: table.peekable(),
    };
    // the grid is sorted: walk the table alongside it instead of searching it per point
    let mut k = 0;
    let mut f = |x: f64| {
        if x < w1 || x > w2 || x < xs[0] || x > xs[xs.len() - 1] {
            return 0.0;
        }
        while k + 1 < xs.len() && xs[k + 1] <= x {
            k += 1;
        }
        if k + 1 >= xs.len() || xs[k] == x {
            return ys[k];
        }
        ys[k] + (ys[k + 1] - ys[k]) * (x - xs[k]) / (xs[k + 1] - xs[k])
    };
    let first = merged.next().expect("the regular grid has points");
    let mut sum = 0.0;
    let mut prev = (first, f(first));
    for x in merged {
        if (x - prev.0).abs() < 1e-12 {
            continue;
        }
        let v = f(x);
        sum += 0.5 * (v + prev.1) * (x - prev.0);
        prev = (x, v);
    }
    sum
}

/// The merge of two ascending sequences (ties: the regular grid's point first; tied points
/// are equal, so the order does not show).
struct Merge<A: Iterator<Item = f64>, B: Iterator<Item = f64>> {
    regular: std::iter::Peekable<A>,
    table: std::iter::Peekable<B>,
}

impl<A: Iterator<Item = f64>, B: Iterator<Item = f64>> Iterator for Merge<A, B> {
    type Item = f64;
    fn next(&mut self) -> Option<f64> {
        match (self.regular.peek(), self.table.peek()) {
            (Some(&a), Some(&b)) if b < a => self.table.next(),
            (Some(_), _) => self.regular.next(),
            (None, _) => self.table.next(),
        }
    }
}

/// Composite Simpson integral of y(x) as scipy.integrate.simpson computes it (uneven spacing;
/// for an even number of samples, Cartwright's correction of the last interval).
pub fn simpson(y: &[f64], x: &[f64]) -> f64 {
    let n = y.len();
    if n < 2 {
        return 0.0;
    }
    if n == 2 {
        return 0.5 * (y[0] + y[1]) * (x[1] - x[0]);
    }
    let odd_part = |m: usize| {
        // m samples, m odd: pairs of intervals
        let mut s = 0.0;
        let mut i = 0;
        while i + 2 < m {
            let h0 = x[i + 1] - x[i];
            let h1 = x[i + 2] - x[i + 1];
            let hsum = h0 + h1;
            s += hsum / 6.0
                * (y[i] * (2.0 - h1 / h0)
                    + y[i + 1] * hsum * hsum / (h0 * h1)
                    + y[i + 2] * (2.0 - h0 / h1));
            i += 2;
        }
        s
    };
    if n % 2 == 1 {
        return odd_part(n);
    }
    let mut s = odd_part(n - 1);
    let h0 = x[n - 2] - x[n - 3];
    let h1 = x[n - 1] - x[n - 2];
    let alpha = (2.0 * h1 * h1 + 3.0 * h0 * h1) / (6.0 * (h0 + h1));
    let beta = (h1 * h1 + 3.0 * h0 * h1) / (6.0 * h0);
    let eta = h1 * h1 * h1 / (6.0 * h0 * (h0 + h1));
    s += alpha * y[n - 1] + beta * y[n - 2] - eta * y[n - 3];
    s
}

/// Weighted centre wavelength and fractional bandwidth (equivalent width / centre) of a
/// bandpass (upstream.md §5.6): EFF_WAVE = centre, EFF_BAND = centre * fraction.
pub fn centre_and_fraction(bandpass: &[BandpassSample]) -> (f64, f64) {
    let wsum: f64 = bandpass.iter().map(|b| b.weight).sum();
    let centre = bandpass
        .iter()
        .map(|b| b.weight * b.wavelength_m)
        .sum::<f64>()
        / wsum;
    let w: Vec<f64> = bandpass.iter().map(|b| b.weight).collect();
    let l: Vec<f64> = bandpass.iter().map(|b| b.wavelength_m).collect();
    let wmax = w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let equivalent_width = if bandpass.len() > 1 {
        simpson(&w, &l) / wmax
    } else {
        0.0
    };
    (centre, equivalent_width / centre)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simpson_is_exact_for_cubics_on_odd_and_even_uneven_grids() {
        for n in [7usize, 8] {
            let x: Vec<f64> = (0..n).map(|i| i as f64 + 0.1 * (i as f64).sin()).collect();
            let y: Vec<f64> = x.iter().map(|v| v * v - 2.0 * v + 3.0).collect();
            let (a, b) = (x[0], x[n - 1]);
            let exact = |t: f64| t * t * t / 3.0 - t * t + 3.0 * t;
            assert!(
                (simpson(&y, &x) - (exact(b) - exact(a))).abs() < 1e-10,
                "n={n}"
            );
        }
    }

    #[test]
    fn flat_top_hat_gives_equal_weights_and_its_width() {
        let wl: Vec<f32> = (0..401).map(|i| 40000.0 + 25.0 * i as f32).collect();
        let th: Vec<f32> = wl
            .iter()
            .map(|&w| {
                if (42000.0..=48000.0).contains(&w) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let bp = from_throughput(&wl, &th).unwrap();
        assert_eq!(bp.len(), N_BINS);
        for b in &bp[1..N_BINS - 1] {
            assert!(
                (b.weight - 1.0 / N_BINS as f64).abs() < 2e-3,
                "{}",
                b.weight
            );
        }
        let (centre, frac) = centre_and_fraction(&bp);
        assert!((centre - 4.49875e-6).abs() < 2e-9, "{centre}");
        assert!(frac > 0.1 && frac < 0.14, "{frac}");
    }
}
