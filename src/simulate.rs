//! Simulated NIRISS AMI exposures from our own forward model (the LG model's PSF, §3.5): a
//! point source or a binary, with photon and read noise from a seeded generator. Used by the
//! tests (analytic and Monte Carlo checks) and by the page's built-in demo, so nothing is
//! copied from elsewhere.

use crate::analyze::lgmodel::LgModel;
use crate::fits::{write_fits, Card, Hdu, Header};
use crate::niriss::affine::Affine2d;
use crate::niriss::filters::BandpassSample;
use crate::niriss::mask::MaskGeometry;
use crate::portable::Rng;
use crate::products::exposure::CalExposure;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimSpec {
    pub nint: usize,
    /// Image rows and columns (4 reference rows at the bottom are included in `ny`).
    pub ny: usize,
    pub nx: usize,
    pub filter: String,
    pub bandpass: Vec<BandpassSample>,
    pub pixscale_arcsec: f64,
    pub affine: Affine2d,
    pub oversample: usize,
    /// Primary star offset from the image centre (x = column, y = row), pixels.
    pub offset_px: (f64, f64),
    /// Companion offset (dx, dy) in pixels from the primary and flux ratio, if any.
    pub companion: Option<(f64, f64, f64)>,
    /// Total counts of the primary per integration.
    pub counts: f64,
    /// Read noise per pixel (counts).
    pub read_noise: f64,
    pub seed: u64,
    /// Target name for the headers.
    pub target: String,
}

impl SimSpec {
    /// A bright point source in F480M on a 48 x 48 image, three wavelengths.
    pub fn point_source(seed: u64) -> Self {
        SimSpec {
            nint: 5,
            ny: 48,
            nx: 44,
            filter: "F480M".into(),
            bandpass: vec![
                BandpassSample {
                    weight: 0.3,
                    wavelength_m: 4.70e-6,
                },
                BandpassSample {
                    weight: 0.4,
                    wavelength_m: 4.82e-6,
                },
                BandpassSample {
                    weight: 0.3,
                    wavelength_m: 4.94e-6,
                },
            ],
            pixscale_arcsec: 0.0656,
            affine: Affine2d::commissioning(),
            oversample: 3,
            offset_px: (0.17, -0.23),
            companion: None,
            counts: 2e6,
            read_noise: 12.0,
            seed,
            target: "SIMSTAR".into(),
        }
    }
}

/// The noiseless image of the scene (ny x nx), integration-independent.
pub fn noiseless_image(spec: &SimSpec) -> Vec<f64> {
    let n = spec.nx.max(spec.ny);
    let model = LgModel::new(
        MaskGeometry::default_all_holes(),
        spec.bandpass.clone(),
        spec.affine,
        (spec.pixscale_arcsec / 3600.0).to_radians(),
        spec.oversample,
        n,
    );
    // the square frame's centre sits at the centre of the ny x nx image (odd sizes: a pixel)
    let psf = |off: (f64, f64)| model.simulate_psf(n, off);
    let mut img = psf(spec.offset_px);
    if let Some((dx, dy, ratio)) = spec.companion {
        let c = psf((spec.offset_px.0 + dx, spec.offset_px.1 + dy));
        for (a, b) in img.iter_mut().zip(c) {
            *a += ratio * b;
        }
    }
    let total: f64 = img.iter().sum();
    let scale = spec.counts * (1.0 + spec.companion.map_or(0.0, |c| c.2)) / total;
    let (r0, c0) = ((n - spec.ny) / 2, (n - spec.nx) / 2);
    let mut out = Vec::with_capacity(spec.ny * spec.nx);
    for r in 0..spec.ny {
        for c in 0..spec.nx {
            out.push(img[(r + r0) * n + c + c0] * scale);
        }
    }
    out
}

/// Spoils five pixels near the star, as a real detector's defects do: the same pixels in every
/// integration, three flagged DO_NOT_USE with their values set to zero and two unflagged hot
/// ones (ten times the integration's brightest pixel) that the bad-pixel fix has to find
/// itself. The flagged pixels stay out of every fit, so the integration-averaged residual image
/// is NaN there, as in real data.
pub fn add_bad_pixels(e: &mut CalExposure, seed: u64) {
    let mut rng = Rng::new(seed ^ 0xBAD);
    let np = e.ny * e.nx;
    let (cy, cx) = (e.ny / 2, e.nx / 2);
    // within 12 pixels of the centre
    let pixels: Vec<usize> = (0..5)
        .map(|_| {
            let r = cy - 12 + (rng.uniform() * 24.0) as usize;
            let c = cx - 12 + (rng.uniform() * 24.0) as usize;
            r * e.nx + c
        })
        .collect();
    for k in 0..e.nint {
        let frame = k * np;
        let peak = e.sci[frame..frame + np]
            .iter()
            .fold(0.0f64, |m, &v| m.max(v));
        for (i, &p) in pixels.iter().enumerate() {
            if i < 3 {
                e.sci[frame + p] = 0.0;
                e.dq[frame + p] |= crate::products::exposure::DO_NOT_USE;
            } else {
                e.sci[frame + p] = 10.0 * peak;
            }
        }
    }
}

/// A simulated exposure with SCI, ERR and DQ, as a `CalExposure`.
pub fn simulate_exposure(spec: &SimSpec, file_name: &str) -> CalExposure {
    let clean = noiseless_image(spec);
    simulate_from_image(spec, &clean, file_name)
}

/// Adds noise to a precomputed noiseless image (so Monte Carlo runs build it once).
pub fn simulate_from_image(spec: &SimSpec, clean: &[f64], file_name: &str) -> CalExposure {
    let mut rng = Rng::new(spec.seed);
    let np = spec.ny * spec.nx;
    let mut sci = Vec::with_capacity(spec.nint * np);
    let mut err = Vec::with_capacity(spec.nint * np);
    for _ in 0..spec.nint {
        for &v in clean {
            let sigma = (v.max(0.0) + spec.read_noise * spec.read_noise).sqrt();
            sci.push(v + sigma * rng.normal());
            err.push(sigma);
        }
    }
    CalExposure {
        file_name: file_name.to_string(),
        primary: primary_header(spec),
        sci_header: sci_header(spec),
        is_2d: spec.nint == 1,
        nint: spec.nint,
        ny: spec.ny,
        nx: spec.nx,
        sci,
        err: Some(err),
        dq: vec![0; spec.nint * np],
        warnings: Vec::new(),
        streamed: None,
    }
}

fn primary_header(spec: &SimSpec) -> Header {
    let c = |k: &str, v: crate::fits::Value, com: &str| Card {
        key: k.into(),
        value: Some(v),
        comment: Some(com.into()),
    };
    use crate::fits::Value::{Float, Int, Str};
    Header::from_cards(vec![
        c("TELESCOP", Str("JWST".into()), "telescope"),
        c("INSTRUME", Str("NIRISS".into()), "instrument"),
        c("EXP_TYPE", Str("NIS_AMI".into()), "exposure type"),
        c("FILTER", Str(spec.filter.clone()), "filter"),
        c("PUPIL", Str("NRM".into()), "pupil"),
        c("SUBARRAY", Str("SUB80".into()), "subarray"),
        c("TARGPROP", Str(spec.target.clone()), "target"),
        c("TARGNAME", Str(spec.target.clone()), "target"),
        c(
            "PI_NAME",
            Str("ami3 simulation".into()),
            "principal investigator",
        ),
        c(
            "DATE-OBS",
            Str("2025-01-01".into()),
            "UTC date at start of exposure",
        ),
        c(
            "TIME-OBS",
            Str("00:00:00.000".into()),
            "UTC time at start of exposure",
        ),
        c(
            "DATE",
            Str("2025-01-01T00:00:00.000".into()),
            "simulated: fixed date",
        ),
        c("EXPSTART", Float(60676.0), "exposure start MJD"),
        c("EFFINTTM", Float(1.0), "effective integration time (s)"),
        c("NINTS", Int(spec.nint as i64), "number of integrations"),
        c("TARG_RA", Float(150.0), "target RA (deg)"),
        c("TARG_DEC", Float(-30.0), "target Dec (deg)"),
    ])
}

fn sci_header(spec: &SimSpec) -> Header {
    let deg = spec.pixscale_arcsec / 3600.0;
    Header::from_cards(vec![
        Card::new("EXTNAME", "SCI", None),
        Card::new("CDELT1", deg, Some("deg per pixel")),
        Card::new("CDELT2", deg, Some("deg per pixel")),
        Card::new("ROLL_REF", 0.0, None),
        Card::new("V3I_YANG", -0.57, None),
        Card::new("VPARITY", -1i64, None),
    ])
}

/// The long SUB80 F480M cube of the scale benchmark (`examples/make_cube.rs`) and of the tests
/// that need many integrations: `nint` integrations of a point source with photon and read
/// noise and the demo's bad pixels, seeded (the same cube on every run).
pub fn long_cube(nint: usize, file_name: &str) -> CalExposure {
    let (wl, th) =
        crate::niriss::throughput::builtin_throughput("F480M").expect("F480M has a built-in curve");
    let spec = SimSpec {
        nint,
        ny: 80,
        nx: 80,
        bandpass: crate::analyze::bandpass::from_throughput(&wl, &th)
            .expect("the built-in curve makes a bandpass"),
        counts: 3e6,
        read_noise: 15.0,
        offset_px: (0.21, 1.87),
        target: "LONG-CUBE".into(),
        ..SimSpec::point_source(11)
    };
    let mut e = simulate_from_image(&spec, &noiseless_image(&spec), file_name);
    add_bad_pixels(&mut e, spec.seed);
    e
}

/// A simulated exposure as `_calints` (or `_cal` for one integration) FITS bytes.
pub fn exposure_fits(e: &CalExposure) -> Vec<u8> {
    let shape: Vec<usize> = if e.is_2d {
        vec![e.ny, e.nx]
    } else {
        vec![e.nint, e.ny, e.nx]
    };
    let extra = |h: &Header| {
        h.cards
            .iter()
            .filter(|c| c.key != "EXTNAME")
            .cloned()
            .collect::<Vec<_>>()
    };
    write_fits(&[
        Hdu::primary(e.primary.clone()),
        Hdu::image_f32("SCI", &shape, e.sci.clone(), extra(&e.sci_header)),
        Hdu::image_f32(
            "ERR",
            &shape,
            e.err.clone().unwrap_or_else(|| vec![0.0; e.sci.len()]),
            vec![],
        ),
        Hdu::image_f32(
            "DQ",
            &shape,
            e.dq.iter().map(|&v| v as f64).collect(),
            vec![],
        ),
    ])
}

/// The page's built-in demo association: a star with a faint companion (two exposures) and a
/// point-like reference star (two exposures), F480M, SUB80, four integrations each, simulated
/// through the built-in F480M bandpass. Returns the ASN JSON and the `_calints` files.
pub fn demo_association() -> Vec<crate::steps::ProductFile> {
    use crate::steps::ProductFile;
    let (wl, th) =
        crate::niriss::throughput::builtin_throughput("F480M").expect("F480M is built in");
    let bandpass =
        crate::analyze::bandpass::from_throughput(&wl, &th).expect("built-in curve is valid");
    let base = SimSpec {
        nint: 4,
        ny: 80,
        nx: 80,
        bandpass,
        counts: 3e6,
        read_noise: 15.0,
        offset_px: (0.21, 1.87),
        ..SimSpec::point_source(0)
    };
    let science = SimSpec {
        companion: Some((2.4, -1.3, 0.06)),
        target: "DEMO-BINARY".into(),
        ..base.clone()
    };
    let reference = SimSpec {
        offset_px: (-0.32, 2.11),
        target: "DEMO-REF".into(),
        ..base
    };
    let science_image = noiseless_image(&science);
    let reference_image = noiseless_image(&reference);
    let mut files = Vec::new();
    let mut members = Vec::new();
    for (k, (spec, img, role)) in [
        (&reference, &reference_image, "psf"),
        (&reference, &reference_image, "psf"),
        (&science, &science_image, "science"),
        (&science, &science_image, "science"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("jw99999{:03}001_03102_00001_nis_calints.fits", k + 1);
        let spec = SimSpec {
            seed: 7 + k as u64,
            ..spec.clone()
        };
        let mut e = simulate_from_image(&spec, img, &name);
        add_bad_pixels(&mut e, spec.seed);
        files.push(ProductFile {
            name: name.clone(),
            bytes: exposure_fits(&e),
        });
        members.push(serde_json::json!({"expname": name, "exptype": role}));
    }
    let asn = serde_json::json!({
        "asn_type": "ami3",
        "asn_rule": "demo",
        "program": "99999",
        "asn_id": "a0001",
        "target": "t001",
        "asn_pool": "ami3_demo_pool",
        "products": [{"name": "jw99999-a0001_t001_niriss_f480m-nrm", "members": members}]
    });
    files.insert(
        0,
        ProductFile {
            name: "demo_asn.json".into(),
            bytes: serde_json::to_vec_pretty(&asn).expect("json"),
        },
    );
    files
}
