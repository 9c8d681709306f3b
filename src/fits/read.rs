//! FITS bytes -> HDUs, one HDU at a time: its header parsed, its layout (data sizes from
//! BITPIX/NAXISn/PCOUNT/GCOUNT, padding) checked and its data unit decoded, for the one walk over
//! a file's HDUs in `stream` (`read_fits` of bytes in memory and `scan_fits` of a file read a
//! slice at a time both take it). Never panics or loops on bad input: every problem is an
//! error naming the file, the HDU and what is wrong.
//!
//! Header cards are parsed here with `fitsio_pure::header::parse_card` (CONTINUE long strings
//! joined here). Pixels and table cells are decoded by `fitsrs`, but `fitsrs` is only ever shown
//! a clean, minimal FITS stream that this module builds for one HDU (mandatory cards written by
//! fitsio-pure, then the data unit): `fitsrs` 0.4.1 panics on some malformed headers (e.g. a
//! value of a lone `'`, see `card.rs` `parse_string`), on `TFIELDS = 0` tables and on empty
//! variable-length arrays, and mis-reads `nX` columns with n a multiple of 8. In that clean stream
//! logical (`L`) columns are declared as bytes (`B`), because `fitsrs` decodes `L` as
//! `byte != 0` so 'F' would read as true; they are decoded here as `byte == b'T'`. Columns of
//! types not needed here (`X`, `C`, `M`, `P`, `Q`) are declared as filler bytes and skipped; the
//! heap is never read. `fitsrs` does not apply BSCALE/BZERO/BLANK; that is done here.

use std::io::Cursor;

use fitsio_pure::bintable::{
    build_binary_table_cards, parse_tform_binary, BinaryColumnDescriptor, BinaryColumnType,
};
use fitsio_pure::header::{parse_card, serialize_header};
use fitsio_pure::primary::build_primary_header;
use fitsio_pure::value::{parse_value, Value as FpValue};
use fitsio_pure::{BLOCK_SIZE, CARD_SIZE};
use fitsrs::hdu::data::bintable::ColumnId;
use fitsrs::{DataValue, Fits, Pixels, HDU};

use super::cards::card_from_fitsio;
use super::hdu::{Column, ColumnData, HduData, Table};
use super::header::{Card, Header, Value};

/// What is wrong inside one HDU, in words; `read_fits` names the file, the HDU and the kind.
pub(super) struct Malformed(pub(super) String);

impl From<String> for Malformed {
    fn from(problem: String) -> Self {
        Malformed(problem)
    }
}

impl From<&str> for Malformed {
    fn from(problem: &str) -> Self {
        Malformed(problem.to_string())
    }
}

pub(super) type Parse<T> = std::result::Result<T, Malformed>;

/// What follows an HDU's data.
pub(super) enum After {
    End,
    Extension,
    Stray,
}

/// `rest_len` bytes follow an HDU, starting with `head` (its first 20 or fewer);
/// `all_zero` tells whether they are all zero (asked only when it matters).
pub(super) fn after_hdu(rest_len: usize, head: &[u8], all_zero: &dyn Fn() -> bool) -> After {
    if rest_len == 0 {
        return After::End;
    }
    if head.starts_with(b"XTENSION") {
        return After::Extension;
    }
    // Some writers leave whole blocks of zeros after the last HDU.
    if rest_len.is_multiple_of(BLOCK_SIZE) && all_zero() {
        return After::End;
    }
    After::Stray
}

/// The problem of `rest_len` stray bytes starting with `head` at byte `offset` after `label`.
pub(super) fn stray_message(label: &str, offset: usize, head: &[u8], file_len: usize) -> String {
    let rest_len = file_len - offset;
    if !rest_len.is_multiple_of(BLOCK_SIZE) {
        return format!(
            "file size {file_len} is not a multiple of 2880: {rest_len} stray bytes after {label}"
        );
    }
    format!(
        "unexpected bytes after {label} at byte {offset}: {:?} is not an XTENSION header",
        preview(head)
    )
}

/// "HDU 2 (SCI)": 1-based, as people count HDUs in messages.
pub(super) fn hdu_label(number: usize, header: &Header) -> String {
    match header.extname() {
        Some(name) => format!("HDU {number} ({name})"),
        None if number == 1 => "HDU 1 (PRIMARY)".to_string(),
        None => format!("HDU {number}"),
    }
}

/// The first bytes of `bytes` as printable text, for messages.
pub(super) fn preview(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(20)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                '.'
            }
        })
        .collect()
}

/// Parse the header starting at `offset` of `bytes`, which hold the file's bytes from byte
/// `base` on (all of them to its end, or at least the header); `file_len` is the file's size.
/// Returns the header and its length in bytes (whole blocks).
pub(super) fn read_header(
    bytes: &[u8],
    base: usize,
    file_len: usize,
    offset: usize,
    number: usize,
) -> Parse<(Header, usize)> {
    let mut cards: Vec<Card> = Vec::new();
    let mut pos = offset;
    loop {
        let Some(raw) = bytes.get(pos..pos + CARD_SIZE) else {
            return Err(format!(
                "truncated: the header of HDU {number} has no END card before the end of the \
                 file ({file_len} bytes)"
            )
            .into());
        };
        let index = (pos - offset) / CARD_SIZE + 1;
        pos += CARD_SIZE;
        if raw[..8].iter().any(|b| !(0x20..0x7f).contains(b)) {
            return Err(format!(
                "not a FITS file: card {index} of the header of HDU {number} (byte {}) has a \
                 keyword that is not ASCII text",
                base + pos - CARD_SIZE
            )
            .into());
        }
        if &raw[..8] == b"END     " {
            break;
        }
        // Only printable ASCII is legal (FITS §4.1.1); replace the rest rather than give up.
        let mut image = [b' '; CARD_SIZE];
        for (dst, &b) in image.iter_mut().zip(raw) {
            *dst = if (0x20..0x7f).contains(&b) { b } else { b'?' };
        }
        push_card(&mut cards, &image);
    }
    let header_len = (pos - offset).div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
    if base + offset + header_len > file_len {
        return Err(format!(
            "truncated: the header of HDU {number} is not padded to a whole 2880-byte block \
             (file size {file_len} is not a multiple of 2880)"
        )
        .into());
    }
    if number == 1 {
        match cards.first() {
            Some(c) if c.key == "SIMPLE" && c.value == Some(Value::Bool(true)) => {}
            Some(c) if c.key == "SIMPLE" => {
                return Err("not a standard FITS file: SIMPLE is not T".into());
            }
            _ => return Err("not a FITS file: the first card is not SIMPLE = T".into()),
        }
    } else if !matches!(cards.first(), Some(c) if c.key == "XTENSION" && matches!(c.value, Some(Value::Str(_))))
    {
        return Err(format!("HDU {number} does not start with an XTENSION card").into());
    }
    Ok((Header::from_cards(cards), header_len))
}

/// Parse one (ASCII) card image and append it, joining CONTINUE cards to a string ending in `&`.
fn push_card(cards: &mut Vec<Card>, image: &[u8; CARD_SIZE]) {
    let text = || {
        let t = String::from_utf8_lossy(&image[8..]).trim_end().to_string();
        (!t.is_empty()).then_some(t)
    };
    let key = String::from_utf8_lossy(&image[..8]).trim_end().to_string();
    if key == "CONTINUE" {
        if let Some(Card {
            value: Some(Value::Str(s)),
            comment,
            ..
        }) = cards.last_mut()
        {
            if s.ends_with('&') {
                if let Some((FpValue::String(more), more_comment)) = parse_value(&image[8..]) {
                    s.pop();
                    s.push_str(&more);
                    if let Some(c) = more_comment {
                        *comment = Some(c.to_string());
                    }
                    return;
                }
            }
        }
    }
    let card = match parse_card(image) {
        Ok(fp) => {
            let mut card = card_from_fitsio(&fp);
            if card.value.is_none() {
                // COMMENT, HISTORY, blank, HIERARCH, undefined value: keep the text verbatim.
                card.comment = text();
            }
            card
        }
        Err(_) => Card {
            key,
            value: None,
            comment: text(),
        },
    };
    cards.push(card);
}

/// What an HDU's data unit is and how long it is.
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) kind: Kind,
    pub(super) bitpix: i64,
    /// NAXIS1, NAXIS2, … (FITS order, fastest first).
    pub(super) naxes: Vec<usize>,
    pub(super) data_len: usize,
}

impl Layout {
    /// The data length padded to whole blocks, if `remaining` bytes of the file (of
    /// `file_len`) hold it; else what is missing, for the HDU `label`.
    pub(super) fn padded_len(
        &self,
        label: &str,
        remaining: usize,
        file_len: usize,
    ) -> Parse<usize> {
        if self.data_len > remaining {
            return Err(format!(
                "truncated: {label} needs {} bytes of data but only {remaining} remain{}",
                self.data_len,
                self.missing_planes(remaining)
            )
            .into());
        }
        let padded = self.data_len.div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
        if padded > remaining {
            return Err(format!(
                "truncated: the data of {label} is not padded to a whole 2880-byte block \
                 (file size {file_len} is not a multiple of 2880)"
            )
            .into());
        }
        Ok(padded)
    }

    /// For a truncated cube (an image of 3 axes): which integration (plane) is the first one
    /// incomplete, as ", from integration k of n on" (empty for other data).
    fn missing_planes(&self, available: usize) -> String {
        match (&self.kind, self.naxes.as_slice()) {
            (Kind::Image, [nx, ny, nplanes]) if *nplanes > 1 => {
                let plane = nx * ny * (self.bitpix.unsigned_abs() as usize / 8);
                if plane == 0 {
                    return String::new();
                }
                format!(
                    ": integration {} of {nplanes} is incomplete and those after it are missing",
                    available / plane + 1
                )
            }
            _ => String::new(),
        }
    }
}

#[derive(Debug, PartialEq)]
pub(super) enum Kind {
    Image,
    BinTable,
    /// Random groups, ASCII tables and unknown extensions: data skipped.
    Other,
}

impl Layout {
    /// From the mandatory keywords (FITS §4.4.1), with every size checked for overflow.
    pub(super) fn of(header: &Header, primary: bool) -> Parse<Layout> {
        let int = |key: &str| -> Parse<i64> {
            match header.get(key) {
                Some(Value::Int(i)) => Ok(*i),
                Some(other) => Err(format!("{key} = {other} is not an integer").into()),
                None => Err(format!("the mandatory keyword {key} is missing").into()),
            }
        };
        let count = |key: &str| -> Parse<usize> {
            let v = int(key)?;
            usize::try_from(v).map_err(|_| format!("{key} = {v} is negative or too large").into())
        };
        let bitpix = int("BITPIX")?;
        if !matches!(bitpix, 8 | 16 | 32 | 64 | -32 | -64) {
            return Err(format!("BITPIX = {bitpix} is not one of 8, 16, 32, 64, -32, -64").into());
        }
        let naxis = count("NAXIS")?;
        if naxis > 999 {
            return Err(format!("NAXIS = {naxis} is more than 999").into());
        }
        let naxes = (1..=naxis)
            .map(|n| count(&format!("NAXIS{n}")))
            .collect::<Parse<Vec<usize>>>()?;
        let groups =
            primary && naxes.first() == Some(&0) && header.get_bool("GROUPS") == Some(true);
        let (pcount, gcount) = if primary && !groups {
            (0, 1)
        } else {
            let pcount = if header.contains("PCOUNT") {
                count("PCOUNT")?
            } else {
                0
            };
            let gcount = if header.contains("GCOUNT") {
                count("GCOUNT")?
            } else {
                1
            };
            (pcount, gcount)
        };
        let axes: &[usize] = if groups { &naxes[1..] } else { &naxes };
        let elements = if naxis == 0 {
            0
        } else {
            axes.iter()
                .try_fold(1usize, |acc, &n| acc.checked_mul(n))
                .ok_or("the data size overflows")?
        };
        let data_len = elements
            .checked_add(pcount)
            .and_then(|n| n.checked_mul(gcount))
            .and_then(|n| n.checked_mul(bitpix.unsigned_abs() as usize / 8))
            .ok_or("the data size overflows")?;
        let xtension = header.get_str("XTENSION").map(str::trim);
        let kind = match (primary, xtension) {
            (true, _) if !groups => Kind::Image,
            (false, Some("IMAGE")) => Kind::Image,
            (false, Some("BINTABLE")) => Kind::BinTable,
            _ => Kind::Other,
        };
        if kind != Kind::Other && gcount != 1 {
            return Err(
                format!("GCOUNT = {gcount}; an IMAGE or BINTABLE must have GCOUNT = 1").into(),
            );
        }
        if kind == Kind::Image && pcount != 0 {
            return Err(format!("PCOUNT = {pcount}; an IMAGE must have PCOUNT = 0").into());
        }
        Ok(Layout {
            kind,
            bitpix,
            naxes,
            data_len,
        })
    }
}

pub(super) fn decode(header: &Header, layout: &Layout, data: &[u8]) -> Parse<HduData> {
    match layout.kind {
        Kind::Image if layout.naxes.is_empty() => Ok(HduData::None),
        Kind::Image => decode_image(header, layout, data),
        Kind::BinTable => decode_table(header, layout, data).map(HduData::Table),
        Kind::Other => Ok(HduData::None),
    }
}

/// A one-HDU FITS stream for `fitsrs`: `cards` (mandatory keywords only) then `data`.
fn clean_stream(primary: &[u8], extension: Option<&[u8]>, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(primary.len() + extension.map_or(0, <[u8]>::len) + data.len());
    out.extend_from_slice(primary);
    if let Some(ext) = extension {
        out.extend_from_slice(ext);
    }
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(BLOCK_SIZE) * BLOCK_SIZE, 0);
    out
}

fn decode_image(header: &Header, layout: &Layout, data: &[u8]) -> Parse<HduData> {
    let shape: Vec<usize> = layout.naxes.iter().rev().copied().collect();
    let count = layout.naxes.iter().product::<usize>();
    if count == 0 {
        return Ok(HduData::Image {
            shape,
            pixels: Vec::new(),
        });
    }
    let cards = build_primary_header(layout.bitpix, &layout.naxes)
        .and_then(|cards| serialize_header(&cards))
        .map_err(|e| format!("internal error building the image header for fitsrs: {e}"))?;
    let pixel_bytes = data
        .get(..count * (layout.bitpix.unsigned_abs() as usize / 8))
        .ok_or("internal error: the data unit is shorter than the image")?;
    let stream = clean_stream(&cards, None, pixel_bytes);

    let bscale = header.get_f64("BSCALE").unwrap_or(1.0);
    let bzero = header.get_f64("BZERO").unwrap_or(0.0);
    let blank = header.get_i64("BLANK");
    let scaled = bscale != 1.0 || bzero != 0.0;
    let int = |raw: i64| {
        if blank == Some(raw) {
            f64::NAN
        } else if scaled {
            bzero + bscale * raw as f64
        } else {
            raw as f64
        }
    };
    let float = |raw: f64| if scaled { bzero + bscale * raw } else { raw };

    let mut fits = Fits::from_reader(Cursor::new(&stream[..]));
    let hdu = match fits.next() {
        Some(Ok(HDU::Primary(hdu))) => hdu,
        other => return Err(format!("fitsrs could not read the image: {other:?}").into()),
    };
    let pixels: Vec<f64> = match fits.get_data(&hdu).pixels() {
        Pixels::U8(it) => it.map(|v| int(i64::from(v))).collect(),
        Pixels::I16(it) => it.map(|v| int(i64::from(v))).collect(),
        Pixels::I32(it) => it.map(|v| int(i64::from(v))).collect(),
        Pixels::I64(it) => it.map(int).collect(),
        Pixels::F32(it) => it.map(|v| float(f64::from(v))).collect(),
        Pixels::F64(it) => it.map(float).collect(),
    };
    if pixels.len() != count {
        return Err(format!(
            "fitsrs decoded {} pixels, the header declares {count}",
            pixels.len()
        )
        .into());
    }
    Ok(HduData::Image { shape, pixels })
}

/// How one TFORMn column is read.
struct ColumnPlan {
    /// Index into the output columns, or None for a skipped column type.
    output: Option<usize>,
    kind: CellKind,
    repeat: usize,
    width: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum CellKind {
    Str,
    Bool,
    U8,
    I16,
    I32,
    I64,
    F32,
    F64,
    Skip,
}

fn decode_table(header: &Header, layout: &Layout, data: &[u8]) -> Parse<Table> {
    if layout.bitpix != 8 || layout.naxes.len() != 2 {
        return Err("a BINTABLE must have BITPIX = 8 and NAXIS = 2".into());
    }
    let (row_len, nrows) = (layout.naxes[0], layout.naxes[1]);
    let tfields = match header.get("TFIELDS") {
        Some(Value::Int(n)) if (0..=999).contains(n) => *n as usize,
        Some(v) => return Err(format!("TFIELDS = {v} is not an integer from 0 to 999").into()),
        None => return Err("the mandatory keyword TFIELDS is missing".into()),
    };

    let mut plans = Vec::with_capacity(tfields);
    let mut columns = Vec::new();
    let mut used = 0usize;
    for n in 1..=tfields {
        let tform = header
            .get_str(&format!("TFORM{n}"))
            .ok_or(format!("column {n} has no TFORM{n} string"))?
            .trim()
            .to_string();
        // fitsio-pure indexes the code before any '(' without checking it is there
        let code = tform.split('(').next().unwrap_or("");
        if code.is_empty() || !tform.is_ascii() {
            return Err(format!(
                "column {n} has TFORM{n} = '{tform}', which is not a binary-table format"
            )
            .into());
        }
        let (repeat, ty) = parse_tform_binary(&tform).map_err(|_| {
            format!("column {n} has TFORM{n} = '{tform}', which is not a binary-table format")
        })?;
        let (kind, size) = match ty {
            BinaryColumnType::Ascii => (CellKind::Str, 1),
            BinaryColumnType::Logical => (CellKind::Bool, 1),
            BinaryColumnType::Byte => (CellKind::U8, 1),
            BinaryColumnType::Short => (CellKind::I16, 2),
            BinaryColumnType::Int => (CellKind::I32, 4),
            BinaryColumnType::Long => (CellKind::I64, 8),
            BinaryColumnType::Float => (CellKind::F32, 4),
            BinaryColumnType::Double => (CellKind::F64, 8),
            BinaryColumnType::Bit => (CellKind::Skip, 0),
            BinaryColumnType::ComplexFloat => (CellKind::Skip, 8),
            BinaryColumnType::ComplexDouble => (CellKind::Skip, 16),
            BinaryColumnType::VarArrayP(_) => (CellKind::Skip, 8),
            BinaryColumnType::VarArrayQ(_) => (CellKind::Skip, 16),
        };
        let width = if ty == BinaryColumnType::Bit {
            repeat.div_ceil(8)
        } else {
            repeat
                .checked_mul(size)
                .ok_or(format!("column {n} ({tform}) is too wide"))?
        };
        used = used
            .checked_add(width)
            .ok_or(format!("column {n} ({tform}) is too wide"))?;
        let output = (kind != CellKind::Skip).then(|| {
            let name = header
                .get_str(&format!("TTYPE{n}"))
                .map_or(String::new(), |s| s.trim().to_string());
            let unit = header
                .get_str(&format!("TUNIT{n}"))
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty());
            columns.push(Column {
                name,
                unit,
                data: ColumnData::F64 {
                    repeat: 0,
                    values: Vec::new(),
                },
            });
            columns.len() - 1
        });
        plans.push(ColumnPlan {
            output,
            kind,
            repeat,
            width,
        });
    }
    if used > row_len {
        return Err(format!("the columns need {used} bytes per row but NAXIS1 = {row_len}").into());
    }
    if row_len == 0 && nrows > 0 {
        return Err(format!(
            "NAXIS1 = 0 with NAXIS2 = {nrows}: rows of zero bytes are not supported"
        )
        .into());
    }

    let cells = if nrows == 0 {
        vec![Cells::default(); plans.len()]
    } else {
        let main_table = data
            .get(..row_len * nrows)
            .ok_or("internal error: the data unit is shorter than the table")?;
        read_cells(&plans, row_len, nrows, main_table)?
    };
    for (plan, cells) in plans.iter().zip(cells) {
        let Some(out) = plan.output else { continue };
        let expected = nrows * plan.repeat;
        let found = match plan.kind {
            CellKind::Str | CellKind::Bool | CellKind::U8 => cells.bytes.len(),
            CellKind::I16 => cells.i16.len(),
            CellKind::I32 => cells.i32.len(),
            CellKind::I64 => cells.i64.len(),
            CellKind::F32 => cells.f32.len(),
            CellKind::F64 => cells.f64.len(),
            CellKind::Skip => expected,
        };
        if found != expected {
            return Err(format!(
                "fitsrs decoded {found} values for column {}, expected {expected}",
                out + 1
            )
            .into());
        }
        let repeat = plan.repeat;
        columns[out].data = match plan.kind {
            CellKind::Str => ColumnData::Str {
                width: repeat,
                values: if repeat == 0 {
                    vec![String::new(); nrows]
                } else {
                    cells.bytes.chunks(repeat).map(fits_string).collect()
                },
            },
            CellKind::Bool => ColumnData::Bool {
                repeat,
                values: cells.bytes.iter().map(|&b| b == b'T').collect(),
            },
            CellKind::U8 => ColumnData::U8 {
                repeat,
                values: cells.bytes,
            },
            CellKind::I16 => ColumnData::I16 {
                repeat,
                values: cells.i16,
            },
            CellKind::I32 => ColumnData::I32 {
                repeat,
                values: cells.i32,
            },
            CellKind::I64 => ColumnData::I64 {
                repeat,
                values: cells.i64,
            },
            CellKind::F32 => ColumnData::F32 {
                repeat,
                values: cells.f32,
            },
            CellKind::F64 => ColumnData::F64 {
                repeat,
                values: cells.f64,
            },
            CellKind::Skip => continue,
        };
    }
    Ok(Table { nrows, columns })
}

/// A string cell: up to the first NUL, trailing blanks removed (FITS §7.3.3.1).
fn fits_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let s: String = bytes[..end].iter().map(|&b| b as char).collect();
    s.trim_end().to_string()
}

/// Decoded values of one column, all rows.
#[derive(Default, Clone)]
struct Cells {
    bytes: Vec<u8>,
    i16: Vec<i16>,
    i32: Vec<i32>,
    i64: Vec<i64>,
    f32: Vec<f32>,
    f64: Vec<f64>,
}

/// Decode the main table with `fitsrs` from a clean stream in which L columns and skipped
/// columns are declared as bytes; returns the cells of each planned column.
fn read_cells(
    plans: &[ColumnPlan],
    row_len: usize,
    nrows: usize,
    main_table: &[u8],
) -> Parse<Vec<Cells>> {
    // Clean-stream column i -> plan index; zero-width columns are left out.
    let mut descs = Vec::new();
    let mut plan_of = Vec::new();
    for (k, plan) in plans.iter().enumerate() {
        if plan.width == 0 {
            continue;
        }
        let (repeat, col_type) = match plan.kind {
            CellKind::Str => (plan.repeat, BinaryColumnType::Ascii),
            CellKind::I16 => (plan.repeat, BinaryColumnType::Short),
            CellKind::I32 => (plan.repeat, BinaryColumnType::Int),
            CellKind::I64 => (plan.repeat, BinaryColumnType::Long),
            CellKind::F32 => (plan.repeat, BinaryColumnType::Float),
            CellKind::F64 => (plan.repeat, BinaryColumnType::Double),
            CellKind::Bool | CellKind::U8 | CellKind::Skip => (plan.width, BinaryColumnType::Byte),
        };
        descs.push(BinaryColumnDescriptor {
            name: None,
            repeat,
            col_type,
            byte_width: plan.width,
            tdim: None,
        });
        plan_of.push(Some(k));
    }
    let used: usize = plans.iter().map(|p| p.width).sum();
    if used < row_len {
        let width = row_len - used;
        descs.push(BinaryColumnDescriptor {
            name: None,
            repeat: width,
            col_type: BinaryColumnType::Byte,
            byte_width: width,
            tdim: None,
        });
        plan_of.push(None);
    }
    let primary = build_primary_header(8, &[])
        .and_then(|cards| serialize_header(&cards))
        .map_err(|e| format!("internal error building a header for fitsrs: {e}"))?;
    let extension = build_binary_table_cards(&descs, nrows, 0)
        .and_then(|cards| serialize_header(&cards))
        .map_err(|e| format!("internal error building the table header for fitsrs: {e}"))?;
    let stream = clean_stream(&primary, Some(&extension), main_table);

    let mut cells = vec![Cells::default(); plans.len()];
    let mut fits = Fits::from_reader(Cursor::new(&stream[..]));
    match fits.next() {
        Some(Ok(HDU::Primary(_))) => {}
        other => return Err(format!("fitsrs could not read the table: {other:?}").into()),
    }
    let hdu = match fits.next() {
        Some(Ok(HDU::XBinaryTable(hdu))) => hdu,
        other => return Err(format!("fitsrs could not read the table: {other:?}").into()),
    };
    let mut wrong = None;
    for row in fits.get_data(&hdu).row_iter() {
        for value in row.iter() {
            let column = match value {
                DataValue::UnsignedByte { column, .. }
                | DataValue::Short { column, .. }
                | DataValue::Integer { column, .. }
                | DataValue::Long { column, .. }
                | DataValue::Character { column, .. }
                | DataValue::Float { column, .. }
                | DataValue::Double { column, .. }
                | DataValue::Logical { column, .. }
                | DataValue::Bit { column, .. }
                | DataValue::ComplexFloat { column, .. }
                | DataValue::ComplexDouble { column, .. } => column,
                DataValue::VariableLengthArray32 { .. }
                | DataValue::VariableLengthArray64 { .. } => {
                    wrong = Some("an array descriptor");
                    continue;
                }
            };
            let ColumnId::Index(i) = column else {
                wrong = Some("a column named rather than numbered");
                continue;
            };
            let Some(Some(k)) = plan_of.get(*i) else {
                continue;
            };
            let c = &mut cells[*k];
            match value {
                DataValue::UnsignedByte { value, .. } => c.bytes.push(*value),
                DataValue::Character { value, .. } => c
                    .bytes
                    .push(u8::try_from(u32::from(*value)).unwrap_or(b'?')),
                DataValue::Short { value, .. } => c.i16.push(*value),
                DataValue::Integer { value, .. } => c.i32.push(*value),
                DataValue::Long { value, .. } => c.i64.push(*value),
                DataValue::Float { value, .. } => c.f32.push(*value),
                DataValue::Double { value, .. } => c.f64.push(*value),
                _ => wrong = Some("a value of a type not declared"),
            }
        }
    }
    if let Some(what) = wrong {
        return Err(format!("internal error: fitsrs returned {what}").into());
    }
    Ok(cells)
}
