//! Streamed writing: a FITS file written one HDU at a time to a [`Write`] sink ([`FitsWriter`]),
//! and an IMAGE HDU written one plane (integration) at a time ([`PlaneWriter`]), so that a
//! product with a cube per integration never needs the cube in memory. The bytes are those
//! [`write_fits`](super::write_fits) writes for the same HDUs (one header layout and one
//! checksum stamping, in `write`); like the rest of `fits` it knows no science.
//!
//! Why a spool per cube rather than planes written at computed offsets of the output: a file's
//! primary header comes first, but a product's primary cards (how many integrations were kept
//! and dropped, warnings on the average) are known only once every integration has been
//! fitted, and so is NAXIS3; no offset of a cube is known while its planes come. A
//! [`PlaneWriter`] therefore appends its planes to a spool of its own (a temporary file, or
//! memory), keeping DATASUM as a running ones'-complement sum (FITS Checksum Convention,
//! Seaman et al. 2002: a sum of 32-bit words, so the sums of the pieces of a data unit add when
//! each piece is summed at its byte offset in the unit, aligned or not); when the file is
//! assembled the header is stamped with that sum and the spool copied after it. A pass that
//! is abandoned (the analysis refits when an integration is dropped) starts again with
//! [`PlaneWriter::restart`] over the same spool. The cost is one sequential copy of each cube.

use std::io::{Read, Seek, SeekFrom, Write};

use fitsio_pure::checksum::checksum_blocks;
use fitsio_pure::BLOCK_SIZE;

use super::cards::{image_bitpix, normalized_cards};
use super::hdu::{Hdu, HduData};
use super::header::Header;
use super::write::{hdu_bytes, hdu_error, image_bytes, ones_complement_add, stamped_header};
use crate::error::{Error, Kind, Result};

/// A FITS file written to `sink` one HDU at a time; the first HDU written is the primary.
/// Errors name `file_name` (and the HDU, as [`try_write_fits`](super::try_write_fits) does).
pub struct FitsWriter<W: Write> {
    sink: W,
    file_name: String,
    hdus: usize,
    bytes: u64,
}

impl<W: Write> FitsWriter<W> {
    /// A file named `file_name` (for errors) written to `sink`.
    pub fn new(sink: W, file_name: &str) -> Self {
        FitsWriter {
            sink,
            file_name: file_name.to_string(),
            hdus: 0,
            bytes: 0,
        }
    }

    /// Appends `hdu`, held whole.
    pub fn write_hdu(&mut self, hdu: &Hdu) -> Result<()> {
        let index = self.hdus;
        let bytes = hdu_bytes(index == 0, hdu)
            .map_err(|e| hdu_error(&self.file_name, index, hdu.extname(), e))?;
        self.put(&bytes)?;
        self.hdus += 1;
        Ok(())
    }

    /// Appends the image HDU whose planes `planes` holds: its header (NAXISn from the planes
    /// written), then the spooled data unit, then the padding to a whole block.
    pub fn write_planes<S: Read + Seek>(&mut self, planes: &mut PlaneWriter<S>) -> Result<()> {
        let index = self.hdus;
        let file_name = self.file_name.clone();
        let extname = planes.header.extname().map(str::to_string);
        let fail = |e: Error| hdu_error(&file_name, index, extname.as_deref(), e);
        let header = planes.stamped_header(index == 0).map_err(fail)?;
        self.put(&header)?;
        let data_bytes = planes.data_bytes;
        planes
            .spool
            .seek(SeekFrom::Start(0))
            .map_err(|e| fail(spool_error("rewind", &e)))?;
        let copied = std::io::copy(&mut (&mut planes.spool).take(data_bytes), &mut self.sink)
            .map_err(|e| self.io_error(&e))?;
        if copied != data_bytes {
            return Err(fail(Error::unnamed(
                Kind::Write,
                format!("the spool holds {copied} of the {data_bytes} bytes written to it"),
            )));
        }
        self.bytes += copied;
        let padding = padded_len(data_bytes) - data_bytes;
        self.put(&vec![0u8; padding as usize])?;
        self.hdus += 1;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Flushes the sink and returns it.
    pub fn finish(mut self) -> Result<W> {
        if self.hdus == 0 {
            return Err(Error::output(&self.file_name, "nothing to write: no HDUs"));
        }
        self.sink.flush().map_err(|e| self.io_error(&e))?;
        Ok(self.sink)
    }

    fn put(&mut self, bytes: &[u8]) -> Result<()> {
        self.sink.write_all(bytes).map_err(|e| self.io_error(&e))?;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    fn io_error(&self, e: &std::io::Error) -> Error {
        Error::output(&self.file_name, format!("cannot write: {e}"))
    }
}

/// An IMAGE HDU whose data unit is written one plane at a time (planes along the slowest axis,
/// e.g. integrations of a cube) to a spool, with a running DATASUM. The header (BITPIX,
/// BSCALE/BZERO, EXTNAME and other cards) is fixed at the start; NAXIS of the slowest axis is
/// the number of planes written. Written into a file by [`FitsWriter::write_planes`].
pub struct PlaneWriter<S> {
    header: Header,
    plane_shape: Vec<usize>,
    plane_pixels: usize,
    planes: usize,
    data_bytes: u64,
    datasum: u32,
    spool: S,
}

impl<S: Write + Seek> PlaneWriter<S> {
    /// An image with `header`'s cards (as [`Hdu::image_f32`] and friends make them: BITPIX,
    /// BSCALE, BZERO, EXTNAME, ...) whose planes have `plane_shape` (numpy order), spooled to
    /// `spool` from its start. Errors (a BITPIX or scaling that cannot be written) carry no
    /// file name.
    pub fn new(header: Header, plane_shape: &[usize], spool: S) -> Result<Self> {
        image_bitpix(&header)?;
        super::cards::image_scaling(&header)?;
        let plane_pixels = plane_shape
            .iter()
            .try_fold(1usize, |acc, &n| acc.checked_mul(n))
            .ok_or_else(|| Error::unnamed(Kind::Write, "the plane shape overflows"))?;
        let mut writer = PlaneWriter {
            header,
            plane_shape: plane_shape.to_vec(),
            plane_pixels,
            planes: 0,
            data_bytes: 0,
            datasum: 0,
            spool,
        };
        writer.restart()?;
        Ok(writer)
    }

    /// Forgets the planes written: the next plane is plane 0 again, over the same spool (what
    /// it held past the new planes is never copied).
    pub fn restart(&mut self) -> Result<()> {
        self.spool
            .seek(SeekFrom::Start(0))
            .map_err(|e| spool_error("rewind", &e))?;
        self.planes = 0;
        self.data_bytes = 0;
        self.datasum = 0;
        Ok(())
    }

    /// Appends one plane of `plane_shape`'s pixel count, stored as the header says.
    pub fn write_plane(&mut self, pixels: &[f64]) -> Result<()> {
        if pixels.len() != self.plane_pixels {
            return Err(Error::unnamed(
                Kind::Write,
                format!(
                    "plane {} has {} pixels but the plane shape {:?} needs {}",
                    self.planes + 1,
                    pixels.len(),
                    self.plane_shape,
                    self.plane_pixels
                ),
            ));
        }
        let bytes_per_pixel = image_bitpix(&self.header)?.unsigned_abs() as usize / 8;
        let mut bytes = image_bytes(&self.header, pixels)?;
        bytes.truncate(self.plane_pixels * bytes_per_pixel);
        self.datasum = ones_complement_add(self.datasum, sum_at(self.data_bytes, &bytes));
        self.spool
            .write_all(&bytes)
            .map_err(|e| spool_error("write to", &e))?;
        self.data_bytes += bytes.len() as u64;
        self.planes += 1;
        Ok(())
    }

    /// Planes written since the start (or the last restart).
    pub fn planes(&self) -> usize {
        self.planes
    }
}

impl<S> PlaneWriter<S> {
    /// The spool, for another image.
    pub fn into_spool(self) -> S {
        self.spool
    }

    /// The header blocks, stamped with the data written so far.
    fn stamped_header(&self, primary: bool) -> Result<Vec<u8>> {
        let mut shape = vec![self.planes];
        shape.extend(&self.plane_shape);
        let data = HduData::Image {
            shape,
            pixels: Vec::new(),
        };
        let cards = normalized_cards(primary, &self.header, &data)?;
        Ok(stamped_header(cards, self.datasum))
    }
}

/// The ones'-complement sum of `bytes` lying at byte `offset` of a data unit: its 32-bit words
/// are those of the unit, so a piece that starts inside a word is summed with zeros before it
/// (and after it, to the end of its last word), and the sums of the pieces add to the unit's.
fn sum_at(offset: u64, bytes: &[u8]) -> u32 {
    let lead = (offset % 4) as usize;
    let mut words = vec![0u8; (lead + bytes.len()).div_ceil(BLOCK_SIZE) * BLOCK_SIZE];
    words[lead..lead + bytes.len()].copy_from_slice(bytes);
    checksum_blocks(&words)
}

/// `len` rounded up to whole blocks.
fn padded_len(len: u64) -> u64 {
    len.div_ceil(BLOCK_SIZE as u64) * BLOCK_SIZE as u64
}

fn spool_error(what: &str, e: &std::io::Error) -> Error {
    Error::unnamed(Kind::Write, format!("cannot {what} the spool: {e}"))
}

#[cfg(test)]
mod tests {
    //! Oracles: `write_fits` of the same HDUs held whole (the bytes must be equal), and
    //! fitsio-pure's parser and checksum verifiers with the definition of the convention (every
    //! HDU sums to -0), as in `write::tests::every_hdu_sums_to_negative_zero`.
    use super::*;
    use crate::fits::hdu::{Column, ColumnData, Table};
    use crate::fits::header::Card;
    use crate::fits::write::write_fits;
    use std::io::Cursor;

    fn image_header(extname: &str, bitpix: i64, scaling: Option<(f64, f64)>) -> Header {
        let mut h = Header::new();
        h.set("BITPIX", bitpix, None);
        if let Some((bscale, bzero)) = scaling {
            h.set("BSCALE", bscale, None);
            h.set("BZERO", bzero, None);
        }
        h.set("EXTNAME", extname, Some("extension name"));
        h.cards.push(Card::new("BUNIT", "DN/s", Some("unit")));
        h
    }

    fn pixels(count: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::portable::Rng::new(seed);
        (0..count)
            .map(|k| {
                if k % 17 == 3 {
                    f64::NAN
                } else {
                    100.0 * rng.normal()
                }
            })
            .collect()
    }

    /// The file written whole, and the same HDUs with the images streamed a plane at a time.
    fn both_ways(images: &[(Header, Vec<usize>, Vec<f64>)]) -> (Vec<u8>, Vec<u8>) {
        let primary = Hdu::primary(Header::from_cards(vec![Card::new(
            "TELESCOP", "JWST", None,
        )]));
        let table = Table::new(
            2,
            vec![Column::new(
                "coeffs",
                ColumnData::F64 {
                    repeat: 3,
                    values: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                },
            )],
        );
        let table = Hdu::bintable("SOLNS", table, vec![]);
        let mut whole = vec![primary.clone()];
        for (header, shape, px) in images {
            whole.push(Hdu {
                header: header.clone(),
                data: HduData::Image {
                    shape: shape.clone(),
                    pixels: px.clone(),
                },
            });
        }
        whole.push(table.clone());
        let mut out = FitsWriter::new(Vec::new(), "streamed.fits");
        out.write_hdu(&primary).unwrap();
        for (header, shape, px) in images {
            let mut planes =
                PlaneWriter::new(header.clone(), &shape[1..], Cursor::new(Vec::new())).unwrap();
            for plane in px.chunks(shape[1..].iter().product()) {
                planes.write_plane(plane).unwrap();
            }
            assert_eq!(planes.planes(), shape[0]);
            out.write_planes(&mut planes).unwrap();
        }
        out.write_hdu(&table).unwrap();
        (write_fits(&whole), out.finish().unwrap())
    }

    #[test]
    fn streamed_planes_give_the_bytes_write_fits_gives() {
        let images = vec![
            (
                image_header("CTRD", -32, None),
                vec![5, 7, 7],
                pixels(5 * 49, 1),
            ),
            (image_header("F64", -64, None), vec![3, 4, 6], pixels(72, 2)),
            // 3 x 5 of 16-bit integers: 30 bytes a plane, so planes start mid-word
            (
                image_header("I16", 16, Some((0.25, 100.0))),
                vec![7, 3, 5],
                pixels(105, 3),
            ),
            (
                image_header("I32", 32, Some((1.0, 2147483648.0))),
                vec![2, 3, 3],
                pixels(18, 4),
            ),
            (image_header("U8", 8, None), vec![9, 1, 7], pixels(63, 5)),
            // a plane larger than a block, and a single plane
            (
                image_header("BIG", -32, None),
                vec![1, 40, 30],
                pixels(1200, 6),
            ),
            // no planes at all
            (image_header("EMPTY", -32, None), vec![0, 4, 4], vec![]),
        ];
        let (whole, streamed) = both_ways(&images);
        assert_eq!(streamed.len(), whole.len());
        assert!(
            streamed == whole,
            "the streamed file differs from write_fits'"
        );
    }

    #[test]
    fn every_streamed_hdu_sums_to_negative_zero() {
        let images = vec![
            (image_header("A", -32, None), vec![11, 9, 9], pixels(891, 7)),
            (
                image_header("B", 16, Some((0.5, 0.0))),
                vec![5, 1, 3],
                pixels(15, 8),
            ),
        ];
        let (_, bytes) = both_ways(&images);
        crate::fits::write::assert_every_hdu_sums_to_negative_zero(&bytes, 4);
    }

    #[test]
    fn a_restarted_image_holds_only_the_planes_written_after() {
        let header = image_header("CTRD", -32, None);
        let px = pixels(4 * 25, 9);
        let mut planes =
            PlaneWriter::new(header.clone(), &[5, 5], Cursor::new(Vec::new())).unwrap();
        for plane in px.chunks(25) {
            planes.write_plane(plane).unwrap();
        }
        planes.restart().unwrap();
        for plane in px.chunks(25).take(3) {
            planes.write_plane(plane).unwrap();
        }
        let mut out = FitsWriter::new(Vec::new(), "x.fits");
        out.write_hdu(&Hdu::primary(Header::new())).unwrap();
        out.write_planes(&mut planes).unwrap();
        let want = write_fits(&[
            Hdu::primary(Header::new()),
            Hdu {
                header,
                data: HduData::Image {
                    shape: vec![3, 5, 5],
                    pixels: px[..75].to_vec(),
                },
            },
        ]);
        assert!(out.finish().unwrap() == want);
    }

    #[test]
    fn a_plane_of_the_wrong_size_and_an_empty_file_are_errors() {
        let mut planes = PlaneWriter::new(
            image_header("X", -32, None),
            &[2, 2],
            Cursor::new(Vec::new()),
        )
        .unwrap();
        let e = planes.write_plane(&[1.0; 3]).unwrap_err();
        assert!(e.problem.contains("plane 1 has 3 pixels"), "{}", e.problem);
        let e = FitsWriter::new(Vec::new(), "out.fits")
            .finish()
            .unwrap_err();
        assert_eq!(e.input, crate::error::Input::Output("out.fits".into()));
        let mut bad = Header::new();
        bad.set("BITPIX", 12i64, None);
        assert!(PlaneWriter::new(bad, &[2], Cursor::new(Vec::new())).is_err());
    }
}
