//! Write -> read round trips of every HDU and column kind the products use, and the independent
//! astropy check of what we write (run when AMI3_PYTHON names a Python with astropy).

use std::path::PathBuf;
use std::process::Command;

use ami3::fits::{
    read_fits, write_fits, Card, Column, ColumnData, Hdu, HduData, Header, Table, Value,
};

fn section_title(text: &str) -> Card {
    Card {
        key: String::new(),
        value: None,
        comment: Some(text.to_string()),
    }
}

fn primary() -> Hdu {
    Hdu::primary(Header::from_cards(vec![
        Card::new(
            "TELESCOP",
            "JWST",
            Some("Telescope used to acquire the data"),
        ),
        section_title("        Target information"),
        Card::new("TARGPROP", "O'Brien's star", None),
        Card::new("TARG_RA", 150.000_000_000_1, Some("[deg]")),
        Card::new("TARG_DEC", -30.0, None),
        Card::new("PIXSCALE", 0.065_6_f64 / 3.0, None),
        Card::new("NINTS", 5i64, None),
        Card::new("BIGINT", -9_007_199_254_740_993i64, None),
        Card::new("EXTEND", true, None),
        Card::new("SUBARRAY", false, None),
        Card::new(
            "DESCRIP",
            "x".repeat(40) + &"y".repeat(40) + &"z".repeat(45),
            Some("long"),
        ),
        Card::comment("a comment"),
        Card::history("a history line"),
        Card {
            key: "UNDEF".into(),
            value: None,
            comment: Some("=                    / a keyword without a value".into()),
        },
        Card {
            key: "HIERARCH".into(),
            value: None,
            comment: Some(" ESO DET CHIP NAME = 'a' / HIERARCH convention".into()),
        },
    ]))
}

fn images() -> Vec<Hdu> {
    let sci: Vec<f64> = (0..12)
        .map(|i| {
            if i == 5 {
                f64::NAN
            } else {
                f64::from(i as f32 * 0.25 - 1.0)
            }
        })
        .collect();
    let cube: Vec<f64> = (0..2 * 3 * 4)
        .map(|i| f64::from(i as f32 * 1.5e-3))
        .collect();
    let mut dq_header = Header::new();
    dq_header.set("BITPIX", 32i64, None);
    dq_header.set("BZERO", 2_147_483_648i64, None);
    dq_header.set("EXTNAME", "DQ", None);
    vec![
        Hdu::image_f32(
            "SCI",
            &[3, 4],
            sci,
            vec![Card::new("BUNIT", "MJy/sr", None)],
        ),
        Hdu::image_f32("CUBE", &[2, 3, 4], cube, vec![]),
        Hdu {
            header: dq_header,
            data: HduData::Image {
                shape: vec![2, 3],
                pixels: vec![0.0, 1.0, 4.0, 2_147_483_648.0, 4_294_967_295.0, 513.0],
            },
        },
        Hdu::image_f64("F64", &[2], vec![0.1, -1.0 / 3.0], vec![]),
    ]
}

fn table() -> Table {
    let n = 3;
    Table::new(
        n,
        vec![
            Column::new(
                "TEL_NAME",
                ColumnData::Str {
                    width: 16,
                    values: vec!["A1".into(), "".into(), "it's 16 chars ok".into()],
                },
            ),
            Column::new(
                "FLAG",
                ColumnData::Bool {
                    repeat: 1,
                    values: vec![false, true, false],
                },
            ),
            Column::new(
                "FLAGS",
                ColumnData::Bool {
                    repeat: 2,
                    values: vec![true, false, false, false, true, true],
                },
            ),
            Column::new(
                "BYTES",
                ColumnData::U8 {
                    repeat: 2,
                    values: vec![0, 255, 1, 2, 3, 4],
                },
            ),
            Column::new(
                "TARGET_ID",
                ColumnData::I16 {
                    repeat: 1,
                    values: vec![1, -32768, 32767],
                },
            ),
            Column::new(
                "STA_INDEX",
                ColumnData::I16 {
                    repeat: 3,
                    values: vec![1, 2, 3, 1, 2, 4, 5, 6, 7],
                },
            ),
            Column::new(
                "COUNTS",
                ColumnData::I32 {
                    repeat: 1,
                    values: vec![i32::MIN, 0, i32::MAX],
                },
            ),
            Column::new(
                "BIG",
                ColumnData::I64 {
                    repeat: 1,
                    values: vec![i64::MIN, 0, i64::MAX],
                },
            ),
            Column::new(
                "EFF_WAVE",
                ColumnData::F32 {
                    repeat: 1,
                    values: vec![4.817_605e-6, f32::NAN, -0.0],
                },
            )
            .with_unit("m"),
            Column::new(
                "STAXYZ",
                ColumnData::F64 {
                    repeat: 3,
                    values: (0..9).map(|i| f64::from(i) / 7.0).collect(),
                },
            )
            .with_unit("m"),
            Column::new(
                "T3PHI",
                ColumnData::F64 {
                    repeat: 5,
                    values: (0..15).map(|i| -f64::from(i) * 0.1).collect(),
                },
            )
            .with_unit("deg"),
            Column::new(
                "EMPTY",
                ColumnData::F64 {
                    repeat: 0,
                    values: vec![],
                },
            ),
        ],
    )
}

fn products() -> Vec<Hdu> {
    let mut hdus = vec![primary()];
    hdus.extend(images());
    hdus.push(Hdu::bintable(
        "OI_T3",
        table(),
        vec![Card::new("OI_REVN", 2i64, None)],
    ));
    hdus.push(Hdu::bintable(
        "NOROWS",
        Table::new(
            0,
            vec![Column::new(
                "X",
                ColumnData::F64 {
                    repeat: 1,
                    values: vec![],
                },
            )],
        ),
        vec![],
    ));
    hdus.push(Hdu::bintable("NOCOLS", Table::new(0, vec![]), vec![]));
    hdus
}

/// Equality that treats NaN as equal to NaN of the same bits.
fn same_f64(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

fn same_data(a: &HduData, b: &HduData) -> bool {
    match (a, b) {
        (
            HduData::Image {
                shape: s1,
                pixels: p1,
            },
            HduData::Image {
                shape: s2,
                pixels: p2,
            },
        ) => s1 == s2 && same_f64(p1, p2),
        (HduData::Table(t1), HduData::Table(t2)) => {
            t1.nrows == t2.nrows
                && t1.columns.len() == t2.columns.len()
                && t1.columns.iter().zip(&t2.columns).all(|(c1, c2)| {
                    c1.name == c2.name
                        && c1.unit == c2.unit
                        && match (&c1.data, &c2.data) {
                            (
                                ColumnData::F32 {
                                    repeat: r1,
                                    values: v1,
                                },
                                ColumnData::F32 {
                                    repeat: r2,
                                    values: v2,
                                },
                            ) => {
                                r1 == r2
                                    && v1.iter().zip(v2).all(|(x, y)| x.to_bits() == y.to_bits())
                            }
                            (
                                ColumnData::F64 {
                                    repeat: r1,
                                    values: v1,
                                },
                                ColumnData::F64 {
                                    repeat: r2,
                                    values: v2,
                                },
                            ) => r1 == r2 && same_f64(v1, v2),
                            (d1, d2) => d1 == d2,
                        }
                })
        }
        (a, b) => a == b,
    }
}

#[test]
fn every_hdu_and_column_kind_survives_a_round_trip() {
    let written = products();
    let bytes = write_fits(&written);
    assert_eq!(bytes.len() % 2880, 0);
    let read = read_fits(&bytes, "roundtrip.fits").unwrap();
    assert_eq!(read.len(), written.len());
    for (w, r) in written.iter().zip(&read) {
        assert!(
            same_data(&w.data, &r.data),
            "{:?}: {:?} vs {:?}",
            w.extname(),
            w.data,
            r.data
        );
        // The header read back is the one built, plus DATASUM and CHECKSUM at the end (for
        // HDUs made by the constructors, whose headers already hold the structural cards).
        if !matches!(w.header.cards.first(), Some(c) if c.key == "SIMPLE" || c.key == "XTENSION") {
            continue;
        }
        let n = w.header.cards.len();
        assert_eq!(
            &r.header.cards[..n],
            &w.header.cards[..],
            "{:?}",
            w.extname()
        );
        let tail: Vec<&str> = r.header.cards[n..].iter().map(|c| c.key.as_str()).collect();
        assert_eq!(tail, ["DATASUM", "CHECKSUM"]);
    }
}

#[test]
fn header_values_read_back_typed_and_exact() {
    let bytes = write_fits(&products());
    let read = read_fits(&bytes, "roundtrip.fits").unwrap();
    let h = &read[0].header;
    assert_eq!(h.get_str("TARGPROP"), Some("O'Brien's star"));
    assert_eq!(
        h.get_f64("TARG_RA").unwrap().to_bits(),
        150.000_000_000_1_f64.to_bits()
    );
    assert_eq!(
        h.get_f64("PIXSCALE").unwrap().to_bits(),
        (0.065_6_f64 / 3.0).to_bits()
    );
    assert_eq!(h.get_i64("BIGINT"), Some(-9_007_199_254_740_993));
    assert_eq!(h.get_bool("SUBARRAY"), Some(false));
    assert_eq!(h.get_str("DESCRIP").unwrap().len(), 125);
    assert_eq!(
        h.card("").unwrap().comment.as_deref(),
        Some("        Target information")
    );
    assert_eq!(
        read[3].header.get("BZERO"),
        Some(&Value::Int(2_147_483_648))
    );
}

#[test]
fn unsigned_32_bit_images_keep_their_values() {
    let bytes = write_fits(&products());
    let read = read_fits(&bytes, "roundtrip.fits").unwrap();
    let dq = ami3::fits::find_hdu(&read, "dq").unwrap();
    assert_eq!(dq.header.get_i64("BITPIX"), Some(32));
    let (shape, pixels) = dq.image_data().unwrap();
    assert_eq!(shape, [2, 3]);
    assert_eq!(
        pixels,
        [0.0, 1.0, 4.0, 2_147_483_648.0, 4_294_967_295.0, 513.0]
    );
}

#[test]
fn rewriting_what_was_read_gives_the_same_bytes() {
    let bytes = write_fits(&products());
    let read = read_fits(&bytes, "roundtrip.fits").unwrap();
    assert_eq!(write_fits(&read), bytes);
}

#[test]
fn float32_images_are_big_endian_ieee() {
    let hdus = vec![
        Hdu::primary(Header::new()),
        Hdu::image_f32("SCI", &[1, 2], vec![1.0, f64::NAN], vec![]),
    ];
    let bytes = write_fits(&hdus);
    // Second HDU: one header block, then the data.
    let data = &bytes[2 * 2880..2 * 2880 + 8];
    assert_eq!(&data[..4], &1.0f32.to_be_bytes());
    assert!(f32::from_be_bytes(data[4..8].try_into().unwrap()).is_nan());
}

/// Files written here for the astropy check; also a handy sample set.
fn write_samples() -> Vec<PathBuf> {
    let dir = std::env::temp_dir().join(format!("ami3-fits-roundtrip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths = Vec::new();
    let mut save = |name: &str, bytes: Vec<u8>| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        paths.push(path);
    };
    save("products.fits", write_fits(&products()));
    save("primary_only.fits", write_fits(&[primary()]));
    // Real JWST files re-written by us.
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/f480m-binary");
    for name in [
        "jw10005001001_03102_00001_nis_calints.fits",
        "nrm.fits",
        "throughput_f480m.fits",
        "out-jwst-3.0.0/jw10005003001_03102_00001_nis_ami-oi.fits",
        "out-jwst-3.0.0/jw10005003001_03102_00001_nis_amimulti-oi.fits",
        "out-jwst-3.0.0/jw10005003001_03102_00001_nis_amilg.fits",
    ] {
        let bytes = std::fs::read(data.join(name)).unwrap();
        let hdus = read_fits(&bytes, name).unwrap();
        save(
            &format!("rewritten_{}", name.replace('/', "_")),
            write_fits(&hdus),
        );
    }
    paths
}

#[test]
fn astropy_accepts_what_we_write() {
    let paths = write_samples();
    let Ok(python) = std::env::var("AMI3_PYTHON") else {
        eprintln!(
            "AMI3_PYTHON not set: skipped the astropy check of {} files in {}",
            paths.len(),
            paths[0].parent().unwrap().display()
        );
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/verify_fits.py");
    let out = Command::new(python)
        .arg(script)
        .args(&paths)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for path in &paths {
        std::fs::remove_file(path).ok();
    }
}
