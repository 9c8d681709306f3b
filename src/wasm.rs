//! The only file that knows about JavaScript: thin `wasm-bindgen` wrappers over the pipeline
//! for the page's workers. Bytes in, bytes and plain data out; no science here.

use crate::analyze::exposure::References;
use crate::analyze::planner::Planner;
use crate::error::Error;
use crate::options::{build_params, build_references, AnalyzeOptions};
use crate::pipeline::{
    analyze_member, combine, Association, Member, MemberResult, PipelineOptions, Role,
};
use crate::steps::ProductFile;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

/// Options as the page sends them (strings, as on the command line).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PageOptions {
    pub save_averages: bool,
    pub oifits: Option<bool>,
    pub oversample: Option<String>,
    pub affine2d: Option<String>,
    pub rotation_search: Option<String>,
    pub psf_offset: Option<String>,
    pub rotation: Option<String>,
    pub usebp: Option<bool>,
    pub run_bpfix: Option<bool>,
    pub firstfew: Option<String>,
    pub chooseholes: Option<String>,
}

/// Looks a named file up among the files the page passed.
fn reader(files: &[(String, Vec<u8>)]) -> impl Fn(&str) -> Result<Vec<u8>, Error> + '_ {
    move |name: &str| {
        files
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.clone())
            .ok_or_else(|| Error::new(name, "file not among the files given to the page"))
    }
}

/// Pipeline options from page options; `affine2d` may name an uploaded JSON file in `files`.
pub fn pipeline_options(
    o: &PageOptions,
    files: &[(String, Vec<u8>)],
) -> Result<PipelineOptions, Error> {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
    let opts = AnalyzeOptions {
        oversample: nonempty(&o.oversample),
        affine2d: nonempty(&o.affine2d),
        rotation_search: nonempty(&o.rotation_search),
        psf_offset: nonempty(&o.psf_offset),
        rotation: nonempty(&o.rotation),
        usebp: o.usebp.map(|b| b.to_string()),
        run_bpfix: o.run_bpfix.map(|b| b.to_string()),
        firstfew: nonempty(&o.firstfew),
        chooseholes: nonempty(&o.chooseholes),
        ..Default::default()
    };
    let read = reader(files);
    Ok(PipelineOptions {
        save_averages: o.save_averages,
        oifits: o.oifits.unwrap_or(true),
        analyze: build_params(&opts, &read)?,
    })
}

/// What the page shows for one exposure.
#[derive(Debug, Serialize)]
pub struct MemberView {
    pub name: String,
    pub role: Role,
    pub n: usize,
    pub nint: usize,
    /// Integration-averaged data is not kept by AmiLg; the model and residual images are.
    pub model: Vec<f64>,
    pub residual: Vec<f64>,
    pub data: Vec<f64>,
    pub observables: crate::products::observables::ObservableSet,
    /// Baseline lengths (m) in baseline order, and (u, v) in metres.
    pub baseline_length_m: Vec<f64>,
    pub u_m: Vec<f64>,
    pub v_m: Vec<f64>,
    pub notes: Vec<String>,
}

#[derive(Serialize)]
struct JsProduct<'a> {
    name: &'a str,
    #[serde(with = "serde_bytes_as_array")]
    bytes: &'a [u8],
}

mod serde_bytes_as_array {
    pub fn serialize<S: serde::Serializer>(b: &&[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }
}

fn js_err(e: Error) -> JsError {
    JsError::new(&e.to_string())
}

fn to_js<T: Serialize>(v: &T) -> Result<JsValue, JsError> {
    let ser = serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true);
    v.serialize(&ser).map_err(|e| JsError::new(&e.to_string()))
}

fn products_js(p: &[ProductFile]) -> Vec<JsProduct<'_>> {
    p.iter()
        .map(|f| JsProduct {
            name: &f.name,
            bytes: &f.bytes,
        })
        .collect()
}

/// Reference files passed by the page (each optional).
fn references(throughput: Option<Vec<u8>>, nrm: Option<Vec<u8>>) -> Result<References, Error> {
    let files: Vec<(String, Vec<u8>)> = [("throughput", throughput), ("nrm", nrm)]
        .into_iter()
        .filter_map(|(n, b)| b.map(|b| (n.to_string(), b)))
        .collect();
    let opts = AnalyzeOptions {
        throughput: files
            .iter()
            .any(|(n, _)| n == "throughput")
            .then(|| "throughput".to_string()),
        nrm: files
            .iter()
            .any(|(n, _)| n == "nrm")
            .then(|| "nrm".to_string()),
        ..Default::default()
    };
    let read = reader(&files);
    build_references(&opts, &read)
}

/// Builds the view of a member from its AmiLg and geometry.
fn member_view(r: &MemberResult) -> MemberView {
    let eqt = crate::products::oifits::sky_centres(
        &crate::products::oifits::effective_centres(&r.geometry, &r.affine),
        &r.meta,
    );
    let orders = crate::analyze::observables::Orders::new(r.geometry.n_holes());
    let (mut u, mut v, mut len) = (Vec::new(), Vec::new(), Vec::new());
    for &[a, b] in &orders.baselines {
        let (du, dv) = (eqt[a][1] - eqt[b][1], eqt[a][0] - eqt[b][0]);
        u.push(du);
        v.push(dv);
        len.push(crate::portable::hypot(du, dv));
    }
    let data: Vec<f64> =
        r.lg.fit
            .iter()
            .zip(&r.lg.resid)
            .map(|(m, res)| if res.is_finite() { m + res } else { f64::NAN })
            .collect();
    MemberView {
        name: r.member.expname.clone(),
        role: r.member.role,
        n: r.lg.n,
        nint: r.nint,
        model: r.lg.fit.clone(),
        residual: r.lg.resid.clone(),
        data,
        observables: r.lg.observables.clone(),
        baseline_length_m: len,
        u_m: u,
        v_m: v,
        notes: r.notes.clone(),
    }
}

/// Analyses one ASN member. Returns `{products: [{name, bytes}], result: Uint8Array, view:
/// {...}}`: `result` is opaque, for `combine_js` (the bit-exact encoding of
/// `MemberResult::to_bytes`; pass it as it is, a copy or a transfer). `progress(done, total)` is
/// called per integration.
#[wasm_bindgen]
#[allow(clippy::too_many_arguments)]
pub fn analyze_member_js(
    bytes: &[u8],
    expname: &str,
    role: &str,
    asn_json: &str,
    asn_name: &str,
    options: JsValue,
    throughput: Option<Vec<u8>>,
    nrm: Option<Vec<u8>>,
    affine_file: Option<Vec<u8>>,
    progress: &js_sys::Function,
) -> Result<JsValue, JsError> {
    let asn = Association::from_json(asn_json, asn_name).map_err(js_err)?;
    let o: PageOptions =
        serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&e.to_string()))?;
    let files: Vec<(String, Vec<u8>)> = affine_file
        .into_iter()
        .map(|b| (o.affine2d.clone().unwrap_or_default(), b))
        .collect();
    let opts = pipeline_options(&o, &files).map_err(js_err)?;
    let refs = references(throughput, nrm).map_err(js_err)?;
    let role = if role.eq_ignore_ascii_case("psf") {
        Role::Psf
    } else {
        Role::Science
    };
    let member = Member {
        expname: expname.to_string(),
        role,
    };
    let report = |d: usize, t: usize| {
        let _ = progress.call2(
            &JsValue::NULL,
            &JsValue::from(d as u32),
            &JsValue::from(t as u32),
        );
    };
    let report = AssertSync::new(&report);
    let report = &report;
    let (result, products) = WORKER_PLANNER
        .with(|planner| {
            analyze_member(bytes, &member, &asn, &refs, &opts, planner, &move |d, t| {
                report.call(d, t)
            })
        })
        .map_err(js_err)?;
    #[derive(Serialize)]
    struct Out<'a> {
        products: Vec<JsProduct<'a>>,
        #[serde(with = "serde_bytes_as_array")]
        result: &'a [u8],
        view: MemberView,
    }
    to_js(&Out {
        products: products_js(&products),
        result: &result.to_bytes(),
        view: member_view(&result),
    })
}

thread_local! {
    /// This worker's planner: a page worker is one wasm instance called from one thread, so the
    /// bad-pixel fixer built for its first exposure serves the exposures it analyses next.
    static WORKER_PLANNER: Planner = Planner::new();
}

/// A JS progress callback made shareable with rayon: it is only ever invoked on the thread that
/// called into wasm (JS functions cannot cross threads). The analysis reports from that thread
/// between rounds of integrations, so the threaded build reports too. The thread is recognised by
/// its id, not by `rayon::current_thread_index()`: in the plain (no-atomics) build rayon makes
/// the calling thread its one worker, which has an index too.
struct AssertSync<'a> {
    callback: &'a dyn Fn(usize, usize),
    owner: std::thread::ThreadId,
}

impl<'a> AssertSync<'a> {
    fn new(callback: &'a dyn Fn(usize, usize)) -> Self {
        AssertSync {
            callback,
            owner: std::thread::current().id(),
        }
    }

    fn call(&self, done: usize, total: usize) {
        if std::thread::current().id() == self.owner {
            (self.callback)(done, total)
        }
    }
}

// SAFETY: `call` only touches the callback from the thread that created it.
unsafe impl Sync for AssertSync<'_> {}

/// Combines member results (the `result` byte arrays of `analyze_member_js`): averages and the
/// calibrated product. Returns `{products, messages, calibrated_cp_deg, science, psf}`.
#[wasm_bindgen]
pub fn combine_js(
    asn_json: &str,
    asn_name: &str,
    results: Vec<js_sys::Uint8Array>,
    options: JsValue,
) -> Result<JsValue, JsError> {
    let asn = Association::from_json(asn_json, asn_name).map_err(js_err)?;
    let o: PageOptions =
        serde_wasm_bindgen::from_value(options).map_err(|e| JsError::new(&e.to_string()))?;
    // Combining needs only the pipeline switches; the analysis options (which may name an
    // uploaded affine2d file, not passed here) were used by analyze_member_js.
    let opts = PipelineOptions {
        save_averages: o.save_averages,
        oifits: o.oifits.unwrap_or(true),
        ..Default::default()
    };
    let mut members = results
        .iter()
        .enumerate()
        .map(|(i, r)| MemberResult::from_bytes(&r.to_vec(), &format!("member result {}", i + 1)))
        .collect::<Result<Vec<_>, Error>>()
        .map_err(js_err)?;
    // keep ASN order whatever order the workers finished in
    members.sort_by_key(|m| {
        asn.members
            .iter()
            .position(|a| a.expname == m.member.expname)
            .unwrap_or(usize::MAX)
    });
    let c = combine(&asn, &members, &opts);
    #[derive(Serialize)]
    struct Out<'a> {
        products: Vec<JsProduct<'a>>,
        messages: Vec<String>,
        calibrated_cp_deg: Option<Vec<f64>>,
        science: Option<crate::products::observables::ObservableSet>,
        psf: Option<crate::products::observables::ObservableSet>,
    }
    to_js(&Out {
        products: products_js(&c.products),
        messages: c.messages.clone(),
        calibrated_cp_deg: c.calibrated_closure_phases_deg.clone(),
        science: c.science_average.clone(),
        psf: c.psf_average.clone(),
    })
}

/// The built-in demo: an association of a star with a faint companion and a reference star,
/// simulated by our own model. Returns `[{name, bytes}]` (ASN JSON first).
#[wasm_bindgen]
pub fn demo_files_js() -> Result<JsValue, JsError> {
    let files = crate::simulate::demo_association();
    to_js(&products_js(&files))
}
