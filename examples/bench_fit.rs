//! Benchmark of the companion search (companion.md §11): map + refine + errors + limits, best of
//! 5, one thread, on our calibrated product of `../shared/data/f480m-binary` (one file), the
//! AB Dor F430M + F480M products of `../shared/data/abdor-1093` (joint fit of two files), and
//! four copies of the f480m-binary product (four files). The products are made in-process with
//! `run_pipeline` first (not timed). Run: `cargo run --release --example bench_fit [repeats]`.
//! Data: JWST/NIRISS, programme 1093, MAST (AB Dor).

use ami3::analyze::exposure::References;
use ami3::companion::fit::{prepare, search};
use ami3::companion::{fit_files, read_observation, FitOptions};
use ami3::error::Error;
use ami3::pipeline::{run_pipeline, Association, PipelineOptions};
use ami3::products::reffiles::{NrmReference, Throughput};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn calibrated(folder: &Path, throughput: &str) -> (String, Vec<u8>) {
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let read = |p: PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let refs = References {
        throughput: Some(
            Throughput::from_bytes(&read(folder.join(throughput)), throughput).unwrap(),
        ),
        nrm: Some(
            NrmReference::from_bytes(&read(shared.join("f480m-binary/nrm.fits")), "nrm").unwrap(),
        ),
    };
    let text = String::from_utf8(read(folder.join("asn.json"))).unwrap();
    let asn = Association::from_json(&text, "asn.json").unwrap();
    let load = |n: &str| {
        std::fs::read(folder.join(n))
            .map_err(|e| Error::file(n, ami3::error::Kind::Read, e.to_string()))
    };
    let (_, combined, errors) = run_pipeline(
        &asn,
        &load,
        &refs,
        &PipelineOptions::default(),
        &|_, _, _| {},
    );
    assert!(errors.is_empty(), "{errors:?}");
    let p = combined
        .products
        .into_iter()
        .find(|p| p.name.ends_with("_aminorm-oi.fits"))
        .expect("a calibrated product");
    (p.name, p.bytes)
}

fn best_of(repeats: usize, what: &str, files: &[(String, Vec<u8>)]) {
    let options = FitOptions::default();
    let mut best = f64::INFINITY;
    let mut line = String::new();
    for _ in 0..repeats {
        let t = Instant::now();
        let report = fit_files(files, &options).unwrap();
        best = best.min(t.elapsed().as_secs_f64());
        line = ami3::companion::summary_line(&report.fit);
    }
    // the stages alone: reading and whitening, then map + starts + refinement
    let obs: Vec<_> = files
        .iter()
        .map(|(n, b)| read_observation(b, n).unwrap())
        .collect();
    let t = Instant::now();
    let (_, prepared, _) = prepare(obs, &options, false).unwrap();
    let t_prepare = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let _ = search(&prepared, &options, 1);
    let t_search = t.elapsed().as_secs_f64();
    println!(
        "| {what} | {} | {:.1} | {:.1} | {:.1} |",
        files.len(),
        1e3 * best,
        1e3 * t_prepare,
        1e3 * t_search
    );
    eprintln!("{what}: {line}");
}

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let binary = calibrated(&shared.join("f480m-binary"), "throughput_f480m.fits");
    let f480 = calibrated(&shared.join("abdor-1093/f480m"), "throughput_f480m.fits");
    let f430 = calibrated(&shared.join("abdor-1093/f430m"), "throughput_f430m.fits");
    println!("| what | files | fit_files, best of {repeats} (ms) | read+whiten (ms) | map+starts+refine (ms) |");
    println!("|---|---|---|---|---|");
    best_of(repeats, "f480m-binary, ours", std::slice::from_ref(&binary));
    best_of(repeats, "AB Dor F480M", std::slice::from_ref(&f480));
    best_of(repeats, "AB Dor F430M + F480M joint", &[f430, f480]);
    let four: Vec<_> = (0..4)
        .map(|k| (format!("copy{k}_{}", binary.0), binary.1.clone()))
        .collect();
    best_of(repeats, "f480m-binary × 4", &four);
}
