//! FITS bytes <-> HDUs: header cards, N-D IMAGEs, BINTABLEs, and the CHECKSUM/DATASUM of every
//! HDU written. Reading goes through `fitsrs` (pixels and table cells) behind our own structural
//! checks, writing through `fitsio-pure`; see `read` and `write` for which crate does what and
//! why; `stream` reads a file through a [`ByteSource`] (disk, a browser `File`, memory) one
//! slice at a time, so that a cube never needs to be held whole. Apart from
//! [`FileSource`] (native only) it works on bytes (no file system, so it runs in wasm32) and
//! knows no science: typed products (`AmiLg`, `OiFits`, …) map themselves onto [`Hdu`]s. It must never
//! panic or hang on bad input; every problem is an [`Error`](crate::error::Error) naming the
//! file and what is wrong.
//!
//! ```
//! use ami3::fits::{read_fits, write_fits, Card, Column, ColumnData, Hdu, Header, Table};
//!
//! let primary = Hdu::primary(Header::from_cards(vec![Card::new("TELESCOP", "JWST", None)]));
//! let image = Hdu::image_f32("SCI", &[2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0], vec![]);
//! let table = Table::new(2, vec![Column::new("FLAG", ColumnData::Bool { repeat: 1, values: vec![true, false] })]);
//! let bytes = write_fits(&[primary, image, Hdu::bintable("T", table, vec![])]);
//! let hdus = read_fits(&bytes, "example.fits").unwrap();
//! assert_eq!(hdus[1].image_data().unwrap().0, &[2, 3]);
//! assert_eq!(hdus[2].table().unwrap().column("flag").unwrap().data.as_bools(), Some(&[true, false][..]));
//! ```

mod cards;
pub mod hdu;
pub mod header;
pub mod read;
pub mod spool;
pub mod stream;
pub mod write;

pub use hdu::{find_hdu, Column, ColumnData, Hdu, HduData, Table};
pub use header::{Card, Header, Value};
pub use spool::{FitsWriter, PlaneWriter};
pub use stream::FileSource;
pub use stream::{
    read_fits, read_fits_tolerant, scan_fits, ByteSource, ImageLocation, ScannedFits,
};
pub use write::{try_write_fits, write_fits};
