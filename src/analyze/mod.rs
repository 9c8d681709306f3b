//! `ami_analyze`: from one calibrated exposure to fringe observables per integration.

pub mod affine;
pub mod bandpass;
pub mod hexagon;
pub mod lgmodel;
pub mod observables;
pub mod solve;
