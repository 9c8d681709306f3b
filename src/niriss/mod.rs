//! NIRISS constants: mask geometry, filters, detector facts. Units are in the names.

pub mod affine;
pub mod filters;
pub mod mask;
pub mod throughput;
