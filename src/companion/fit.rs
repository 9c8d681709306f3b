//! The companion search from files to report (companion.md §1–§9): frame, models and
//! whitening per file, the map, starts, refinement, errors, significance, the CANDID-compatible
//! numbers and the limits, in that order. Each stage is a function of its own module; this file
//! only strings them together and fills the report.

use super::frames::{choose_frame, is_sky_frame, rotate_uv, Frame};
use super::input::{read_observation, OiObservation};
use super::likelihood::whiten;
use super::limits::{curves, node_limits};
use super::model::{filter_rule, sparse_rows, tophat_rule, wrap, FileModel, MAS_RAD};
use super::options::{BandpassChoice, ContrastChoice, ErrorsChoice, FitOptions};
use super::problem::{FitFile, Params};
use super::refine::{covariance, magnitudes, merge, polar, refine, Minimum};
use super::report::*;
use super::search::{linear_maps, starts, Grid, LinearMaps};
use super::significance::{ln_chi2_sf, nsigma_absil, nsigma_from_ln_p, nsigma_lr};
use crate::error::{Error, Kind, Result};
use crate::portable;
use rayon::prelude::*;

/// Wall-clock seconds (Date.now() on wasm32, where `Instant` is not available).
fn now_s() -> f64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() / 1e3
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::sync::OnceLock;
        static T0: OnceLock<std::time::Instant> = OnceLock::new();
        T0.get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
    }
}

/// Fits a binary to calibrated OIFITS files given as (name, bytes).
pub fn fit_files(files: &[(String, Vec<u8>)], options: &FitOptions) -> Result<FitReport> {
    let obs = files
        .iter()
        .map(|(name, bytes)| read_observation(bytes, name))
        .collect::<Result<Vec<_>>>()?;
    fit_observations(obs, options)
}

/// What the user should know about the inputs (files without UVAFFINE, filters without a curve).
pub type Warnings = Vec<String>;

/// The files of the fit in their frame, with warnings (§2–§4).
pub fn prepare(
    obs: Vec<OiObservation>,
    options: &FitOptions,
    diagonal: bool,
) -> Result<(Frame, Vec<FitFile>, Warnings)> {
    if obs.is_empty() {
        return Err(Error::usage("fit-binary: no file given"));
    }
    let names = || {
        obs.iter()
            .map(|o| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (frame, rotations) = choose_frame(&obs, options.frame)
        .map_err(|e| Error::file(names(), Kind::BadOifits, e.to_string()))?;
    let mut filters: Vec<String> = Vec::new();
    let mut warnings = Vec::new();
    let mut out = Vec::new();
    for (o, rotation_deg) in obs.into_iter().zip(rotations) {
        if !o.uvaffine {
            warnings.push(format!(
                "{}: no UVAFFINE = T: its (u, v) lack the affine distortion its phases carry, \
                 so the fitted offset is distorted (about 0.5° in PA)",
                o.name
            ));
        }
        let uv_m = rotate_uv(&o.baseline_uv_m, rotation_deg);
        let rmax_rad = options.rmax_mas * MAS_RAD;
        let rule = match options.bandpass {
            BandpassChoice::Filter => filter_rule(&o.filter, &uv_m, rmax_rad).unwrap_or_else(|e| {
                warnings.push(format!(
                    "{}: {e}; using a top hat over EFF_WAVE ± EFF_BAND/2",
                    o.name
                ));
                tophat_rule(o.eff_wave_m, o.eff_band_m, &uv_m, rmax_rad)
            }),
            BandpassChoice::Tophat => tophat_rule(o.eff_wave_m, o.eff_band_m, &uv_m, rmax_rad),
        };
        let group = match options.contrast {
            ContrastChoice::Common => 0,
            ContrastChoice::PerFilter => match filters.iter().position(|f| *f == o.filter) {
                Some(k) => k,
                None => {
                    filters.push(o.filter.clone());
                    filters.len() - 1
                }
            },
        };
        let white = whiten(&o, diagonal);
        if white.rank == 0 {
            return Err(Error::file(
                o.name.as_str(),
                Kind::BadOifits,
                "no unflagged closure phase to fit",
            ));
        }
        if options.v2 && o.vis2_err.iter().any(|e| !(e.is_finite() && *e > 0.0)) {
            return Err(Error::file(
                o.name.as_str(),
                Kind::BadOifits,
                "--v2: VIS2ERR must be positive numbers",
            ));
        }
        out.push(FitFile {
            model: FileModel { uv_m, rule },
            white,
            group,
            v2: options.v2,
            rotation_deg,
            t_sparse: sparse_rows(&o.t_matrix),
            obs: o,
        });
    }
    Ok((frame, out, warnings))
}

/// λ_min/(4 B_max) in mas: the alias distance of §5.4 and §5.6.
fn alias_distance_mas(files: &[FitFile]) -> f64 {
    let lambda_min = files
        .iter()
        .map(|f| f.obs.eff_wave_m)
        .fold(f64::INFINITY, f64::min);
    let b_max = files
        .iter()
        .flat_map(|f| f.model.uv_m.iter().map(|b| portable::hypot(b[0], b[1])))
        .fold(0.0, f64::max);
    lambda_min / (4.0 * b_max) / MAS_RAD
}

/// Map, starts, refinement and merging (§5): the minima sorted by χ².
pub fn search(
    files: &[FitFile],
    options: &FitOptions,
    groups: usize,
) -> (LinearMaps, Vec<Minimum>) {
    let grid = Grid::new(options.step_mas, options.rmin_mas, options.rmax_mas);
    let maps = linear_maps(files, &grid, groups);
    // the starts are refined on the thread pool, each on its own: the minima are the same bits,
    // in the starts' order, whichever thread refines which
    let mut minima: Vec<Minimum> = starts(&maps, options.starts, alias_distance_mas(files))
        .into_par_iter()
        .map(|s| {
            let start = Params {
                east_mas: s.east_mas,
                north_mas: s.north_mas,
                ratios: s.ratios,
            };
            refine(files, &start)
        })
        .collect();
    if minima.is_empty() {
        // nothing above the single star: refine from the grid's first node
        let start = Params {
            east_mas: 0.0,
            north_mas: options.rmin_mas.max(options.step_mas),
            ratios: vec![1e-4; groups],
        };
        minima.push(refine(files, &start));
    }
    (maps, merge(minima))
}

/// Ratio, its error and Δmag of group g from the covariance.
fn group_ratio(p: &Params, cov: &Option<Vec<f64>>, g: usize) -> (f64, f64) {
    let np = 2 + p.ratios.len();
    let err = cov
        .as_ref()
        .map_or(f64::NAN, |c| c[(2 + g) * np + 2 + g].max(0.0).sqrt());
    (p.ratios[g], err)
}

/// Position with errors from a minimum.
fn position(m: &Minimum, cov: &Option<Vec<f64>>) -> (f64, f64, f64, f64) {
    let np = 2 + m.params.ratios.len();
    let c = cov.as_ref().map(|c| [c[0], c[1], c[np + 1]]);
    polar(m.params.east_mas, m.params.north_mas, c)
}

/// The 1/σ²-weighted mean ratio over groups (§9), with its error.
fn mean_ratio(p: &Params, cov: &Option<Vec<f64>>) -> (f64, f64) {
    let (mut sw, mut swx) = (0.0, 0.0);
    for g in 0..p.ratios.len() {
        let (r, e) = group_ratio(p, cov, g);
        let w = if e > 0.0 { 1.0 / (e * e) } else { 0.0 };
        sw += w;
        swx += w * r;
    }
    if sw > 0.0 {
        (swx / sw, 1.0 / sw.sqrt())
    } else {
        (
            p.ratios.iter().sum::<f64>() / p.ratios.len() as f64,
            f64::NAN,
        )
    }
}

/// The CANDID-compatible numbers (§7): diagonal weights, re-refined from the best fit (the
/// fit's files with only their whitening replaced).
fn candid(files: &[FitFile], best: &Params) -> CandidCompatible {
    let files: Vec<FitFile> = files
        .iter()
        .map(|f| FitFile {
            white: whiten(&f.obs, true),
            ..f.clone()
        })
        .collect();
    let m = refine(&files, best);
    let n_cp: usize = files.iter().map(|f| f.white.rank).sum();
    let n = n_cp.saturating_sub(1).max(1);
    let np = 2 + best.ratios.len();
    let chi2r_binary = m.chi2 / (n.saturating_sub(np).max(1)) as f64;
    let x = n as f64 * 1.0 / chi2r_binary.max(1e-300);
    let (sep, _, pa, _) = polar(m.params.east_mas, m.params.north_mas, None);
    CandidCompatible {
        nsigma: nsigma_from_ln_p(ln_chi2_sf(n as f64, x)),
        chi2r_null: 1.0,
        chi2r_binary,
        ndof: n,
        sep_mas: sep,
        pa_deg: pa,
        ratio: m.params.ratios.iter().sum::<f64>() / m.params.ratios.len() as f64,
    }
}

/// The closure phases against the model at `p`, per file.
fn comparisons(files: &[FitFile], p: &Params) -> Vec<ClosurePhaseComparison> {
    files
        .iter()
        .map(|f| {
            let m = f.model_cp(p.east_mas, p.north_mas, p.ratios[f.group]);
            let o = &f.obs;
            let normalised = (0..m.len())
                .map(|k| {
                    if o.cp_flag[k] {
                        0.0
                    } else {
                        wrap(o.cp_rad[k] - m[k]) / o.cp_err_rad[k]
                    }
                })
                .collect();
            ClosurePhaseComparison {
                path: o.name.clone(),
                data_deg: o.cp_rad.iter().map(|v| v.to_degrees()).collect(),
                error_deg: o.cp_err_rad.iter().map(|v| v.to_degrees()).collect(),
                model_deg: m.iter().map(|v| v.to_degrees()).collect(),
                flagged: o.cp_flag.clone(),
                normalised_residual: normalised,
                whitened_residual: f.white.residual(&o.cp_rad, &m),
            }
        })
        .collect()
}

/// The map of the report from the walk's (c, G).
fn map_of(maps: &LinearMaps, frame: Frame) -> DeltaChi2Map {
    let g = &maps.grid;
    let nodes = g.side() * g.side();
    DeltaChi2Map {
        step_mas: g.step_mas,
        half: g.half as usize,
        side: g.side(),
        rmin_mas: g.rmin_mas,
        rmax_mas: g.rmax_mas,
        frame: frame.name().to_string(),
        values: (0..nodes).map(|n| maps.delta_chi2(n) as f32).collect(),
    }
}

/// The second-best minimum more than the alias distance from the best (§5.6).
fn second_best(files: &[FitFile], minima: &[Minimum], chi2r: f64) -> Option<SecondBest> {
    let best = &minima[0];
    let far = alias_distance_mas(files);
    let m = minima.iter().skip(1).find(|m| {
        portable::hypot(
            m.params.east_mas - best.params.east_mas,
            m.params.north_mas - best.params.north_mas,
        ) > far
    })?;
    let cov = covariance(files, &m.params, chi2r);
    let (sep, sep_err, pa, pa_err) = position(m, &cov);
    let (ratio, _) = mean_ratio(&m.params, &cov);
    Some(SecondBest {
        sep_mas: sep,
        sep_err_mas: sep_err,
        pa_deg: pa,
        pa_err_deg: pa_err,
        ratio,
        dmag: magnitudes(ratio, 0.0).0,
        delta_chi2: m.chi2 - best.chi2,
    })
}

/// Fits a binary to calibrated observations (§1–§9).
pub fn fit_observations(obs: Vec<OiObservation>, options: &FitOptions) -> Result<FitReport> {
    options.validate()?;
    let diagonal = options.errors == ErrorsChoice::Diagonal;
    let (frame, files, warnings) = prepare(obs, options, diagonal)?;
    let started = now_s();
    let groups = 1 + files.iter().map(|f| f.group).max().unwrap_or(0);
    let (maps, minima) = search(&files, options, groups);
    let best = &minima[0];
    let n_data: usize = files.iter().map(FitFile::n_data).sum::<usize>() - usize::from(diagonal);
    let n_params = 2 + groups;
    let ndof = n_data.saturating_sub(n_params).max(1);
    let chi2_null: f64 = files.iter().map(FitFile::chi2_null).sum();
    let chi2r = best.chi2 / ndof as f64;
    let delta = chi2_null - best.chi2;
    let nsigma = nsigma_lr(delta, n_params, chi2r);
    let detected = nsigma >= 5.0;
    let cov = covariance(&files, &best.params, chi2r);
    let (sep, sep_err, pa, pa_err) = position(best, &cov);
    let (ratio, ratio_err) = mean_ratio(&best.params, &cov);
    let (dmag, dmag_err) = magnitudes(ratio, ratio_err);
    let file_fits = files
        .iter()
        .map(|f| {
            let (r, e) = group_ratio(&best.params, &cov, f.group);
            let (dm, dme) = magnitudes(r, e);
            FileFit {
                path: f.obs.name.clone(),
                filter: f.obs.filter.clone(),
                eff_wave_m: f.obs.eff_wave_m,
                frame: if is_sky_frame(&f.obs) {
                    "sky"
                } else {
                    "detector"
                }
                .to_string(),
                rotation_deg: f.rotation_deg,
                uvaffine: f.obs.uvaffine,
                covariance: f.white.kind.name().to_string(),
                n_cp: f.white.rows.len(),
                rank: f.white.rank,
                chi2: {
                    let p = &best.params;
                    let (res, _) = f.residuals(p.east_mas, p.north_mas, p.ratios[f.group], false);
                    portable::dot(&res, &res)
                },
                ratio: r,
                ratio_err: e,
                dmag: dm,
                dmag_err: dme,
            }
        })
        .collect();
    let candid = candid(&files, &best.params);
    let (limits, limits_subtracted) = if options.limits {
        let data: Vec<Vec<f64>> = files
            .iter()
            .map(|f| {
                let m = f.model_cp(
                    best.params.east_mas,
                    best.params.north_mas,
                    best.params.ratios[f.group],
                );
                if detected {
                    f.obs
                        .cp_rad
                        .iter()
                        .zip(&m)
                        .map(|(d, m)| wrap(d - m))
                        .collect()
                } else {
                    f.obs.cp_rad.clone()
                }
            })
            .collect();
        let per_node = node_limits(&files, &maps, &data, detected, n_data);
        (
            curves(&maps.grid, &per_node, options.limit_bin_mas),
            detected,
        )
    } else {
        (Vec::new(), false)
    };
    let fit = BinaryFit {
        sep_mas: sep,
        sep_err_mas: sep_err,
        pa_deg: pa,
        pa_err_deg: pa_err,
        east_mas: best.params.east_mas,
        north_mas: best.params.north_mas,
        ratio,
        ratio_err,
        dmag,
        dmag_err,
        chi2_null,
        chi2_binary: best.chi2,
        ndof,
        nsigma,
        nsigma_absil: nsigma_absil(n_data, chi2_null, best.chi2),
        detected,
        frame: frame.name().to_string(),
        contrast: match options.contrast {
            ContrastChoice::Common => "common",
            ContrastChoice::PerFilter => "per-filter",
        }
        .to_string(),
        files: file_fits,
        second_best: second_best(&files, &minima, chi2r),
        candid,
        limits,
        limits_subtracted,
        seconds: 0.0,
    };
    let closure_phases = comparisons(&files, &best.params);
    let map = map_of(&maps, frame);
    let mut fit = fit;
    fit.seconds = now_s() - started;
    Ok(FitReport {
        fit,
        map,
        closure_phases,
        warnings,
    })
}
