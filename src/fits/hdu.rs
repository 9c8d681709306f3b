//! In-memory HDUs: a header plus nothing, an N-D image or a binary table. Holds values only;
//! the constructors that lay out the structural cards are in `cards`, the byte layout is decided
//! by `write` and undone by `read`.

use super::header::Header;
use crate::error::{Error, Kind, Result};

/// One header-data unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hdu {
    pub header: Header,
    pub data: HduData,
}

/// The data of an HDU.
#[derive(Debug, Clone, PartialEq)]
pub enum HduData {
    /// No data (a header-only HDU), or data of a kind this module does not decode (ASCII
    /// `TABLE`, random groups, unknown extensions): the header is still there.
    None,
    /// An image. `shape` is in numpy order, slowest axis first (`[nint, ny, nx]`, i.e.
    /// `[NAXISn, …, NAXIS1]`); `pixels` are in file order (NAXIS1 fastest) with BSCALE/BZERO
    /// applied, and BLANK pixels of integer images set to NaN.
    Image { shape: Vec<usize>, pixels: Vec<f64> },
    /// A binary table.
    Table(Table),
}

/// A binary table: `nrows` rows of fixed-width columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub nrows: usize,
    pub columns: Vec<Column>,
}

/// One column of a binary table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// `TTYPEn` (may be empty when the file has none).
    pub name: String,
    /// `TUNITn`.
    pub unit: Option<String>,
    pub data: ColumnData,
}

/// The values of a column, all rows one after another (row-major: row 0's `repeat` values, then
/// row 1's, …), so `values.len() == nrows * repeat`; for strings `values.len() == nrows`.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// `wA`: one string of at most `width` bytes per row (trailing blanks and NULs removed).
    Str { width: usize, values: Vec<String> },
    /// `rL`.
    Bool { repeat: usize, values: Vec<bool> },
    /// `rB`.
    U8 { repeat: usize, values: Vec<u8> },
    /// `rI`.
    I16 { repeat: usize, values: Vec<i16> },
    /// `rJ`.
    I32 { repeat: usize, values: Vec<i32> },
    /// `rK`.
    I64 { repeat: usize, values: Vec<i64> },
    /// `rE`.
    F32 { repeat: usize, values: Vec<f32> },
    /// `rD`.
    F64 { repeat: usize, values: Vec<f64> },
}

impl ColumnData {
    /// Values per row (the string width for `Str`).
    pub fn repeat(&self) -> usize {
        match self {
            ColumnData::Str { width, .. } => *width,
            ColumnData::Bool { repeat, .. }
            | ColumnData::U8 { repeat, .. }
            | ColumnData::I16 { repeat, .. }
            | ColumnData::I32 { repeat, .. }
            | ColumnData::I64 { repeat, .. }
            | ColumnData::F32 { repeat, .. }
            | ColumnData::F64 { repeat, .. } => *repeat,
        }
    }

    /// Number of stored values (strings count one per row).
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Str { values, .. } => values.len(),
            ColumnData::Bool { values, .. } => values.len(),
            ColumnData::U8 { values, .. } => values.len(),
            ColumnData::I16 { values, .. } => values.len(),
            ColumnData::I32 { values, .. } => values.len(),
            ColumnData::I64 { values, .. } => values.len(),
            ColumnData::F32 { values, .. } => values.len(),
            ColumnData::F64 { values, .. } => values.len(),
        }
    }

    /// Whether no values are stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as `f64` (logicals as 0/1). A string column gives an empty vector.
    pub fn as_f64(&self) -> Vec<f64> {
        match self {
            ColumnData::Str { .. } => Vec::new(),
            ColumnData::Bool { values, .. } => {
                values.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect()
            }
            ColumnData::U8 { values, .. } => values.iter().map(|&v| f64::from(v)).collect(),
            ColumnData::I16 { values, .. } => values.iter().map(|&v| f64::from(v)).collect(),
            ColumnData::I32 { values, .. } => values.iter().map(|&v| f64::from(v)).collect(),
            ColumnData::I64 { values, .. } => values.iter().map(|&v| v as f64).collect(),
            ColumnData::F32 { values, .. } => values.iter().map(|&v| f64::from(v)).collect(),
            ColumnData::F64 { values, .. } => values.clone(),
        }
    }

    /// The strings, if this is a string column.
    pub fn as_strs(&self) -> Option<&[String]> {
        match self {
            ColumnData::Str { values, .. } => Some(values),
            _ => None,
        }
    }

    /// The logicals, if this is a logical column.
    pub fn as_bools(&self) -> Option<&[bool]> {
        match self {
            ColumnData::Bool { values, .. } => Some(values),
            _ => None,
        }
    }

    /// The `TFORMn` letter code of this column type.
    pub fn tform_code(&self) -> char {
        match self {
            ColumnData::Str { .. } => 'A',
            ColumnData::Bool { .. } => 'L',
            ColumnData::U8 { .. } => 'B',
            ColumnData::I16 { .. } => 'I',
            ColumnData::I32 { .. } => 'J',
            ColumnData::I64 { .. } => 'K',
            ColumnData::F32 { .. } => 'E',
            ColumnData::F64 { .. } => 'D',
        }
    }
}

impl Column {
    /// A column without a unit.
    pub fn new(name: &str, data: ColumnData) -> Column {
        Column {
            name: name.to_string(),
            unit: None,
            data,
        }
    }

    /// The same column with `TUNITn = unit`.
    pub fn with_unit(mut self, unit: &str) -> Column {
        self.unit = Some(unit.to_string());
        self
    }
}

impl Table {
    /// A table of `nrows` rows.
    pub fn new(nrows: usize, columns: Vec<Column>) -> Table {
        Table { nrows, columns }
    }

    /// The first column named `name` (case-insensitive, as FITS column names are).
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// Check that every column holds `nrows` rows of its repeat count, and every string fits its
    /// width. The writer refuses tables that fail this.
    pub fn check(&self) -> Result<()> {
        for (k, col) in self.columns.iter().enumerate() {
            let expected = match &col.data {
                ColumnData::Str { width, values } => {
                    if let Some(long) = values.iter().find(|s| s.len() > *width) {
                        return Err(Error::unnamed(Kind::Write, format!(
                            "column {} ({}) holds the string {:?} of {} bytes, longer than its width {}",
                            k + 1,
                            col.name,
                            long,
                            long.len(),
                            width
                        )));
                    }
                    self.nrows
                }
                other => self.nrows.saturating_mul(other.repeat()),
            };
            if col.data.len() != expected {
                return Err(Error::unnamed(
                    Kind::Write,
                    format!(
                        "column {} ({}) holds {} values; {} rows need {}",
                        k + 1,
                        col.name,
                        col.data.len(),
                        self.nrows,
                        expected
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Hdu {
    /// The `EXTNAME`, if any.
    pub fn extname(&self) -> Option<&str> {
        self.header.extname()
    }

    /// Shape (numpy order) and pixels, if this is an image.
    pub fn image_data(&self) -> Option<(&[usize], &[f64])> {
        match &self.data {
            HduData::Image { shape, pixels } => Some((shape, pixels)),
            _ => None,
        }
    }

    /// The table, if this is a binary table.
    pub fn table(&self) -> Option<&Table> {
        match &self.data {
            HduData::Table(t) => Some(t),
            _ => None,
        }
    }
}

/// The first HDU whose EXTNAME is `name` (case-insensitive); `"PRIMARY"` also finds HDU 0.
pub fn find_hdu<'a>(hdus: &'a [Hdu], name: &str) -> Option<&'a Hdu> {
    hdus.iter()
        .find(|h| h.extname().is_some_and(|e| e.eq_ignore_ascii_case(name)))
        .or_else(|| {
            if name.eq_ignore_ascii_case("PRIMARY") {
                hdus.first()
            } else {
                None
            }
        })
}
