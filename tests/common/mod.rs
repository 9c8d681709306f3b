//! Helpers shared by the integration tests: where the shared data lives and how to load it.
#![allow(dead_code)]

use ami3::analyze::exposure::References;
use ami3::fits::{read_fits, Hdu};
use ami3::products::reffiles::{NrmReference, Throughput};
use std::path::PathBuf;

/// The shared simulated association (read-only).
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/f480m-binary")
}

pub fn read(path: &PathBuf) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn hdus(path: &PathBuf) -> Vec<Hdu> {
    read_fits(&read(path), &path.display().to_string()).unwrap()
}

/// The THROUGHPUT and NRM reference files of the shared association.
pub fn references() -> References {
    let d = data_dir();
    let t = d.join("throughput_f480m.fits");
    let n = d.join("nrm.fits");
    References {
        throughput: Some(Throughput::from_bytes(&read(&t), "throughput_f480m.fits").unwrap()),
        nrm: Some(NrmReference::from_bytes(&read(&n), "nrm.fits").unwrap()),
    }
}

/// Column `name` of table `ext` as f64.
pub fn column(hdus: &[Hdu], ext: &str, name: &str) -> Vec<f64> {
    ami3::fits::find_hdu(hdus, ext)
        .and_then(|h| h.table())
        .and_then(|t| t.column(name))
        .unwrap_or_else(|| panic!("{ext}.{name} missing"))
        .data
        .as_f64()
}

/// Smallest angular difference in degrees.
pub fn angle_diff_deg(a: f64, b: f64) -> f64 {
    ((a - b + 180.0).rem_euclid(360.0) - 180.0).abs()
}

/// One planner for the tests of a binary, so the bad-pixel fixer is built once (as the
/// pipeline does for an association).
pub fn planner() -> &'static ami3::analyze::planner::Planner {
    static PLANNER: std::sync::OnceLock<ami3::analyze::planner::Planner> =
        std::sync::OnceLock::new();
    PLANNER.get_or_init(ami3::analyze::planner::Planner::new)
}

/// |x - y|, or the smallest angle between them in degrees for angles.
pub fn difference(x: f64, y: f64, is_angle: bool) -> f64 {
    if is_angle {
        angle_diff_deg(x, y)
    } else {
        (x - y).abs()
    }
}

/// Asserts that every (table, column, tolerance, is-angle) of `columns` agrees between two
/// OIFITS files within its tolerance; returns the largest differences (amplitudes, degrees).
pub fn assert_columns_close(
    ours: &[Hdu],
    theirs: &[Hdu],
    columns: &[(&str, &str, f64, bool)],
    what: &str,
) -> (f64, f64) {
    let (mut worst_amp, mut worst_deg) = (0.0f64, 0.0f64);
    for &(ext, col, tol, is_angle) in columns {
        let a = column(ours, ext, col);
        let b = column(theirs, ext, col);
        assert_eq!(a.len(), b.len(), "{what}: {ext}.{col} rows");
        for (r, (x, y)) in a.iter().zip(&b).enumerate() {
            let d = difference(*x, *y, is_angle);
            assert!(d < tol, "{what}: {ext}.{col} row {r}: {x} vs {y}");
            let worst = if is_angle {
                &mut worst_deg
            } else {
                &mut worst_amp
            };
            *worst = worst.max(d);
        }
    }
    (worst_amp, worst_deg)
}

/// The observable columns compared with jwst, with the contract's tolerances (ami3.md §7:
/// 1e-4 in amplitudes and V², 0.01° in phases).
pub const OI_COLUMNS: [(&str, &str, f64, bool); 7] = [
    ("OI_VIS", "VISAMP", 1e-4, false),
    ("OI_VIS", "VISPHI", 0.01, true),
    ("OI_VIS2", "VIS2DATA", 1e-4, false),
    ("OI_T3", "T3PHI", 0.01, true),
    ("OI_T3", "T3AMP", 1e-4, false),
    ("OI_Q4", "Q4AMP", 1e-4, false),
    ("OI_ARRAY", "PISTONS", 0.01, true),
];
