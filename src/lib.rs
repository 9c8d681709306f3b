//! ami3: the JWST NIRISS AMI stage-3 pipeline (`calwebb_ami3`) as a library that builds natively
//! and for WebAssembly. Science lives here; JavaScript only moves bytes (see `wasm`).

pub mod analyze;
pub mod average;
pub mod companion;
pub mod error;
pub mod fits;
pub mod improved_eval;
pub mod niriss;
pub mod normalize;
pub mod options;
pub mod pipeline;
pub mod portable;
pub mod products;
pub mod simulate;
pub mod steps;
pub mod wasm;
