//! `calwebb_ami3` (ami3.md §2, upstream.md §7.1–7.2): reads an association, runs `ami_analyze`
//! on every science and reference-star member, averages each group with `ami_average`,
//! calibrates the science average by the reference average with `ami_normalize`, and names the
//! products. Split in two so the page can analyse members in separate workers: `analyze_member`
//! per exposure, then `combine` over the member results.

use crate::analyze::exposure::{AnalyzeParams, References};
use crate::analyze::planner::Planner;
use crate::average::average;
use crate::error::{Error, Kind, Result};
use crate::fits::{write_fits, ByteSource, Card, Header};
use crate::niriss::affine::Affine2d;
use crate::niriss::mask::MaskGeometry;
use crate::normalize::normalize;
use crate::products::amilg::AmiLg;
use crate::products::observables::ObservableSet;
use crate::products::oifits::{OiData, OiMeta, OiProduct};
use crate::products::registry::{primary_cards, product_name, FitSummary, ProductKind, Provenance};
use crate::steps::{analyze_with, fit_summary, lg_primary, ProductFile};
use std::sync::Arc;

/// Member role in the association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Role {
    Science,
    Psf,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Member {
    pub expname: String,
    pub role: Role,
}

/// The parts of an ASN the pipeline uses.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Association {
    /// Base name of the ASN file (written to ASNTABLE).
    pub table_name: String,
    pub asn_id: String,
    pub asn_pool: String,
    pub product_name: String,
    pub members: Vec<Member>,
    /// What was left out of the association and why (unknown exptypes, repeated members).
    pub notes: Vec<String>,
}

impl Association {
    pub fn from_json(text: &str, file_name: &str) -> Result<Self> {
        let err = |p: &str| Error::file(file_name, Kind::BadAssociation, p);
        // a byte-order mark, as some editors write, is not part of the JSON
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::file(
                file_name,
                Kind::BadAssociation,
                format!("not valid JSON: {e}"),
            )
        })?;
        let product = v
            .get("products")
            .and_then(|p| p.as_array())
            .and_then(|p| p.first())
            .ok_or_else(|| err("no products[0] in the association"))?;
        let product_name = product
            .get("name")
            .and_then(|n| n.as_str())
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| err("products[0] has no name"))?
            .trim()
            .to_string();
        let members = product
            .get("members")
            .and_then(|m| m.as_array())
            .ok_or_else(|| err("products[0] has no members list"))?;
        let mut out: Vec<Member> = Vec::new();
        let mut notes = Vec::new();
        for (i, m) in members.iter().enumerate() {
            let expname = m
                .get("expname")
                .and_then(|x| x.as_str())
                .ok_or_else(|| err(&format!("member {i} has no expname")))?;
            let exptype = m.get("exptype").and_then(|x| x.as_str()).map(str::trim);
            let role = match exptype.map(str::to_ascii_lowercase).as_deref() {
                Some("science") => Role::Science,
                Some("psf") => Role::Psf,
                _ => {
                    notes.push(format!(
                        "member {expname} has exptype {}: neither science nor psf, left out",
                        exptype.map_or("(none)".to_string(), |t| format!("'{t}'"))
                    ));
                    continue;
                }
            };
            if out.iter().any(|o| o.expname == expname) {
                // averaging it twice would weigh it twice
                notes.push(format!(
                    "member {expname} is listed more than once: reduced once"
                ));
                continue;
            }
            out.push(Member {
                expname: expname.to_string(),
                role,
            });
        }
        if !out.iter().any(|m| m.role == Role::Science) {
            return Err(err("no member with exptype 'science': nothing to reduce"));
        }
        let base = file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(file_name)
            .to_string();
        let asn_id = v
            .get("asn_id")
            .and_then(|x| x.as_str())
            .unwrap_or("a0000")
            .trim()
            .to_string();
        // both become parts of output file names (ami3.md §2): they must stay plain names
        plain_name(&product_name, "products[0].name", file_name)?;
        plain_name(&asn_id, "asn_id", file_name)?;
        Ok(Association {
            table_name: base,
            asn_id,
            asn_pool: v
                .get("asn_pool")
                .and_then(|x| x.as_str())
                .unwrap_or("")
                .trim()
                .to_string(),
            product_name,
            members: out,
            notes,
        })
    }

    /// The provenance of this association's products (`ASNPOOL`, `ASNTABLE`), with the fit of
    /// one exposure (member products) or none (combined products) and the step's own cards.
    fn provenance(&self, fit: Option<FitSummary>, step: Vec<Card>) -> Provenance {
        Provenance {
            association: Some((self.asn_pool.clone(), self.table_name.clone())),
            fit,
            step,
        }
    }
}

/// Checks that `name` (the `field` of association `asn_file`) can be part of a file name inside
/// the output folder: not empty, no path separator, no `..`, no control character, no `:`.
/// Product names are built from it, so a hostile association cannot write outside `--out` or
/// fail halfway through the writes.
pub fn plain_name(name: &str, field: &str, asn_file: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name.contains("..") {
        Some("contains '..'")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.contains(':') {
        // a drive letter or an NTFS stream on Windows
        Some("contains ':'")
    } else {
        None
    };
    match problem {
        Some(p) => Err(Error::file(
            asn_file,
            Kind::BadAssociation,
            format!("{field} {name:?} {p}: it names output files, which must stay inside the output folder"),
        )),
        None => Ok(()),
    }
}

/// Pipeline options.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOptions {
    pub save_averages: bool,
    pub oifits: bool,
    pub analyze: AnalyzeParams,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            save_averages: false,
            oifits: true,
            analyze: AnalyzeParams::default(),
        }
    }
}

/// What one member's analysis leaves for `combine`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct MemberResult {
    pub member: Member,
    pub lg: AmiLg,
    pub meta: OiMeta,
    pub geometry: MaskGeometry,
    pub affine: Affine2d,
    /// Notes from the analysis.
    pub notes: Vec<String>,
    /// Integrations fitted.
    pub nint: usize,
    /// Side of the cropped image.
    pub n: usize,
}

impl MemberResult {
    /// The bytes that carry a member result from the worker that analysed it to the one that
    /// combines (the page). postcard writes every `f64` as its eight bytes, so NaN (with its
    /// sign and payload) and ±Inf come back bit for bit; JSON has no NaN and wrote `null`, which
    /// lost the combined products of every exposure with a flagged pixel.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("a member result always serialises")
    }

    /// Reads what [`MemberResult::to_bytes`] wrote; `what` names the input in the error.
    pub fn from_bytes(bytes: &[u8], what: &str) -> Result<Self> {
        postcard::from_bytes(bytes).map_err(|e| {
            Error::message(
                what,
                format!("not a member result of this version of ami3 ({e})"),
            )
        })
    }
}

/// An averaged OIFITS product (`_ami-oi`, `_psf-ami-oi`, `_aminorm-oi`).
fn oi_file(
    stem: &str,
    kind: ProductKind,
    provenance: &Provenance,
    member: &MemberResult,
    meta: &OiMeta,
    set: &ObservableSet,
    calibrator: Option<&ObservableSet>,
) -> ProductFile {
    let p = OiProduct {
        meta,
        geometry: &member.geometry,
        affine: &member.affine,
        data: OiData::Averaged(set),
        extra_primary: primary_cards(kind, provenance),
        calibrator_pistons: calibrator
            .map(|c| (c.piston_rad.as_slice(), c.piston_err_rad.as_slice())),
    };
    ProductFile {
        name: product_name(stem, kind),
        bytes: write_fits(&p.to_hdus()),
    }
}

/// An AmiLg-model product (`_ami`, `_amiavg`, `_psf-amiavg`, `_aminorm`).
fn lg_file(
    stem: &str,
    kind: ProductKind,
    provenance: &Provenance,
    lg: &AmiLg,
    input_primary: &Header,
) -> ProductFile {
    let cards = primary_cards(kind, provenance);
    ProductFile {
        name: product_name(stem, kind),
        bytes: write_fits(&lg.to_hdus(lg_primary(input_primary, &cards))),
    }
}

/// Analyses one member from its file's `bytes` (taken, not copied) and writes its
/// exposure-level products (`_ami`, and with `oifits` `_ami-oi` or `_psf-ami-oi`).
pub fn analyze_member(
    bytes: Vec<u8>,
    member: &Member,
    asn: &Association,
    refs: &References,
    options: &PipelineOptions,
    planner: &Planner,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(MemberResult, Vec<ProductFile>)> {
    analyze_member_source(
        Arc::new(bytes),
        member,
        asn,
        refs,
        options,
        planner,
        progress,
    )
}

/// [`analyze_member`] of the exposure in `source`, read an integration at a time as it is
/// analysed: neither the file nor every integration's images are held at once.
pub fn analyze_member_source(
    source: Arc<dyn ByteSource>,
    member: &Member,
    asn: &Association,
    refs: &References,
    options: &PipelineOptions,
    planner: &Planner,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<(MemberResult, Vec<ProductFile>)> {
    let exposure = crate::products::exposure::CalExposure::open(source, &member.expname)?;
    let analyzed = analyze_with(exposure, refs, &options.analyze, planner, false, progress)?;
    let an = &analyzed.analysis;
    let result = MemberResult {
        member: member.clone(),
        lg: an.ami_lg(),
        meta: analyzed.meta.clone(),
        geometry: an.geometry.clone(),
        affine: an.affine,
        notes: an.notes.clone(),
        nint: an.integrations.len(),
        n: an.n,
    };
    let stem = format!("{}_{}", an.root, asn.asn_id);
    let provenance = asn.provenance(Some(fit_summary(an)), Vec::new());
    let mut products = vec![lg_file(
        &stem,
        ProductKind::Ami,
        &provenance,
        &result.lg,
        &analyzed.exposure.primary,
    )];
    if options.oifits {
        let kind = match member.role {
            Role::Psf => ProductKind::PsfAmiOi,
            Role::Science => ProductKind::AmiOi,
        };
        products.push(oi_file(
            &stem,
            kind,
            &provenance,
            &result,
            &analyzed.meta,
            &an.average,
            None,
        ));
    }
    Ok((result, products))
}

/// The source-level products and messages of the pipeline.
#[derive(Debug, Clone, Default)]
pub struct Combined {
    pub products: Vec<ProductFile>,
    pub messages: Vec<String>,
    /// Calibrated closure phases (degrees), when a reference star was reduced.
    pub calibrated_closure_phases_deg: Option<Vec<f64>>,
    pub science_average: Option<ObservableSet>,
    pub psf_average: Option<ObservableSet>,
}

/// `ami_average` of each group and `ami_normalize`, from the members that were reduced.
pub fn combine(asn: &Association, results: &[MemberResult], options: &PipelineOptions) -> Combined {
    let mut out = Combined {
        messages: asn.notes.clone(),
        ..Combined::default()
    };
    let science: Vec<&MemberResult> = results
        .iter()
        .filter(|r| r.member.role == Role::Science)
        .collect();
    let psf: Vec<&MemberResult> = results
        .iter()
        .filter(|r| r.member.role == Role::Psf)
        .collect();
    if science.is_empty() {
        out.messages
            .push("no science exposure was reduced: no averages, no calibrated product".into());
        return out;
    }
    let holes = &science[0].geometry.holes;
    if results.iter().any(|r| &r.geometry.holes != holes) {
        out.messages
            .push("members were fitted with different hole sets: cannot average them".into());
        return out;
    }
    let filter = |r: &MemberResult| {
        r.meta
            .input_primary
            .get_str("FILTER")
            .map(|f| f.trim().to_ascii_uppercase())
    };
    let filters: std::collections::BTreeSet<String> = results.iter().filter_map(filter).collect();
    if filters.len() > 1 {
        out.messages.push(format!(
            "members were taken through different filters ({}): cannot average or calibrate them together",
            filters.into_iter().collect::<Vec<_>>().join(", ")
        ));
        return out;
    }
    let lgs = |group: &[&MemberResult]| group.iter().map(|r| r.lg.clone()).collect::<Vec<_>>();
    let sci_avg = average(&lgs(&science));
    let first = science[0];
    let product = &asn.product_name;
    let averaged = asn.provenance(None, Vec::new());
    let psf_avg = if psf.is_empty() {
        None
    } else {
        Some(average(&lgs(&psf)))
    };
    if options.save_averages {
        out.products.push(lg_file(
            product,
            ProductKind::AmiAvg,
            &averaged,
            &sci_avg,
            &first.meta.input_primary,
        ));
        if let (Some(p), Some(pm)) = (&psf_avg, psf.first()) {
            out.products.push(lg_file(
                product,
                ProductKind::PsfAmiAvg,
                &averaged,
                p,
                &pm.meta.input_primary,
            ));
        }
    }
    out.science_average = Some(sci_avg.observables.clone());
    match (&psf_avg, psf.first()) {
        (Some(p), Some(pm)) => {
            out.psf_average = Some(p.observables.clone());
            let norm = normalize(&sci_avg, p);
            let calib = pm
                .meta
                .input_primary
                .get_str("TARGPROP")
                .unwrap_or("UNKNOWN")
                .trim()
                .to_string();
            let calibrated = asn.provenance(
                None,
                vec![
                    Card::new("CALIB", calib.as_str(), Some("calibrator target")),
                    Card::new(
                        "NSCIEXP",
                        science.len() as i64,
                        Some("science exposures averaged"),
                    ),
                    Card::new(
                        "NPSFEXP",
                        psf.len() as i64,
                        Some("reference exposures averaged"),
                    ),
                ],
            );
            out.products.push(lg_file(
                product,
                ProductKind::AmiNorm,
                &calibrated,
                &norm,
                &first.meta.input_primary,
            ));
            if options.oifits {
                let mut meta = first.meta.clone();
                let mjds: Vec<f64> = science.iter().map(|r| r.meta.mjd_mean).collect();
                meta.mjd_mean = mjds.iter().sum::<f64>() / mjds.len() as f64;
                meta.int_time_s = science
                    .iter()
                    .map(|r| r.meta.int_time_s * r.nint as f64)
                    .sum();
                out.products.push(oi_file(
                    product,
                    ProductKind::AmiNormOi,
                    &calibrated,
                    first,
                    &meta,
                    &norm.observables,
                    Some(&p.observables),
                ));
            }
            out.calibrated_closure_phases_deg = Some(
                norm.observables
                    .closure_phase_rad
                    .iter()
                    .map(|c| c.to_degrees())
                    .collect(),
            );
        }
        _ => out.messages.push(
            "no reference-star (psf) exposure: ami_normalize skipped, no calibrated product".into(),
        ),
    }
    out
}

/// Runs the whole pipeline; `load` returns a member's bytes by its ASN name. Members that fail
/// are reported in the returned errors; the rest are reduced.
pub fn run_pipeline(
    asn: &Association,
    load: &(dyn Fn(&str) -> Result<Vec<u8>> + Sync),
    refs: &References,
    options: &PipelineOptions,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> (Vec<ProductFile>, Combined, Vec<Error>) {
    let open = |name: &str| load(name).map(|b| Arc::new(b) as Arc<dyn ByteSource>);
    run_pipeline_sources(asn, &open, refs, options, progress)
}

/// [`run_pipeline`] with `open` giving a member's file to read as it is analysed (the
/// command line's files on disk): one member's analysis needs memory that does not grow with
/// its number of integrations.
pub fn run_pipeline_sources(
    asn: &Association,
    open: &(dyn Fn(&str) -> Result<Arc<dyn ByteSource>> + Sync),
    refs: &References,
    options: &PipelineOptions,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> (Vec<ProductFile>, Combined, Vec<Error>) {
    // the members share filter, pixel scale and mask: one planner builds their fixer once
    let planner = Planner::new();
    let mut products = Vec::new();
    let mut results = Vec::new();
    let mut errors = Vec::new();
    for member in &asn.members {
        let outcome = open(&member.expname).and_then(|source| {
            analyze_member_source(source, member, asn, refs, options, &planner, &|d, t| {
                progress(&member.expname, d, t)
            })
        });
        match outcome {
            Ok((r, p)) => {
                results.push(r);
                products.extend(p);
            }
            Err(e) => errors.push(e),
        }
    }
    let combined = combine(asn, &results, options);
    (products, combined, errors)
}
