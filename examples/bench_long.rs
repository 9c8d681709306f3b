//! Per-integration cost on a long exposure: a synthetic SUB80 cube of `nint` integrations made
//! from the shared exposure's frames, repeated in turn with small Gaussian noise (seeded, the
//! same cube on every run and build), analysed with one planner already warm (the bad-pixel
//! support built), on 1 and 2 threads. Prints the times and a checksum of every integration's
//! coefficients and model image, so two builds can be compared for identical bits.
//! Run: `cargo run --release --example bench_long [nint] [repeats] [threads, e.g. 1,2]`.

use ami3::analyze::exposure::{analyze_exposure, AnalyzeParams, References};
use ami3::analyze::planner::Planner;
use ami3::portable::Rng;
use ami3::products::exposure::CalExposure;
use ami3::products::reffiles::{NrmReference, Throughput};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let nint: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let threads: Vec<usize> = args.next().map_or(vec![1, 2], |a| {
        a.split(',').filter_map(|t| t.parse().ok()).collect()
    });
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/f480m-binary");
    let read = |n: &str| std::fs::read(data.join(n)).unwrap();
    let refs = References {
        throughput: Some(
            Throughput::from_bytes(&read("throughput_f480m.fits"), "throughput").unwrap(),
        ),
        nrm: Some(NrmReference::from_bytes(&read("nrm.fits"), "nrm").unwrap()),
    };
    let name = "jw10005003001_03102_00001_nis_calints.fits";
    let e = CalExposure::from_bytes(&read(name), name)
        .and_then(CalExposure::in_memory)
        .unwrap();
    let e = long_cube(&e, nint);
    let params = AnalyzeParams::default();
    let planner = Planner::new();
    let t = Instant::now();
    let first = analyze_exposure(&e, &refs, &params, &planner, &|_, _| {}).unwrap();
    let cold = t.elapsed().as_secs_f64();
    let checksum = first
        .integrations
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, f| {
            f.coeffs_norm
                .iter()
                .chain(&f.model)
                .fold(h, |h, v| (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3))
        });
    println!("{nint} integrations, checksum {checksum:016x}");
    println!("| what | threads | best of {repeats} (s) | per integration (ms) |");
    println!("|---|---|---|---|");
    println!(
        "| ami_analyze, {nint}-integration cube, first in the process | 2 | {cold:.3} | {:.2} |",
        1e3 * cold / nint as f64
    );
    for threads in threads {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let best = (0..repeats)
            .map(|_| {
                let t = Instant::now();
                pool.install(|| analyze_exposure(&e, &refs, &params, &planner, &|_, _| {}))
                    .unwrap();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "| ami_analyze, {nint}-integration cube | {threads} | {best:.3} | {:.2} |",
            1e3 * best / nint as f64
        );
    }
}

/// `nint` integrations: frame k is frame k mod NINT of `e` plus N(0, (0.01 ERR)^2) noise.
fn long_cube(e: &CalExposure, nint: usize) -> CalExposure {
    let frame = e.ny * e.nx;
    let mut rng = Rng::new(14);
    let mut sci = Vec::with_capacity(nint * frame);
    let mut err = Vec::with_capacity(nint * frame);
    let mut dq = Vec::with_capacity(nint * frame);
    for k in 0..nint {
        let src = (k % e.nint) * frame..(k % e.nint + 1) * frame;
        let errs = e.err.as_ref().map(|v| &v[src.clone()]);
        for (i, &v) in e.sci[src.clone()].iter().enumerate() {
            let sigma = errs.map_or(0.0, |s| s[i]);
            let noise = if sigma.is_finite() { 0.01 * sigma } else { 0.0 };
            sci.push(v + noise * rng.normal());
            err.push(errs.map_or(1.0, |s| s[i]));
        }
        dq.extend_from_slice(&e.dq[src]);
    }
    CalExposure {
        nint,
        sci,
        err: Some(err),
        dq,
        ..e.clone()
    }
}
