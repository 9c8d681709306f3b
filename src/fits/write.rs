//! HDUs -> FITS bytes, with DATASUM and CHECKSUM on every HDU. Deterministic: adds no dates or
//! other volatile cards.
//!
//! `fitsio-pure` does the FITS-specific work: the mandatory cards (`build_primary_header`,
//! `build_extension_header`, `build_binary_table_cards`), value formatting (`format_card`:
//! shortest round-trip floats, quoted strings, `T`/`F`; `serialize_header` for the CONTINUE
//! long-string layout), the data units (`serialize_image` after `reverse_bscale_bzero`,
//! `serialize_binary_table`) and the checksum arithmetic (`checksum_blocks`, `encode_checksum`).
//!
//! Written here, and why:
//! * Header assembly and checksum stamping. `fitsio_pure::header::format_card` drops the text of
//!   blank-keyword cards (JWST headers use them as section titles, FITS §4.4.2.4 allows it) and
//!   cuts COMMENT/HISTORY text at 72 characters, so commentary cards are laid out here (long
//!   text split over several cards). `checksum::stamp_checksum` serializes the header itself with
//!   `serialize_header`, so its CHECKSUM would not match a header laid out differently; the
//!   stamping (placeholder, ones'-complement sum of header + DATASUM, complement) is therefore
//!   done here on the exact bytes written, with fitsio-pure's sum and encoding.
//! * `TUNITn` cards (`build_binary_table_cards` writes only TTYPE/TFORM/TDIM).
//! * Checks fitsio-pure leaves to the caller and would otherwise panic on or write invalid FITS:
//!   column lengths and string widths (an error), keyword syntax and non-finite header values
//!   (such cards are written as COMMENT text, so an odd input header never stops a product),
//!   non-ASCII text (replaced by `?`).

use fitsio_pure::bintable::{serialize_binary_table, BinaryColumnData};
use fitsio_pure::checksum::{checksum_blocks, encode_checksum};
use fitsio_pure::header::{format_card, serialize_header, Card as FpCard};
use fitsio_pure::image::{reverse_bscale_bzero, serialize_image};
use fitsio_pure::value::Value as FpValue;
use fitsio_pure::{BLOCK_SIZE, CARD_SIZE};

use super::cards::{ascii, column_descriptors, image_bitpix, image_scaling, normalized_cards};
use super::hdu::{ColumnData, Hdu, HduData};
use super::header::{Card, Header, Value};
use crate::error::{Error, Kind, Result};

/// Characters of commentary text that fit on one card (columns 9–80).
const TEXT_WIDTH: usize = 72;

/// Write `hdus` as a FITS file. HDU 0 is written as the primary HDU.
///
/// # Panics
/// If [`try_write_fits`] fails, i.e. on a programming error in the caller: a malformed table
/// (see [`Table::check`]), an image whose pixel count does not match its shape or whose
/// BITPIX/BSCALE cannot be used, a table in HDU 0, or an empty list.
pub fn write_fits(hdus: &[Hdu]) -> Vec<u8> {
    try_write_fits(hdus, "FITS output").unwrap_or_else(|e| panic!("{e}"))
}

/// Write `hdus` as a FITS file, or say (naming `file_name`) which HDU cannot be written and why.
///
/// Structural cards (SIMPLE/XTENSION, BITPIX, NAXISn, PCOUNT, GCOUNT, EXTEND, TFIELDS, TTYPEn,
/// TFORMn, TUNITn, TDIMn, BSCALE, BZERO, CHECKSUM, DATASUM) are generated from the data; the
/// other cards of each header follow in their order; lower-case keywords are upper-cased, and a
/// card FITS cannot hold (bad keyword, NaN value) is kept as COMMENT text rather than refused.
/// An image is stored with the header's BITPIX (default -64) and BSCALE/BZERO (integer BITPIX:
/// rounded and clamped to the type, NaN stored as raw 0).
pub fn try_write_fits(hdus: &[Hdu], file_name: &str) -> Result<Vec<u8>> {
    if hdus.is_empty() {
        return Err(Error::output(file_name, "nothing to write: no HDUs"));
    }
    let mut out = Vec::new();
    for (i, hdu) in hdus.iter().enumerate() {
        let fail = |e: Error| hdu_error(file_name, i, hdu.extname(), e);
        out.extend(hdu_bytes(i == 0, hdu).map_err(fail)?);
    }
    Ok(out)
}

/// One HDU's bytes (header with DATASUM and CHECKSUM, then the padded data unit); `primary`
/// for HDU 0. Errors carry no file name.
pub(crate) fn hdu_bytes(primary: bool, hdu: &Hdu) -> Result<Vec<u8>> {
    let cards = normalized_cards(primary, &hdu.header, &hdu.data)?;
    let data = data_unit(&hdu.header, &hdu.data)?;
    let datasum = if data.is_empty() {
        0
    } else {
        checksum_blocks(&data)
    };
    let mut out = stamped_header(cards, datasum);
    out.extend(data);
    Ok(out)
}

/// The error naming HDU `index` (0-based) of `file_name` that cannot be written.
pub(crate) fn hdu_error(file_name: &str, index: usize, extname: Option<&str>, e: Error) -> Error {
    let name = extname.unwrap_or(if index == 0 { "PRIMARY" } else { "no EXTNAME" });
    Error::output(
        file_name,
        format!("cannot write HDU {} ({name}): {}", index + 1, e.problem),
    )
}

/// The data unit, padded to whole blocks (empty for no data).
fn data_unit(header: &Header, data: &HduData) -> Result<Vec<u8>> {
    match data {
        HduData::None => Ok(Vec::new()),
        HduData::Image { shape, pixels } => {
            let count = shape
                .iter()
                .try_fold(1usize, |acc, &n| acc.checked_mul(n))
                .ok_or_else(|| Error::unnamed(Kind::Write, "the image shape overflows"))?;
            if pixels.len() != count {
                return Err(Error::unnamed(
                    Kind::Write,
                    format!(
                        "the image has {} pixels but its shape {shape:?} needs {count}",
                        pixels.len()
                    ),
                ));
            }
            image_bytes(header, pixels)
        }
        HduData::Table(table) => {
            table.check()?;
            let descs = column_descriptors(table);
            let data: Vec<BinaryColumnData> = table
                .columns
                .iter()
                .map(|c| match &c.data {
                    ColumnData::Str { values, .. } => {
                        BinaryColumnData::Ascii(values.iter().map(|s| ascii(s)).collect())
                    }
                    ColumnData::Bool { values, .. } => BinaryColumnData::Logical(values.clone()),
                    ColumnData::U8 { values, .. } => BinaryColumnData::Byte(values.clone()),
                    ColumnData::I16 { values, .. } => BinaryColumnData::Short(values.clone()),
                    ColumnData::I32 { values, .. } => BinaryColumnData::Int(values.clone()),
                    ColumnData::I64 { values, .. } => BinaryColumnData::Long(values.clone()),
                    ColumnData::F32 { values, .. } => BinaryColumnData::Float(values.clone()),
                    ColumnData::F64 { values, .. } => BinaryColumnData::Double(values.clone()),
                })
                .collect();
            serialize_binary_table(&descs, &data, table.nrows).map_err(|e| {
                Error::unnamed(
                    Kind::Write,
                    format!("fitsio-pure could not serialize the table: {e}"),
                )
            })
        }
    }
}

/// `pixels` stored with the header's BITPIX (default -64) and BSCALE/BZERO, big-endian, padded
/// with zeros to whole blocks (the padding is cut by callers that write part of a data unit).
pub(crate) fn image_bytes(header: &Header, pixels: &[f64]) -> Result<Vec<u8>> {
    let bitpix = image_bitpix(header)?;
    let (bscale, bzero) = image_scaling(header)?;
    let raw = reverse_bscale_bzero(pixels, bscale, bzero, bitpix).map_err(|e| {
        Error::unnamed(
            Kind::Write,
            format!("fitsio-pure could not scale the pixels: {e}"),
        )
    })?;
    Ok(serialize_image(&raw))
}

/// The header blocks of `cards` with DATASUM = `datasum` (the sum of the data unit) and the
/// CHECKSUM that makes the ones'-complement sum of the whole HDU -0 (FITS Checksum Convention,
/// Seaman et al. 2002): the data unit may be written before or after, as it comes.
pub(crate) fn stamped_header(mut cards: Vec<Card>, datasum: u32) -> Vec<u8> {
    cards.push(Card::new(
        "DATASUM",
        datasum.to_string(),
        Some("data unit checksum"),
    ));
    cards.push(Card::new(
        "CHECKSUM",
        "0000000000000000",
        Some("HDU checksum"),
    ));
    let placeholder = header_bytes(&cards);
    let sum = ones_complement_add(checksum_blocks(&placeholder), datasum);
    let encoded = encode_checksum(sum, true);
    let encoded = String::from_utf8_lossy(&encoded).into_owned();
    if let Some(last) = cards.last_mut() {
        last.value = Some(Value::Str(encoded));
    }
    header_bytes(&cards)
}

/// Ones'-complement (end-around carry) sum of two 32-bit checksums.
pub(crate) fn ones_complement_add(a: u32, b: u32) -> u32 {
    let sum = u64::from(a) + u64::from(b);
    let folded = (sum & 0xFFFF_FFFF) + (sum >> 32);
    folded as u32
}

/// The header blocks: every card, END, blank padding to a whole block.
fn header_bytes(cards: &[Card]) -> Vec<u8> {
    let mut out = Vec::with_capacity(BLOCK_SIZE);
    for card in cards {
        for image in card_images(card) {
            out.extend_from_slice(&image);
        }
    }
    let mut end = [b' '; CARD_SIZE];
    end[..3].copy_from_slice(b"END");
    out.extend_from_slice(&end);
    out.resize(out.len().div_ceil(BLOCK_SIZE) * BLOCK_SIZE, b' ');
    out
}

/// The 80-byte card image(s) of one card. A card FITS cannot hold (a keyword that is not 1–8
/// characters of A-Z, 0-9, `-`, `_` once upper-cased, a value without a keyword, a NaN or
/// infinite value, unparsable value text read from an odd file) is written as COMMENT text
/// instead, so that a header copied from an odd input never stops a product from being written
/// nor makes it invalid.
fn card_images(card: &Card) -> Vec<[u8; CARD_SIZE]> {
    match keyword_card_images(card) {
        Ok(images) => images,
        Err(()) => {
            let comment = card.comment.as_deref().unwrap_or("");
            let text = match &card.value {
                Some(value) if comment.is_empty() => format!("{}= {value}", card.key),
                Some(value) => format!("{}= {value} / {comment}", card.key),
                None => format!("{:8}{comment}", card.key),
            };
            text_cards("COMMENT", &text, true)
        }
    }
}

/// [`card_images`] for a card FITS can hold, or `Err` if it cannot.
fn keyword_card_images(card: &Card) -> std::result::Result<Vec<[u8; CARD_SIZE]>, ()> {
    let key = card.key.to_ascii_uppercase();
    let valid_key = key.len() <= 8
        && key
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid_key {
        return Err(());
    }
    let Some(value) = &card.value else {
        let text = card.comment.as_deref().unwrap_or("");
        // Text after a keyword that is not commentary is only safe verbatim for a HIERARCH card
        // or an undefined value (`= ` then at most a comment); anything else (e.g. a value no
        // reader can parse) would make astropy complain, so it goes to COMMENT text.
        let undefined = text
            .strip_prefix('=')
            .is_some_and(|rest| rest.trim_start().is_empty() || rest.trim_start().starts_with('/'));
        if card.is_commentary() || key == "HIERARCH" || undefined {
            return Ok(text_cards(&key, text, card.is_commentary()));
        }
        return Err(());
    };
    let value = match value {
        _ if key.is_empty() => return Err(()),
        Value::Str(s) => FpValue::String(ascii(s)),
        Value::Int(i) => FpValue::Integer(*i),
        Value::Float(x) if x.is_finite() => FpValue::Float(*x),
        Value::Float(_) => return Err(()),
        Value::Bool(b) => FpValue::Logical(*b),
    };
    let mut keyword = [b' '; 8];
    keyword[..key.len()].copy_from_slice(key.as_bytes());
    let fp = FpCard {
        keyword,
        value: Some(value),
        comment: card.comment.as_deref().map(ascii).filter(|c| !c.is_empty()),
    };
    let long_string = matches!(&fp.value, Some(FpValue::String(s))
        if s.len() + s.matches('\'').count() > 68);
    if !long_string {
        return Ok(vec![format_card(&fp)]);
    }
    // fitsio-pure lays out the CONTINUE cards inside serialize_header; take them back out.
    let blocks = serialize_header(std::slice::from_ref(&fp)).map_err(|_| ())?;
    Ok(blocks
        .chunks_exact(CARD_SIZE)
        .take_while(|c| &c[..8] != b"END     ")
        .map(|c| {
            let mut image = [b' '; CARD_SIZE];
            image.copy_from_slice(c);
            image
        })
        .collect())
}

/// Cards without a value: `key` then `text` from column 9. Commentary text longer than a card
/// continues on further cards with the same keyword; other text is cut to one card.
fn text_cards(key: &str, text: &str, commentary: bool) -> Vec<[u8; CARD_SIZE]> {
    let text = ascii(text);
    let text = text.trim_end();
    let bytes = text.as_bytes();
    let chunks: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[]]
    } else if commentary {
        bytes.chunks(TEXT_WIDTH).collect()
    } else {
        vec![&bytes[..bytes.len().min(TEXT_WIDTH)]]
    };
    chunks
        .into_iter()
        .map(|chunk| {
            let mut image = [b' '; CARD_SIZE];
            image[..key.len()].copy_from_slice(key.as_bytes());
            image[8..8 + chunk.len()].copy_from_slice(chunk);
            image
        })
        .collect()
}

/// Checks that `bytes` hold `count` HDUs each carrying a DATASUM and CHECKSUM that
/// fitsio-pure's verifiers accept (independent of our stamping), and, by the definition, that
/// every HDU sums to -0.
#[cfg(test)]
pub(crate) fn assert_every_hdu_sums_to_negative_zero(bytes: &[u8], count: usize) {
    let parsed = fitsio_pure::hdu::parse_fits(bytes).unwrap();
    assert_eq!(parsed.len(), count);
    for hdu in parsed.iter() {
        assert!(fitsio_pure::checksum::verify_checksum(bytes, hdu));
        assert!(fitsio_pure::checksum::verify_datasum(bytes, hdu));
        let end = hdu.data_start + hdu.data_len.div_ceil(BLOCK_SIZE) * BLOCK_SIZE;
        let sum = checksum_blocks(&bytes[hdu.header_start..end]);
        assert!(sum == 0xFFFF_FFFF || sum == 0, "{sum:#x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fits::hdu::{Column, Table};

    fn card_text(card: &Card) -> Vec<String> {
        card_images(card)
            .iter()
            .map(|c| String::from_utf8(c.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn values_are_laid_out_in_fixed_format() {
        let t = card_text(&Card::new("NINTS", 5i64, Some("Number of integrations")));
        assert_eq!(
            t[0].trim_end(),
            "NINTS   =                    5 / Number of integrations"
        );
        let t = card_text(&Card::new("EXTEND", true, None));
        assert_eq!(t[0].trim_end(), "EXTEND  =                    T");
        let t = card_text(&Card::new("TARGPROP", "O'Brien", None));
        assert_eq!(t[0].trim_end(), "TARGPROP= 'O''Brien'");
        let t = card_text(&Card::new("PI_NAME", "ab", None));
        assert_eq!(t[0].trim_end(), "PI_NAME = 'ab      '");
    }

    #[test]
    fn floats_keep_every_bit() {
        for x in [
            0.1,
            1.0 / 3.0,
            -2.286_31,
            6.603_464e-7,
            1e300,
            5e-324,
            0.0,
            60_401.000_000_001,
        ] {
            let t = card_text(&Card::new("X", x, None));
            let field = t[0][10..].trim();
            assert!(field.contains('.') || field.contains('E'), "{field}");
            let back: f64 = field.replace('D', "E").parse().unwrap();
            assert_eq!(back.to_bits(), x.to_bits(), "{field}");
        }
    }

    #[test]
    fn blank_keyword_text_and_long_comments_are_kept() {
        let section = Card {
            key: String::new(),
            value: None,
            comment: Some("        Program information".into()),
        };
        let t = card_text(&section);
        assert_eq!(
            t[0],
            format!("{:8}{:72}", "", "        Program information")
        );
        let long = "x".repeat(100);
        let t = card_text(&Card::history(&long));
        assert_eq!(t.len(), 2);
        assert_eq!(&t[0][8..], &long[..72]);
        assert_eq!(t[1][8..].trim_end(), &long[72..]);
    }

    #[test]
    fn long_strings_continue() {
        let long = "a".repeat(150);
        let t = card_text(&Card::new("DESCRIP", long.as_str(), Some("why")));
        assert!(t.len() >= 3, "{t:?}");
        assert!(t[1].starts_with("CONTINUE  '"));
    }

    #[test]
    fn cards_fits_cannot_hold_become_comments() {
        let t = card_text(&Card::new("TOO_LONG_KEY", 1i64, Some("c")));
        assert_eq!(t[0].trim_end(), "COMMENT TOO_LONG_KEY= 1 / c");
        let t = card_text(&Card::new("X", f64::NAN, None));
        assert_eq!(t[0].trim_end(), "COMMENT X= NaN");
        let t = card_text(&Card::new("A B", "s", None));
        assert_eq!(t[0].trim_end(), "COMMENT A B= 's'");
        let t = card_text(&Card::new("lower", 1i64, None));
        assert!(t[0].starts_with("LOWER   ="));
        let unparsable = Card {
            key: "OI_REVN".into(),
            value: None,
            comment: Some("= 2 A".into()),
        };
        assert_eq!(
            card_text(&unparsable)[0].trim_end(),
            "COMMENT OI_REVN = 2 A"
        );
        let undefined = Card {
            key: "ODD".into(),
            value: None,
            comment: Some("=                    / no value".into()),
        };
        assert_eq!(
            card_text(&undefined)[0].trim_end(),
            "ODD     =                    / no value"
        );
    }

    #[test]
    fn ones_complement_add_wraps_the_carry() {
        assert_eq!(ones_complement_add(0xFFFF_FFFF, 1), 1);
        assert_eq!(ones_complement_add(0x8000_0000, 0x8000_0000), 1);
        assert_eq!(ones_complement_add(2, 3), 5);
    }

    #[test]
    fn every_hdu_sums_to_negative_zero() {
        let table = Table::new(
            2,
            vec![Column::new(
                "FLAG",
                ColumnData::Bool {
                    repeat: 1,
                    values: vec![true, false],
                },
            )],
        );
        let hdus = vec![
            Hdu::primary(Header::new()),
            Hdu::image_f32(
                "SCI",
                &[2, 3],
                vec![1.0, 2.0, f64::NAN, 4.0, 5.0, 6.0],
                vec![],
            ),
            Hdu::bintable("T", table, vec![]),
        ];
        let bytes = write_fits(&hdus);
        assert_eq!(bytes.len() % BLOCK_SIZE, 0);
        assert_every_hdu_sums_to_negative_zero(&bytes, 3);
    }

    #[test]
    fn malformed_tables_are_refused_with_the_hdu_named() {
        let table = Table::new(
            3,
            vec![Column::new(
                "X",
                ColumnData::F64 {
                    repeat: 2,
                    values: vec![1.0; 5],
                },
            )],
        );
        let hdus = vec![
            Hdu::primary(Header::new()),
            Hdu::bintable("OI_T3", table, vec![]),
        ];
        let err = try_write_fits(&hdus, "out.fits").unwrap_err();
        assert_eq!(err.input, crate::error::Input::Output("out.fits".into()));
        assert_eq!(err.kind, crate::error::Kind::Write);
        assert!(err.problem.contains("HDU 2 (OI_T3)"), "{}", err.problem);
        assert!(err.problem.contains("holds 5 values"), "{}", err.problem);
        let wide = Table::new(
            1,
            vec![Column::new(
                "S",
                ColumnData::Str {
                    width: 2,
                    values: vec!["abc".into()],
                },
            )],
        );
        let hdus = vec![
            Hdu::primary(Header::new()),
            Hdu::bintable("T", wide, vec![]),
        ];
        assert!(try_write_fits(&hdus, "out.fits").is_err());
    }

    #[test]
    fn output_is_deterministic() {
        let hdus = vec![
            Hdu::primary(Header::from_cards(vec![Card::new(
                "TELESCOP", "JWST", None,
            )])),
            Hdu::image_f32("SCI", &[2, 2], vec![1.0, 2.0, 3.0, 4.0], vec![]),
        ];
        assert_eq!(write_fits(&hdus), write_fits(&hdus));
    }
}
