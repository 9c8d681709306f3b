//! Benchmark of `ami_analyze` and the whole pipeline on the shared association; prints a
//! Markdown table for BENCHMARKS.md. Run: `cargo run --release --example bench [repeats]`.

use ami3::analyze::exposure::{analyze_exposure, AnalyzeParams, References};
use ami3::error::Error;
use ami3::pipeline::{run_pipeline, Association, PipelineOptions};
use ami3::products::exposure::CalExposure;
use ami3::products::reffiles::{NrmReference, Throughput};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let repeats: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/f480m-binary");
    let read = |n: &str| std::fs::read(data.join(n)).unwrap();
    let refs = References {
        throughput: Some(
            Throughput::from_bytes(&read("throughput_f480m.fits"), "throughput").unwrap(),
        ),
        nrm: Some(NrmReference::from_bytes(&read("nrm.fits"), "nrm").unwrap()),
    };
    let exposure = "jw10005003001_03102_00001_nis_calints.fits";
    let e = CalExposure::from_bytes(&read(exposure), exposure).unwrap();
    let params = AnalyzeParams::default();
    let planner = ami3::analyze::planner::Planner::new();
    println!("| what | threads | best of {repeats} (s) | per integration (ms) |");
    println!("|---|---|---|---|");
    // the first analysis with a planner builds the bad-pixel support (three 1024^2 matrix
    // DFTs), later ones with the same filter, pixel scale and crop reuse it
    let t = Instant::now();
    analyze_exposure(&e, &refs, &params, &planner, &|_, _| {}).unwrap();
    let cold = t.elapsed().as_secs_f64();
    println!(
        "| ami_analyze, one exposure, first in the process (cold) | 2 | {cold:.3} | {:.1} |",
        1e3 * cold / 5.0
    );
    for threads in [1usize, 2] {
        let best = best_of(repeats, threads, || {
            analyze_exposure(&e, &refs, &params, &planner, &|_, _| {}).unwrap();
        });
        println!(
            "| ami_analyze, one exposure (5 integrations) | {threads} | {best:.3} | {:.1} |",
            1e3 * best / 5.0
        );
    }
    let asn_text = String::from_utf8(read("asn.json")).unwrap();
    let asn = Association::from_json(&asn_text, "asn.json").unwrap();
    let load = |n: &str| {
        std::fs::read(data.join(n))
            .map_err(|err| Error::file(n, ami3::error::Kind::Read, err.to_string()))
    };
    for threads in [1usize, 2] {
        let best = best_of(repeats, threads, || {
            run_pipeline(
                &asn,
                &load,
                &refs,
                &PipelineOptions::default(),
                &|_, _, _| {},
            );
        });
        println!(
            "| calwebb_ami3, whole association (20 integrations) | {threads} | {best:.3} | {:.1} |",
            1e3 * best / 20.0
        );
    }
}

/// Shortest wall time (s) of `repeats` runs of `work` on a pool of `threads` threads.
fn best_of(repeats: usize, threads: usize, work: impl Fn() + Sync) -> f64 {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    (0..repeats)
        .map(|_| {
            let t = Instant::now();
            pool.install(&work);
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
