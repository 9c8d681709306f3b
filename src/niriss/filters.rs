//! NIRISS filters known to the AMI pipeline: pivot and half-power wavelengths as the Fourier
//! bad-pixel correction uses them (upstream.md §2.4, §5.5). This is a small constant table and a
//! lookup by name; it does not model transmission curves (those come from the THROUGHPUT
//! reference file) and reads no files.

use crate::error::{Error, Kind, Result};

/// One filter's wavelengths, in micrometres.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Filter {
    /// Name as written in the FILTER keyword, e.g. "F480M".
    pub name: &'static str,
    /// Pivot wavelength (µm).
    pub pivot_um: f64,
    /// Lower and upper half-power wavelengths (µm).
    pub half_power_um: (f64, f64),
    /// True for the four filters AMI is offered with; F356W and F444W are known to the
    /// bad-pixel code only (upstream.md §2.4).
    pub ami_supported: bool,
}

impl Filter {
    /// Pivot wavelength in metres.
    pub fn pivot_m(&self) -> f64 {
        um_to_m(self.pivot_um)
    }

    /// Half-power wavelengths in metres.
    pub fn half_power_m(&self) -> (f64, f64) {
        (um_to_m(self.half_power_um.0), um_to_m(self.half_power_um.1))
    }
}

/// One sample of a bandpass: relative weight and wavelength in metres (the model sums its
/// monochromatic images over these; `analyze::bandpass` builds them from a throughput curve).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BandpassSample {
    pub weight: f64,
    pub wavelength_m: f64,
}

/// Micrometres to metres, giving the double nearest to the decimal value in metres (what jwst's
/// literals such as `4.286e-6` are). Scaling by 1e-6 or dividing by 1e6 is off by one ulp for
/// several table entries; the shortest decimal form of the µm value re-read with an exponent is
/// exact for these short literals.
fn um_to_m(um: f64) -> f64 {
    format!("{um}e-6")
        .parse()
        .expect("a formatted f64 with an exponent parses")
}

/// The filter table (upstream.md §2.4), AMI filters first.
// 3.142 and 3.141 µm are wavelengths that merely look like π to clippy.
#[allow(clippy::approx_constant)]
pub const FILTERS: [Filter; 6] = [
    Filter {
        name: "F277W",
        pivot_um: 2.776,
        half_power_um: (2.413, 3.142),
        ami_supported: true,
    },
    Filter {
        name: "F380M",
        pivot_um: 3.828,
        half_power_um: (3.726, 3.931),
        ami_supported: true,
    },
    Filter {
        name: "F430M",
        pivot_um: 4.286,
        half_power_um: (4.182, 4.395),
        ami_supported: true,
    },
    Filter {
        name: "F480M",
        pivot_um: 4.817,
        half_power_um: (4.669, 4.971),
        ami_supported: true,
    },
    Filter {
        name: "F356W",
        pivot_um: 3.595,
        half_power_um: (3.141, 4.068),
        ami_supported: false,
    },
    Filter {
        name: "F444W",
        pivot_um: 4.435,
        half_power_um: (3.880, 5.023),
        ami_supported: false,
    },
];

/// Looks a filter up by its FILTER keyword value (case-insensitive, surrounding blanks ignored,
/// since FITS string values are often padded).
pub fn filter_by_name(name: &str) -> Result<&'static Filter> {
    let wanted = name.trim();
    FILTERS
        .iter()
        .find(|f| f.name.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| {
            let known: Vec<&str> = FILTERS.iter().map(|f| f.name).collect();
            Error::unnamed(
                Kind::NotAmiExposure,
                format!("unknown filter '{wanted}' (known: {})", known.join(", ")),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_filter_and_ignores_case_and_padding() {
        for f in &FILTERS {
            assert_eq!(filter_by_name(f.name).unwrap().name, f.name);
        }
        assert_eq!(filter_by_name(" f480m  ").unwrap().pivot_um, 4.817);
    }

    #[test]
    fn unknown_filter_is_an_error_naming_it() {
        let err = filter_by_name("F090W").unwrap_err();
        assert!(err.problem.contains("F090W"));
    }

    #[test]
    fn metres_are_the_decimal_literals_of_upstream_md_2_4() {
        let expected_m = [
            ("F277W", 2.776e-6, (2.413e-6, 3.142e-6)),
            ("F380M", 3.828e-6, (3.726e-6, 3.931e-6)),
            ("F430M", 4.286e-6, (4.182e-6, 4.395e-6)),
            ("F480M", 4.817e-6, (4.669e-6, 4.971e-6)),
            ("F356W", 3.595e-6, (3.141e-6, 4.068e-6)),
            ("F444W", 4.435e-6, (3.880e-6, 5.023e-6)),
        ];
        for (name, pivot_m, half_power_m) in expected_m {
            let f = filter_by_name(name).unwrap();
            assert_eq!(f.pivot_m(), pivot_m, "{name}");
            assert_eq!(f.half_power_m(), half_power_m, "{name}");
        }
    }

    #[test]
    fn pivot_lies_between_half_power_points() {
        for f in &FILTERS {
            assert!(f.half_power_um.0 < f.pivot_um && f.pivot_um < f.half_power_um.1);
        }
    }
}
