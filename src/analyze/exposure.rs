//! `ami_analyze` of one exposure (upstream.md §5.3–5.9, ami3.md §3–4): pre-processing (reference
//! rows, outliers, crop, Fourier bad-pixel fix), then per integration centroid, model basis,
//! fit and observables, then the average over integrations with errors. What is fixed for the
//! exposure (bandpass, geometry, affine, bad-pixel support, centroid plan) is built once.

use super::bpfix::BadPixelFixer;
use super::centroid::Centroider;
use super::expansion::ShiftedBasis;
use super::lgmodel::LgModel;
use super::observables::{Observables, Orders};
use super::planner::Planner;
use super::propagate::propagate_errors;
use super::rotation::{find_rotation_deg, search_grid_deg};
use super::solve::{fit, Covariance};
use super::stats::{average_integrations, median, population_std};
use crate::error::{Error, Kind, Result, Stage};
use crate::niriss::affine::Affine2d;
use crate::niriss::filters::BandpassSample;
use crate::niriss::mask::{MaskGeometry, N_HOLES};
use crate::portable;
use crate::products::amilg::{AmiLg, AmiLgSum, IntegrationImages, IntegrationSink};
use crate::products::exposure::{CalExposure, DO_NOT_USE, JUMP_DET};
use crate::products::observables::ObservableSet;
use crate::products::reffiles::{NrmReference, Throughput};
use ndarray::{ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use std::sync::Arc;

/// How the pupil distortion is chosen (`affine2d`).
#[derive(Debug, Clone, PartialEq)]
pub enum AffineChoice {
    /// jwst's commissioning values (the default).
    Commissioning,
    /// No distortion given: search for the rotation (`affine2d = none`).
    Search,
    /// A user distortion.
    Given(Affine2d),
}

/// The parameters of `ami_analyze`, with upstream's names and defaults (upstream.md §5.2).
#[derive(Debug, Clone, PartialEq)]
pub struct AnalyzeParams {
    pub oversample: usize,
    /// Extra pupil rotation (degrees, counter-clockwise) composed with the distortion; with the
    /// rotation search it centres the search grid.
    pub rotation_deg: f64,
    /// (x, y) offset of the simulated PSF in the rotation search, detector pixels.
    pub psf_offset: (f64, f64),
    /// Rotation search start, stop, step (degrees).
    pub rotation_search_deg: (f64, f64, f64),
    /// User bandpass overriding the throughput file.
    pub bandpass: Option<Vec<BandpassSample>>,
    pub usebp: bool,
    pub firstfew: Option<usize>,
    /// Hole indices to use (None: all seven).
    pub chooseholes: Option<Vec<usize>>,
    pub affine2d: AffineChoice,
    pub run_bpfix: bool,
    /// The default (jwst's) reduction or the improved one (issue 15).
    pub mode: super::improved::Mode,
    /// Build the model basis at every integration's own centroid (jwst's way, today's bits)
    /// instead of interpolating it from bases built once per exposure about a reference
    /// centroid (issue 14, lever 8: [`super::expansion`]).
    pub exact: bool,
    /// The fewest integrations for which the shared bases are built (their six bases cost
    /// about as much as eight integrations' own: [`SHARED_BASIS_FROM`]); tests lower it to
    /// put the shared path through short exposures. Not a command-line option.
    pub shared_basis_from: usize,
}

impl Default for AnalyzeParams {
    fn default() -> Self {
        AnalyzeParams {
            oversample: 3,
            rotation_deg: 0.0,
            psf_offset: (0.0, 0.0),
            rotation_search_deg: (-3.0, 3.0, 1.0),
            bandpass: None,
            usebp: true,
            firstfew: None,
            chooseholes: None,
            affine2d: AffineChoice::Commissioning,
            run_bpfix: true,
            mode: super::improved::Mode::Default,
            exact: false,
            shared_basis_from: SHARED_BASIS_FROM,
        }
    }
}

/// The fewest integrations whose exposure gets the shared bases of lever 8 (issue 14): below
/// it each integration's own basis is cheaper than the six shared ones (measured in
/// BENCHMARKS.md: with 7 integrations the shared path took 1.25× the exact one's time, with
/// 100 0.63×), and the products are those of the exact path.
pub const SHARED_BASIS_FROM: usize = 16;

/// The largest `oversample`: the model's memory grows with its square (41 needs 2.6 GB).
pub const MAX_OVERSAMPLE: usize = 15;
/// The largest crop fitted: a SUB80 crop is at most 79 pixels wide.
pub const MAX_CROP: usize = 255;
/// The most flagged pixels the Fourier bad-pixel fix repairs in one integration: its cost grows
/// with the cube of their number (real exposures have a few hundred); beyond it they are left
/// out of the fit instead, with a note.
pub const MAX_REPAIRED_PIXELS: usize = 1000;

/// Reference data for the analysis.
#[derive(Debug, Clone, Default)]
pub struct References {
    pub throughput: Option<Throughput>,
    pub nrm: Option<NrmReference>,
}

/// The fit of one integration.
#[derive(Debug, Clone)]
pub struct IntegrationFit {
    /// Which integration of the file this is (0-based): failed integrations are dropped.
    pub index: usize,
    /// What the user should know about this integration's fit (the bad-pixel fix skipped).
    pub note: Option<String>,
    pub observables: Observables,
    /// Coefficients normalised by the flux term (s0 = 1), upstream's SOLNS.
    pub coeffs_norm: Vec<f64>,
    /// Centroid (x = column, y = row) relative to the crop centre, pixels.
    pub centroid_px: (f64, f64),
    /// Cropped, corrected data; model; residual (data - model, NaN where excluded). n x n;
    /// empty once added to the average unless the analysis was asked to keep the images.
    pub data: Vec<f64>,
    pub model: Vec<f64>,
    pub residual: Vec<f64>,
    /// Coefficient covariance, when it was propagated (single-integration exposures).
    pub errors: Option<ObservableSet>,
}

/// Everything `ami_analyze` found for one exposure.
#[derive(Debug, Clone)]
pub struct ExposureAnalysis {
    pub exposure_name: String,
    pub root: String,
    pub geometry: MaskGeometry,
    pub orders: Orders,
    pub bandpass: Vec<BandpassSample>,
    pub affine: Affine2d,
    pub pixscale_rad: f64,
    /// Side of the cropped image.
    pub n: usize,
    pub integrations: Vec<IntegrationFit>,
    /// Integrations (0-based) that could not be fitted and were left out, each with a note.
    pub dropped: Vec<usize>,
    /// Baselines whose averaged V² exceeds 1.1 and 1 + 3σ (a warning on the products).
    pub vis2_above_one: usize,
    /// The median V² is below 0.01: no fringes (a warning on the products).
    pub no_fringes: bool,
    /// Average over integrations with errors.
    pub average: ObservableSet,
    /// Things the user should know (defaults used, firstfew ignored, ...).
    pub notes: Vec<String>,
    /// The integration average of the images, summed as the integrations were fitted.
    pub lg_sum: AmiLgSum,
}

impl ExposureAnalysis {
    /// Each integration's images and coefficients, as the AmiLg products take them (empty
    /// images unless the analysis kept them: [`analyze_exposure`] does,
    /// [`analyze_exposure_with`] when asked).
    pub fn integration_images(&self) -> Vec<IntegrationImages<'_>> {
        self.integrations
            .iter()
            .map(|f| IntegrationImages {
                data: &f.data,
                model: &f.model,
                residual: &f.residual,
                coeffs_norm: &f.coeffs_norm,
            })
            .collect()
    }

    /// The integration-averaged AmiLg product of this exposure.
    pub fn ami_lg(&self) -> AmiLg {
        self.lg_sum.finish(self.average.clone())
    }
}

/// Rasterised NRM pupil (used when no NRM reference file is given): the holes of `geometry`
/// as hexagons on `size` x `size` pixels spanning `diameter_m`, rows along c0, flats
/// perpendicular to the row axis (upstream.md §7.7).
pub fn rasterise_pupil(geometry: &MaskGeometry, size: usize, diameter_m: f64) -> Vec<f64> {
    let pix = diameter_m / size as f64;
    let half = geometry.hole_flat_to_flat_m / 2.0;
    let s3 = 3f64.sqrt();
    let mut out = vec![0.0; size * size];
    for r in 0..size {
        let y = (r as f64 + 0.5 - size as f64 / 2.0) * pix;
        for c in 0..size {
            let x = (c as f64 + 0.5 - size as f64 / 2.0) * pix;
            for h in &geometry.centres_inst_m {
                let (dr, dc) = ((y - h[0]).abs(), (x - h[1]).abs());
                // flats at |dr| = half; slanted edges: dr/2 + dc*sqrt3/2 <= half
                if dr <= half && 0.5 * dr + 0.5 * s3 * dc <= half {
                    out[r * size + c] = 1.0;
                }
            }
        }
    }
    out
}

/// Analyses one exposure. `progress(done, total)` is called by the calling thread after each
/// round of integrations (one per thread of the pool; one by one on a single thread).
///
/// The stages, each a function below: what is fixed for the exposure (geometry, bandpass,
/// pixel scale, integrations, window, affine distortion), the pixels prepared for the fit
/// (reference rows, outliers, crop), the plan of the fit (bad-pixel fixer, centroider, model),
/// the fit of each integration, and the average over integrations.
/// Every integration's images are kept (for the `_amilg` product).
pub fn analyze_exposure(
    exposure: &CalExposure,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ExposureAnalysis> {
    analyze_exposure_with(exposure, refs, params, planner, true, progress)
}

/// [`analyze_exposure`], keeping each integration's images only if `keep_images`: without
/// them the memory the analysis needs does not grow with the number of integrations (a few
/// kB each for their observables), and the exposure's integrations are read from its file a
/// few at a time.
pub fn analyze_exposure_with(
    exposure: &CalExposure,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    keep_images: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ExposureAnalysis> {
    analysis_stages(exposure, refs, params, planner, keep_images, None, progress)
        .map_err(|e| e.in_file(&exposure.file_name))
}

/// [`analyze_exposure_with`] without keeping the images, each integration kept being passed
/// to `sink` as it is fitted (for a product written as it comes: `_amilg`). Errors of the
/// sink are its own (they name its output).
pub fn analyze_exposure_into(
    exposure: &CalExposure,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    sink: &mut dyn IntegrationSink,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ExposureAnalysis> {
    analysis_stages(exposure, refs, params, planner, false, Some(sink), progress)
        .map_err(|e| e.in_file(&exposure.file_name))
}

/// The stages of [`analyze_exposure`]; their errors carry no file name.
fn analysis_stages(
    exposure: &CalExposure,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    keep_images: bool,
    sink: Option<&mut dyn IntegrationSink>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<ExposureAnalysis> {
    let mut notes = exposure.warnings.clone();
    if params.oversample == 0
        || params.oversample.is_multiple_of(2)
        || params.oversample > MAX_OVERSAMPLE
    {
        return Err(Error::unnamed(
            Kind::BadOption,
            format!(
                "oversample must be an odd integer from 1 to {MAX_OVERSAMPLE}, got {}",
                params.oversample
            ),
        )
        .in_file(&exposure.file_name));
    }
    let geometry = mask_geometry(refs, params, &mut notes);
    let filter = exposure.keyword("FILTER").unwrap_or_default();
    let bandpass = exposure_bandpass(&filter, refs, params, planner, &mut notes)?;
    let pixscale_rad = pixel_scale_rad(exposure, &mut notes);
    let nint = integrations_in_use(exposure, params, &mut notes)?;
    let window = Window::of(exposure)?;
    let affine = choose_affine(
        exposure,
        &window,
        nint,
        (&geometry, &bandpass, pixscale_rad),
        params,
        &mut notes,
    )?;
    let pixels = PreparedPixels::new(exposure, &window, nint, &mut notes)?;
    let mut plan = FitPlan::new(
        refs,
        params,
        planner,
        &filter,
        geometry,
        bandpass,
        affine,
        pixscale_rad,
        pixels.n,
        nint == 1,
    )?;
    plan.shifted = plan.shifted_basis(nint, &pixels.median_crop());
    let fitted = fit_integrations(
        &plan,
        &pixels,
        exposure,
        nint,
        keep_images,
        sink,
        &mut notes,
        progress,
    )?;
    let (integrations, dropped) = (fitted.integrations, fitted.dropped);
    let average = average_over(&plan.orders, &integrations);
    let vis2_above_one = vis2_above_one(&average);
    // a star through the mask gives V² of order 1 on the short baselines; noise alone ~1e-4
    let median_vis2 = median(&average.vis2);
    let no_fringes = median_vis2 < NO_FRINGE_VIS2;
    if no_fringes {
        notes.push(format!(
            "warning: no fringes: the median V² is {median_vis2:.1e}, below {NO_FRINGE_VIS2} \
             (no star, or not through the mask?)"
        ));
    }
    if vis2_above_one > 0 {
        notes.push(format!(
            "warning: V² is above 1.1 and 1 + 3σ on {vis2_above_one} of {} baselines: the \
             model does not describe this image (no star, a saturated one, another mask?)",
            average.vis2.len()
        ));
    }
    Ok(ExposureAnalysis {
        exposure_name: exposure.file_name.clone(),
        root: exposure.root(),
        geometry: plan.model.geometry.clone(),
        orders: plan.orders,
        bandpass: plan.model.bandpass.clone(),
        affine,
        pixscale_rad,
        n: pixels.n,
        integrations,
        dropped,
        vis2_above_one,
        no_fringes,
        average,
        notes,
        lg_sum: fitted.lg_sum,
    })
}

/// Baselines whose V² exceeds 1 by more than 3σ and by more than the few per cent a model
/// mismatch gives a single star (simulated reference stars reach 1.004 ± 0.0007): physically
/// impossible for any source, so a sign that the fit failed (no star, a hot pixel, another mask).
fn vis2_above_one(average: &ObservableSet) -> usize {
    average
        .vis2
        .iter()
        .zip(&average.vis2_err)
        .filter(|(v, e)| e.is_finite() && **v > 1.0 + (3.0 * **e).max(VIS2_TOLERANCE))
        .count()
}

/// Below this median V² an exposure shows no fringes (a warning on the products).
const NO_FRINGE_VIS2: f64 = 0.01;
/// How far above 1 a V² may be before it is a warning, beyond 3σ.
const VIS2_TOLERANCE: f64 = 0.1;

/// Geometry from the NRM reference file (or the design values) and the hole subset.
fn mask_geometry(
    refs: &References,
    params: &AnalyzeParams,
    notes: &mut Vec<String>,
) -> MaskGeometry {
    let holes: Vec<usize> = params
        .chooseholes
        .clone()
        .unwrap_or_else(|| (0..N_HOLES).collect());
    match &refs.nrm {
        Some(nrm) => {
            MaskGeometry::from_design(&nrm.design_centres_m, nrm.hole_flat_to_flat_m, &holes)
        }
        None => {
            notes.push(
                "no NRM reference file: using the as-designed mask geometry (0.80 m holes)".into(),
            );
            let d = MaskGeometry::default_all_holes();
            MaskGeometry::from_design(
                &crate::niriss::mask::DESIGN_CENTRES_M,
                d.hole_flat_to_flat_m,
                &holes,
            )
        }
    }
}

/// The bandpass: the user's, else from the throughput table, else from the built-in curve of
/// the exposure's filter.
fn exposure_bandpass(
    filter: &str,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    notes: &mut Vec<String>,
) -> Result<Vec<BandpassSample>> {
    match (&params.bandpass, &refs.throughput) {
        (Some(bp), _) => Ok(bp.clone()),
        (None, Some(t)) => {
            // a curve of another filter would give a wrong bandpass without a word
            if let Some(tf) = t.filter.as_deref().map(str::trim) {
                if !filter.is_empty() && !tf.is_empty() && !tf.eq_ignore_ascii_case(filter.trim()) {
                    return Err(Error::unnamed(
                        Kind::BadReference,
                        format!(
                            "FILTER is '{}' but the throughput reference file is for '{tf}'",
                            filter.trim()
                        ),
                    ));
                }
            }
            planner
                .bandpass(&t.wavelength_angstrom, &t.throughput)
                .map(|b| b.to_vec())
                .map_err(|e| {
                    Error::unnamed(e.kind, format!("throughput reference file: {}", e.problem))
                })
        }
        (None, None) => {
            let (wl, th) = crate::niriss::throughput::builtin_throughput(filter)?;
            notes.push(format!(
                "no throughput reference file: using the built-in {filter} curve ({})",
                crate::niriss::throughput::BUILTIN_CURVE_SOURCE
            ));
            planner.bandpass(&wl, &th).map(|b| b.to_vec())
        }
    }
}

/// Mean detector pixel scale in radians (65.6 mas when the SCI header has no WCS scale).
fn pixel_scale_rad(exposure: &CalExposure, notes: &mut Vec<String>) -> f64 {
    let ((sx, sy), defaulted) = exposure.pixel_scale_deg();
    if defaulted {
        notes.push("no CD/CDELT keywords in the SCI header: using 65.6 mas per pixel".into());
    }
    (0.5 * (sx + sy)).to_radians()
}

/// How many integrations are fitted (`firstfew`).
fn integrations_in_use(
    exposure: &CalExposure,
    params: &AnalyzeParams,
    notes: &mut Vec<String>,
) -> Result<usize> {
    let mut nint = exposure.nint;
    if let Some(f) = params.firstfew {
        if exposure.nint > 1 {
            if f == 0 {
                return Err(Error::unnamed(
                    Kind::BadOption,
                    "firstfew must be at least 1",
                ));
            }
            if f < exposure.nint {
                nint = f;
            } else {
                notes.push(format!(
                    "firstfew = {f} is not below the {} integrations: all are used",
                    exposure.nint
                ));
            }
        }
    }
    Ok(nint)
}

/// The part of each frame that is analysed: the SUB80 box of a full frame, else all of it.
#[derive(Debug, Clone)]
struct Window {
    row0: usize,
    col0: usize,
    ny: usize,
    nx: usize,
    /// The frame's own size, for indexing the cube.
    frame_ny: usize,
    frame_nx: usize,
}

impl Window {
    fn of(exposure: &CalExposure) -> Result<Window> {
        let full = exposure
            .keyword("SUBARRAY")
            .is_some_and(|s| s.eq_ignore_ascii_case("FULL"));
        let (row0, col0, ny, nx) = if full {
            if exposure.ny < 80 || exposure.nx < 1124 {
                return Err(Error::unnamed(
                    Kind::NotAmiExposure,
                    format!(
                        "SUBARRAY is FULL but the image is {}x{}",
                        exposure.ny, exposure.nx
                    ),
                ));
            }
            (0, 1044, 80, 80)
        } else {
            (0, 0, exposure.ny, exposure.nx)
        };
        Ok(Window {
            row0,
            col0,
            ny,
            nx,
            frame_ny: exposure.ny,
            frame_nx: exposure.nx,
        })
    }

    /// Index in the cube of integration `k`, row `r` and column `c` of the window.
    fn index(&self, k: usize, r: usize, c: usize) -> usize {
        (k * self.frame_ny + self.row0 + r) * self.frame_nx + self.col0 + c
    }
}

/// The most memory the per-pixel series of [`for_each_pixel_series`] take at a time.
const SERIES_BYTES: usize = 48 << 20;
/// Integrations read at a time for the series (about 4 MB of SCI for SUB80).
const SERIES_READ_BYTES: usize = 4 << 20;

/// Calls `visit(p, series)` for every pixel of `rows` of the window (p counts from the first
/// of `rows`, row after row), with its SCI values in integrations `0..nint` in order. The
/// series of a block of rows are gathered at a time, at most [`SERIES_BYTES`], so that a cube
/// of any length is read in a few passes rather than held whole.
fn for_each_pixel_series(
    exposure: &CalExposure,
    window: &Window,
    rows: std::ops::Range<usize>,
    nint: usize,
    visit: &mut dyn FnMut(usize, &[f64]),
) -> Result<()> {
    let nx = window.nx;
    let row_bytes = nx * nint * std::mem::size_of::<f64>();
    let block_rows = (SERIES_BYTES / row_bytes.max(1)).clamp(1, rows.len().max(1));
    let per_read = (SERIES_READ_BYTES / (8 * exposure.frame_len())).clamp(1, nint.max(1));
    let mut series = vec![0.0; block_rows * nx * nint];
    for b0 in (0..rows.len()).step_by(block_rows) {
        let b1 = (b0 + block_rows).min(rows.len());
        for k0 in (0..nint).step_by(per_read) {
            let count = per_read.min(nint - k0);
            let frames = exposure.read_sci(k0, count)?;
            for j in 0..count {
                for r in b0..b1 {
                    for c in 0..nx {
                        let p = (r - b0) * nx + c;
                        series[p * nint + k0 + j] = frames[window.index(j, rows.start + r, c)];
                    }
                }
            }
        }
        for p in 0..(b1 - b0) * nx {
            visit(b0 * nx + p, &series[p * nint..(p + 1) * nint]);
        }
    }
    Ok(())
}

/// The affine distortion: commissioning, given, or from the rotation search on the untrimmed
/// median image; `--rotation` composed with it.
fn choose_affine(
    exposure: &CalExposure,
    window: &Window,
    nint: usize,
    (geometry, bandpass, pixscale_rad): (&MaskGeometry, &[BandpassSample], f64),
    params: &AnalyzeParams,
    notes: &mut Vec<String>,
) -> Result<Affine2d> {
    let base_affine = match &params.affine2d {
        AffineChoice::Commissioning => Affine2d::commissioning(),
        AffineChoice::Given(a) => *a,
        AffineChoice::Search => {
            let (ny, nx) = (window.ny, window.nx);
            let (start, stop, step) = params.rotation_search_deg;
            let grid: Vec<f64> = search_grid_deg(start, stop, step)?
                .into_iter()
                .map(|g| g + params.rotation_deg)
                .collect();
            let mut med = vec![0.0; ny * nx];
            for_each_pixel_series(exposure, window, 0..ny, nint, &mut |p, v| {
                med[p] = if v.iter().any(|x| x.is_nan()) {
                    f64::NAN
                } else {
                    median(v)
                };
            })?;
            let filled = fill_nans_with_neighbour_median(&med, ny, nx);
            let model = LgModel::new(
                geometry.clone(),
                bandpass.to_vec(),
                Affine2d::ideal(),
                pixscale_rad,
                params.oversample,
                nx,
            );
            let rot = find_rotation_deg(&model, &filled, ny, nx, params.psf_offset, &grid)?;
            notes.push(format!("rotation search found {rot:.4} degrees"));
            Affine2d::rotation(rot.to_radians())
        }
    };
    Ok(
        if params.rotation_deg != 0.0 && params.affine2d != AffineChoice::Search {
            compose_rotation(&base_affine, params.rotation_deg.to_radians())
        } else {
            base_affine
        },
    )
}

/// The pixels the fit takes: the window without its 4 reference rows, temporal outliers
/// flagged, and the crop box around the median image's peak. What is kept is per pixel (the
/// median and scatter over integrations that flag outliers); the integrations are read from
/// the exposure as they are fitted ([`PreparedPixels::crops`]).
#[derive(Debug)]
struct PreparedPixels {
    window: Window,
    /// Reference rows left out at the bottom of the window.
    ref_rows: usize,
    nx: usize,
    /// Median and population standard deviation over integrations of each trimmed pixel's
    /// finite values (NaN if none), `ty` x `nx`.
    median: Vec<f64>,
    scatter: Vec<f64>,
    /// ERR has a usable value: it is read for the errors of a single integration.
    err_usable: bool,
    /// Crop centre (row, column) in the trimmed frame and half-width; the crop is n x n.
    centre: (usize, usize),
    half: usize,
    n: usize,
}

/// One integration's crop: data, DQ bits (temporal outliers flagged) and ERR if it is used.
struct Crop {
    img: Vec<f64>,
    dq: Vec<u32>,
    err: Option<Vec<f64>>,
}

impl PreparedPixels {
    fn new(
        exposure: &CalExposure,
        window: &Window,
        nint: usize,
        notes: &mut Vec<String>,
    ) -> Result<PreparedPixels> {
        let (ny, nx) = (window.ny, window.nx);
        let ref_rows = 4.min(ny.saturating_sub(9));
        let ty = ny - ref_rows;
        // an ERR with no usable value would give errors of zero: treat it as absent
        let err_usable = exposure.err_usable()?;
        if exposure.has_err() && !err_usable {
            notes.push(
                "ERR holds no finite positive value: errors come from the fit's residuals".into(),
            );
        }
        let mut med = vec![f64::NAN; ty * nx];
        let mut scatter = vec![f64::NAN; ty * nx];
        for_each_pixel_series(exposure, window, ref_rows..ny, nint, &mut |p, series| {
            let v: Vec<f64> = series.iter().copied().filter(|x| x.is_finite()).collect();
            if !v.is_empty() {
                med[p] = median(&v);
                scatter[p] = population_std(&v);
            }
        })?;
        let (pr, pc) = psf_peak(&med, ty, nx, notes).ok_or_else(|| {
            Error::analysis(Stage::Prepare, "no finite pixel in the median image")
        })?;
        let half = pr.min(pc).min(ty - 1 - pr).min(nx - 1 - pc);
        let n = 2 * half + 1;
        if n > MAX_CROP {
            return Err(Error::analysis(
                Stage::Prepare,
                format!(
                    "the crop around the star would be {n} × {n} pixels, more than {MAX_CROP}: \
                     not an AMI subarray image"
                ),
            ));
        }
        if n < 9 {
            return Err(Error::analysis(
                Stage::Prepare,
                format!(
                    "the brightest pixel is at row {pr}, column {pc} of the trimmed image, {half} pixels from the edge: too close to crop an AMI image"
                ),
            ));
        }
        Ok(PreparedPixels {
            window: window.clone(),
            ref_rows,
            nx,
            median: med,
            scatter,
            err_usable,
            centre: (pr, pc),
            half,
            n,
        })
    }

    /// The median image over the integrations, cropped like them (n × n).
    fn median_crop(&self) -> Vec<f64> {
        let ((pr, pc), half) = (self.centre, self.half);
        (pr - half..=pr + half)
            .flat_map(|r| (pc - half..=pc + half).map(move |c| (r, c)))
            .map(|(r, c)| self.median[r * self.nx + c])
            .collect()
    }

    /// The crops of integrations `first .. first + count`, read from `exposure`; ERR only
    /// when `with_err` (a single integration's errors). A pixel more than 10 σ above its
    /// median over the integrations is flagged DO_NOT_USE (upstream adds 1 to the DQ value,
    /// which can carry into other bits, §8.2 item 9).
    fn crops(
        &self,
        exposure: &CalExposure,
        first: usize,
        count: usize,
        with_err: bool,
    ) -> Result<Vec<Crop>> {
        let sci = exposure.read_sci(first, count)?;
        let dq = exposure.read_dq(first, count)?;
        let err = if with_err && self.err_usable {
            exposure.read_err(first, count)?
        } else {
            None
        };
        let ((pr, pc), half) = (self.centre, self.half);
        let np = self.n * self.n;
        Ok((0..count)
            .map(|j| {
                let mut crop = Crop {
                    img: Vec::with_capacity(np),
                    dq: Vec::with_capacity(np),
                    err: err.as_ref().map(|_| Vec::with_capacity(np)),
                };
                for r in pr - half..=pr + half {
                    for c in pc - half..=pc + half {
                        let src = self.window.index(j, r + self.ref_rows, c);
                        let p = r * self.nx + c;
                        let v = sci[src];
                        let outlier = v - self.median[p] > 10.0 * self.scatter[p];
                        crop.img.push(v);
                        crop.dq.push(if outlier {
                            dq[src] | DO_NOT_USE
                        } else {
                            dq[src]
                        });
                        if let (Some(e), Some(all)) = (crop.err.as_mut(), err.as_ref()) {
                            e.push(all[src]);
                        }
                    }
                }
                crop
            })
            .collect())
    }
}

/// The brightest pixel of `med` (ty × nx), as upstream centres the crop, unless it is an
/// isolated hot pixel away from the PSF: then the brightest pixel of the PSF, found as the peak
/// of the image smoothed (3 × 3) after clipping every pixel to its brightest neighbour, which
/// flattens a lone hot pixel but not the PSF's core. (row, column).
fn psf_peak(med: &[f64], ty: usize, nx: usize, notes: &mut Vec<String>) -> Option<(usize, usize)> {
    let argmax = |values: &[f64], keep: &dyn Fn(usize) -> bool| {
        values
            .iter()
            .enumerate()
            .filter(|&(i, v)| v.is_finite() && keep(i))
            .fold(None, |best: Option<(usize, f64)>, (i, &v)| match best {
                Some((_, b)) if b >= v => best,
                _ => Some((i, v)),
            })
            .map(|(i, _)| (i / nx, i % nx))
    };
    let brightest = argmax(med, &|_| true)?;
    let neighbours = |r: usize, c: usize, radius: usize| {
        let rows = r.saturating_sub(radius)..=(r + radius).min(ty - 1);
        rows.flat_map(move |rr| {
            (c.saturating_sub(radius)..=(c + radius).min(nx - 1)).map(move |cc| (rr, cc))
        })
    };
    let clipped: Vec<f64> = (0..ty * nx)
        .map(|i| {
            let (r, c) = (i / nx, i % nx);
            let around = neighbours(r, c, 1)
                .filter(|&(rr, cc)| (rr, cc) != (r, c))
                .map(|(rr, cc)| med[rr * nx + cc])
                .filter(|v| v.is_finite())
                .fold(f64::NEG_INFINITY, f64::max);
            med[i].min(around)
        })
        .collect();
    let smoothed: Vec<f64> = (0..ty * nx)
        .map(|i| {
            let v: Vec<f64> = neighbours(i / nx, i % nx, 1)
                .map(|(rr, cc)| clipped[rr * nx + cc])
                .filter(|v| v.is_finite())
                .collect();
            if v.is_empty() {
                f64::NAN
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        })
        .collect();
    let (sr, sc) = argmax(&smoothed, &|_| true)?;
    let near = |(r, c): (usize, usize)| r.abs_diff(sr) <= 2 && c.abs_diff(sc) <= 2;
    if near(brightest) {
        return Some(brightest);
    }
    let peak = argmax(med, &|i| near((i / nx, i % nx)))?;
    notes.push(format!(
        "the brightest pixel (row {}, column {} of the trimmed image) stands alone, a hot pixel: \
         the crop is centred on the star's peak at row {}, column {}",
        brightest.0, brightest.1, peak.0, peak.1
    ));
    Some(peak)
}

/// What is fixed for every integration's fit: the bad-pixel fixer, the centroider, the model
/// and its basis plan, the observable orders.
struct FitPlan<'a> {
    params: &'a AnalyzeParams,
    fixer: Option<Arc<BadPixelFixer>>,
    centroider: Centroider,
    model: LgModel,
    basis_plan: Arc<super::lgmodel::BasisPlan>,
    orders: Orders,
    /// One integration: its errors are propagated from ERR (or the residuals).
    single: bool,
    /// The bases about the exposure's reference centroid (lever 8), unless `exact`, improved
    /// mode or a lone integration asks for the basis at each centroid.
    shifted: Option<ShiftedBasis>,
}

impl<'a> FitPlan<'a> {
    /// Whether the fit reads ERR: a single integration's errors come from it, and the improved
    /// mode's switch (issue 15) compares every integration's residuals with it.
    fn needs_err(&self) -> bool {
        self.single || self.params.mode == super::improved::Mode::Improved
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        refs: &References,
        params: &'a AnalyzeParams,
        planner: &Planner,
        filter: &str,
        geometry: MaskGeometry,
        bandpass: Vec<BandpassSample>,
        affine: Affine2d,
        pixscale_rad: f64,
        n: usize,
        single: bool,
    ) -> Result<FitPlan<'a>> {
        let orders = Orders::new(geometry.n_holes());
        let fixer = if params.run_bpfix {
            let pupil = match &refs.nrm {
                Some(nrm) => nrm.pupil.clone(),
                None => rasterise_pupil(&geometry, 1024, super::bpfix::PUPIL_IMAGE_DIAMETER_M),
            };
            let size = refs.nrm.as_ref().map_or(1024, |r| r.pupil_size);
            Some(planner.bad_pixel_fixer(&pupil, size, filter, pixscale_rad, n)?)
        } else {
            None
        };
        let centroider = Centroider::new(n)?;
        let model = LgModel::new(
            geometry,
            bandpass,
            affine,
            pixscale_rad,
            params.oversample,
            n,
        );
        let basis_plan = planner.basis_plan(&model)?;
        Ok(FitPlan {
            params,
            fixer,
            centroider,
            model,
            basis_plan,
            orders,
            single,
            shifted: None,
        })
    }

    /// The shared bases of the exposure, about the centroid of its median image `median`
    /// (n × n, cropped like the integrations and repaired by the same bad-pixel fix, NaN
    /// pixels counted as bad): close to the median of the integrations' centroids, and cheap
    /// (one fix and one centroid). None when the exact path is asked for (`exact`, improved
    /// mode, whose weights change the basis per integration, and a lone integration, whose
    /// covariance the exact fit gives), when the exposure is too short to gain from them
    /// (`shared_basis_from`), or when the median image has no centroid.
    fn shifted_basis(&self, nint: usize, median: &[f64]) -> Option<ShiftedBasis> {
        if self.params.exact
            || self.single
            || nint < self.params.shared_basis_from
            || self.params.mode != super::improved::Mode::Default
        {
            return None;
        }
        let n = self.centroider.size();
        let mut img = median.to_vec();
        let mut bad: Vec<bool> = img.iter().map(|v| !v.is_finite()).collect();
        let repairable = bad.iter().filter(|&&b| b).count() <= MAX_REPAIRED_PIXELS;
        if let (Some(fixer), true) = (self.fixer.as_ref(), repairable) {
            let d = ArrayViewMut2::from_shape((n, n), &mut img).expect("n x n");
            let b = ArrayViewMut2::from_shape((n, n), &mut bad).expect("n x n");
            fixer.fix(d, b).ok()?;
        }
        let clean: Vec<f64> = img
            .iter()
            .map(|v| if v.is_finite() { *v } else { 0.0 })
            .collect();
        let c = self
            .centroider
            .centroid(ArrayView2::from_shape((n, n), &clean).expect("n x n"))
            .ok()?;
        if !(c.x_px.is_finite() && c.y_px.is_finite()) {
            return None;
        }
        Some(ShiftedBasis::new(
            &self.model,
            &self.basis_plan,
            (c.x_px, c.y_px),
        ))
    }

    /// Integration `k`: bad-pixel fix, centroid, basis, fit, observables (and, alone, errors).
    fn fit_integration(&self, crop: Crop, k: usize) -> Result<IntegrationFit> {
        self.fit_one(crop, k).map_err(|e| e.at_integration(k))
    }

    fn fit_one(&self, crop: Crop, k: usize) -> Result<IntegrationFit> {
        let n = self.centroider.size();
        let Crop {
            mut img,
            dq: q,
            err: e,
        } = crop;
        let mut bad: Vec<bool> = q
            .iter()
            .map(|&b| b & (DO_NOT_USE | JUMP_DET) != 0)
            .collect();
        // nothing to fit (and a bad-pixel fix of every pixel would take minutes)
        if !img.iter().zip(&bad).any(|(v, &b)| v.is_finite() && !b) {
            return Err(Error::analysis(
                Stage::Prepare,
                "no finite pixel without DO_NOT_USE or JUMP_DET in the crop",
            ));
        }
        // pixels the fix would repair: flagged or not finite
        let to_repair = img
            .iter()
            .zip(&bad)
            .filter(|(v, &b)| b || !v.is_finite())
            .count();
        let mut note = None;
        let fixer = self.fixer.as_ref().filter(|_| {
            let affordable = to_repair <= MAX_REPAIRED_PIXELS;
            if !affordable {
                note = Some(format!(
                    "integration {}: {to_repair} flagged pixels in the crop, more than the \
                     {MAX_REPAIRED_PIXELS} the bad-pixel fix repairs: left out of the fit instead",
                    k + 1
                ));
            }
            affordable
        });
        if let Some(fixer) = fixer {
            let d = ArrayViewMut2::from_shape((n, n), &mut img).expect("n x n");
            let b = ArrayViewMut2::from_shape((n, n), &mut bad).expect("n x n");
            fixer.fix(d, b).map_err(|e| Error {
                problem: format!("bad-pixel fix: {}", e.problem),
                ..e
            })?;
        }
        // NaN pixels are never fitted (upstream lets them through without run_bpfix)
        let excluded: Vec<bool> = img
            .iter()
            .zip(&bad)
            .map(|(v, &b)| !v.is_finite() || ((self.params.usebp || note.is_some()) && b))
            .collect();
        let view = ArrayView2::from_shape((n, n), &img).expect("n x n");
        let clean: Vec<f64> = img
            .iter()
            .map(|v| if v.is_finite() { *v } else { 0.0 })
            .collect();
        let cview = ArrayView2::from_shape((n, n), &clean).expect("n x n");
        let c = self
            .centroider
            .centroid(if img.iter().all(|v| v.is_finite()) {
                view
            } else {
                cview
            })?;
        let (cx, cy) = (c.x_px, c.y_px);
        if !(cx.is_finite() && cy.is_finite()) {
            return Err(Error::analysis(
                Stage::Centroid,
                "the centroid could not be measured",
            ));
        }
        // the shared bases of the exposure when this centroid is within their reach, else
        // (and when they decline: too many pixels left out) the basis at the centroid itself
        let shared = self.shifted.as_ref().and_then(|s| {
            s.weights(&self.model, (cx, cy))
                .and_then(|w| s.fit(&w, &img, &excluded))
        });
        let lf = match shared {
            Some(lf) => lf?,
            None => {
                let basis = self.model.basis_with(&self.basis_plan, (cx, cy));
                // one integration has no scatter to measure: its errors come from the
                // covariance
                let covariance = match e.as_deref() {
                    _ if !self.single => Covariance::Skip,
                    Some(e) if !e.is_empty() => Covariance::FromErr(e),
                    _ => Covariance::FromResiduals,
                };
                let lf = fit(&basis, &img, &excluded, covariance)?;
                if self.params.mode == super::improved::Mode::Improved {
                    super::improved::refit(&basis, &img, &excluded, &lf, e.as_deref())?
                } else {
                    lf
                }
            }
        };
        let observables = self.orders.from_coefficients(&lf.coeffs);
        let coeffs_norm: Vec<f64> = lf.coeffs.iter().map(|v| v / lf.coeffs[0]).collect();
        let errors = if self.single {
            let cov = lf
                .covariance
                .as_deref()
                .expect("fit returns a covariance for a single integration");
            let mut set = single_set(&self.orders, &observables);
            let centroid_cov = e
                .as_deref()
                .map(|e| centroid_covariance(&self.centroider, &img, e, k as u64));
            let phase_cov = centroid_cov.map(|c| centroid_phase_covariance(&self.model, c));
            propagate_errors(
                &self.orders,
                &lf.coeffs,
                cov,
                phase_cov.as_deref(),
                &mut set,
            );
            Some(set)
        } else {
            None
        };
        Ok(IntegrationFit {
            index: k,
            note,
            observables,
            coeffs_norm,
            centroid_px: (cx, cy),
            data: img,
            model: lf.model_image,
            residual: lf.residual,
            errors,
        })
    }
}

/// The integrations fitted, those dropped, and the running average of their images.
struct Fitted {
    integrations: Vec<IntegrationFit>,
    dropped: Vec<usize>,
    lg_sum: AmiLgSum,
}

/// Fits every integration. An integration that cannot be fitted (no usable pixel, no centroid,
/// a singular fit) is dropped with a note when the exposure has others; the exposure fails only
/// when fewer than two remain (or its only one fails). Errors carry no file name.
///
/// The average of the images divides each integration's model by the number averaged before
/// adding it (as upstream's mean does), so that number must be known before the first is added:
/// the integrations are fitted again, with the number kept, when one was dropped. The fit is
/// deterministic, so the second pass gives the same fits; it costs time only on such data.
#[allow(clippy::too_many_arguments)]
fn fit_integrations<'d>(
    plan: &FitPlan,
    pixels: &PreparedPixels,
    exposure: &CalExposure,
    nint: usize,
    keep_images: bool,
    mut sink: Option<&mut (dyn IntegrationSink + 'd)>,
    notes: &mut Vec<String>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Fitted> {
    let mut pass = fit_pass(
        plan,
        pixels,
        exposure,
        (nint, nint),
        keep_images,
        sink.as_deref_mut(),
        progress,
    )?;
    if nint > 1 && pass.integrations.len() < 2 {
        let first = pass
            .dropped
            .first()
            .map_or(String::new(), |(_, e)| e.problem.clone());
        return Err(Error::analysis(
            Stage::Fit,
            format!(
                "{} of {nint} integrations could not be fitted, fewer than two remain ({first})",
                pass.dropped.len()
            ),
        ));
    }
    let kept = pass.integrations.len();
    if kept != nint {
        pass = fit_pass(
            plan,
            pixels,
            exposure,
            (nint, kept),
            keep_images,
            sink,
            &|_, _| {},
        )?;
    }
    notes.append(&mut pass.notes);
    for (_, e) in &pass.dropped {
        notes.push(format!("dropped {}", e.problem));
    }
    Ok(Fitted {
        integrations: pass.integrations,
        dropped: pass.dropped.into_iter().map(|(k, _)| k).collect(),
        lg_sum: pass.lg_sum,
    })
}

/// Integrations read from the file at a time by the fit (a multiple of the threads).
const FIT_READ_INTEGRATIONS: usize = 16;

/// One pass of [`fit_integrations`], averaging the images of the integrations over `kept`.
struct Pass {
    integrations: Vec<IntegrationFit>,
    dropped: Vec<(usize, Error)>,
    notes: Vec<String>,
    lg_sum: AmiLgSum,
}

/// The integrations are read a few at a time and go to the thread pool in rounds of one per
/// thread; progress is reported by the calling thread between rounds, and the file is read by
/// it: in the browser only that thread may call JavaScript, and it waits while the pool works.
/// Integrations take about the same time, so rounds lose little to a free-for-all.
fn fit_pass<'d>(
    plan: &FitPlan,
    pixels: &PreparedPixels,
    exposure: &CalExposure,
    (nint, kept): (usize, usize),
    keep_images: bool,
    mut sink: Option<&mut (dyn IntegrationSink + 'd)>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Pass> {
    if let Some(sink) = sink.as_deref_mut() {
        sink.begin(pixels.n, kept)?;
    }
    let round = rayon::current_num_threads().max(1);
    let batch = round * FIT_READ_INTEGRATIONS.div_ceil(round);
    let mut pass = Pass {
        integrations: Vec::with_capacity(nint),
        dropped: Vec::new(),
        notes: Vec::new(),
        lg_sum: AmiLgSum::new(pixels.n, kept),
    };
    for b0 in (0..nint).step_by(batch) {
        let b1 = (b0 + batch).min(nint);
        let mut crops = pixels
            .crops(exposure, b0, b1 - b0, plan.needs_err())?
            .into_iter();
        for start in (b0..b1).step_by(round) {
            let end = (start + round).min(b1);
            let round_crops: Vec<Crop> = crops.by_ref().take(end - start).collect();
            let fits: Vec<Result<IntegrationFit>> = round_crops
                .into_par_iter()
                .enumerate()
                .map(|(j, crop)| plan.fit_integration(crop, start + j))
                .collect();
            for (k, fit) in (start..end).zip(fits) {
                match fit {
                    Ok(mut f) => {
                        pass.notes.extend(f.note.clone());
                        let images = IntegrationImages {
                            data: &f.data,
                            model: &f.model,
                            residual: &f.residual,
                            coeffs_norm: &f.coeffs_norm,
                        };
                        pass.lg_sum.add(&images);
                        if let Some(sink) = sink.as_deref_mut() {
                            sink.add(&images)?;
                        }
                        if !keep_images {
                            f.data = Vec::new();
                            f.model = Vec::new();
                            f.residual = Vec::new();
                        }
                        pass.integrations.push(f)
                    }
                    Err(e) if nint > 1 => pass.dropped.push((k, e)),
                    Err(e) => return Err(e),
                }
            }
            progress(end, nint);
        }
    }
    Ok(pass)
}

/// The exposure's values and errors: the propagated errors of a single integration, else the
/// average over integrations with the scatter between them.
fn average_over(orders: &Orders, integrations: &[IntegrationFit]) -> ObservableSet {
    if let [only] = integrations {
        // an exposure of one integration (fit_integrations keeps two or more of several)
        return only
            .errors
            .clone()
            .expect("single integration has propagated errors");
    }
    let obs: Vec<Observables> = integrations.iter().map(|f| f.observables.clone()).collect();
    average_integrations(orders, &obs)
}

/// Number of noise draws used to measure the centroid's scatter of a single integration.
const CENTROID_DRAWS: usize = 32;

/// Covariance [[xx, xy], [xy, yy]] of the centroid of `img` under its per-pixel errors,
/// measured by re-centroiding noisy copies (seeded, so results are reproducible). The fit takes
/// the centroid as given, so its noise must be added to the fringe phases separately.
fn centroid_covariance(centroider: &Centroider, img: &[f64], err: &[f64], seed: u64) -> [f64; 3] {
    let n = centroider.size();
    let mut rng = crate::portable::Rng::new(0xA3 ^ seed);
    let mut xs = Vec::with_capacity(CENTROID_DRAWS);
    let mut buf = vec![0.0; n * n];
    for _ in 0..CENTROID_DRAWS {
        for ((b, v), e) in buf.iter_mut().zip(img).zip(err) {
            let sigma = if e.is_finite() { *e } else { 0.0 };
            *b = if v.is_finite() {
                v + sigma * rng.normal()
            } else {
                0.0
            };
        }
        if let Ok(c) = centroider.centroid(ArrayView2::from_shape((n, n), &buf).expect("n x n")) {
            if c.x_px.is_finite() && c.y_px.is_finite() {
                xs.push((c.x_px, c.y_px));
            }
        }
    }
    if xs.len() < 3 {
        return [0.0; 3];
    }
    let m = xs.len() as f64;
    let (mx, my) = xs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / m, b + y / m));
    let (mut cxx, mut cxy, mut cyy) = (0.0, 0.0, 0.0);
    for (x, y) in &xs {
        cxx += (x - mx) * (x - mx) / (m - 1.0);
        cxy += (x - mx) * (y - my) / (m - 1.0);
        cyy += (y - my) * (y - my) / (m - 1.0);
    }
    [cxx, cxy, cyy]
}

/// Fringe-phase covariance caused by a centroid covariance: moving the model centre by
/// (dx, dy) moves every fringe phase by the model's phase gradient at the bandpass' mean
/// inverse wavelength.
fn centroid_phase_covariance(model: &LgModel, c: [f64; 3]) -> Vec<f64> {
    let wsum: f64 = model.bandpass.iter().map(|b| b.weight).sum();
    let inv_lambda = model
        .bandpass
        .iter()
        .map(|b| b.weight / b.wavelength_m)
        .sum::<f64>()
        / wsum;
    let [[a, b], [cc, d]] = model.affine.f_args_matrix();
    let k = 2.0 * std::f64::consts::PI * model.pixscale_rad * inv_lambda;
    // phase = k (u' B0 + v' B1), (u', v') = T (row, col) = T (dy, dx)
    let grads: Vec<(f64, f64)> = model
        .pairs
        .iter()
        .map(|&[p, q]| {
            let (hp, hq) = (
                model.geometry.centres_inst_m[p],
                model.geometry.centres_inst_m[q],
            );
            let (b0, b1) = (hp[0] - hq[0], hp[1] - hq[1]);
            let d_row = k * (a * b0 + cc * b1);
            let d_col = k * (b * b0 + d * b1);
            (d_col, d_row) // (d phase / dx, d phase / dy)
        })
        .collect();
    let nb = grads.len();
    let mut out = vec![0.0; nb * nb];
    for (i, gi) in grads.iter().enumerate() {
        for (j, gj) in grads.iter().enumerate() {
            out[i * nb + j] =
                gi.0 * gj.0 * c[0] + (gi.0 * gj.1 + gi.1 * gj.0) * c[1] + gi.1 * gj.1 * c[2];
        }
    }
    out
}

/// One integration's values as an ObservableSet (errors filled later).
fn single_set(orders: &Orders, o: &Observables) -> ObservableSet {
    let _ = orders;
    ObservableSet {
        vis2: o.fringe_amp.iter().map(|a| a * a).collect(),
        fringe_amp: o.fringe_amp.clone(),
        fringe_phase_rad: o.fringe_phase_rad.clone(),
        closure_phase_rad: o.closure_phase_rad.clone(),
        t3_amp: o.t3_amp.clone(),
        closure_amp: o.closure_amp.clone(),
        quad_phase_rad: o.quad_phase_rad.clone(),
        piston_rad: o.piston_rad.clone(),
        ..Default::default()
    }
}

/// NaNs replaced by the NaN-ignoring median of their 3x3 neighbourhood (0 if none), as the
/// rotation search prepares its image (upstream.md §5.7).
fn fill_nans_with_neighbour_median(img: &[f64], ny: usize, nx: usize) -> Vec<f64> {
    let mut out = img.to_vec();
    for r in 0..ny {
        for c in 0..nx {
            if img[r * nx + c].is_nan() {
                let mut v = Vec::new();
                for rr in r.saturating_sub(1)..=(r + 1).min(ny - 1) {
                    for cc in c.saturating_sub(1)..=(c + 1).min(nx - 1) {
                        let x = out[rr * nx + cc];
                        if x.is_finite() {
                            v.push(x);
                        }
                    }
                }
                out[r * nx + c] = if v.is_empty() { 0.0 } else { median(&v) };
            }
        }
    }
    out
}

/// The distortion followed by a pupil rotation: the pupil matrix R(theta) M.
fn compose_rotation(a: &Affine2d, theta_rad: f64) -> Affine2d {
    let (s, c) = portable::sin_cos(theta_rad);
    // pupil map [[mx, sx], [sy, my]]; rotation [[c, -s], [s, c]]
    Affine2d {
        mx: c * a.mx - s * a.sy,
        sx: c * a.sx - s * a.my,
        sy: s * a.mx + c * a.sy,
        my: s * a.sx + c * a.my,
        xo: c * a.xo - s * a.yo,
        yo: s * a.xo + c * a.yo,
        rotradccw: None,
    }
}

/// One test per stage, on small synthetic exposures whose answer is known by construction (the
/// whole chain is tested against jwst in tests/analyze_vs_jwst.rs and tests/real_data.rs).
#[cfg(test)]
mod stage_tests {
    use super::*;
    use crate::fits::{Header, Value};

    /// An exposure of `nint` frames of ny × nx with pixel values `f(k, row, col)`.
    fn exposure(
        nint: usize,
        (ny, nx): (usize, usize),
        subarray: &str,
        f: impl Fn(usize, usize, usize) -> f64,
    ) -> CalExposure {
        let mut primary = Header::new();
        primary.set("SUBARRAY", Value::Str(subarray.into()), None);
        let sci = (0..nint * ny * nx)
            .map(|i| f(i / (ny * nx), (i / nx) % ny, i % nx))
            .collect();
        CalExposure {
            file_name: "synthetic_calints.fits".into(),
            primary,
            sci_header: Header::new(),
            is_2d: nint == 1,
            nint,
            ny,
            nx,
            sci,
            err: None,
            dq: vec![0; nint * ny * nx],
            warnings: Vec::new(),
            streamed: None,
        }
    }

    /// A round star of height 1000 at (row, col) on a flat background of 1.
    fn star(row: usize, col: usize) -> impl Fn(usize, usize, usize) -> f64 {
        move |_, r, c| {
            let d2 = (r as f64 - row as f64).powi(2) + (c as f64 - col as f64).powi(2);
            1.0 + 1000.0 * (-d2 / 4.0).exp()
        }
    }

    #[test]
    fn integrations_in_use_honour_firstfew() {
        let e = exposure(5, (12, 12), "SUB80", |_, _, _| 1.0);
        let with = |firstfew| AnalyzeParams {
            firstfew,
            ..AnalyzeParams::default()
        };
        let mut notes = Vec::new();
        assert_eq!(integrations_in_use(&e, &with(None), &mut notes).unwrap(), 5);
        assert_eq!(
            integrations_in_use(&e, &with(Some(2)), &mut notes).unwrap(),
            2
        );
        assert!(notes.is_empty());
        assert_eq!(
            integrations_in_use(&e, &with(Some(9)), &mut notes).unwrap(),
            5
        );
        assert!(notes[0].contains("all are used"), "{notes:?}");
        let err = integrations_in_use(&e, &with(Some(0)), &mut notes).unwrap_err();
        assert_eq!(err.kind, Kind::BadOption);
    }

    #[test]
    fn the_window_of_a_full_frame_is_the_sub80_box() {
        let sub = Window::of(&exposure(1, (80, 80), "SUB80", |_, _, _| 0.0)).unwrap();
        assert_eq!((sub.row0, sub.col0, sub.ny, sub.nx), (0, 0, 80, 80));
        let full = Window::of(&exposure(2, (80, 1130), "FULL", |_, _, _| 0.0)).unwrap();
        assert_eq!((full.row0, full.col0, full.ny, full.nx), (0, 1044, 80, 80));
        // integration 1, row 2, column 3 of the box is column 1047 of the frame
        assert_eq!(full.index(1, 2, 3), (80 + 2) * 1130 + 1047);
        let small = Window::of(&exposure(1, (80, 80), "FULL", |_, _, _| 0.0)).unwrap_err();
        assert_eq!(small.kind, Kind::NotAmiExposure);
    }

    #[test]
    fn prepared_pixels_drop_reference_rows_flag_outliers_and_crop_at_the_peak() {
        // 120 integrations: one outlier among them is 10.9 standard deviations out
        let nint = 120;
        let hot = |k: usize, r: usize, c: usize| k == 7 && r == 10 && c == 5;
        let base = star(16, 14);
        let e = exposure(nint, (30, 30), "SUB80", |k, r, c| {
            base(k, r, c) + if hot(k, r, c) { 1e4 } else { 0.0 }
        });
        let window = Window::of(&e).unwrap();
        let p = PreparedPixels::new(&e, &window, nint, &mut Vec::new()).unwrap();
        // the 4 reference rows go: the star is at row 12 of the trimmed frame
        assert_eq!((p.median.len(), p.nx, p.centre), (26 * 30, 30, (12, 14)));
        // the crop reaches the nearest edge: 12 rows above the peak
        assert_eq!((p.half, p.n), (12, 25));
        let crops = p.crops(&e, 0, nint, false).unwrap();
        let flagged: Vec<(usize, usize)> = crops
            .iter()
            .enumerate()
            .flat_map(|(k, c)| {
                (0..c.dq.len())
                    .filter(|&i| c.dq[i] & DO_NOT_USE != 0)
                    .map(move |i| (k, i))
            })
            .collect();
        // trimmed row 6, column 5: crop row 6, column 5 - (14 - 12)
        assert_eq!(
            flagged,
            vec![(7, 6 * 25 + 3)],
            "only the outlier is flagged"
        );
        let crop = &crops[0].img;
        assert_eq!(crop.len(), 25 * 25);
        assert_eq!(
            crop[12 * 25 + 12],
            base(0, 16, 14),
            "the peak is the crop's centre"
        );

        let edge = exposure(3, (30, 30), "SUB80", star(6, 27));
        let err = PreparedPixels::new(&edge, &Window::of(&edge).unwrap(), 3, &mut Vec::new())
            .unwrap_err();
        assert_eq!(
            err.kind,
            Kind::Analysis {
                stage: Stage::Prepare,
                integration: None
            }
        );
    }

    #[test]
    fn the_bandpass_is_the_users_else_the_throughputs_else_the_built_in_curve() {
        let own = vec![BandpassSample {
            weight: 1.0,
            wavelength_m: 4.8e-6,
        }];
        let params = AnalyzeParams {
            bandpass: Some(own.clone()),
            ..AnalyzeParams::default()
        };
        let mut notes = Vec::new();
        let none = References::default();
        assert_eq!(
            exposure_bandpass("F480M", &none, &params, &Planner::new(), &mut notes).unwrap(),
            own
        );
        let defaults = AnalyzeParams::default();
        let builtin =
            exposure_bandpass("F480M", &none, &defaults, &Planner::new(), &mut notes).unwrap();
        assert!(notes[0].contains("built-in F480M curve"), "{notes:?}");
        // weights summing to one, centred within 1 % on the filter's pivot wavelength
        let total: f64 = builtin.iter().map(|b| b.weight).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        let mean_m: f64 = builtin.iter().map(|b| b.weight * b.wavelength_m).sum();
        let pivot_m = crate::niriss::filters::filter_by_name("F480M")
            .unwrap()
            .pivot_m();
        assert!(
            (mean_m / pivot_m - 1.0).abs() < 0.01,
            "{mean_m} vs {pivot_m}"
        );
        let (wl, th) = crate::niriss::throughput::builtin_throughput("F430M").unwrap();
        let other = References {
            throughput: Some(Throughput {
                wavelength_angstrom: wl,
                throughput: th,
                filter: Some("F430M".into()),
            }),
            nrm: None,
        };
        let err =
            exposure_bandpass("F480M", &other, &defaults, &Planner::new(), &mut notes).unwrap_err();
        assert_eq!(err.kind, Kind::BadReference);
        assert!(err.problem.contains("F430M") && err.problem.contains("F480M"));
    }

    #[test]
    fn a_noiseless_point_source_fits_to_unit_amplitudes_and_zero_closure_phases() {
        let params = AnalyzeParams {
            run_bpfix: false,
            ..AnalyzeParams::default()
        };
        let mut notes = Vec::new();
        let geometry = mask_geometry(&References::default(), &params, &mut notes);
        let bandpass = exposure_bandpass(
            "F480M",
            &References::default(),
            &params,
            &Planner::new(),
            &mut notes,
        )
        .unwrap();
        let pixscale_rad = (65.6 / 3.6e6f64).to_radians();
        let n = 31;
        let affine = Affine2d::commissioning();
        let model = LgModel::new(
            geometry.clone(),
            bandpass.clone(),
            affine,
            pixscale_rad,
            3,
            n,
        );
        let psf = model.simulate_psf(n, (0.0, 0.0));
        // two integrations of the model PSF, 4 reference rows above it
        let e = exposure(2, (n + 4, n), "SUB80", |_, r, c| {
            if r < 4 {
                0.0
            } else {
                1e6 * psf[(r - 4) * n + c]
            }
        });
        let window = Window::of(&e).unwrap();
        let pixels = PreparedPixels::new(&e, &window, 2, &mut Vec::new()).unwrap();
        assert_eq!(pixels.n, n);
        let planner = Planner::new();
        let plan = FitPlan::new(
            &References::default(),
            &params,
            &planner,
            "F480M",
            geometry,
            bandpass,
            affine,
            pixscale_rad,
            n,
            false,
        )
        .unwrap();
        let crop = pixels.crops(&e, 1, 1, false).unwrap().remove(0);
        let fit = plan.fit_integration(crop, 1).unwrap();
        assert_eq!(fit.index, 1);
        let (cx, cy) = fit.centroid_px;
        assert!(cx.abs() < 0.05 && cy.abs() < 0.05, "centroid {cx} {cy}");
        let o = &fit.observables;
        for a in &o.fringe_amp {
            assert!((a - 1.0).abs() < 2e-3, "amplitude {a}");
        }
        for cp in &o.closure_phase_rad {
            assert!(
                cp.to_degrees().abs() < 0.01,
                "closure phase {} deg",
                cp.to_degrees()
            );
        }
    }
}
