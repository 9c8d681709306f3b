//! Bad and unusual input: every problem is an `Error` naming the file, never a panic or a hang;
//! unusual but valid input (column types we skip, inputs that crash fitsrs) still reads.

use std::path::PathBuf;

use ami3::error::{Error, Input, Kind};
use ami3::fits::{read_fits, ColumnData, HduData};

fn shared(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/f480m-binary")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const CALINTS: &str = "jw10005001001_03102_00001_nis_calints.fits";

/// A FITS file from HDUs given as card texts and data bytes (each padded to whole blocks).
fn fits(hdus: &[(&[&str], Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (cards, data) in hdus {
        let start = out.len();
        for card in cards.iter().chain(&["END"]) {
            assert!(card.len() <= 80, "{card}");
            out.extend(format!("{card:80}").bytes());
        }
        out.resize(start + (out.len() - start).div_ceil(2880) * 2880, b' ');
        let start = out.len();
        out.extend(data);
        out.resize(start + data.len().div_ceil(2880) * 2880, 0);
    }
    out
}

const EMPTY_PRIMARY: &[&str] = &[
    "SIMPLE  =                    T",
    "BITPIX  =                    8",
    "NAXIS   =                    0",
];

/// The error for `bytes` read as `name`, checked to name the file.
fn error(bytes: &[u8], name: &str) -> Error {
    let err = read_fits(bytes, name).expect_err("bad input must be an error");
    assert_eq!(err.input, Input::File(name.into()));
    assert!(
        matches!(err.kind, Kind::NotFits | Kind::MalformedHdu(_)),
        "{:?}",
        err.kind
    );
    assert!(err.to_string().starts_with(name), "{err}");
    err
}

/// A small deterministic pseudo-random generator (64-bit LCG), for reproducible fuzzing.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[test]
fn non_fits_files_are_rejected_as_not_fits() {
    let e = error(&[], "empty.fits");
    assert!(
        e.problem.contains("not a FITS file") && e.problem.contains("empty"),
        "{e}"
    );
    let e = error(&shared("asn.json"), "asn.json");
    assert!(e.problem.starts_with("not a FITS file"), "{e}");
    let mut rng = Lcg(1);
    let noise: Vec<u8> = (0..10_000).map(|_| rng.next() as u8).collect();
    let e = error(&noise, "noise.bin");
    assert!(e.problem.starts_with("not a FITS file"), "{e}");
    let mut noisy = b"SIMPLE  =                    T".to_vec();
    noisy.resize(80, b' ');
    noisy.extend(&noise);
    let e = error(&noisy, "noisy.fits");
    assert!(e.problem.contains("not ASCII"), "{e}");
    for (bytes, name) in [(&b""[..], "empty.fits"), (&noise[..], "noise.bin")] {
        assert_eq!(error(bytes, name).kind, Kind::NotFits);
    }
    // its message says "not a FITS file", and so does its kind
    assert_eq!(e.kind, Kind::NotFits);
}

#[test]
fn a_truncated_header_is_reported() {
    let bytes = shared(CALINTS);
    let e = error(&bytes[..5000], "cut.fits");
    assert!(
        e.problem.starts_with("truncated") && e.problem.contains("HDU 1"),
        "{e}"
    );
    // A header of blank cards only: no END anywhere.
    let mut no_end = fits(&[(EMPTY_PRIMARY, vec![])]);
    no_end[3 * 80..3 * 80 + 3].copy_from_slice(b"   ");
    let e = error(&no_end, "no_end.fits");
    assert!(e.problem.contains("no END card"), "{e}");
}

#[test]
fn truncated_data_names_the_hdu_and_the_sizes() {
    let bytes = shared(CALINTS);
    // PRIMARY header is 2 blocks, SCI header 1 block; SCI data (5x80x80 float32) follows.
    let sci_start = 3 * 2880;
    let e = error(&bytes[..sci_start + 50_000], "cut.fits");
    assert_eq!(
        e.problem,
        "truncated: HDU 2 (SCI) needs 128000 bytes of data but only 50000 remain: integration 2 of 5 is incomplete and those after it are missing"
    );
    assert_eq!(e.kind, Kind::MalformedHdu(2));
    // Data complete but the final padding missing.
    let e = error(&bytes[..bytes.len() - 1000], "cut.fits");
    assert!(
        e.problem.contains("HDU 5 (ASDF)") && e.problem.contains("multiple of 2880"),
        "{e}"
    );
}

#[test]
fn stray_bytes_after_the_last_hdu_are_reported() {
    let mut bytes = shared(CALINTS);
    bytes.extend([b'x'; 100]);
    let e = error(&bytes, "long.fits");
    assert!(
        e.problem.contains("not a multiple of 2880") && e.problem.contains("100 stray bytes"),
        "{e}"
    );
    bytes.resize(bytes.len() - 100 + 2880, b'x');
    let e = error(&bytes, "junk.fits");
    assert!(e.problem.contains("not an XTENSION header"), "{e}");
    // Whole blocks of zeros after the last HDU are tolerated (some writers leave them).
    let mut zeros = shared(CALINTS);
    zeros.extend([0u8; 2880]);
    assert_eq!(read_fits(&zeros, "zeros.fits").unwrap().len(), 5);
}

#[test]
fn impossible_mandatory_keywords_are_reported() {
    let bad_bitpix = fits(&[(
        &[
            "SIMPLE  =                    T",
            "BITPIX  =                   12",
            "NAXIS   =                    0",
        ],
        vec![],
    )]);
    assert!(error(&bad_bitpix, "b.fits").problem.contains("BITPIX = 12"));
    let huge = fits(&[(
        &[
            "SIMPLE  =                    T",
            "BITPIX  =                  -64",
            "NAXIS   =                    3",
            "NAXIS1  =  9223372036854775807",
            "NAXIS2  =  9223372036854775807",
            "NAXIS3  =                    2",
        ],
        vec![],
    )]);
    assert!(error(&huge, "h.fits").problem.contains("overflows"));
    let negative = fits(&[(
        &[
            "SIMPLE  =                    T",
            "BITPIX  =                    8",
            "NAXIS   =                    1",
            "NAXIS1  =                   -5",
        ],
        vec![],
    )]);
    assert!(error(&negative, "n.fits").problem.contains("NAXIS1 = -5"));
    let missing = fits(&[(
        &[
            "SIMPLE  =                    T",
            "BITPIX  =                    8",
        ],
        vec![],
    )]);
    assert!(error(&missing, "m.fits")
        .problem
        .contains("NAXIS is missing"));
    let big = fits(&[(
        &[
            "SIMPLE  =                    T",
            "BITPIX  =                   16",
            "NAXIS   =                    1",
            "NAXIS1  =           1000000000",
        ],
        vec![],
    )]);
    assert!(error(&big, "big.fits")
        .problem
        .contains("needs 2000000000 bytes of data but only 0 remain"));
    let table = |tform: &'static str| {
        fits(&[
            (EMPTY_PRIMARY, vec![]),
            (
                &[
                    "XTENSION= 'BINTABLE'",
                    "BITPIX  =                    8",
                    "NAXIS   =                    2",
                    "NAXIS1  =                    4",
                    "NAXIS2  =                    1",
                    "PCOUNT  =                    0",
                    "GCOUNT  =                    1",
                    "TFIELDS =                    1",
                    tform,
                ],
                vec![0; 4],
            ),
        ])
    };
    let e = error(&table("TFORM1  = '3Z      '"), "t.fits");
    assert!(
        e.problem.contains("HDU 2") && e.problem.contains("TFORM1 = '3Z'"),
        "{e}"
    );
    let e = error(&table("TFORM1  = '2D      '"), "t.fits");
    assert!(e.problem.contains("16 bytes per row but NAXIS1 = 4"), "{e}");
    let e = error(&table("TTYPE1  = 'X       '"), "t.fits");
    assert!(e.problem.contains("no TFORM1"), "{e}");
}

#[test]
fn skipped_column_types_and_empty_arrays_do_not_disturb_the_others() {
    // 1J, 8X, 1C, 1M, 1PD (heap: one double; row 2 an empty array), 2L, 3A: 4+1+8+16+8+2+3 = 42.
    let mut rows = Vec::new();
    for (j, desc, logical, text) in [
        (7i32, (1u32, 0u32), *b"TF", *b"ab\0"),
        (-7, (0, 0), [b'F', 0], *b"xyz"),
    ] {
        rows.extend(j.to_be_bytes());
        rows.push(0b1010_0000);
        rows.extend([0u8; 8 + 16]);
        rows.extend(desc.0.to_be_bytes());
        rows.extend(desc.1.to_be_bytes());
        rows.extend(logical);
        rows.extend(text);
    }
    rows.extend(2.5f64.to_be_bytes()); // the heap
    let bytes = fits(&[
        (EMPTY_PRIMARY, vec![]),
        (
            &[
                "XTENSION= 'BINTABLE'",
                "BITPIX  =                    8",
                "NAXIS   =                    2",
                "NAXIS1  =                   42",
                "NAXIS2  =                    2",
                "PCOUNT  =                    8",
                "GCOUNT  =                    1",
                "TFIELDS =                    7",
                "TFORM1  = 'J       '",
                "TTYPE1  = 'ID      '",
                "TFORM2  = '8X      '",
                "TFORM3  = 'C       '",
                "TFORM4  = 'M       '",
                "TFORM5  = 'PD(1)   '",
                "TFORM6  = '2L      '",
                "TTYPE6  = 'FLAG    '",
                "TUNIT6  = '        '",
                "TFORM7  = '3A      '",
                "TTYPE7  = 'NAME    '",
                "TUNIT7  = 'none    '",
                "EXTNAME = 'ODD     '",
            ],
            rows,
        ),
    ]);
    let hdus = read_fits(&bytes, "odd.fits").unwrap();
    let t = hdus[1].table().unwrap();
    assert_eq!(t.nrows, 2);
    assert_eq!(t.columns.len(), 3, "X, C, M and P columns are skipped");
    assert_eq!(
        t.column("id").unwrap().data,
        ColumnData::I32 {
            repeat: 1,
            values: vec![7, -7]
        }
    );
    assert_eq!(
        t.column("FLAG").unwrap().data,
        ColumnData::Bool {
            repeat: 2,
            values: vec![true, false, false, false]
        }
    );
    assert_eq!(t.column("FLAG").unwrap().unit, None);
    let name = t.column("NAME").unwrap();
    assert_eq!(
        name.data,
        ColumnData::Str {
            width: 3,
            values: vec!["ab".into(), "xyz".into()]
        }
    );
    assert_eq!(name.unit.as_deref(), Some("none"));
}

#[test]
fn inputs_that_crash_fitsrs_read_cleanly() {
    // TFIELDS = 0 (fitsrs indexes an empty column list) and a lone-quote string value
    // (fitsrs slices &s[1..0]).
    let bytes = fits(&[
        (
            &[
                "SIMPLE  =                    T",
                "BITPIX  =                    8",
                "NAXIS   =                    0",
                "ODD     = '",
            ],
            vec![],
        ),
        (
            &[
                "XTENSION= 'BINTABLE'",
                "BITPIX  =                    8",
                "NAXIS   =                    2",
                "NAXIS1  =                    0",
                "NAXIS2  =                    0",
                "PCOUNT  =                    0",
                "GCOUNT  =                    1",
                "TFIELDS =                    0",
            ],
            vec![],
        ),
    ]);
    let hdus = read_fits(&bytes, "edge.fits").unwrap();
    assert_eq!(hdus[0].header.get_str("ODD"), Some(""));
    assert_eq!(hdus[1].table().unwrap().columns.len(), 0);
}

#[test]
fn ascii_tables_and_random_groups_keep_their_headers_without_data() {
    let bytes = fits(&[
        (
            &[
                "SIMPLE  =                    T",
                "BITPIX  =                   16",
                "NAXIS   =                    2",
                "NAXIS1  =                    0",
                "NAXIS2  =                    3",
                "GROUPS  =                    T",
                "PCOUNT  =                    1",
                "GCOUNT  =                    2",
            ],
            vec![0; 2 * 2 * (3 + 1)],
        ),
        (
            &[
                "XTENSION= 'TABLE   '",
                "BITPIX  =                    8",
                "NAXIS   =                    2",
                "NAXIS1  =                   10",
                "NAXIS2  =                    1",
                "PCOUNT  =                    0",
                "GCOUNT  =                    1",
                "TFIELDS =                    0",
                "EXTNAME = 'ASCII   '",
            ],
            vec![b' '; 10],
        ),
    ]);
    let hdus = read_fits(&bytes, "old.fits").unwrap();
    assert_eq!(hdus.len(), 2);
    assert_eq!(hdus[0].data, HduData::None);
    assert_eq!(hdus[1].extname(), Some("ASCII"));
    assert_eq!(hdus[1].data, HduData::None);
}

#[test]
fn fuzzed_files_never_panic() {
    let originals = [
        ("calints", shared(CALINTS)),
        (
            "ami-oi",
            shared("out-jwst-3.0.0/jw10005003001_03102_00001_nis_ami-oi.fits"),
        ),
    ];
    let mut rng = Lcg(42);
    for (name, bytes) in &originals {
        // Every truncation point at a 997-byte stride.
        for cut in (0..bytes.len()).step_by(997) {
            if let Err(e) = read_fits(&bytes[..cut], name) {
                assert_eq!(e.input, Input::File(name.to_string()));
            }
        }
        // Random byte changes, mostly in headers (every block that starts with a keyword).
        let headers: Vec<usize> = (0..bytes.len() / 2880)
            .map(|b| b * 2880)
            .filter(|&o| {
                bytes[o..o + 8]
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || *c == b' ')
            })
            .collect();
        for _ in 0..400 {
            let mut mutated = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let block = headers[(rng.next() as usize) % headers.len()];
                let at = block + (rng.next() as usize) % 2880;
                mutated[at] = match rng.next() % 4 {
                    0 => rng.next() as u8,
                    1 => b'\'',
                    2 => b"0123456789"[(rng.next() % 10) as usize],
                    _ => b' ',
                };
            }
            if let Err(e) = read_fits(&mutated, name) {
                assert_eq!(e.input, Input::File(name.to_string()));
            }
        }
    }
}

/// Found by the fuzzer (examples/fuzz.rs, input 1644983): a TFORM with nothing before its
/// '(' made fitsio-pure index an empty string.
#[test]
fn a_tform_without_a_type_code_is_an_error_not_a_panic() {
    for tform in ["TFORM1  = '(5)     '", "TFORM1  = '        '"] {
        let bytes = fits(&[
            (EMPTY_PRIMARY, vec![]),
            (
                &[
                    "XTENSION= 'BINTABLE'",
                    "BITPIX  =                    8",
                    "NAXIS   =                    2",
                    "NAXIS1  =                    4",
                    "NAXIS2  =                    1",
                    "PCOUNT  =                    0",
                    "GCOUNT  =                    1",
                    "TFIELDS =                    1",
                    tform,
                ],
                vec![0; 4],
            ),
        ]);
        let e = error(&bytes, "tform.fits");
        assert_eq!(e.kind, Kind::MalformedHdu(2), "{tform}: {e}");
        assert!(e.problem.contains("TFORM1"), "{tform}: {e}");
    }
}
