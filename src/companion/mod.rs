//! Companion search (companion.md): a point primary plus a point companion fitted to calibrated
//! closure phases (and V² with `--v2`) of one or several OIFITS files, with errors,
//! significance and detection limits. One file per stage: `input` (the file), `frames` (§3),
//! `model` (§2), `likelihood` (§4), `problem` (the assembled fit), `search` (§5.1–§5.4),
//! `refine` (§5.5–§6), `significance` (§7), `limits` (§8), `report` (§9), `fit` (the order of
//! the stages). It reads bytes and returns values; it never touches files or the reducer, and
//! nothing here imports `simulate`.

pub mod fit;
pub mod frames;
pub mod input;
pub mod likelihood;
pub mod limits;
pub mod linalg;
pub mod model;
pub mod options;
pub mod problem;
pub mod refine;
pub mod report;
pub mod search;
pub mod significance;

pub use fit::{fit_files, fit_observations};
pub use input::{read_observation, OiObservation};
pub use options::FitOptions;
pub use report::{fit_json, summary_line, BinaryFit, FitReport};
