//! The `ObservableSet`: values and one-sigma errors of every observable of an averaged exposure,
//! an average of exposures or a calibrated result, as the products carry them (phases in
//! radians, orders those of `niriss::mask`). A plain typed product: the averages that fill it
//! are `analyze::stats`, the tables that write it `products::oifits` and `products::amilg`.

/// One field of an [`ObservableSet`] (`|s| &s.vis2`): the average and normalise steps apply
/// the same rule to several fields.
pub type Field = fn(&ObservableSet) -> &Vec<f64>;

/// Values and errors of every observable of one averaged exposure (or of an average of
/// exposures, or a calibrated result). Phases in radians. Orders as `niriss::mask`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ObservableSet {
    pub fringe_amp: Vec<f64>,
    pub fringe_amp_err: Vec<f64>,
    pub fringe_phase_rad: Vec<f64>,
    pub fringe_phase_err_rad: Vec<f64>,
    pub vis2: Vec<f64>,
    pub vis2_err: Vec<f64>,
    pub closure_phase_rad: Vec<f64>,
    pub closure_phase_err_rad: Vec<f64>,
    pub t3_amp: Vec<f64>,
    pub t3_amp_err: Vec<f64>,
    pub closure_amp: Vec<f64>,
    pub closure_amp_err: Vec<f64>,
    pub quad_phase_rad: Vec<f64>,
    pub quad_phase_err_rad: Vec<f64>,
    pub piston_rad: Vec<f64>,
    pub piston_err_rad: Vec<f64>,
}

impl ObservableSet {
    /// A set from (values, errors) pairs in field order: fringe amplitude, fringe phase, V^2,
    /// closure phase, triple amplitude, closure amplitude, quad phase, piston.
    pub fn from_pairs(pairs: [(Vec<f64>, Vec<f64>); 8]) -> Self {
        let [(fringe_amp, fringe_amp_err), (fringe_phase_rad, fringe_phase_err_rad), (vis2, vis2_err), (closure_phase_rad, closure_phase_err_rad), (t3_amp, t3_amp_err), (closure_amp, closure_amp_err), (quad_phase_rad, quad_phase_err_rad), (piston_rad, piston_err_rad)] =
            pairs;
        ObservableSet {
            fringe_amp,
            fringe_amp_err,
            fringe_phase_rad,
            fringe_phase_err_rad,
            vis2,
            vis2_err,
            closure_phase_rad,
            closure_phase_err_rad,
            t3_amp,
            t3_amp_err,
            closure_amp,
            closure_amp_err,
            quad_phase_rad,
            quad_phase_err_rad,
            piston_rad,
            piston_err_rad,
        }
    }
}

/// Degrees from radians, for tables.
pub fn deg(values_rad: &[f64]) -> Vec<f64> {
    values_rad
        .iter()
        .map(|v| v * 180.0 / std::f64::consts::PI)
        .collect()
}
