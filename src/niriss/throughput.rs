//! Built-in filter throughput curves for when no THROUGHPUT reference file is given.
//! Provenance: these are synthetic, not measured curves: a flat top between each filter's
//! published half-power wavelengths (`niriss::filters`, from the jwst bad-pixel code constants)
//! with raised-cosine edges 2 % of the pivot wide, sampled every 2 Angstrom. They give the right
//! centre wavelength and bandwidth to about 1 %; for science, pass the CRDS THROUGHPUT file.

use super::filters::filter_by_name;
use crate::error::{Error, Result};
use crate::portable;
use std::f64::consts::PI;

/// (wavelength in Angstrom, throughput) of the built-in curve of an AMI filter.
pub fn builtin_throughput(filter: &str) -> Result<(Vec<f32>, Vec<f32>)> {
    let f = filter_by_name(filter).map_err(|_| {
        Error::new(
            "FILTER keyword",
            format!("no built-in throughput for filter '{filter}'; give a THROUGHPUT file"),
        )
    })?;
    let (lo, hi) = (f.half_power_um.0 * 1e4, f.half_power_um.1 * 1e4);
    let edge = 0.02 * f.pivot_um * 1e4;
    let (start, stop) = (lo - edge, hi + edge);
    let count = ((stop - start) / 2.0).ceil() as usize + 1;
    let mut wl = Vec::with_capacity(count);
    let mut th = Vec::with_capacity(count);
    for i in 0..count {
        let w = start + 2.0 * i as f64;
        // 0.5 at the half-power points, rising over `edge` on each side
        let ramp = |d: f64| {
            let t = (d / edge).clamp(-0.5, 0.5);
            0.5 + 0.5 * portable::sin(PI * t)
        };
        let v = ramp(w - lo).min(ramp(hi - w));
        wl.push(w as f32);
        th.push(v as f32);
    }
    Ok((wl, th))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_is_half_at_the_half_power_points() {
        let (wl, th) = builtin_throughput("F480M").unwrap();
        let at = |w: f32| {
            let i = wl.iter().position(|&x| x >= w).unwrap();
            th[i]
        };
        assert!((at(46690.0) - 0.5).abs() < 0.02);
        assert!((at(49710.0) - 0.5).abs() < 0.02);
        assert!((at(48170.0) - 1.0).abs() < 1e-6);
        assert!(builtin_throughput("F999X").is_err());
    }
}
