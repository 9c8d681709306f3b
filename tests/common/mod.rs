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
