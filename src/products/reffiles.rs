//! Reference files: THROUGHPUT (filter curve, upstream.md §7.6) and NRM (mask geometry and pupil
//! raster, §7.7), plus the small JSON forms we accept for user `bandpass` and `affine2d`
//! overrides in place of upstream's ASDF files.

use crate::error::{Error, Kind, Result};
use crate::fits::{find_hdu, read_fits, HduData};
use crate::niriss::affine::Affine2d;
use crate::niriss::filters::BandpassSample;
use crate::niriss::mask::{DESIGN_CENTRES_M, N_HOLES};

/// A filter throughput table.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub filter: Option<String>,
    pub wavelength_angstrom: Vec<f32>,
    pub throughput: Vec<f32>,
}

impl Throughput {
    pub fn from_bytes(bytes: &[u8], file_name: &str) -> Result<Self> {
        let hdus = read_fits(bytes, file_name)?;
        let hdu = find_hdu(&hdus, "THROUGHPUT")
            .or_else(|| hdus.iter().find(|h| h.table().is_some()))
            .ok_or_else(|| Error::file(file_name, Kind::BadReference, "no THROUGHPUT table"))?;
        let table = hdu.table().ok_or_else(|| {
            Error::file(file_name, Kind::BadReference, "THROUGHPUT is not a table")
        })?;
        let col = |name: &str| {
            table
                .column(name)
                .map(|c| {
                    c.data
                        .as_f64()
                        .into_iter()
                        .map(|v| v as f32)
                        .collect::<Vec<f32>>()
                })
                .ok_or_else(|| {
                    Error::file(
                        file_name,
                        Kind::BadReference,
                        format!("THROUGHPUT table has no '{name}' column"),
                    )
                })
        };
        Ok(Throughput {
            filter: hdus[0]
                .header
                .get_str("FILTER")
                .map(|s| s.trim().to_string()),
            wavelength_angstrom: col("wavelength")?,
            throughput: col("throughput")?,
        })
    }
}

/// The NRM reference file: hole geometry and the pupil raster used by the bad-pixel fix.
#[derive(Debug, Clone)]
pub struct NrmReference {
    pub hole_flat_to_flat_m: f64,
    pub design_centres_m: [(f64, f64); N_HOLES],
    /// Pupil transmission raster, row-major, `pupil_size` x `pupil_size`.
    pub pupil: Vec<f64>,
    pub pupil_size: usize,
}

impl NrmReference {
    pub fn from_bytes(bytes: &[u8], file_name: &str) -> Result<Self> {
        let hdus = read_fits(bytes, file_name)?;
        let h = &hdus[0].header;
        let f2f = h.get_f64("F2F").ok_or_else(|| {
            Error::file(
                file_name,
                Kind::BadReference,
                "no F2F keyword (hole flat-to-flat size)",
            )
        })?;
        let mut centres = DESIGN_CENTRES_M;
        for (i, c) in centres.iter_mut().enumerate() {
            let x = h.get_f64(&format!("NRM_X_A{}", i + 1));
            let y = h.get_f64(&format!("NRM_Y_A{}", i + 1));
            match (x, y) {
                (Some(x), Some(y)) => *c = (x, y),
                _ => {
                    return Err(Error::file(
                        file_name,
                        Kind::BadReference,
                        format!("no NRM_X_A{0}/NRM_Y_A{0} keywords", i + 1),
                    ))
                }
            }
        }
        let img = find_hdu(&hdus, "NRM")
            .ok_or_else(|| Error::file(file_name, Kind::BadReference, "no NRM image extension"))?;
        let (pupil, size) = match &img.data {
            HduData::Image { shape, pixels } if shape.len() == 2 && shape[0] == shape[1] => {
                (pixels.clone(), shape[0])
            }
            _ => {
                return Err(Error::file(
                    file_name,
                    Kind::BadReference,
                    "NRM extension is not a square 2-D image",
                ))
            }
        };
        Ok(NrmReference {
            hole_flat_to_flat_m: f2f,
            design_centres_m: centres,
            pupil,
            pupil_size: size,
        })
    }
}

/// A user bandpass from JSON: `{"bandpass": [[weight, wavelength_m], ...]}` (the ASDF tree
/// layout of upstream.md §7.8) or a bare array of pairs, or the `{"rows": [...]}` form.
/// The most samples a user bandpass may have.
pub const MAX_BANDPASS_SAMPLES: usize = 200;
/// Wavelengths NIRISS sees, metres (a value outside is in the wrong unit).
pub const NIRISS_WAVELENGTH_M: (f64, f64) = (0.5e-6, 6.0e-6);

pub fn bandpass_from_json(text: &str, file_name: &str) -> Result<Vec<BandpassSample>> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::file(
            file_name,
            Kind::BadReference,
            format!("not valid JSON: {e}"),
        )
    })?;
    let rows = v
        .get("bandpass")
        .or_else(|| v.get("rows"))
        .unwrap_or(&v)
        .as_array()
        .ok_or_else(|| {
            Error::file(
                file_name,
                Kind::BadReference,
                "expected an array of [weight, wavelength_m] pairs",
            )
        })?;
    // each sample is a monochromatic model: the memory of the model grows with their number
    if rows.len() > MAX_BANDPASS_SAMPLES {
        return Err(Error::file(
            file_name,
            Kind::BadReference,
            format!(
                "{} bandpass samples: at most {MAX_BANDPASS_SAMPLES} (the default has 19)",
                rows.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let pair = r
            .as_array()
            .filter(|a| a.len() == 2)
            .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)));
        match pair {
            Some((w, l))
                if w.is_finite()
                    && w >= 0.0
                    && (NIRISS_WAVELENGTH_M.0..NIRISS_WAVELENGTH_M.1).contains(&l) =>
            {
                out.push(BandpassSample {
                    weight: w,
                    wavelength_m: l,
                })
            }
            _ => {
                return Err(Error::file(
                    file_name,
                    Kind::BadReference,
                    format!(
                        "row {i} is not a [weight >= 0, wavelength in metres] pair with the \
                         wavelength within NIRISS's 0.5–6 µm"
                    ),
                ))
            }
        }
    }
    if out.is_empty() || out.iter().all(|b| b.weight == 0.0) {
        return Err(Error::file(
            file_name,
            Kind::BadReference,
            "bandpass has no positive weight",
        ));
    }
    Ok(out)
}

/// A user affine distortion from JSON with keys mx, my, sx, sy, xo, yo and optional rotradccw
/// (upstream.md §7.8); a non-null rotradccw overrides the other six.
pub fn affine_from_json(text: &str, file_name: &str) -> Result<Affine2d> {
    let v: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        Error::file(
            file_name,
            Kind::BadReference,
            format!("not valid JSON: {e}"),
        )
    })?;
    if let Some(r) = v.get("rotradccw").and_then(|r| r.as_f64()) {
        return Ok(Affine2d::rotation(r));
    }
    let get = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_f64())
            .filter(|x| x.is_finite())
            .ok_or_else(|| {
                Error::file(
                    file_name,
                    Kind::BadReference,
                    format!("affine2d needs a number '{k}'"),
                )
            })
    };
    let a = Affine2d {
        mx: get("mx")?,
        my: get("my")?,
        sx: get("sx")?,
        sy: get("sy")?,
        xo: get("xo")?,
        yo: get("yo")?,
        rotradccw: None,
    };
    if a.determinant().abs() < 1e-6 {
        return Err(Error::file(
            file_name,
            Kind::BadReference,
            "affine2d is singular (mx*my - sx*sy = 0)",
        ));
    }
    Ok(a)
}
