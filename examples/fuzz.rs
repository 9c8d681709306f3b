//! A seeded mutation fuzzer for the readers of untrusted input: the FITS reader (`read_fits`,
//! then `CalExposure` and the companion search's OIFITS reader on what it reads) and the
//! association reader (`Association::from_json`). Each input is a seed file with 1–8 random
//! byte changes, a truncation, a repeated block or an inserted card; every input must give
//! `Ok` or an `Error`, never a panic, and none may take long (the slowest is reported).
//!
//! `cargo run --release --example fuzz -- 10000000` (issue 13: ≥ 10 million inputs; the count
//! and the time go in BENCHMARKS.md). A panic prints the seed and the input's number and exits 1.

use ami3::fits::{read_fits, write_fits, Column, ColumnData, Hdu, HduData, Header, Table};
use ami3::portable::Rng;
use std::time::Instant;

/// A small but complete AMI-like file: primary with the keywords readers look at, SCI, DQ and a
/// table, so that mutations reach every part of the reader in a few kilobytes.
fn small_fits() -> Vec<u8> {
    let mut primary = Header::new();
    for (k, v) in [
        ("EXP_TYPE", "NIS_AMI"),
        ("INSTRUME", "NIRISS"),
        ("PUPIL", "NRM"),
        ("FILTER", "F480M"),
    ] {
        primary.set(k, v, None);
    }
    let mut sci = Header::new();
    sci.set("EXTNAME", "SCI", None);
    let mut dq = Header::new();
    dq.set("EXTNAME", "DQ", None);
    dq.set("BITPIX", 32i64, None);
    let mut t3 = Header::new();
    t3.set("EXTNAME", "OI_T3", None);
    let table = Table::new(
        3,
        vec![
            Column::new(
                "T3PHI",
                ColumnData::F64 {
                    values: vec![1.0, 2.0, 3.0],
                    repeat: 1,
                },
            ),
            Column::new(
                "STA_INDEX",
                ColumnData::I16 {
                    values: vec![1, 2, 3, 1, 2, 4, 1, 3, 4],
                    repeat: 3,
                },
            ),
        ],
    );
    let pixels: Vec<f64> = (0..2 * 12 * 12).map(|i| (i % 17) as f64).collect();
    write_fits(&[
        Hdu {
            header: primary,
            data: HduData::None,
        },
        Hdu {
            header: sci,
            data: HduData::Image {
                shape: vec![2, 12, 12],
                pixels: pixels.clone(),
            },
        },
        Hdu {
            header: dq,
            data: HduData::Image {
                shape: vec![2, 12, 12],
                pixels: vec![0.0; 288],
            },
        },
        Hdu {
            header: t3,
            data: HduData::Table(table),
        },
    ])
}

const ASN: &str = r#"{"asn_id": "a3001", "asn_pool": "pool", "products": [{"name": "jw01093-a3001_t001_niriss_f480m-nrm",
 "members": [{"expname": "jw01093015001_03102_00001_nis_cal.fits", "exptype": "psf"},
 {"expname": "jw01093012001_03102_00001_nis_cal.fits", "exptype": "science"}]}]}"#;

fn mutate(seed: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut b = seed.to_vec();
    let pick =
        |rng: &mut Rng, n: usize| ((rng.uniform() * n as f64) as usize).min(n.saturating_sub(1));
    match pick(rng, 5) {
        0 | 1 => {
            for _ in 0..1 + pick(rng, 8) {
                let at = pick(rng, b.len());
                b[at] = match pick(rng, 5) {
                    0 => (rng.uniform() * 256.0) as u8,
                    1 => b'\'',
                    2 => b"0123456789"[pick(rng, 10)],
                    3 => b" -=+.ET"[pick(rng, 7)],
                    _ => b'9',
                };
            }
        }
        2 => b.truncate(pick(rng, b.len())),
        3 => {
            let block = pick(rng, b.len() / 2880 + 1) * 2880;
            let end = (block + 2880).min(b.len());
            let copy = b[block.min(b.len())..end].to_vec();
            b.splice(block.min(b.len())..block.min(b.len()), copy);
        }
        _ => {
            let cards = [
                "NAXIS1  = 99999999999",
                "NAXIS   = 999",
                "BITPIX  = -32",
                "TFIELDS = 900",
                "PCOUNT  = 1000000000",
                "TFORM1  = '99999D'",
                "NAXIS3  = 0",
                "BZERO   = 1e308",
                "GCOUNT  = 2",
                "XTENSION= 'IMAGE   '",
                "END",
            ];
            let card = format!("{:80}", cards[pick(rng, cards.len())]);
            let at = pick(rng, b.len() / 80 + 1) * 80;
            b.splice(at.min(b.len())..at.min(b.len()), card.bytes());
        }
    }
    b
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let total: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    // `--only N`: run input N alone, without catching its panic (to see where it is)
    let only: Option<u64> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    let seed = 20261202u64;
    let fits = small_fits();
    let product = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../shared/data/f480m-binary/out-jwst-3.0.0/jw10005003001_03102_00001_nis_ami-oi.fits",
    ))
    .unwrap_or_else(|_| fits.clone());
    let started = Instant::now();
    let (mut slowest, mut errors) = (0.0f64, 0u64);
    if only.is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    for i in only.map_or(0..total, |n| n..n + 1) {
        let t = Instant::now();
        // one input in 16 is the (larger) OIFITS product, which takes longest to read
        let outcome = std::panic::catch_unwind(|| match i % 16 {
            0..=9 => {
                let bytes = mutate(&fits, &mut Rng::new(seed ^ i));
                match read_fits(&bytes, "fuzz.fits") {
                    Ok(_) => ami3::products::exposure::CalExposure::from_bytes(&bytes, "fuzz.fits")
                        .is_err(),
                    Err(_) => true,
                }
            }
            10 => {
                let bytes = mutate(&product, &mut Rng::new(seed ^ i));
                ami3::companion::read_observation(&bytes, "fuzz-oi.fits").is_err()
            }
            _ => {
                let bytes = mutate(ASN.as_bytes(), &mut Rng::new(seed ^ i));
                let text = String::from_utf8_lossy(&bytes);
                ami3::pipeline::Association::from_json(&text, "fuzz.json").is_err()
            }
        });
        match outcome {
            Ok(failed) => errors += failed as u64,
            Err(_) => {
                eprintln!("panic on input {i} (seed {seed})");
                std::process::exit(1);
            }
        }
        slowest = slowest.max(t.elapsed().as_secs_f64());
        if (i + 1) % 1_000_000 == 0 {
            eprintln!("{} inputs, {:.0} s", i + 1, started.elapsed().as_secs_f64());
        }
    }
    println!(
        "{total} inputs, {errors} rejected with an error, no panic; slowest {:.1} ms; {:.1} s",
        slowest * 1e3,
        started.elapsed().as_secs_f64()
    );
}
