//! `CalExposure`: a NIRISS AMI `_cal` (2-D) or `_calints` (3-D) exposure as typed arrays and the
//! keywords the pipeline uses, read from FITS HDUs. Checks what makes an exposure unusable
//! (wrong EXP_TYPE, missing SCI, wrong shapes, no finite or unflagged pixel) and says so by file.

use crate::error::{Error, Kind, Result};
use crate::fits::{find_hdu, read_fits_tolerant, Hdu, HduData, Header};
use crate::portable;

/// DQ bit: do not use the pixel.
pub const DO_NOT_USE: u32 = 1;
/// DQ bit: a jump (cosmic ray) was detected.
pub const JUMP_DET: u32 = 4;
/// The side of the NIRISS detector: no frame is larger.
pub const MAX_FRAME_SIDE: usize = 2048;

/// One calibrated AMI exposure.
#[derive(Debug, Clone)]
pub struct CalExposure {
    /// File name as given (used in every message and in product names).
    pub file_name: String,
    pub primary: Header,
    pub sci_header: Header,
    /// True for a 2-D `_cal` image (one integration).
    pub is_2d: bool,
    pub nint: usize,
    pub ny: usize,
    pub nx: usize,
    /// SCI, nint x ny x nx, row-major.
    pub sci: Vec<f64>,
    /// ERR, same shape, when present.
    pub err: Option<Vec<f64>>,
    /// DQ bits, same shape (zeros when the file has no DQ).
    pub dq: Vec<u32>,
    /// What was odd about the file but did not stop its analysis.
    pub warnings: Vec<String>,
}

impl CalExposure {
    /// Reads and checks an exposure from FITS bytes.
    /// Damage after the last extension the analysis reads (a broken ASDF extension, stray
    /// bytes at the end) is a warning in [`CalExposure::warnings`], not an error, as astropy
    /// reads such files; damage before SCI, ERR and DQ are all read is an error.
    pub fn from_bytes(bytes: &[u8], file_name: &str) -> Result<Self> {
        let (hdus, damage) = read_fits_tolerant(bytes, file_name)?;
        if let Some(damage) = damage {
            let needed = ["SCI", "ERR", "DQ"];
            if needed.iter().any(|n| find_hdu(&hdus, n).is_none()) {
                return Err(damage);
            }
            let mut e = Self::from_hdus(&hdus, file_name)?;
            e.warnings.push(format!(
                "{}; read as far as that (SCI, ERR and DQ are complete)",
                damage.problem
            ));
            return Ok(e);
        }
        Self::from_hdus(&hdus, file_name)
    }

    pub fn from_hdus(hdus: &[Hdu], file_name: &str) -> Result<Self> {
        let err = |p: String| Error::file(file_name, Kind::NotAmiExposure, p);
        let primary = hdus
            .first()
            .ok_or_else(|| err("no HDU in file".into()))?
            .header
            .clone();
        match primary.get_str("EXP_TYPE") {
            Some(t) if t.trim().eq_ignore_ascii_case("NIS_AMI") => {}
            Some(t) => {
                return Err(err(format!(
                    "EXP_TYPE is '{}', not NIS_AMI: not an AMI exposure",
                    t.trim()
                )))
            }
            None => {
                return Err(err(
                    "no EXP_TYPE keyword in the primary header: not a JWST exposure".into(),
                ))
            }
        }
        // EXP_TYPE alone does not make an AMI exposure: a NIRCam file or a CLEARP pupil with
        // the keyword would be reduced as if through the mask (silently wrong)
        for (key, wanted, what) in [
            ("INSTRUME", "NIRISS", "not a NIRISS exposure"),
            ("PUPIL", "NRM", "not taken through the non-redundant mask"),
        ] {
            if let Some(v) = primary.get_str(key) {
                if !v.trim().eq_ignore_ascii_case(wanted) {
                    return Err(err(format!(
                        "{key} is '{}', not {wanted}: {what}",
                        v.trim()
                    )));
                }
            }
        }
        let sci_hdu = find_hdu(hdus, "SCI").ok_or_else(|| err("no SCI extension".into()))?;
        let (shape, sci) = match &sci_hdu.data {
            HduData::Image { shape, pixels } => (shape.clone(), pixels.clone()),
            _ => return Err(err("SCI extension holds no image".into())),
        };
        let (is_2d, nint, ny, nx) = match shape.as_slice() {
            [ny, nx] => (true, 1, *ny, *nx),
            [nint, ny, nx] => (false, *nint, *ny, *nx),
            other => {
                return Err(err(format!(
                    "SCI has shape {other:?}; expected 2-D (ny, nx) or 3-D (nint, ny, nx)"
                )))
            }
        };
        if nint == 0 || ny < 9 || nx < 9 {
            return Err(err(format!(
                "SCI has shape {shape:?}: too small for an AMI image"
            )));
        }
        // the detector is 2048 × 2048: a larger frame is not NIRISS data (and would size the
        // analysis from the input)
        if ny > MAX_FRAME_SIDE || nx > MAX_FRAME_SIDE {
            return Err(err(format!(
                "SCI frames are {ny} × {nx}: larger than the {MAX_FRAME_SIDE} × {MAX_FRAME_SIDE} detector"
            )));
        }
        let read_same_shape = |name: &str| -> Result<Option<Vec<f64>>> {
            match find_hdu(hdus, name) {
                None => Ok(None),
                Some(h) => match &h.data {
                    HduData::Image { shape: s, pixels } if *s == shape => Ok(Some(pixels.clone())),
                    HduData::Image { shape: s, .. } => {
                        Err(err(format!("{name} has shape {s:?} but SCI has {shape:?}")))
                    }
                    _ => Err(err(format!("{name} extension holds no image"))),
                },
            }
        };
        let err_arr = read_same_shape("ERR")?;
        let dq = match read_same_shape("DQ")? {
            Some(v) => v
                .into_iter()
                .map(|x| {
                    if x.is_finite() && x >= 0.0 {
                        x as u32
                    } else {
                        DO_NOT_USE
                    }
                })
                .collect(),
            None => vec![0; sci.len()],
        };
        let usable = sci
            .iter()
            .zip(&dq)
            .filter(|(v, q)| v.is_finite() && **q & DO_NOT_USE == 0)
            .count();
        if usable == 0 {
            if sci.iter().all(|v| !v.is_finite()) {
                return Err(err("SCI holds no finite pixel (all NaN)".into()));
            }
            return Err(err("every pixel is flagged DO_NOT_USE or NaN".into()));
        }
        Ok(CalExposure {
            file_name: file_name.to_string(),
            primary,
            sci_header: sci_hdu.header.clone(),
            is_2d,
            nint,
            ny,
            nx,
            sci,
            err: err_arr,
            dq,
            warnings: Vec::new(),
        })
    }

    /// A primary keyword as a trimmed string.
    pub fn keyword(&self, key: &str) -> Option<String> {
        self.primary.get_str(key).map(|s| s.trim().to_string())
    }

    /// A keyword from the primary header, else the SCI header, as f64.
    pub fn number(&self, key: &str) -> Option<f64> {
        self.primary
            .get_f64(key)
            .or_else(|| self.sci_header.get_f64(key))
    }

    /// Pixel scale (x, y) in degrees per pixel from the SCI WCS: CD matrix column norms, else
    /// CDELT1/2, else 65.6 mas (upstream.md §2.3). The bool says whether the default was used.
    pub fn pixel_scale_deg(&self) -> ((f64, f64), bool) {
        let h = &self.sci_header;
        let cd = ["CD1_1", "CD1_2", "CD2_1", "CD2_2"].map(|k| h.get_f64(k));
        if let [Some(c11), Some(c12), Some(c21), Some(c22)] = cd {
            return (
                (portable::hypot(c11, c21), portable::hypot(c12, c22)),
                false,
            );
        }
        if let (Some(d1), Some(d2)) = (h.get_f64("CDELT1"), h.get_f64("CDELT2")) {
            // a negative increment is a legal axis flip, not a negative pixel
            return ((d1.abs(), d2.abs()), false);
        }
        let default = 65.6 / 3.6e6;
        ((default, default), true)
    }

    /// Root of product names: the file name without folders, `.fits` and a `_cal`/`_calints`
    /// suffix (upstream.md §7.2).
    pub fn root(&self) -> String {
        product_root(&self.file_name)
    }
}

/// The input name without folders, extension and the `_cal`/`_calints` (or other stage)
/// suffix.
pub fn product_root(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let stem = base
        .strip_suffix(".fits")
        .or_else(|| base.strip_suffix(".fit"))
        .unwrap_or(base);
    for suffix in ["_calints", "_cal", "_rateints", "_rate"] {
        if let Some(s) = stem.strip_suffix(suffix) {
            return s.to_string();
        }
    }
    stem.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_strips_folders_extension_and_suffix() {
        assert_eq!(product_root("a/b/jw1_nis_calints.fits"), "jw1_nis");
        assert_eq!(product_root("jw1_nis_cal.fits"), "jw1_nis");
        assert_eq!(product_root("other.fits"), "other");
    }
}
