//! Benchmark of the companion search (companion.md §11): map + refine + errors + limits, best of
//! 5, one thread, on our calibrated product of `../shared/data/f480m-binary` (one file), the
//! AB Dor F430M + F480M products of `../shared/data/abdor-1093` (joint fit of two files), and
//! four copies of the f480m-binary product (four files). The products are made in-process with
//! `run_pipeline` first (not timed). Run: `cargo run --release --example bench_fit [repeats]`.
//! Data: JWST/NIRISS, programme 1093, MAST (AB Dor).

use ami3::analyze::exposure::References;
use ami3::companion::fit::{prepare, search};
use ami3::companion::limits::{curves, node_limits};
use ami3::companion::model::wrap;
use ami3::companion::problem::Params;
use ami3::companion::refine::refine;
use ami3::companion::search::{linear_maps, starts, walk, Grid};
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

/// Best-of-`repeats` milliseconds of `f`.
fn best_ms(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            f();
            1e3 * t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

/// The per-stage split of one fit (best of `repeats` each): the map (first walk), starts and
/// refinement, and the limits (second walk with the polish after subtracting the best fit, then
/// the annulus percentiles). Errors and the CANDID re-fit are the rest of `fit_files`.
fn stages(repeats: usize, what: &str, files: &[(String, Vec<u8>)]) {
    let options = FitOptions::default();
    let obs: Vec<_> = files
        .iter()
        .map(|(n, b)| read_observation(b, n).unwrap())
        .collect();
    let (_, prepared, _) = prepare(obs, &options, false).unwrap();
    let grid = Grid::new(options.step_mas, options.rmin_mas, options.rmax_mas);
    let t_map = best_ms(repeats, || {
        linear_maps(&prepared, &grid, 1);
    });
    let maps = linear_maps(&prepared, &grid, 1);
    let t_refine = best_ms(repeats, || {
        for s in starts(&maps, options.starts, 47.0) {
            let p = Params {
                east_mas: s.east_mas,
                north_mas: s.north_mas,
                ratios: s.ratios,
            };
            refine(&prepared, &p);
        }
    });
    let (_, minima) = search(&prepared, &options, 1);
    let p = &minima[0].params;
    let data: Vec<Vec<f64>> = prepared
        .iter()
        .map(|f| {
            let m = f.model_cp(p.east_mas, p.north_mas, p.ratios[0]);
            f.obs
                .cp_rad
                .iter()
                .zip(&m)
                .map(|(d, m)| wrap(d - m))
                .collect()
        })
        .collect();
    let n_data: usize = prepared.iter().map(|f| f.white.rank).sum();
    let t_limits = best_ms(repeats, || {
        node_limits(&prepared, &maps, &data, true, n_data);
    });
    let t_walk = best_ms(repeats, || walk(&prepared, &grid, false, |_| {}));
    let per_node = node_limits(&prepared, &maps, &data, true, n_data);
    let t_curves = best_ms(repeats, || {
        curves(&grid, &per_node, options.limit_bin_mas);
    });
    println!(
        "| {what} | {t_map:.1} | {t_refine:.1} | {t_limits:.1} (bare walk {t_walk:.1}) | {t_curves:.1} |"
    );
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
    println!();
    println!("| stage split, best of {repeats} (ms) | map (first walk) | 20 starts refined | limits walk (subtracted) + polish | annulus percentiles |");
    println!("|---|---|---|---|---|");
    stages(repeats, "f480m-binary, ours", std::slice::from_ref(&binary));
}
