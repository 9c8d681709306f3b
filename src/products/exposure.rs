//! `CalExposure`: a NIRISS AMI `_cal` (2-D) or `_calints` (3-D) exposure as typed arrays and the
//! keywords the pipeline uses, read from FITS HDUs. Checks what makes an exposure unusable
//! (wrong EXP_TYPE, missing SCI, wrong shapes, no finite or unflagged pixel) and says so by file.
//! An exposure opened from a file ([`CalExposure::open`]) keeps its pixels in the file and reads
//! integrations as the analysis asks for them ([`CalExposure::read_sci`], …), so a cube of
//! 10,000 integrations is never held whole; one built from HDUs holds them in memory. Both give
//! the same values through the same methods.

use std::sync::Arc;

use crate::error::{Error, Kind, Result};
use crate::fits::{scan_fits, ByteSource, Header, ImageLocation};
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
    /// Where the pixels are when they stay in the file (`sci`, `err` and `dq` are then empty).
    pub streamed: Option<StreamedPixels>,
}

/// The SCI, ERR and DQ images of an exposure left in its file.
#[derive(Clone)]
pub struct StreamedPixels {
    source: Arc<dyn ByteSource>,
    sci: ImageLocation,
    err: Option<ImageLocation>,
    dq: Option<ImageLocation>,
}

impl std::fmt::Debug for StreamedPixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamedPixels")
            .field("bytes", &self.source.len())
            .field("sci", &self.sci)
            .field("err", &self.err)
            .field("dq", &self.dq)
            .finish()
    }
}

/// A DQ value as bits: a negative, fractional-free or non-finite value cannot be flags.
fn dq_bits(x: f64) -> u32 {
    if x.is_finite() && x >= 0.0 {
        x as u32
    } else {
        DO_NOT_USE
    }
}

/// The checks of the primary header: an AMI exposure of NIRISS through the mask.
fn check_primary(primary: &Header, err: &dyn Fn(String) -> Error) -> Result<()> {
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
    Ok(())
}

/// (is_2d, nint, ny, nx) of a SCI image of `shape`, checked.
fn frame_shape(
    shape: &[usize],
    err: &dyn Fn(String) -> Error,
) -> Result<(bool, usize, usize, usize)> {
    let (is_2d, nint, ny, nx) = match shape {
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
    Ok((is_2d, nint, ny, nx))
}

/// The error when no pixel is usable: `any_finite` says whether SCI has a finite pixel.
fn no_usable_pixel(any_finite: bool, err: &dyn Fn(String) -> Error) -> Error {
    if any_finite {
        err("every pixel is flagged DO_NOT_USE or NaN".into())
    } else {
        err("SCI holds no finite pixel (all NaN)".into())
    }
}

/// Integrations read at a time when the whole exposure is checked (about 4 MB of SCI).
fn frames_per_read(frame_len: usize) -> usize {
    (4 << 20) / (8 * frame_len.max(1))
}

impl CalExposure {
    /// Reads and checks an exposure from FITS bytes (kept, and read as the analysis asks, as
    /// [`CalExposure::open`] reads a file).
    pub fn from_bytes(bytes: &[u8], file_name: &str) -> Result<Self> {
        Self::open(Arc::new(bytes.to_vec()), file_name)
    }

    /// Opens and checks an exposure in `source`: its headers are read and its pixels left
    /// there. Damage after the last extension the analysis reads (a broken ASDF extension,
    /// stray bytes at the end) is a warning in [`CalExposure::warnings`], not an error, as
    /// astropy reads such files; damage before SCI, ERR and DQ are all read is an error.
    pub fn open(source: Arc<dyn ByteSource>, file_name: &str) -> Result<Self> {
        let (scanned, damage) = scan_fits(source, file_name)?;
        let err = |p: String| Error::file(file_name, Kind::NotAmiExposure, p);
        if let Some(damage) = &damage {
            if ["SCI", "ERR", "DQ"]
                .iter()
                .any(|n| scanned.find(n).is_none())
            {
                return Err(damage.clone());
            }
        }
        let primary = scanned
            .hdus
            .first()
            .ok_or_else(|| err("no HDU in file".into()))?
            .header
            .clone();
        check_primary(&primary, &err)?;
        let (sci_hdu, sci) = match scanned.find("SCI") {
            None => return Err(err("no SCI extension".into())),
            Some((_, None)) => return Err(err("SCI extension holds no image".into())),
            Some((h, Some(l))) => (h, l.clone()),
        };
        let shape = sci.shape();
        let (is_2d, nint, ny, nx) = frame_shape(&shape, &err)?;
        let same_shape = |name: &str| -> Result<Option<ImageLocation>> {
            match scanned.find(name) {
                None => Ok(None),
                Some((_, Some(l))) if l.shape() == shape => Ok(Some(l.clone())),
                Some((_, Some(l))) => Err(err(format!(
                    "{name} has shape {:?} but SCI has {shape:?}",
                    l.shape()
                ))),
                Some((_, None)) => Err(err(format!("{name} extension holds no image"))),
            }
        };
        let err_image = same_shape("ERR")?;
        let dq = same_shape("DQ")?;
        let mut exposure = CalExposure {
            file_name: file_name.to_string(),
            primary,
            sci_header: sci_hdu.header.clone(),
            is_2d,
            nint,
            ny,
            nx,
            sci: Vec::new(),
            err: None,
            dq: Vec::new(),
            warnings: Vec::new(),
            streamed: Some(StreamedPixels {
                source: scanned.source.clone(),
                sci,
                err: err_image,
                dq,
            }),
        };
        exposure.check_usable(&err)?;
        if let Some(damage) = damage {
            exposure.warnings.push(format!(
                "{}; read as far as that (SCI, ERR and DQ are complete)",
                damage.problem
            ));
        }
        Ok(exposure)
    }

    /// Fails unless some pixel is finite and not flagged DO_NOT_USE (read until one is found).
    fn check_usable(&self, err: &dyn Fn(String) -> Error) -> Result<()> {
        let step = frames_per_read(self.frame_len()).max(1);
        let mut any_finite = false;
        for first in (0..self.nint).step_by(step) {
            let count = step.min(self.nint - first);
            let sci = self.read_sci(first, count)?;
            let dq = self.read_dq(first, count)?;
            if sci
                .iter()
                .zip(&dq)
                .any(|(v, q)| v.is_finite() && *q & DO_NOT_USE == 0)
            {
                return Ok(());
            }
            any_finite |= sci.iter().any(|v| v.is_finite());
        }
        Err(no_usable_pixel(any_finite, err))
    }

    /// The exposure with every pixel read into `sci`, `err` and `dq` (for tools that edit
    /// pixels; the analysis reads integrations as it needs them).
    pub fn in_memory(self) -> Result<Self> {
        if self.streamed.is_none() {
            return Ok(self);
        }
        Ok(CalExposure {
            sci: self.read_sci(0, self.nint)?,
            err: self.read_err(0, self.nint)?,
            dq: self.read_dq(0, self.nint)?,
            streamed: None,
            ..self
        })
    }

    /// Pixels in one integration's frame.
    pub fn frame_len(&self) -> usize {
        self.ny * self.nx
    }

    /// An error reading `what` of this exposure's file.
    fn read_failed(&self, what: &str, problem: String) -> Error {
        Error::file(
            &self.file_name,
            Kind::Read,
            format!("{what}: {problem} (the file changed or was truncated while it was read?)"),
        )
    }

    /// SCI of integrations `first .. first + count`, frame after frame (ny × nx each).
    pub fn read_sci(&self, first: usize, count: usize) -> Result<Vec<f64>> {
        match &self.streamed {
            Some(s) => s
                .sci
                .read_planes(s.source.as_ref(), first, count)
                .map_err(|p| self.read_failed("SCI", p)),
            None => {
                Ok(self.sci[first * self.frame_len()..(first + count) * self.frame_len()].to_vec())
            }
        }
    }

    /// DQ bits of integrations `first .. first + count` (zeros when the file has no DQ).
    pub fn read_dq(&self, first: usize, count: usize) -> Result<Vec<u32>> {
        let len = self.frame_len();
        match &self.streamed {
            Some(StreamedPixels { dq: None, .. }) => Ok(vec![0; count * len]),
            Some(StreamedPixels {
                source,
                dq: Some(dq),
                ..
            }) => Ok(dq
                .read_planes(source.as_ref(), first, count)
                .map_err(|p| self.read_failed("DQ", p))?
                .into_iter()
                .map(dq_bits)
                .collect()),
            None => Ok(self.dq[first * len..(first + count) * len].to_vec()),
        }
    }

    /// Whether the exposure has an ERR image.
    pub fn has_err(&self) -> bool {
        match &self.streamed {
            Some(s) => s.err.is_some(),
            None => self.err.is_some(),
        }
    }

    /// ERR of integrations `first .. first + count`, when the exposure has one.
    pub fn read_err(&self, first: usize, count: usize) -> Result<Option<Vec<f64>>> {
        let len = self.frame_len();
        match &self.streamed {
            Some(StreamedPixels { err: None, .. }) => Ok(None),
            Some(StreamedPixels {
                source,
                err: Some(e),
                ..
            }) => e
                .read_planes(source.as_ref(), first, count)
                .map(Some)
                .map_err(|p| self.read_failed("ERR", p)),
            None => Ok(self
                .err
                .as_ref()
                .map(|e| e[first * len..(first + count) * len].to_vec())),
        }
    }

    /// Whether ERR holds a finite positive value anywhere (read until one is found).
    pub fn err_usable(&self) -> Result<bool> {
        if !self.has_err() {
            return Ok(false);
        }
        let step = frames_per_read(self.frame_len()).max(1);
        for first in (0..self.nint).step_by(step) {
            let count = step.min(self.nint - first);
            let err = self.read_err(first, count)?.unwrap_or_default();
            if err.iter().any(|v| v.is_finite() && *v > 0.0) {
                return Ok(true);
            }
        }
        Ok(false)
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
