//! Built-in filter throughput curves, used when no THROUGHPUT reference file is given: the real
//! NIRISS curves of F277W, F380M, F430M and F480M.
//!
//! Provenance: `curves/f*.txt` are verbatim rows of `mirage/config/f*_niriss_throughput1.txt`
//! from the PyPI package mirage 2.5.0 (STScI's JWST simulator; BSD-3-Clause, copyright AURA,
//! `curves/LICENSE-mirage.txt`): whole-system curves sampled every 1 nm. Each file keeps only
//! the rows where the throughput exceeds 1 %, plus one row on each side: jwst builds the bandpass
//! from exactly that span (upstream.md §5.6, `analyze::bandpass`), so the rest of the curve
//! cannot change it. The values are read as the CRDS-layout THROUGHPUT files hold them (float32
//! of the decimal text, wavelength in Angstrom), so the bandpass equals the one from a THROUGHPUT
//! file made from the same curve, bit for bit (tests/builtin_curves.rs). This module only turns
//! the text into numbers; it reads no files at run time.

use super::filters::filter_by_name;
use crate::error::{Error, Kind, Result};

/// The curve files, by filter name.
const CURVES: [(&str, &str); 4] = [
    ("F277W", include_str!("curves/f277w.txt")),
    ("F380M", include_str!("curves/f380m.txt")),
    ("F430M", include_str!("curves/f430m.txt")),
    ("F480M", include_str!("curves/f480m.txt")),
];

/// Where the built-in curves come from, for messages and product headers.
pub const BUILTIN_CURVE_SOURCE: &str = "NIRISS throughput of mirage 2.5.0, BSD-3-Clause";

/// (wavelength in Angstrom, throughput) of the built-in curve of an AMI filter.
pub fn builtin_throughput(filter: &str) -> Result<(Vec<f32>, Vec<f32>)> {
    let no_curve = || {
        Error::unnamed(
            Kind::BadReference,
            format!("no built-in throughput for filter '{filter}'; give a THROUGHPUT file"),
        )
    };
    let name = filter_by_name(filter).map_err(|_| no_curve())?.name;
    let text = CURVES
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(no_curve)?
        .1;
    Ok(parse_curve(text))
}

/// Rows `wavelength_um throughput` (lines starting with `#` are comments). As the THROUGHPUT
/// files are made (numpy: float64 of the text, Angstrom = µm × 1e4, then float32), so that the
/// float32 values are the same.
fn parse_curve(text: &str) -> (Vec<f32>, Vec<f32>) {
    let mut wavelength_angstrom = Vec::new();
    let mut throughput = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let mut cols = line.split_whitespace().map(|v| {
            v.parse::<f64>()
                .expect("the built-in curve tables are numbers (tested)")
        });
        if let (Some(um), Some(t)) = (cols.next(), cols.next()) {
            wavelength_angstrom.push((um * 1e4) as f32);
            throughput.push(t as f32);
        }
    }
    (wavelength_angstrom, throughput)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ami_filter_has_a_curve_that_peaks_inside_its_half_power_points() {
        for f in ["F277W", "F380M", "F430M", "F480M"] {
            let (wl, th) = builtin_throughput(f).unwrap();
            assert_eq!(wl.len(), th.len());
            assert!(wl.windows(2).all(|w| w[1] > w[0]), "{f}: increasing");
            let peak = (0..th.len())
                .max_by(|&a, &b| th[a].total_cmp(&th[b]))
                .unwrap();
            let (lo, hi) = filter_by_name(f).unwrap().half_power_um;
            let peak_um = wl[peak] as f64 / 1e4;
            assert!(lo < peak_um && peak_um < hi, "{f}: peak at {peak_um} µm");
            // one row at or below 1 % on each side, all above 1 % within
            assert!(th[0] <= 0.01 && th[th.len() - 1] <= 0.01, "{f}: ends");
            assert!(th[1] > 0.01 && th[th.len() - 2] > 0.01, "{f}: span");
        }
    }

    #[test]
    fn unknown_and_non_ami_filters_have_no_curve() {
        for f in ["F999X", "F444W", "CLEAR"] {
            let e = builtin_throughput(f).unwrap_err();
            assert!(e.problem.contains("give a THROUGHPUT file"), "{e}");
        }
        assert!(builtin_throughput("f480m").is_ok(), "names are case-blind");
    }
}
