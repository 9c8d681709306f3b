//! The steps as plain functions over typed products: `ami_analyze` of exposure bytes into its
//! named product files. The command line and the page both call these.

use crate::analyze::bandpass::centre_and_fraction;
use std::io::{Read, Seek, Write};

use crate::analyze::exposure::{
    analyze_exposure_into, analyze_exposure_with, AnalyzeParams, ExposureAnalysis, References,
};
use crate::analyze::planner::Planner;
use crate::error::Result;
use crate::fits::{write_fits, ByteSource, Card, FitsWriter, Header};
use crate::products::amilg::{lg_fit_bytes, LgFitWriter};
use crate::products::exposure::CalExposure;
use crate::products::observables::ObservableSet;
use crate::products::oifits::{copied_primary, OiData, OiMeta, OiProduct};
use crate::products::registry::{primary_cards, product_name, FitSummary, ProductKind, Provenance};

/// A named output file.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// An analysed exposure with what its products need.
#[derive(Debug, Clone)]
pub struct AnalyzedExposure {
    pub exposure: CalExposure,
    pub analysis: ExposureAnalysis,
    pub meta: OiMeta,
}

/// Runs `ami_analyze` on one exposure, keeping every integration's images (for `_amilg`).
pub fn analyze(
    exposure: CalExposure,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<AnalyzedExposure> {
    analyze_with(exposure, refs, params, planner, true, progress)
}

/// [`analyze`], keeping each integration's images only if `keep_images` (memory then does not
/// grow with the integrations' images: the pipeline's products need only their average).
pub fn analyze_with(
    exposure: CalExposure,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    keep_images: bool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<AnalyzedExposure> {
    let analysis = analyze_exposure_with(&exposure, refs, params, planner, keep_images, progress)?;
    Ok(analyzed_exposure(exposure, params, analysis))
}

/// An exposure with its analysis and what its products need.
fn analyzed_exposure(
    exposure: CalExposure,
    params: &AnalyzeParams,
    analysis: ExposureAnalysis,
) -> AnalyzedExposure {
    let mut exposure = exposure;
    crate::analyze::improved::mark_primary(&mut exposure.primary, params.mode);
    let (centre, fraction) = centre_and_fraction(&analysis.bandpass);
    let pixscale_arcsec = analysis.pixscale_rad.to_degrees() * 3600.0;
    let kept: Vec<usize> = analysis.integrations.iter().map(|f| f.index).collect();
    let meta = OiMeta::from_exposure(
        &exposure,
        &kept,
        pixscale_arcsec,
        analysis.n,
        (centre, centre * fraction),
    );
    AnalyzedExposure {
        exposure,
        analysis,
        meta,
    }
}

/// Per-integration observables with per-integration errors: the scatter between integrations
/// (standard deviation, i.e. the standard error of the mean times sqrt(nint)), or the
/// propagated errors for a single integration.
pub fn per_integration_sets(a: &ExposureAnalysis) -> Vec<ObservableSet> {
    let nint = a.integrations.len();
    let scale = (nint as f64).sqrt();
    let avg = &a.average;
    let times = |v: &Vec<f64>| v.iter().map(|e| e * scale).collect::<Vec<f64>>();
    a.integrations
        .iter()
        .map(|f| {
            if let Some(e) = &f.errors {
                return e.clone();
            }
            let o = &f.observables;
            ObservableSet {
                fringe_amp: o.fringe_amp.clone(),
                fringe_amp_err: times(&avg.fringe_amp_err),
                fringe_phase_rad: o.fringe_phase_rad.clone(),
                fringe_phase_err_rad: times(&avg.fringe_phase_err_rad),
                vis2: o.fringe_amp.iter().map(|v| v * v).collect(),
                vis2_err: times(&avg.vis2_err),
                closure_phase_rad: o.closure_phase_rad.clone(),
                closure_phase_err_rad: times(&avg.closure_phase_err_rad),
                t3_amp: o.t3_amp.clone(),
                t3_amp_err: times(&avg.t3_amp_err),
                closure_amp: o.closure_amp.clone(),
                closure_amp_err: times(&avg.closure_amp_err),
                quad_phase_rad: o.quad_phase_rad.clone(),
                quad_phase_err_rad: times(&avg.quad_phase_err_rad),
                piston_rad: o.piston_rad.clone(),
                piston_err_rad: times(&avg.piston_err_rad),
            }
        })
        .collect()
}

/// What the fit of an analysed exposure was, for its provenance cards.
pub fn fit_summary(an: &ExposureAnalysis) -> FitSummary {
    FitSummary {
        nint: an.integrations.len(),
        npix: an.n,
        mx: an.affine.mx,
        my: an.affine.my,
        sx: an.affine.sx,
        sy: an.affine.sy,
        dropped: an.dropped.len(),
        vis2_above_one: an.vis2_above_one,
        no_fringes: an.no_fringes,
    }
}

/// The primary header of an AmiLg-family product: input keywords plus step keywords.
pub fn lg_primary(input: &Header, extra: &[Card]) -> Header {
    let mut h = copied_primary(input);
    for c in extra {
        h.set(
            &c.key,
            c.value.clone().expect("step cards have values"),
            c.comment.as_deref(),
        );
    }
    h
}

/// The four stand-alone `ami_analyze` products of an exposure: `<root>_ami.fits`,
/// `<root>_ami-oi.fits`, `<root>_amimulti-oi.fits`, `<root>_amilg.fits`. The `_amilg` product
/// needs every integration's images, kept by [`analyze`] (the command line streams it instead:
/// [`analyze_source_into`]).
pub fn analyze_products(a: &AnalyzedExposure) -> Result<Vec<ProductFile>> {
    let mut products = averaged_products(a);
    products.push(ProductFile {
        name: amimulti_oi_name(a),
        bytes: write_amimulti_oi(a, Vec::new())?,
    });
    let name = amilg_name(a);
    let bytes = lg_fit_bytes(
        &name,
        a.analysis.n,
        &a.analysis.integration_images(),
        amilg_primary(a),
    )?;
    products.push(ProductFile { name, bytes });
    Ok(products)
}

/// The name of the `_amilg` product of `a`.
pub fn amilg_name(a: &AnalyzedExposure) -> String {
    product_name(&a.analysis.root, ProductKind::AmiLg)
}

/// The primary header of the `_amilg` product of `a`.
fn amilg_primary(a: &AnalyzedExposure) -> Header {
    let provenance = Provenance {
        fit: Some(fit_summary(&a.analysis)),
        ..Provenance::default()
    };
    lg_primary(
        &a.exposure.primary,
        &primary_cards(ProductKind::AmiLg, &provenance),
    )
}

/// Writes the `_amilg` product of `a`, whose integrations went to `amilg` as they were fitted
/// ([`analyze_source_into`]), to `out`.
pub fn finish_amilg<S: Read + Write + Seek, W: Write>(
    a: &AnalyzedExposure,
    amilg: LgFitWriter<S>,
    out: W,
) -> Result<W> {
    amilg.finish(amilg_primary(a), out)
}

/// The provenance of an exposure's stand-alone products.
fn analyze_provenance(a: &AnalyzedExposure) -> Provenance {
    Provenance {
        fit: Some(fit_summary(&a.analysis)),
        ..Provenance::default()
    }
}

/// An OIFITS product of `a` of `kind` holding `data`.
fn oi_product<'a>(a: &'a AnalyzedExposure, kind: ProductKind, data: OiData<'a>) -> OiProduct<'a> {
    OiProduct {
        meta: &a.meta,
        geometry: &a.analysis.geometry,
        affine: &a.analysis.affine,
        data,
        extra_primary: primary_cards(kind, &analyze_provenance(a)),
        calibrator_pistons: None,
    }
}

/// `_ami` and `_ami-oi` of an exposure: what needs only the averages.
fn averaged_products(a: &AnalyzedExposure) -> Vec<ProductFile> {
    let root = &a.analysis.root;
    let provenance = analyze_provenance(a);
    let lg = a.analysis.ami_lg();
    let primary = lg_primary(
        &a.exposure.primary,
        &primary_cards(ProductKind::Ami, &provenance),
    );
    let averaged = oi_product(a, ProductKind::AmiOi, OiData::Averaged(&a.analysis.average));
    vec![
        ProductFile {
            name: product_name(root, ProductKind::Ami),
            bytes: write_fits(&lg.to_hdus(primary)),
        },
        ProductFile {
            name: product_name(root, ProductKind::AmiOi),
            bytes: write_fits(&averaged.to_hdus()),
        },
    ]
}

/// The name of the `_amimulti-oi` product of `a`.
pub fn amimulti_oi_name(a: &AnalyzedExposure) -> String {
    product_name(&a.analysis.root, ProductKind::AmiMultiOi)
}

/// Writes the `_amimulti-oi` product of `a` (a row per integration; ~12 kB per integration) to
/// `out` one HDU at a time, so that it is never held whole.
pub fn write_amimulti_oi<W: Write>(a: &AnalyzedExposure, out: W) -> Result<W> {
    let per_int = per_integration_sets(&a.analysis);
    let product = oi_product(a, ProductKind::AmiMultiOi, OiData::PerIntegration(&per_int));
    let mut file = FitsWriter::new(out, &amimulti_oi_name(a));
    product.each_hdu(&mut |hdu| file.write_hdu(&hdu))?;
    file.finish()
}

/// Reads an exposure, analyses it and returns its products; errors name the file.
pub fn analyze_bytes(
    bytes: &[u8],
    file_name: &str,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(AnalyzedExposure, Vec<ProductFile>)> {
    analyze_source(
        std::sync::Arc::new(bytes.to_vec()),
        file_name,
        refs,
        params,
        planner,
        progress,
    )
}

/// [`analyze_bytes`] of the exposure in `source` (a file read as it is analysed).
pub fn analyze_source(
    source: std::sync::Arc<dyn ByteSource>,
    file_name: &str,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(AnalyzedExposure, Vec<ProductFile>)> {
    let exposure = CalExposure::open(source, file_name)?;
    let analyzed = analyze(exposure, refs, params, planner, progress)?;
    let products = analyze_products(&analyzed)?;
    Ok((analyzed, products))
}

/// [`analyze_source`] without keeping the integrations' images: each kept integration goes to
/// `amilg` as it is fitted, and the products returned are `_ami` and `_ami-oi`; write the
/// `_amimulti-oi` product with [`write_amimulti_oi`] and the `_amilg` product with
/// [`finish_amilg`], each straight to its file. Memory then grows with the integrations only by
/// their observables (a few kB each).
#[allow(clippy::too_many_arguments)]
pub fn analyze_source_into<S: Read + Write + Seek>(
    source: std::sync::Arc<dyn ByteSource>,
    file_name: &str,
    refs: &References,
    params: &AnalyzeParams,
    planner: &Planner,
    amilg: &mut LgFitWriter<S>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(AnalyzedExposure, Vec<ProductFile>)> {
    let exposure = CalExposure::open(source, file_name)?;
    let analysis = analyze_exposure_into(&exposure, refs, params, planner, amilg, progress)?;
    let analyzed = analyzed_exposure(exposure, params, analysis);
    let products = averaged_products(&analyzed);
    Ok((analyzed, products))
}
