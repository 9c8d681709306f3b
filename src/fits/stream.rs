//! The walk over a file's HDUs (END cards, data sizes, padding, what follows the last HDU), for
//! bytes in memory ([`read_fits`], [`read_fits_tolerant`]: every data unit decoded) and for a
//! file read through a [`ByteSource`] (a file on disk, a browser `File` read slice by slice)
//! without ever holding it whole: [`scan_fits`] reads every header with the same checks and
//! messages (one walk: `walk_hdus`), decodes the tables, and leaves the data of every IMAGE where
//! it is, as an [`ImageLocation`] from which planes (integrations) are read one slice at a time. Pixels are decoded here, not by `fitsrs`: a plane is a run of big-endian
//! numbers (FITS §5.2), scaled by BSCALE/BZERO with BLANK as NaN with the same arithmetic as
//! `read`, so the values are the ones `read_fits` gives.

use std::borrow::Cow;
use std::sync::Arc;

use fitsio_pure::{BLOCK_SIZE, CARD_SIZE};

use super::hdu::{Hdu, HduData};
use super::header::Header;
use super::read::{
    after_hdu, decode, hdu_label, preview, read_header, stray_message, After, Kind as DataKind,
    Layout,
};
use crate::error::{self, Error, Result};

/// Random access to the bytes of one file. Implementations are called from one thread at a
/// time (the analysis reads on the thread that called it).
pub trait ByteSource: Send + Sync {
    /// Size of the file in bytes.
    fn len(&self) -> u64;
    /// True for an empty file.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fills `buf` with the file's bytes from `offset` on; never asked past `len()`. The error
    /// says what went wrong, without the file name.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), String>;
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
        let start = usize::try_from(offset).map_err(|_| "offset out of range".to_string())?;
        let src = self
            .get(start..start + buf.len())
            .ok_or_else(|| format!("{} bytes at byte {offset} are past the end", buf.len()))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// A file on disk, read with positioned reads (the file is never read whole). It compiles on
/// wasm32 too, where std has no files and `open` is an error (the page reads `File`s instead).
#[derive(Debug)]
pub struct FileSource {
    file: std::sync::Mutex<std::fs::File>,
    len: u64,
}

impl FileSource {
    /// Opens `path`; the error is the system's, for the caller to name the file.
    pub fn open(path: &std::path::Path) -> std::io::Result<FileSource> {
        let file = std::fs::File::open(path)?;
        let len = file.metadata()?.len();
        Ok(FileSource {
            file: std::sync::Mutex::new(file),
            len,
        })
    }
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::result::Result<(), String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = self.file.lock().map_err(|_| "the file lock is poisoned")?;
        file.seek(SeekFrom::Start(offset))
            .and_then(|_| file.read_exact(buf))
            .map_err(|e| format!("cannot read {} bytes at byte {offset}: {e}", buf.len()))
    }
}

/// Where an IMAGE's data unit is and how to decode it.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageLocation {
    /// Byte offset of the data unit in the file.
    pub offset: u64,
    pub bitpix: i64,
    /// NAXIS1, NAXIS2, … (FITS order, fastest first).
    pub naxes: Vec<usize>,
    bscale: f64,
    bzero: f64,
    blank: Option<i64>,
}

impl ImageLocation {
    /// Axis lengths slowest first, as [`HduData::Image`] gives them.
    pub fn shape(&self) -> Vec<usize> {
        self.naxes.iter().rev().copied().collect()
    }

    /// Values in one plane (NAXIS1 × NAXIS2; the whole image for fewer than three axes).
    pub fn plane_len(&self) -> usize {
        self.naxes.iter().take(2).product()
    }

    fn bytes_per_value(&self) -> usize {
        self.bitpix.unsigned_abs() as usize / 8
    }

    /// Planes `first .. first + count` (integrations of a cube), decoded to f64 as `read_fits`
    /// decodes them. The error says which planes could not be read.
    pub fn read_planes(
        &self,
        source: &dyn ByteSource,
        first: usize,
        count: usize,
    ) -> std::result::Result<Vec<f64>, String> {
        let width = self.bytes_per_value();
        let plane_bytes = self.plane_len() * width;
        let mut raw = vec![0u8; plane_bytes * count];
        let offset = self.offset + (first * plane_bytes) as u64;
        source.read_at(offset, &mut raw).map_err(|e| {
            format!(
                "integration{} {}: {e}",
                if count > 1 { "s" } else { "" },
                plane_range(first, count)
            )
        })?;
        Ok(self.decode(&raw))
    }

    fn decode(&self, raw: &[u8]) -> Vec<f64> {
        let scaled = self.bscale != 1.0 || self.bzero != 0.0;
        let int = |v: i64| {
            if self.blank == Some(v) {
                f64::NAN
            } else if scaled {
                self.bzero + self.bscale * v as f64
            } else {
                v as f64
            }
        };
        let float = |v: f64| {
            if scaled {
                self.bzero + self.bscale * v
            } else {
                v
            }
        };
        let width = self.bytes_per_value();
        let chunks = raw.chunks_exact(width);
        match self.bitpix {
            8 => raw.iter().map(|&b| int(i64::from(b))).collect(),
            16 => chunks
                .map(|c| int(i64::from(i16::from_be_bytes([c[0], c[1]]))))
                .collect(),
            32 => chunks
                .map(|c| {
                    int(i64::from(i32::from_be_bytes(
                        c.try_into().expect("4 bytes"),
                    )))
                })
                .collect(),
            64 => chunks
                .map(|c| int(i64::from_be_bytes(c.try_into().expect("8 bytes"))))
                .collect(),
            -32 => chunks
                .map(|c| {
                    float(f64::from(f32::from_be_bytes(
                        c.try_into().expect("4 bytes"),
                    )))
                })
                .collect(),
            _ => chunks
                .map(|c| float(f64::from_be_bytes(c.try_into().expect("8 bytes"))))
                .collect(),
        }
    }
}

/// "3" or "3 to 10", 1-based, as messages count integrations.
fn plane_range(first: usize, count: usize) -> String {
    if count <= 1 {
        format!("{}", first + 1)
    } else {
        format!("{} to {}", first + 1, first + count)
    }
}

/// The HDUs of a scanned file: IMAGE data left in the file (`data` is [`HduData::None`] and
/// `images[i]` says where it is), tables decoded.
#[derive(Clone)]
pub struct ScannedFits {
    pub hdus: Vec<Hdu>,
    pub images: Vec<Option<ImageLocation>>,
    pub source: Arc<dyn ByteSource>,
}

impl std::fmt::Debug for ScannedFits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScannedFits")
            .field("hdus", &self.hdus.len())
            .field("bytes", &self.source.len())
            .finish()
    }
}

impl ScannedFits {
    /// The first HDU named `name` (EXTNAME, case-insensitive) and where its image is.
    pub fn find(&self, name: &str) -> Option<(&Hdu, Option<&ImageLocation>)> {
        self.hdus
            .iter()
            .zip(&self.images)
            .find(|(h, _)| h.extname().is_some_and(|n| n.eq_ignore_ascii_case(name)))
            .map(|(h, l)| (h, l.as_ref()))
    }
}

/// Tables larger than this are not decoded by a scan (an AMI exposure's are a few kB).
const MAX_SCANNED_TABLE_BYTES: usize = 64 << 20;

/// Reads the structure of the file in `source` as [`read_fits_tolerant`] does: the HDUs up to
/// the first damaged one after the primary HDU, and that damage beside them. A file whose
/// primary HDU cannot be read is an error. `file_name` is only used in messages.
pub fn scan_fits(
    source: Arc<dyn ByteSource>,
    file_name: &str,
) -> Result<(ScannedFits, Option<Error>)> {
    let mut out = ScannedFits {
        hdus: Vec::new(),
        images: Vec::new(),
        source,
    };
    match scan_hdus(&mut out, file_name) {
        Ok(()) => Ok((out, None)),
        Err(e) if out.hdus.is_empty() => Err(e),
        Err(e) => Ok((out, Some(e))),
    }
}

/// Read every HDU of the FITS file `bytes`; `file_name` is only used in error messages.
pub fn read_fits(bytes: &[u8], file_name: &str) -> Result<Vec<Hdu>> {
    match read_fits_tolerant(bytes, file_name)? {
        (hdus, None) => Ok(hdus),
        (_, Some(damage)) => Err(damage),
    }
}

/// Reads the HDUs of `bytes` up to the first damaged one after the primary HDU (damaged data,
/// a broken header, stray bytes after the last HDU), and gives that damage beside the HDUs
/// read: a caller that needs none of what follows may go on with a warning, as astropy does.
/// A file whose primary HDU cannot be read is an error. The walk is [`scan_fits`]' (one walk
/// for files in memory and files read a slice at a time), decoding every data unit.
pub fn read_fits_tolerant(bytes: &[u8], file_name: &str) -> Result<(Vec<Hdu>, Option<Error>)> {
    let mut hdus = Vec::new();
    let mut images = Vec::new();
    match walk_hdus(
        Bytes::Memory(bytes),
        Decode::Everything,
        file_name,
        &mut hdus,
        &mut images,
    ) {
        Ok(()) => Ok((hdus, None)),
        Err(e) if hdus.is_empty() => Err(e),
        Err(e) => Ok((hdus, Some(e))),
    }
}

fn read_error(file_name: &str, problem: String) -> Error {
    Error::file(file_name, error::Kind::Read, problem)
}

/// Where a walk of the HDUs reads a file: bytes in memory (slices of them, never copied) or a
/// [`ByteSource`] (read a slice at a time).
#[derive(Clone, Copy)]
pub(super) enum Bytes<'a> {
    Memory(&'a [u8]),
    Source(&'a dyn ByteSource),
}

impl<'a> Bytes<'a> {
    fn len(&self) -> u64 {
        match self {
            Bytes::Memory(b) => b.len() as u64,
            Bytes::Source(s) => s.len(),
        }
    }

    /// `len` bytes from `offset`; the error names `file_name`.
    fn read(&self, offset: usize, len: usize, file_name: &str) -> Result<Cow<'a, [u8]>> {
        match *self {
            Bytes::Memory(b) => b
                .get(offset..offset.saturating_add(len))
                .map(Cow::Borrowed)
                .ok_or_else(|| {
                    read_error(
                        file_name,
                        format!("{len} bytes at byte {offset} are past the end"),
                    )
                }),
            Bytes::Source(s) => {
                let mut buf = vec![0u8; len];
                s.read_at(offset as u64, &mut buf)
                    .map_err(|e| read_error(file_name, e))?;
                Ok(Cow::Owned(buf))
            }
        }
    }
}

/// What a walk decodes: every data unit (`read_fits`), or the tables only, each IMAGE left in
/// the file at an [`ImageLocation`] (`scan_fits`).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Decode {
    Everything,
    TablesOnly,
}

/// The one walk over a file's HDUs, for [`read_fits_tolerant`] and
/// [`scan_fits`]: appends the HDUs (and where each image is, for [`Decode::TablesOnly`]) until
/// the end or the first problem, checking the block structure as it goes.
pub(super) fn walk_hdus(
    bytes: Bytes,
    decode: Decode,
    file_name: &str,
    hdus: &mut Vec<Hdu>,
    images: &mut Vec<Option<ImageLocation>>,
) -> Result<()> {
    let file_len = usize::try_from(bytes.len())
        .map_err(|_| read_error(file_name, "the file is too large for this machine".into()))?;
    let read = |offset: usize, len: usize| bytes.read(offset, len, file_name);
    let not_fits = |problem: String| Error::file(file_name, error::Kind::NotFits, problem);
    if file_len == 0 {
        return Err(not_fits("not a FITS file: the file is empty".into()));
    }
    let head = read(0, file_len.min(20))?;
    if !head.starts_with(b"SIMPLE  =") {
        return Err(not_fits(format!(
            "not a FITS file: it starts with {:?}, not the card SIMPLE = T",
            preview(&head)
        )));
    }
    let mut offset = 0;
    loop {
        let number = hdus.len() + 1;
        let fail =
            |problem: String| Error::file(file_name, error::Kind::MalformedHdu(number), problem);
        let blocks = header_blocks(&read, offset, file_len)?;
        let (header, header_len) =
            read_header(&blocks, offset, file_len, 0, number).map_err(|m| {
                if m.0.starts_with("not a") {
                    not_fits(m.0)
                } else {
                    fail(m.0)
                }
            })?;
        let label = hdu_label(number, &header);
        let layout =
            Layout::of(&header, number == 1).map_err(|m| fail(format!("{label}: {}", m.0)))?;
        let data_start = offset + header_len;
        let padded = layout
            .padded_len(&label, file_len - data_start, file_len)
            .map_err(|m| fail(m.0))?;
        let (data, image) =
            walk_data(&header, &layout, data_start, decode, &read).map_err(|e| match e {
                ScanProblem::Read(e) => e,
                ScanProblem::Malformed(m) => fail(format!("{label}: {m}")),
            })?;
        hdus.push(Hdu { header, data });
        images.push(image);
        offset = data_start + padded;

        let rest_len = file_len - offset;
        let head = read(offset, rest_len.min(20))?;
        let all_zero = || zeros_to_end(&read, offset, file_len);
        match after_hdu(rest_len, &head, &all_zero) {
            After::End => return Ok(()),
            After::Extension => continue,
            After::Stray => return Err(fail(stray_message(&label, offset, &head, file_len))),
        }
    }
}

/// Appends the HDUs of the file to `out` until the end or the first problem.
fn scan_hdus(out: &mut ScannedFits, file_name: &str) -> Result<()> {
    let source = out.source.clone();
    walk_hdus(
        Bytes::Source(source.as_ref()),
        Decode::TablesOnly,
        file_name,
        &mut out.hdus,
        &mut out.images,
    )
}

enum ScanProblem {
    Read(Error),
    Malformed(String),
}

/// The data decoded, or for [`Decode::TablesOnly`] an IMAGE's location (its data left in the
/// file) and a table decoded.
fn walk_data<'a>(
    header: &Header,
    layout: &Layout,
    data_start: usize,
    how: Decode,
    read: &dyn Fn(usize, usize) -> Result<Cow<'a, [u8]>>,
) -> std::result::Result<(HduData, Option<ImageLocation>), ScanProblem> {
    let decoded = || {
        let bytes = read(data_start, layout.data_len).map_err(ScanProblem::Read)?;
        decode(header, layout, &bytes)
            .map(|d| (d, None))
            .map_err(|m| ScanProblem::Malformed(m.0))
    };
    match layout.kind {
        DataKind::Image if layout.naxes.is_empty() => Ok((HduData::None, None)),
        DataKind::Image if how == Decode::Everything => decoded(),
        DataKind::Image => Ok((
            HduData::None,
            Some(ImageLocation {
                offset: data_start as u64,
                bitpix: layout.bitpix,
                naxes: layout.naxes.clone(),
                bscale: header.get_f64("BSCALE").unwrap_or(1.0),
                bzero: header.get_f64("BZERO").unwrap_or(0.0),
                blank: header.get_i64("BLANK"),
            }),
        )),
        DataKind::BinTable
            if how == Decode::Everything || layout.data_len <= MAX_SCANNED_TABLE_BYTES =>
        {
            decoded()
        }
        DataKind::BinTable | DataKind::Other => Ok((HduData::None, None)),
    }
}

/// The header blocks starting at `offset`: up to the block holding the END card, a card whose
/// keyword is not ASCII (read_header reports it), or the end of the file.
fn header_blocks<'a>(
    read: &dyn Fn(usize, usize) -> Result<Cow<'a, [u8]>>,
    offset: usize,
    file_len: usize,
) -> Result<Vec<u8>> {
    let mut blocks = Vec::new();
    let mut pos = offset;
    while pos < file_len {
        let block = read(pos, BLOCK_SIZE.min(file_len - pos))?;
        pos += block.len();
        let stop = block.chunks_exact(CARD_SIZE).any(|card| {
            &card[..8] == b"END     " || card[..8].iter().any(|b| !(0x20..0x7f).contains(b))
        });
        blocks.extend_from_slice(&block);
        if stop {
            break;
        }
    }
    Ok(blocks)
}

/// Whether the bytes from `offset` to the end of the file are all zero (read in slices).
fn zeros_to_end<'a>(
    read: &dyn Fn(usize, usize) -> Result<Cow<'a, [u8]>>,
    offset: usize,
    file_len: usize,
) -> bool {
    const SLICE: usize = 1 << 20;
    let mut pos = offset;
    while pos < file_len {
        let len = SLICE.min(file_len - pos);
        match read(pos, len) {
            Ok(b) if b.iter().all(|&x| x == 0) => pos += len,
            _ => return false,
        }
    }
    true
}
