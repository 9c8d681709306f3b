//! Streamed exposures (issue 12 item 3): a `_calints` read from its file a few integrations at a
//! time. Oracles: `read_fits` (pixels decoded by `fitsrs`, the whole file in memory) for the
//! values; the definition of the integration average (`AmiLg::average_of` over every kept
//! integration's images) for the running sums; the file's own sizes for the reads; the byte
//! offsets of a truncated file for its error; for the `_amilg` product written as it comes,
//! `write_fits` of its HDUs built whole from the images the in-memory analysis keeps (the
//! layout of AmiLgFitModel, upstream.md §7.5) and fitsio-pure's checksum verifiers. Products
//! byte-identical to main's are checked with `cmp` against main's binary (see BENCHMARKS.md),
//! not here.

mod common;

use ami3::analyze::exposure::{analyze_exposure, analyze_exposure_with, AnalyzeParams, References};
use ami3::fits::{
    find_hdu, read_fits, write_fits, ByteSource, Column, ColumnData, FileSource, Hdu, Table,
};
use ami3::products::amilg::{AmiLg, IntegrationImages, LgFitWriter};
use ami3::products::exposure::{CalExposure, DO_NOT_USE};
use ami3::simulate::{exposure_fits, simulate_exposure, SimSpec};
use ami3::steps::{analyze_bytes, analyze_source_into, finish_amilg, ProductFile};
use common::{data_dir, planner, read, references};
use std::io::Cursor;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const CUBE: &str = "jw10005001001_03102_00001_nis_calints.fits";

/// A source that records the largest read and the bytes read in all.
struct Counting {
    bytes: Vec<u8>,
    largest: AtomicU64,
    total: AtomicU64,
}

impl ByteSource for Counting {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), String> {
        self.largest.fetch_max(buf.len() as u64, Ordering::Relaxed);
        self.total.fetch_add(buf.len() as u64, Ordering::Relaxed);
        self.bytes.read_at(offset, buf)
    }
}

#[test]
fn a_cube_opened_from_disk_gives_the_values_read_fits_decodes() {
    let path = data_dir().join(CUBE);
    let source = Arc::new(FileSource::open(&path).unwrap());
    let e = CalExposure::open(source, CUBE).unwrap();
    let hdus = read_fits(&read(&path), CUBE).unwrap();
    let image = |name: &str| {
        find_hdu(&hdus, name)
            .unwrap()
            .image_data()
            .unwrap()
            .1
            .to_vec()
    };
    let (sci, err, dq) = (image("SCI"), image("ERR"), image("DQ"));
    assert_eq!(e.nint, 5);
    let frame = e.ny * e.nx;
    for k in 0..e.nint {
        let want = &sci[k * frame..(k + 1) * frame];
        let got = e.read_sci(k, 1).unwrap();
        assert!(
            want.iter()
                .zip(&got)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "SCI of integration {k}"
        );
        assert_eq!(
            e.read_err(k, 1).unwrap().unwrap(),
            err[k * frame..(k + 1) * frame]
        );
        let bits: Vec<u32> = dq[k * frame..(k + 1) * frame]
            .iter()
            .map(|&v| v as u32)
            .collect();
        assert_eq!(e.read_dq(k, 1).unwrap(), bits);
    }
    // three integrations at once are the same three one by one
    assert_eq!(e.read_err(1, 3).unwrap().unwrap(), err[frame..4 * frame]);
}

#[test]
fn a_cube_truncated_in_integration_3_is_an_error_naming_the_file_and_the_integration() {
    let bytes = read(&data_dir().join(CUBE));
    let hdus = read_fits(&bytes, CUBE).unwrap();
    let frame_bytes = {
        let (shape, _) = find_hdu(&hdus, "SCI").unwrap().image_data().unwrap();
        shape[1] * shape[2] * 4
    };
    // SCI's header: the card EXTNAME = 'SCI' to the END card after it, then whole blocks
    let cards: Vec<&[u8]> = bytes.chunks(80).collect();
    let extname = cards
        .iter()
        .position(|c| c.starts_with(b"EXTNAME = 'SCI"))
        .unwrap();
    let end_card = extname
        + cards[extname..]
            .iter()
            .position(|c| c.starts_with(b"END     "))
            .unwrap();
    let data_start = (end_card * 80 / 2880 + 1) * 2880;
    let cut = data_start + 2 * frame_bytes + frame_bytes / 2;
    let dir = std::env::temp_dir().join(format!("ami3-streaming-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cut_calints.fits");
    std::fs::write(&path, &bytes[..cut]).unwrap();
    let e = CalExposure::open(
        Arc::new(FileSource::open(&path).unwrap()),
        "cut_calints.fits",
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("cut_calints.fits"), "{text}");
    assert!(text.contains("integration 3 of 5 is incomplete"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_long_cube_is_read_a_few_integrations_at_a_time_never_whole() {
    let spec = SimSpec {
        nint: 400,
        ny: 80,
        nx: 80,
        ..SimSpec::point_source(3)
    };
    let bytes = exposure_fits(&simulate_exposure(&spec, "long_calints.fits"));
    let file_len = bytes.len() as u64;
    let source = Arc::new(Counting {
        bytes,
        largest: AtomicU64::new(0),
        total: AtomicU64::new(0),
    });
    let e = CalExposure::open(source.clone(), "long_calints.fits").unwrap();
    let params = AnalyzeParams::default();
    let a =
        analyze_exposure_with(&e, &references(), &params, planner(), false, &|_, _| {}).unwrap();
    assert_eq!(a.integrations.len(), 400);
    assert!(
        a.integrations.iter().all(|f| f.model.is_empty()),
        "no images kept"
    );
    let frame_bytes = 80 * 80 * 4;
    let largest = source.largest.load(Ordering::Relaxed);
    // the temporal median reads about 4 MB of f64 at a time: 81 frames of 6400 pixels
    assert!(largest <= 81 * frame_bytes, "largest read {largest} bytes");
    assert!(
        largest < file_len / 4,
        "largest read {largest} of {file_len}"
    );
    // SCI twice (median, fit) and DQ once (fit), 3 x 400 frames, and for the checks of the
    // open file (a usable pixel, a positive ERR) the first 81 frames of SCI, DQ and ERR
    let total = source.total.load(Ordering::Relaxed);
    assert!(
        total < (3 * 400 + 3 * 81 + 1) * frame_bytes,
        "read {total} bytes"
    );
}

#[test]
fn a_dropped_integration_leaves_the_average_of_the_images_kept() {
    let spec = SimSpec {
        nint: 4,
        ..SimSpec::point_source(5)
    };
    let mut e = simulate_exposure(&spec, "drop_calints.fits");
    let frame = e.ny * e.nx;
    // integration 2 (0-based 1) has no usable pixel: it is dropped, three are averaged
    for p in frame..2 * frame {
        e.dq[p] |= DO_NOT_USE;
    }
    let e = CalExposure::from_bytes(&exposure_fits(&e), "drop_calints.fits").unwrap();
    let a = analyze_exposure(
        &e,
        &references(),
        &AnalyzeParams::default(),
        planner(),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(a.dropped, vec![1]);
    assert_eq!(a.integrations.len(), 3);
    let want = AmiLg::average_of(a.n, &a.integration_images(), a.average.clone());
    let got = a.ami_lg();
    let same = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(a, b)| a.to_bits() == b.to_bits());
    assert!(
        same(&got.fit, &want.fit),
        "the model average over the three kept"
    );
    assert!(same(&got.resid, &want.resid));
    assert!(same(&got.solns, &want.solns));
}

/// AmiLgFitModel as its definition lays it out, built whole with `write_fits`: per integration
/// the data, model and residual, plain and divided by the integration's data peak, then the
/// coefficients (the whole-cube writer this branch replaced, kept as the oracle).
fn lg_fit_oracle(n: usize, integrations: &[IntegrationImages], primary: &Hdu) -> Vec<u8> {
    let shape = [integrations.len(), n, n];
    let peak = |it: &IntegrationImages| {
        it.data
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max)
    };
    let cube = |pick: &dyn Fn(&IntegrationImages) -> Vec<f64>| -> Vec<f64> {
        integrations.iter().flat_map(pick).collect()
    };
    let mut hdus = vec![primary.clone()];
    type Pick = fn(&IntegrationImages) -> Vec<f64>;
    let picks: [(&str, Pick); 3] = [
        ("CTRD", |it| it.data.to_vec()),
        ("FIT", |it| it.model.to_vec()),
        ("RESID", |it| it.residual.to_vec()),
    ];
    for (name, pick) in picks {
        let normed = |it: &IntegrationImages| pick(it).iter().map(|x| x / peak(it)).collect();
        hdus.push(Hdu::image_f32(name, &shape, cube(&pick), vec![]));
        hdus.push(Hdu::image_f32(
            &format!("N_{name}"),
            &shape,
            cube(&normed),
            vec![],
        ));
    }
    let ns = integrations[0].coeffs_norm.len();
    let solns = Table::new(
        integrations.len(),
        vec![Column::new(
            "coeffs",
            ColumnData::F64 {
                repeat: ns,
                values: cube(&|it| it.coeffs_norm.to_vec()),
            },
        )],
    );
    hdus.push(Hdu::bintable("SOLNS", solns, vec![]));
    write_fits(&hdus)
}

/// The `_amilg` product among `products`.
fn amilg(products: &[ProductFile]) -> &ProductFile {
    products
        .iter()
        .find(|p| p.name.ends_with("_amilg.fits"))
        .unwrap()
}

/// Every HDU of `bytes` carries DATASUM and CHECKSUM, and sums to -0.
fn assert_checksums(bytes: &[u8]) {
    let parsed = fitsio_pure::hdu::parse_fits(bytes).unwrap();
    assert_eq!(parsed.len(), 8);
    for hdu in parsed.iter() {
        assert!(fitsio_pure::checksum::verify_checksum(bytes, hdu));
        assert!(fitsio_pure::checksum::verify_datasum(bytes, hdu));
        let end = hdu.data_start + hdu.data_len.div_ceil(2880) * 2880;
        let sum = fitsio_pure::checksum::checksum_blocks(&bytes[hdu.header_start..end]);
        assert!(sum == 0xFFFF_FFFF || sum == 0, "{sum:#x}");
    }
}

/// A SUB80 cube of `nint` integrations as `examples/make_cube.rs` makes it.
fn long_cube(nint: usize, name: &str) -> Vec<u8> {
    ami3::simulate::exposure_fits(&ami3::simulate::long_cube(nint, name))
}

#[test]
fn ami3_analyze_writes_the_amilg_bytes_of_the_in_memory_path_for_100_integrations() {
    let name = "jw99998000100_nis_calints.fits";
    let bytes = long_cube(100, name);
    let dir = std::env::temp_dir().join(format!("ami3-streaming-amilg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join(name);
    std::fs::write(&input, &bytes).unwrap();
    let out = dir.join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ami3"))
        .arg("analyze")
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let (analyzed, products) = analyze_bytes(
        &bytes,
        input.to_str().unwrap(),
        &References::default(),
        &AnalyzeParams::default(),
        planner(),
        &|_, _| {},
    )
    .unwrap();
    let in_memory = amilg(&products);
    let streamed = std::fs::read(out.join(&in_memory.name)).unwrap();
    // no spool is left behind, and the other products are the in-memory ones too
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 4, "{left:?}");
    for p in &products {
        assert!(
            std::fs::read(out.join(&p.name)).unwrap() == p.bytes,
            "{}",
            p.name
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(analyzed.analysis.integrations.len(), 100);
    assert_eq!(streamed.len(), in_memory.bytes.len());
    assert!(
        streamed == in_memory.bytes,
        "the streamed _amilg differs from the in-memory one"
    );
    let primary = &read_fits(&in_memory.bytes, &in_memory.name).unwrap()[0];
    let oracle = lg_fit_oracle(
        analyzed.analysis.n,
        &analyzed.analysis.integration_images(),
        &Hdu::primary(primary.header.clone()),
    );
    assert!(
        streamed == oracle,
        "the streamed _amilg differs from write_fits of its HDUs"
    );
    assert_checksums(&streamed);
}

#[test]
fn an_amilg_written_as_it_comes_keeps_only_the_integrations_of_the_last_pass() {
    let spec = SimSpec {
        nint: 4,
        ..SimSpec::point_source(5)
    };
    let mut e = simulate_exposure(&spec, "drop_calints.fits");
    let frame = e.ny * e.nx;
    // integration 3 (0-based 2) has no usable pixel: the analysis fits a second time
    for p in 2 * frame..3 * frame {
        e.dq[p] |= DO_NOT_USE;
    }
    let bytes = exposure_fits(&e);
    let (kept, products) = analyze_bytes(
        &bytes,
        "drop_calints.fits",
        &references(),
        &AnalyzeParams::default(),
        planner(),
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(kept.analysis.dropped, vec![2]);
    let spools = (0..6).map(|_| Cursor::new(Vec::new())).collect();
    let mut writer = LgFitWriter::new("drop_amilg.fits", spools).unwrap();
    let (analyzed, others) = analyze_source_into(
        Arc::new(bytes),
        "drop_calints.fits",
        &references(),
        &AnalyzeParams::default(),
        planner(),
        &mut writer,
        &|_, _| {},
    )
    .unwrap();
    assert_eq!(writer.added(), 3);
    assert!(analyzed
        .analysis
        .integrations
        .iter()
        .all(|f| f.data.is_empty()));
    let streamed = finish_amilg(&analyzed, writer, Vec::new()).unwrap();
    let in_memory = amilg(&products);
    assert!(
        streamed == in_memory.bytes,
        "the streamed _amilg differs from the in-memory one"
    );
    let primary = &read_fits(&in_memory.bytes, &in_memory.name).unwrap()[0];
    assert_eq!(primary.header.get_i64("AMI_NINT"), Some(3));
    let oracle = lg_fit_oracle(
        kept.analysis.n,
        &kept.analysis.integration_images(),
        &Hdu::primary(primary.header.clone()),
    );
    assert!(
        streamed == oracle,
        "the streamed _amilg differs from write_fits of its HDUs"
    );
    assert_checksums(&streamed);
    assert_eq!(others.len(), 2, "_ami and _ami-oi");
    for (a, b) in others.iter().zip(&products) {
        assert!(a == b, "{}", a.name);
    }
}
