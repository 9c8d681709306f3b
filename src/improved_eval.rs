//! Evaluation sets and metrics for the improved mode (issue 15), shared by
//! `examples/eval_improved.rs` (the table in README and BENCHMARKS.md) and `tests/improved.rs`.
//! Each set is an association simulated with our own forward model (`simulate`): two exposures
//! of a binary of known truth and two of a point-like reference star, with fixed seeds, in
//! filters, companion positions and contrasts unlike the shared F480M set, some with flagged
//! pixels at chosen distances from the core and some with a pupil-model mismatch the fit does
//! not know (the simulation's pupil rotated or magnified). The metrics: calibrated closure
//! phases against the closed-form binary (35 triangles), the spread of (value − truth)/error,
//! and the companion fit's error in separation, position angle and Δmag.

use crate::analyze::bandpass::from_throughput;
use crate::analyze::exposure::References;
use crate::analyze::improved::Mode;
use crate::analyze::observables::{wrap_pi, Orders};
use crate::error::{Error, Kind, Result};
use crate::niriss::affine::Affine2d;
use crate::niriss::filters::BandpassSample;
use crate::niriss::mask::MaskGeometry;
use crate::pipeline::{run_pipeline, Association, PipelineOptions};
use crate::products::exposure::DO_NOT_USE;
use crate::simulate::{exposure_fits, noiseless_image, simulate_from_image, SimSpec};
use std::collections::HashMap;
use std::f64::consts::PI;

/// One evaluation set's recipe.
#[derive(Debug, Clone)]
pub struct EvalSet {
    pub name: &'static str,
    pub filter: &'static str,
    /// Companion (dx, dy) pixels and flux ratio.
    pub companion: (f64, f64, f64),
    /// Distances (pixels) from the core of flagged (DO_NOT_USE, zeroed) pixels in every
    /// integration of every exposure.
    pub flagged_radii_px: &'static [f64],
    /// Extra pupil rotation (degrees) and magnification of the simulation only.
    pub mismatch_rotation_deg: f64,
    pub mismatch_scale: f64,
    pub seed: u64,
}

/// The evaluation sets. The improved mode has no tuned constant; its choices (the variance
/// law, no clipping) were made looking at all of these and the shared set, so none of those is held
/// out; `f380m-heldout` was added afterwards and is (README, "Improved mode").
pub fn eval_sets() -> Vec<EvalSet> {
    let s = |name, filter, companion, flagged, rot, scale, seed| EvalSet {
        name,
        filter,
        companion,
        flagged_radii_px: flagged,
        mismatch_rotation_deg: rot,
        mismatch_scale: scale,
        seed,
    };
    vec![
        s("f380m-wide", "F380M", (1.6, -2.3, 0.05), &[], 0.0, 1.0, 11),
        s(
            "f430m-flagged",
            "F430M",
            (-2.8, 0.9, 0.15),
            &[1.5, 3.0, 6.0, 10.0],
            0.0,
            1.0,
            23,
        ),
        s(
            "f480m-rotated",
            "F480M",
            (2.5, 1.0, 0.08),
            &[],
            0.8,
            1.0,
            37,
        ),
        s(
            "f430m-magnified",
            "F430M",
            (-1.2, -2.6, 0.03),
            &[2.0],
            0.0,
            1.01,
            41,
        ),
        // added after the mode's choices were made, and not looked at before: held out
        s(
            "f380m-heldout",
            "F380M",
            (2.0, 2.2, 0.1),
            &[4.0, 8.0],
            0.0,
            1.0,
            53,
        ),
    ]
}

/// The pupil seen by the simulation: the commissioning affine rotated and magnified.
fn sim_affine(set: &EvalSet) -> Affine2d {
    let a = Affine2d::commissioning();
    let t = set.mismatch_rotation_deg.to_radians();
    let (s, c) = t.sin_cos();
    let k = set.mismatch_scale;
    Affine2d {
        mx: k * (c * a.mx - s * a.sy),
        sx: k * (c * a.sx - s * a.my),
        sy: k * (s * a.mx + c * a.sy),
        my: k * (s * a.sx + c * a.my),
        ..a
    }
}

fn builtin_bandpass(filter: &str) -> Result<Vec<BandpassSample>> {
    let (wl, th) = crate::niriss::throughput::builtin_throughput(filter)?;
    from_throughput(&wl, &th)
}

/// A simulated association in memory: the ASN JSON's name and the files by name.
pub struct Simulated {
    pub asn_name: String,
    pub files: HashMap<String, Vec<u8>>,
    pub truth_cp_deg: Vec<f64>,
    /// Companion east, north (mas, detector frame) and flux ratio.
    pub truth_companion: (f64, f64, f64),
}

/// Simulates `set`: 2 reference-star and 2 binary exposures of 4 integrations, 80 x 80.
pub fn simulate_set(set: &EvalSet) -> Result<Simulated> {
    let bandpass = builtin_bandpass(set.filter)?;
    let affine = sim_affine(set);
    let base = SimSpec {
        nint: 4,
        ny: 80,
        nx: 80,
        filter: set.filter.into(),
        bandpass: bandpass.clone(),
        affine,
        counts: 4e6,
        read_noise: 15.0,
        offset_px: (0.23, 1.71),
        ..SimSpec::point_source(set.seed)
    };
    let science = SimSpec {
        companion: Some(set.companion),
        target: "EVAL-BINARY".into(),
        ..base.clone()
    };
    let reference = SimSpec {
        offset_px: (-0.31, 2.05),
        target: "EVAL-REF".into(),
        ..base
    };
    let images = [noiseless_image(&reference), noiseless_image(&science)];
    let mut files = HashMap::new();
    let mut members = Vec::new();
    for k in 0..4 {
        let (spec, img, role) = if k < 2 {
            (&reference, &images[0], "psf")
        } else {
            (&science, &images[1], "science")
        };
        let spec = SimSpec {
            seed: set.seed * 100 + k as u64,
            ..spec.clone()
        };
        let name = format!("jw99998{:03}001_03102_00001_nis_calints.fits", k + 1);
        let mut e = simulate_from_image(&spec, img, &name);
        let (cy, cx) = (
            e.ny as f64 / 2.0 + spec.offset_px.1,
            e.nx as f64 / 2.0 + spec.offset_px.0,
        );
        let np = e.ny * e.nx;
        for (i, r) in set.flagged_radii_px.iter().enumerate() {
            let angle = 1.1 + 2.3 * i as f64;
            let row = (cy + r * angle.sin()).round() as usize;
            let col = (cx + r * angle.cos()).round() as usize;
            for j in 0..e.nint {
                let p = j * np + row * e.nx + col;
                e.sci[p] = 0.0;
                e.dq[p] |= DO_NOT_USE;
            }
        }
        files.insert(name.clone(), exposure_fits(&e));
        members.push(serde_json::json!({"expname": name, "exptype": role}));
    }
    let asn = serde_json::json!({
        "asn_type": "ami3", "asn_rule": "eval", "program": "99998", "asn_id": "a0001",
        "target": "t001", "asn_pool": "ami3_eval_pool",
        "products": [{"name": format!("jw99998-a0001_t001_niriss_{}-nrm", set.filter.to_lowercase()), "members": members}]
    });
    let asn_name = format!("{}_asn.json", set.name);
    files.insert(
        asn_name.clone(),
        serde_json::to_vec_pretty(&asn).expect("json"),
    );
    let (dx, dy, ratio) = set.companion;
    let scale_mas = base_pixscale_mas();
    Ok(Simulated {
        asn_name,
        files,
        truth_cp_deg: closed_form_cp_deg(
            &MaskGeometry::default_all_holes(),
            &bandpass,
            &affine,
            (dx, dy, ratio),
        ),
        truth_companion: (-dx * scale_mas, dy * scale_mas, ratio),
    })
}

fn base_pixscale_mas() -> f64 {
    SimSpec::point_source(0).pixscale_arcsec * 1e3
}

/// Closed-form closure phases (degrees) of a binary: per wavelength V = 1 + r exp(iψ), ψ the
/// companion's fringe phase through `affine`, summed over the bandpass; CP = sum over the
/// triangle (ami3.md §4).
pub fn closed_form_cp_deg(
    g: &MaskGeometry,
    bandpass: &[BandpassSample],
    affine: &Affine2d,
    (dx, dy, ratio): (f64, f64, f64),
) -> Vec<f64> {
    let pix = (base_pixscale_mas() / 3.6e6).to_radians();
    let (u, v) = affine.distort_f_args(dy, dx);
    let orders = Orders::new(g.n_holes());
    let phases: Vec<f64> = orders
        .baselines
        .iter()
        .map(|&[a, b]| {
            let (ca, cb) = (g.centres_inst_m[a], g.centres_inst_m[b]);
            let (re, im) = bandpass.iter().fold((0.0, 0.0), |(re, im), s| {
                let psi =
                    2.0 * PI * pix * (u * (ca[0] - cb[0]) + v * (ca[1] - cb[1])) / s.wavelength_m;
                (
                    re + s.weight * (1.0 + ratio * psi.cos()),
                    im + s.weight * ratio * psi.sin(),
                )
            });
            im.atan2(re)
        })
        .collect();
    orders
        .closure_phases(&phases)
        .iter()
        .map(|c| wrap_pi(*c).to_degrees())
        .collect()
}

/// What one reduction of a set gave.
#[derive(Debug, Clone)]
pub struct Scores {
    /// Calibrated CP RMS against the closed form (degrees).
    pub cp_rms_deg: f64,
    /// Standard deviation of (CP − truth)/T3PHIERR over the 35 triangles.
    pub cp_pull_std: f64,
    /// Companion fit minus truth: separation (mas), PA (degrees), Δmag.
    pub d_sep_mas: f64,
    pub d_pa_deg: f64,
    pub d_dmag: f64,
    /// Wall time of the reduction (seconds).
    pub seconds: f64,
}

/// Reduces an association (`load` by name) in `mode` and scores it against the truth.
pub fn score(
    asn: &Association,
    load: &(dyn Fn(&str) -> Result<Vec<u8>> + Sync),
    refs: &References,
    mode: Mode,
    truth_cp_deg: &[f64],
    truth_companion: (f64, f64, f64),
) -> Result<Scores> {
    let mut options = PipelineOptions::default();
    options.analyze.mode = mode;
    let t0 = std::time::Instant::now();
    let (_, combined, errors) = run_pipeline(asn, load, refs, &options, &|_, _, _| {});
    let seconds = t0.elapsed().as_secs_f64();
    if let Some(e) = errors.into_iter().next() {
        return Err(e);
    }
    let oi = combined
        .products
        .iter()
        .find(|p| p.name.ends_with("_aminorm-oi.fits"))
        .ok_or_else(|| Error::unnamed(Kind::BadAssociation, "no calibrated product"))?;
    let hdus = crate::fits::read_fits(&oi.bytes, &oi.name)?;
    let col = |name: &str| -> Vec<f64> {
        crate::fits::find_hdu(&hdus, "OI_T3")
            .and_then(|h| h.table())
            .and_then(|t| t.column(name))
            .map(|c| c.data.as_f64())
            .unwrap_or_default()
    };
    let (cp, err) = (col("T3PHI"), col("T3PHIERR"));
    let d: Vec<f64> = cp
        .iter()
        .zip(truth_cp_deg)
        .map(|(a, b)| (a - b + 180.0).rem_euclid(360.0) - 180.0)
        .collect();
    let nt = d.len().max(1) as f64;
    let cp_rms_deg = (d.iter().map(|x| x * x).sum::<f64>() / nt).sqrt();
    let pulls: Vec<f64> = d.iter().zip(&err).map(|(x, e)| x / e).collect();
    let mean = pulls.iter().sum::<f64>() / nt;
    let cp_pull_std = (pulls.iter().map(|p| (p - mean).powi(2)).sum::<f64>() / nt).sqrt();
    let report = crate::companion::fit_files(
        &[(oi.name.clone(), oi.bytes.clone())],
        &crate::companion::FitOptions::default(),
    )?;
    let f = &report.fit;
    let (e, n, r) = truth_companion;
    let pa = e.atan2(n).to_degrees().rem_euclid(360.0);
    Ok(Scores {
        cp_rms_deg,
        cp_pull_std,
        d_sep_mas: f.sep_mas - e.hypot(n),
        d_pa_deg: (f.pa_deg - pa + 180.0).rem_euclid(360.0) - 180.0,
        d_dmag: f.dmag + 2.5 * r.log10(),
        seconds,
    })
}

/// Scores a simulated set in both modes: (default, improved).
pub fn score_set(set: &EvalSet) -> Result<(Scores, Scores)> {
    let sim = simulate_set(set)?;
    let text = String::from_utf8(sim.files[&sim.asn_name].clone()).expect("json");
    let asn = Association::from_json(&text, &sim.asn_name)?;
    let load = |name: &str| {
        sim.files
            .get(name)
            .cloned()
            .ok_or_else(|| Error::file(name, Kind::Read, "not in the simulated set"))
    };
    let refs = References::default();
    let run = |mode| {
        score(
            &asn,
            &load,
            &refs,
            mode,
            &sim.truth_cp_deg,
            sim.truth_companion,
        )
    };
    Ok((run(Mode::Default)?, run(Mode::Improved)?))
}

/// Scores the shared association in `dir` (`asn.json`, `truth.json`, `nrm.fits`,
/// `throughput_f480m.fits`, as in `shared/data/f480m-binary`) in both modes.
pub fn score_shared(dir: &std::path::Path) -> Result<(Scores, Scores)> {
    use crate::products::reffiles::{NrmReference, Throughput};
    let read = |name: &str| {
        std::fs::read(dir.join(name))
            .map_err(|e| Error::file(name, Kind::Read, format!("cannot read: {e}")))
    };
    let refs = References {
        throughput: Some(Throughput::from_bytes(
            &read("throughput_f480m.fits")?,
            "throughput_f480m.fits",
        )?),
        nrm: Some(NrmReference::from_bytes(&read("nrm.fits")?, "nrm.fits")?),
    };
    let truth: serde_json::Value = serde_json::from_slice(&read("truth.json")?)
        .map_err(|e| Error::file("truth.json", Kind::Read, e.to_string()))?;
    let t: Vec<f64> = truth["companion_dx_dy_ratio"]
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    let [dx, dy, ratio] = t[..] else {
        return Err(Error::file(
            "truth.json",
            Kind::Read,
            "no companion_dx_dy_ratio",
        ));
    };
    let nrm = refs.nrm.as_ref().expect("set above");
    let g = MaskGeometry::from_design(
        &nrm.design_centres_m,
        nrm.hole_flat_to_flat_m,
        &(0..7).collect::<Vec<_>>(),
    );
    let tp = refs.throughput.as_ref().expect("set above");
    let bandpass = from_throughput(&tp.wavelength_angstrom, &tp.throughput)?;
    let truth_cp = closed_form_cp_deg(&g, &bandpass, &Affine2d::commissioning(), (dx, dy, ratio));
    let scale_mas = base_pixscale_mas();
    let companion = (-dx * scale_mas, dy * scale_mas, ratio);
    let text = String::from_utf8(read("asn.json")?).expect("json");
    let asn = Association::from_json(&text, "asn.json")?;
    let run = |mode| score(&asn, &read, &refs, mode, &truth_cp, companion);
    Ok((run(Mode::Default)?, run(Mode::Improved)?))
}
