//! `ami_analyze`: from one calibrated exposure to fringe observables per integration.

pub mod bandpass;
pub mod bpfix;
pub mod centroid;
pub mod expansion;
pub mod exposure;
pub mod fft;
pub mod hexagon;
pub mod improved;
pub mod lgmodel;
pub mod mdft;
pub mod observables;
pub mod planner;
pub mod propagate;
pub mod rotation;
pub mod solve;
pub mod stats;
