//! Typed products and inputs and their FITS mapping: exposures in, AmiLg / OIFITS out.

pub mod exposure;
pub mod reffiles;
