//! The built-in filter curves (src/niriss/curves, from mirage 2.5.0) against their source,
//! ../shared/data/filters/f*_niriss_throughput1.txt: every row verbatim, every row above 1 %
//! kept, and for F480M and F430M the 19-bin bandpass equal, bit for bit, to the one built from
//! the THROUGHPUT files of ../shared/data/abdor-1093 (made from the same curves).

mod common;
use ami3::analyze::bandpass::from_throughput;
use ami3::niriss::throughput::builtin_throughput;
use ami3::products::reffiles::Throughput;
use common::read;
use std::path::PathBuf;

fn shared(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(path)
}

fn lines(path: PathBuf) -> Vec<String> {
    String::from_utf8(read(&path))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_built_in_row_is_the_mirage_row_and_every_row_above_one_percent_is_kept() {
    for f in ["f277w", "f380m", "f430m", "f480m"] {
        let source = lines(shared(&format!("filters/{f}_niriss_throughput1.txt")));
        let table = lines(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("src/niriss/curves/{f}.txt")),
        );
        let first: usize = table[0]
            .strip_prefix("# first line: line ")
            .and_then(|n| n.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{f}: header {}", table[0]));
        let rows = &table[1..];
        for (k, row) in rows.iter().enumerate() {
            assert_eq!(row, &source[first - 1 + k], "{f}: row {k}");
        }
        let throughput =
            |line: &String| -> f64 { line.split_whitespace().nth(1).unwrap().parse().unwrap() };
        let (lo, hi) = (first - 1, first - 1 + rows.len());
        let outside_above: Vec<usize> = (1..source.len())
            .filter(|&i| (i < lo || i >= hi) && throughput(&source[i]) > 0.01)
            .collect();
        assert!(
            outside_above.is_empty(),
            "{f}: rows above 1 % left out: {outside_above:?}"
        );
        let (wl, th) = builtin_throughput(f).unwrap();
        assert_eq!(wl.len(), rows.len(), "{f}");
        assert_eq!(th.len(), rows.len(), "{f}");
    }
}

#[test]
fn the_built_in_bandpass_equals_the_throughput_files_to_the_bit() {
    for f in ["f480m", "f430m"] {
        let name = format!("throughput_{f}.fits");
        let file = Throughput::from_bytes(&read(&shared(&format!("abdor-1093/{f}/{name}"))), &name)
            .unwrap();
        let (wl, th) = builtin_throughput(f).unwrap();
        // the built-in rows are the file's rows, as float32
        let start = file
            .wavelength_angstrom
            .iter()
            .position(|&w| w == wl[0])
            .expect("the built-in span lies in the file");
        assert_eq!(wl, file.wavelength_angstrom[start..start + wl.len()], "{f}");
        assert_eq!(th, file.throughput[start..start + th.len()], "{f}");
        let ours = from_throughput(&wl, &th).unwrap();
        let theirs = from_throughput(&file.wavelength_angstrom, &file.throughput).unwrap();
        assert_eq!(ours.len(), 19);
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a.weight.to_bits(), b.weight.to_bits(), "{f}: weight");
            assert_eq!(
                a.wavelength_m.to_bits(),
                b.wavelength_m.to_bits(),
                "{f}: wavelength"
            );
        }
    }
}
