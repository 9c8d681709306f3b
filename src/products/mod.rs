//! Typed products and inputs and their FITS mapping: exposures in, AmiLg / OIFITS out.

pub mod amilg;
pub mod exposure;
pub mod observables;
pub mod oifits;
pub mod reffiles;
pub mod registry;
