//! What the companion search returns (companion.md §9): the JSON object `fit` with §9's field
//! names (fields may be added, never renamed), and what the page draws besides: the linearised
//! Δχ² map over the full plane and the closure phases against the model per triangle. Also the
//! one-line summary the command line prints.

use super::limits::LimitPoint;

/// One input file in the fit (§9 `files[]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileFit {
    pub path: String,
    pub filter: String,
    pub eff_wave_m: f64,
    /// "sky" or "detector": the frame the file's (u, v) were written in.
    pub frame: String,
    /// Rotation applied to the file's (u, v) to bring them to the fit's frame, degrees.
    pub rotation_deg: f64,
    pub uvaffine: bool,
    pub covariance: String,
    pub n_cp: usize,
    pub rank: usize,
    pub chi2: f64,
    pub ratio: f64,
    pub ratio_err: f64,
    pub dmag: f64,
    pub dmag_err: f64,
}

/// The second-best minimum (§5.6).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SecondBest {
    pub sep_mas: f64,
    pub sep_err_mas: f64,
    pub pa_deg: f64,
    pub pa_err_deg: f64,
    pub ratio: f64,
    pub dmag: f64,
    pub delta_chi2: f64,
}

/// The CANDID-compatible numbers (§7): diagonal weights, CANDID's n-σ, uncapped.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CandidCompatible {
    pub nsigma: f64,
    pub chi2r_null: f64,
    pub chi2r_binary: f64,
    pub ndof: usize,
    pub sep_mas: f64,
    pub pa_deg: f64,
    pub ratio: f64,
}

/// The JSON of §9.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BinaryFit {
    pub sep_mas: f64,
    pub sep_err_mas: f64,
    pub pa_deg: f64,
    pub pa_err_deg: f64,
    pub east_mas: f64,
    pub north_mas: f64,
    pub ratio: f64,
    pub ratio_err: f64,
    pub dmag: f64,
    pub dmag_err: f64,
    pub chi2_null: f64,
    pub chi2_binary: f64,
    pub ndof: usize,
    pub nsigma: f64,
    pub nsigma_absil: f64,
    pub detected: bool,
    pub frame: String,
    pub contrast: String,
    pub files: Vec<FileFit>,
    pub second_best: Option<SecondBest>,
    pub candid: CandidCompatible,
    pub limits: Vec<LimitPoint>,
    pub limits_subtracted: bool,
    pub seconds: f64,
}

/// The linearised Δχ² map (§5.2) over the full plane, NaN outside the annulus. `values` is
/// row-major `side × side`: row k has north = (k − half)·step_mas, column l has
/// east = (l − half)·step_mas (so column 0 is the most westerly; the page flips it to draw East
/// left). The mirrored half comes from the symmetry of §5.3.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DeltaChi2Map {
    pub step_mas: f64,
    pub half: usize,
    pub side: usize,
    pub rmin_mas: f64,
    pub rmax_mas: f64,
    pub frame: String,
    pub values: Vec<f32>,
}

/// One file's closure phases against the best fit, per OI_T3 row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClosurePhaseComparison {
    pub path: String,
    pub data_deg: Vec<f64>,
    pub error_deg: Vec<f64>,
    pub model_deg: Vec<f64>,
    pub flagged: Vec<bool>,
    /// (data − model)/T3PHIERR per triangle (wrapped), 0 where flagged.
    pub normalised_residual: Vec<f64>,
    /// The whitened residuals W wrap(d − m), one per kept eigenvector (§4).
    pub whitened_residual: Vec<f64>,
}

/// Everything the search returns; the command line writes `fit` only.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FitReport {
    pub fit: BinaryFit,
    pub map: DeltaChi2Map,
    pub closure_phases: Vec<ClosurePhaseComparison>,
    /// Warnings (files without UVAFFINE, filters without a curve), also printed by the CLI.
    pub warnings: Vec<String>,
}

/// The JSON of §9 as the command line writes it (`--json`, `_companion.json`) and the page
/// offers it for download.
pub fn fit_json(fit: &BinaryFit) -> String {
    serde_json::to_string_pretty(fit).expect("the fit serialises") + "\n"
}

/// The 5σ Absil limit (median) in the annulus containing `sep_mas`, NaN if none.
fn limit_at(fit: &BinaryFit, sep_mas: f64) -> f64 {
    let bin = match fit.limits.as_slice() {
        [a, b, ..] => b.sep_mas - a.sep_mas,
        _ => f64::INFINITY,
    };
    fit.limits
        .iter()
        .find(|p| (p.sep_mas - sep_mas).abs() <= bin / 2.0)
        .map_or(f64::NAN, |p| p.dmag_5sigma_absil)
}

/// The one-line summary of §9.
pub fn summary_line(fit: &BinaryFit) -> String {
    let n = fit.files.len();
    let chi2r = fit.chi2_binary / fit.ndof.max(1) as f64;
    let second = match &fit.second_best {
        Some(s) => format!(
            "2nd Δχ² {:.1} at {:.1} mas PA {:.1}°",
            s.delta_chi2, s.sep_mas, s.pa_deg
        ),
        None => "2nd Δχ² none".to_string(),
    };
    // `--no-limits`: no limits to quote (rather than NaN)
    let limits = if fit.limits.is_empty() {
        String::new()
    } else {
        format!(
            "5σ limit Δmag {:.2} at 100 mas, {:.2} at 300 mas; ",
            limit_at(fit, 100.0),
            limit_at(fit, 300.0)
        )
    };
    format!(
        "{n} file(s), {}: sep {:.2} ± {:.2} mas, PA {:.2} ± {:.2}°, Δmag {:.3} ± {:.3}, \
         {:.1}σ (Δχ² {:.1}, χ²_r {:.2}, ndof {}); {second}; {limits}{:.3} s",
        fit.frame,
        fit.sep_mas,
        fit.sep_err_mas,
        fit.pa_deg,
        fit.pa_err_deg,
        fit.dmag,
        fit.dmag_err,
        fit.nsigma,
        fit.chi2_null - fit.chi2_binary,
        chi2r,
        fit.ndof,
        fit.seconds
    )
}
