//! The only file that knows about JavaScript: thin `wasm-bindgen` wrappers over the pipeline
//! for the page's workers. Bytes in, bytes and plain data out; no science here.

use crate::analyze::planner::Planner;
use crate::error::{Error, Kind};
use crate::fits::ByteSource;
use crate::options::Options;
use crate::pipeline::{
    analyze_member_source, combine, Association, MemberResult, PipelineOptions, Role,
};
use crate::products::observables::{deg, ObservableSet};
use crate::steps::ProductFile;
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// The page's options object: [`Options`] (the names of `ami3 run`'s options with `_`),
/// checked once; its errors name the option as the page shows it.
fn page_options(options: JsValue) -> Result<Options, Error> {
    let o: Options = serde_wasm_bindgen::from_value(options)
        .map_err(|e| Error::unnamed(Kind::BadOption, format!("options: {e}")))?;
    o.validate(&|field| field.to_string())?;
    Ok(o)
}

/// Checks the page's options before a run: throws the first problem, naming the option.
#[wasm_bindgen]
pub fn check_options(options: JsValue) -> Result<(), JsError> {
    page_options(options).map(|_| ()).map_err(js_err)
}

/// What the page needs to know of an association before reducing it: `{product, members:
/// [{expname, role: "science" | "psf"}], notes}`. Throws if `json` is not one.
#[wasm_bindgen]
pub fn read_association(json: &str, name: &str) -> Result<JsValue, JsError> {
    let asn = Association::from_json(json, name).map_err(js_err)?;
    association_view(&asn)
}

fn association_view(asn: &Association) -> Result<JsValue, JsError> {
    #[derive(Serialize)]
    struct MemberOut<'a> {
        expname: &'a str,
        role: &'static str,
    }
    #[derive(Serialize)]
    struct Out<'a> {
        product: &'a str,
        members: Vec<MemberOut<'a>>,
        notes: &'a [String],
    }
    to_js(&Out {
        product: &asn.product_name,
        members: asn
            .members
            .iter()
            .map(|m| MemberOut {
                expname: &m.expname,
                role: match m.role {
                    Role::Science => "science",
                    Role::Psf => "psf",
                },
            })
            .collect(),
        notes: &asn.notes,
    })
}

/// One reduction, built once per worker: the association, the options, the reference files
/// they name, and the planner whose bad-pixel fixer serves every exposure the worker analyses.
#[wasm_bindgen]
pub struct Reduction {
    asn: Association,
    options: PipelineOptions,
    references: crate::analyze::exposure::References,
    planner: Planner,
}

#[wasm_bindgen]
impl Reduction {
    /// `options` as [`Options`]; `names` and `files` are the reference files they may name
    /// (throughput, nrm, affine2d, bandpass), by name.
    #[wasm_bindgen(constructor)]
    pub fn new(
        asn_json: &str,
        asn_name: &str,
        options: JsValue,
        names: Vec<String>,
        files: Vec<js_sys::Uint8Array>,
    ) -> Result<Reduction, JsError> {
        let asn = Association::from_json(asn_json, asn_name).map_err(js_err)?;
        let o = page_options(options).map_err(js_err)?;
        let files: Vec<(String, Vec<u8>)> = names
            .into_iter()
            .zip(files.iter().map(|f| f.to_vec()))
            .collect();
        let read = |name: &str| {
            files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.clone())
                .ok_or_else(|| {
                    Error::file(
                        name,
                        Kind::Read,
                        "file not among the files given to the page",
                    )
                })
        };
        let (options, references) = o.resolve(&|f| f.to_string(), &read).map_err(js_err)?;
        Ok(Reduction {
            asn,
            options,
            references,
            planner: Planner::new(),
        })
    }

    /// The association as [`read_association`] gives it.
    pub fn association(&self) -> Result<JsValue, JsError> {
        association_view(&self.asn)
    }

    /// Analyses the member `expname` from its file's `bytes`. Returns `{products: [{name,
    /// bytes}], result: Uint8Array, view: {...}}`: `result` is opaque, for
    /// [`Reduction::combine`] (the bit-exact encoding of `MemberResult::to_bytes`; pass it as it
    /// is, a copy or a transfer). `progress(done, total)` is called per round of integrations.
    pub fn analyze(
        &self,
        bytes: Vec<u8>,
        expname: &str,
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsError> {
        // taken whole from JavaScript once: the Vec is the copy, not a second one
        self.analyze_source(std::sync::Arc::new(bytes), expname, progress)
    }

    /// [`Reduction::analyze`] of a file the worker reads as the analysis asks, never whole:
    /// `read(offset, length)` returns a `Uint8Array` of the file's bytes `offset .. offset +
    /// length` (the worker slices its `File` and reads the slice with `FileReaderSync`), and
    /// `size` is the file's size in bytes. The worker's memory then does not grow with the
    /// file: a 10,000-integration cube is read a few integrations at a time.
    pub fn analyze_file(
        &self,
        size: f64,
        read: js_sys::Function,
        expname: &str,
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsError> {
        let source =
            JsFileSource::new(size, read).map_err(|e| JsError::new(&format!("{expname}: {e}")))?;
        self.analyze_source(std::sync::Arc::new(source), expname, progress)
    }
}

impl Reduction {
    fn analyze_source(
        &self,
        source: std::sync::Arc<dyn ByteSource>,
        expname: &str,
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsError> {
        let member = self
            .asn
            .members
            .iter()
            .find(|m| m.expname == expname)
            .ok_or_else(|| JsError::new(&format!("{expname}: not a member of the association")))?;
        let report = |d: usize, t: usize| {
            let _ = progress.call2(
                &JsValue::NULL,
                &JsValue::from(d as u32),
                &JsValue::from(t as u32),
            );
        };
        let report = AssertSync::new(&report);
        let report = &report;
        let (result, products) = analyze_member_source(
            source,
            member,
            &self.asn,
            &self.references,
            &self.options,
            &self.planner,
            &move |d, t| report.call(d, t),
        )
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
}

#[wasm_bindgen]
impl Reduction {
    /// Combines member results (the `result` byte arrays of [`Reduction::analyze`], from any
    /// worker): averages and the calibrated product. Returns `{products, messages,
    /// calibrated_cp_deg, science, psf}`.
    pub fn combine(&self, results: Vec<js_sys::Uint8Array>) -> Result<JsValue, JsError> {
        let mut members = results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                MemberResult::from_bytes(&r.to_vec(), &format!("member result {}", i + 1))
            })
            .collect::<Result<Vec<_>, Error>>()
            .map_err(js_err)?;
        // keep ASN order whatever order the workers finished in
        members.sort_by_key(|m| {
            self.asn
                .members
                .iter()
                .position(|a| a.expname == m.member.expname)
                .unwrap_or(usize::MAX)
        });
        let c = combine(&self.asn, &members, &self.options);
        #[derive(Serialize)]
        struct Out<'a> {
            products: Vec<JsProduct<'a>>,
            messages: &'a [String],
            calibrated_cp_deg: Option<&'a [f64]>,
            science: Option<PlotSet>,
            psf: Option<PlotSet>,
        }
        to_js(&Out {
            products: products_js(&c.products),
            messages: &c.messages,
            calibrated_cp_deg: c.calibrated_closure_phases_deg.as_deref(),
            science: c.science_average.as_ref().map(PlotSet::of),
            psf: c.psf_average.as_ref().map(PlotSet::of),
        })
    }
}

/// The observables the page plots, angles in degrees.
#[derive(Debug, Serialize)]
pub struct PlotSet {
    pub fringe_amp: Vec<f64>,
    pub fringe_amp_err: Vec<f64>,
    pub vis2: Vec<f64>,
    pub vis2_err: Vec<f64>,
    pub closure_phase_deg: Vec<f64>,
    pub closure_phase_err_deg: Vec<f64>,
}

impl PlotSet {
    fn of(o: &ObservableSet) -> PlotSet {
        PlotSet {
            fringe_amp: o.fringe_amp.clone(),
            fringe_amp_err: o.fringe_amp_err.clone(),
            vis2: o.vis2.clone(),
            vis2_err: o.vis2_err.clone(),
            closure_phase_deg: deg(&o.closure_phase_rad),
            closure_phase_err_deg: deg(&o.closure_phase_err_rad),
        }
    }
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
    pub observables: PlotSet,
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
        observables: PlotSet::of(&r.lg.observables),
        baseline_length_m: len,
        u_m: u,
        v_m: v,
        notes: r.notes.clone(),
    }
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

/// A file in the page, read through a JavaScript `read(offset, length)` callback. Like
/// [`AssertSync`], it calls JavaScript only from the thread that made it (the analysis reads on
/// the thread that called into wasm); from any other it reports an error instead.
struct JsFileSource {
    read: js_sys::Function,
    len: u64,
    owner: std::thread::ThreadId,
}

impl JsFileSource {
    fn new(size: f64, read: js_sys::Function) -> Result<Self, String> {
        // a byte offset is exact in an f64 up to 2^53
        if !(size.is_finite() && size >= 0.0 && size <= 2f64.powi(53) && size.fract() == 0.0) {
            return Err(format!("{size} is not a file size"));
        }
        Ok(JsFileSource {
            read,
            len: size as u64,
            owner: std::thread::current().id(),
        })
    }
}

impl ByteSource for JsFileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
        if std::thread::current().id() != self.owner {
            return Err("internal error: the file was read from a worker thread".into());
        }
        let out = self
            .read
            .call2(
                &JsValue::NULL,
                &JsValue::from(offset as f64),
                &JsValue::from(buf.len() as f64),
            )
            .map_err(|e| {
                let why = e
                    .dyn_ref::<js_sys::Error>()
                    .map_or_else(|| format!("{e:?}"), |e| String::from(e.message()));
                format!("cannot read {} bytes at byte {offset}: {why}", buf.len())
            })?;
        let bytes = out
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| "internal error: the page's reader returned no byte array".to_string())?;
        if bytes.length() as usize != buf.len() {
            return Err(format!(
                "{} bytes at byte {offset} asked, {} read (was the file changed?)",
                buf.len(),
                bytes.length()
            ));
        }
        bytes.copy_to(buf);
        Ok(())
    }
}

// SAFETY: `read_at` only calls JavaScript from the thread that created the source.
unsafe impl Send for JsFileSource {}
unsafe impl Sync for JsFileSource {}

/// The companion search (companion.md) on calibrated OIFITS files given by name: the
/// association's `_aminorm-oi` product, or files dropped on the page (fitted jointly). `options`
/// as [`crate::companion::FitOptions`] (`{}` for the defaults). Returns `{fit, json, map,
/// closure_phases, warnings}`: `json` is the text `ami3 fit-binary --json` writes for the same
/// files (`seconds` aside, the time it took here).
#[wasm_bindgen]
pub fn fit_binary(
    names: Vec<String>,
    files: Vec<js_sys::Uint8Array>,
    options: JsValue,
) -> Result<JsValue, JsError> {
    let options: crate::companion::FitOptions = serde_wasm_bindgen::from_value(options)
        .map_err(|e| JsError::new(&format!("companion options: {e}")))?;
    options.validate().map_err(js_err)?;
    let inputs: Vec<(String, Vec<u8>)> = names
        .into_iter()
        .zip(files.iter().map(|f| f.to_vec()))
        .collect();
    let report = crate::companion::fit_files(&inputs, &options).map_err(js_err)?;
    #[derive(Serialize)]
    struct Out<'a> {
        #[serde(flatten)]
        report: &'a crate::companion::FitReport,
        json: String,
    }
    to_js(&Out {
        report: &report,
        json: crate::companion::fit_json(&report.fit),
    })
}

/// The built-in demo: an association of a star with a faint companion and a reference star,
/// simulated by our own model. Returns `[{name, bytes}]` (ASN JSON first).
#[wasm_bindgen]
pub fn demo_files_js() -> Result<JsValue, JsError> {
    let files = crate::simulate::demo_association();
    to_js(&products_js(&files))
}
