//! The structural cards of an HDU (SIMPLE/XTENSION, BITPIX, NAXISn, BSCALE/BZERO, the BINTABLE
//! column cards) as the writer lays them out, the `Hdu` constructors that put them in place,
//! and the conversion from fitsio-pure's cards to ours. Between `hdu` (what an HDU is) and
//! `read`/`write` (bytes): both use these, neither is used here.

use fitsio_pure::bintable::{build_binary_table_cards, BinaryColumnDescriptor, BinaryColumnType};
use fitsio_pure::extension::{build_extension_header, ExtensionType};
use fitsio_pure::header::Card as FpCard;
use fitsio_pure::primary::build_primary_header;
use fitsio_pure::value::Value as FpValue;

use super::hdu::{ColumnData, Hdu, HduData, Table};
use super::header::{Card, Header, Value};
use crate::error::{Error, Kind, Result};

impl Hdu {
    /// A header-only HDU (the usual JWST PRIMARY). The structural cards (SIMPLE, BITPIX, NAXIS,
    /// EXTEND) are put first, replacing any in `header`; old CHECKSUM/DATASUM are dropped.
    pub fn primary(header: Header) -> Hdu {
        Hdu::normalized(true, header, HduData::None)
    }

    /// A float32 (BITPIX = -32) IMAGE extension named `extname`. `shape` is in numpy order
    /// (slowest axis first); `pixels` in file order. `extra_cards` follow EXTNAME.
    pub fn image_f32(
        extname: &str,
        shape: &[usize],
        pixels: Vec<f64>,
        extra_cards: Vec<Card>,
    ) -> Hdu {
        Hdu::image(extname, -32, shape, pixels, extra_cards)
    }

    /// A float64 (BITPIX = -64) IMAGE extension; see [`Hdu::image_f32`].
    pub fn image_f64(
        extname: &str,
        shape: &[usize],
        pixels: Vec<f64>,
        extra_cards: Vec<Card>,
    ) -> Hdu {
        Hdu::image(extname, -64, shape, pixels, extra_cards)
    }

    fn image(
        extname: &str,
        bitpix: i64,
        shape: &[usize],
        pixels: Vec<f64>,
        extra: Vec<Card>,
    ) -> Hdu {
        let mut header = Header::new();
        header.set("BITPIX", bitpix, None);
        header.set("EXTNAME", extname, Some("extension name"));
        header.cards.extend(extra);
        let data = HduData::Image {
            shape: shape.to_vec(),
            pixels,
        };
        Hdu::normalized(false, header, data)
    }

    /// A BINTABLE extension named `extname`; `extra_cards` follow EXTNAME.
    pub fn bintable(extname: &str, table: Table, extra_cards: Vec<Card>) -> Hdu {
        let mut header = Header::new();
        header.set("EXTNAME", extname, Some("extension name"));
        header.cards.extend(extra_cards);
        Hdu::normalized(false, header, HduData::Table(table))
    }

    /// `header` with its structural cards replaced by the ones the writer will write.
    fn normalized(primary: bool, header: Header, data: HduData) -> Hdu {
        let header = match normalized_cards(primary, &header, &data) {
            Ok(cards) => Header::from_cards(cards),
            // The writer reports the problem (e.g. a malformed table) when asked to write.
            Err(_) => header,
        };
        Hdu { header, data }
    }
}

/// The cards the writer writes for an HDU, without DATASUM/CHECKSUM: the structural cards
/// generated from `data`, then the other cards of `header` in order.
pub(crate) fn normalized_cards(
    primary: bool,
    header: &Header,
    data: &HduData,
) -> Result<Vec<Card>> {
    let fp = |r: fitsio_pure::Result<Vec<FpCard>>| {
        r.map(|cards| cards.iter().map(card_from_fitsio).collect::<Vec<Card>>())
            .map_err(|e| {
                Error::unnamed(
                    Kind::Write,
                    format!("fitsio-pure refused the structural cards: {e}"),
                )
            })
    };
    let extend = Card::new("EXTEND", true, Some("FITS dataset may contain extensions"));
    let mut drop_blank = false;
    let mut cards = match data {
        HduData::None if primary => {
            let mut cards = fp(build_primary_header(8, &[]))?;
            cards.push(extend);
            cards
        }
        HduData::None => fp(build_extension_header(ExtensionType::Image, 8, &[], 0, 1))?,
        HduData::Image { shape, .. } => {
            let bitpix = image_bitpix(header)?;
            drop_blank = bitpix < 0;
            let naxes: Vec<usize> = shape.iter().rev().copied().collect();
            let mut cards = if primary {
                let mut cards = fp(build_primary_header(bitpix, &naxes))?;
                cards.push(extend);
                cards
            } else {
                fp(build_extension_header(
                    ExtensionType::Image,
                    bitpix,
                    &naxes,
                    0,
                    1,
                ))?
            };
            let (bscale, bzero) = image_scaling(header)?;
            if bscale != 1.0 {
                cards.push(Card::new("BSCALE", number_value(bscale), None));
            }
            if bzero != 0.0 {
                cards.push(Card::new("BZERO", number_value(bzero), None));
            }
            cards
        }
        HduData::Table(table) => {
            if primary {
                return Err(Error::unnamed(
                    Kind::Write,
                    "the primary HDU cannot hold a table (put an empty primary first)",
                ));
            }
            table.check()?;
            table_cards(table)?
        }
    };
    cards.extend(
        header
            .cards
            .iter()
            .filter(|c| {
                let blank = drop_blank && c.key.eq_ignore_ascii_case("BLANK");
                !is_generated(&c.key) && !blank
            })
            .cloned(),
    );
    Ok(cards)
}

/// Keywords the writer generates from the data (and so drops from the caller's header).
pub(crate) fn is_generated(key: &str) -> bool {
    let key = key.to_ascii_uppercase();
    let indexed = |prefix: &str| {
        key.strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    matches!(
        key.as_str(),
        "SIMPLE"
            | "XTENSION"
            | "BITPIX"
            | "NAXIS"
            | "PCOUNT"
            | "GCOUNT"
            | "EXTEND"
            | "GROUPS"
            | "TFIELDS"
            | "THEAP"
            | "BSCALE"
            | "BZERO"
            | "CHECKSUM"
            | "DATASUM"
            | "END"
    ) || indexed("NAXIS")
        || indexed("TTYPE")
        || indexed("TFORM")
        || indexed("TUNIT")
        || indexed("TDIM")
}

/// The BITPIX an image is stored with: the header's, or -64 (lossless for f64 pixels).
pub(crate) fn image_bitpix(header: &Header) -> Result<i64> {
    match header.get("BITPIX") {
        None => Ok(-64),
        Some(v) => match v.as_i64() {
            Some(b @ (8 | 16 | 32 | 64 | -32 | -64)) => Ok(b),
            _ => Err(Error::unnamed(
                Kind::Write,
                format!("BITPIX = {v} is not one of 8, 16, 32, 64, -32, -64"),
            )),
        },
    }
}

pub(crate) fn image_scaling(header: &Header) -> Result<(f64, f64)> {
    let bscale = header.get_f64("BSCALE").unwrap_or(1.0);
    let bzero = header.get_f64("BZERO").unwrap_or(0.0);
    if bscale == 0.0 || !bscale.is_finite() || !bzero.is_finite() {
        return Err(Error::unnamed(
            Kind::Write,
            format!("unusable scaling BSCALE = {bscale}, BZERO = {bzero}"),
        ));
    }
    Ok((bscale, bzero))
}

/// An integral number as an integer card (as astropy writes BZERO = 2147483648), else a real.
pub(crate) fn number_value(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e18 {
        Value::Int(x as i64)
    } else {
        Value::Float(x)
    }
}

pub(crate) fn column_descriptors(table: &Table) -> Vec<BinaryColumnDescriptor> {
    table
        .columns
        .iter()
        .enumerate()
        .map(|(i, col)| {
            let (col_type, size) = match &col.data {
                ColumnData::Str { .. } => (BinaryColumnType::Ascii, 1),
                ColumnData::Bool { .. } => (BinaryColumnType::Logical, 1),
                ColumnData::U8 { .. } => (BinaryColumnType::Byte, 1),
                ColumnData::I16 { .. } => (BinaryColumnType::Short, 2),
                ColumnData::I32 { .. } => (BinaryColumnType::Int, 4),
                ColumnData::I64 { .. } => (BinaryColumnType::Long, 8),
                ColumnData::F32 { .. } => (BinaryColumnType::Float, 4),
                ColumnData::F64 { .. } => (BinaryColumnType::Double, 8),
            };
            let repeat = col.data.repeat();
            BinaryColumnDescriptor {
                // astropy cannot open a table with an unnamed column: call it COLn.
                name: Some(if col.name.trim().is_empty() {
                    format!("COL{}", i + 1)
                } else {
                    ascii(&col.name)
                }),
                repeat,
                col_type,
                byte_width: repeat * size,
                tdim: None,
            }
        })
        .collect()
}

/// XTENSION … TFIELDS and TTYPEn/TFORMn from fitsio-pure, laid out per column as astropy does:
/// TTYPEn, TFORMn, then TUNITn when the column has a unit.
pub(crate) fn table_cards(table: &Table) -> Result<Vec<Card>> {
    if table.columns.len() > 999 {
        return Err(Error::unnamed(
            Kind::Write,
            format!("{} columns; FITS allows 999", table.columns.len()),
        ));
    }
    let descs = column_descriptors(table);
    let base: Vec<Card> = build_binary_table_cards(&descs, table.nrows, 0)
        .map_err(|e| {
            Error::unnamed(
                Kind::Write,
                format!("fitsio-pure refused the table cards: {e}"),
            )
        })?
        .iter()
        .map(card_from_fitsio)
        .collect();
    let take = |key: String| {
        base.iter()
            .find(|c| c.key == key)
            .cloned()
            .ok_or_else(|| Error::unnamed(Kind::Write, format!("fitsio-pure wrote no {key}")))
    };
    let mut cards: Vec<Card> = base
        .iter()
        .filter(|c| !c.key.starts_with("TTYPE") && !c.key.starts_with("TFORM"))
        .cloned()
        .collect();
    for (i, col) in table.columns.iter().enumerate() {
        let n = i + 1;
        cards.push(take(format!("TTYPE{n}"))?);
        cards.push(take(format!("TFORM{n}"))?);
        if let Some(unit) = &col.unit {
            cards.push(Card::new(&format!("TUNIT{n}"), ascii(unit), None));
        }
    }
    Ok(cards)
}

/// `s` with every character outside printable ASCII (0x20–0x7E) replaced by `?`.
pub(crate) fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

/// A fitsio-pure card as ours.
pub(crate) fn card_from_fitsio(card: &FpCard) -> Card {
    let value = card.value.as_ref().and_then(|v| match v {
        FpValue::Logical(b) => Some(Value::Bool(*b)),
        FpValue::Integer(i) => Some(Value::Int(*i)),
        FpValue::Float(x) => Some(Value::Float(*x)),
        FpValue::String(s) => Some(Value::Str(s.clone())),
        FpValue::ComplexInt(re, im) => Some(Value::Str(format!("({re}, {im})"))),
        FpValue::ComplexFloat(re, im) => Some(Value::Str(format!("({re:?}, {im:?})"))),
        FpValue::Undefined => None,
    });
    Card {
        key: card.keyword_str().to_string(),
        value,
        comment: card.comment.clone(),
    }
}
