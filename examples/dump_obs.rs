//! Development aid: per-integration observables of one exposure as JSON.
use ami3::analyze::exposure::{analyze_exposure, AnalyzeParams, References};
use ami3::products::exposure::CalExposure;
use ami3::products::reffiles::{NrmReference, Throughput};

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let read = |p: &str| std::fs::read(p).unwrap();
    let exp = CalExposure::from_bytes(&read(&a[0]), &a[0]).unwrap();
    let refs = References {
        throughput: Some(Throughput::from_bytes(&read(&a[1]), &a[1]).unwrap()),
        nrm: Some(NrmReference::from_bytes(&read(&a[2]), &a[2]).unwrap()),
    };
    let t = std::time::Instant::now();
    let planner = ami3::analyze::planner::Planner::new();
    let r = analyze_exposure(&exp, &refs, &AnalyzeParams::default(), &planner, &|_, _| {}).unwrap();
    eprintln!(
        "analyzed {} integrations in {:?}, n = {}",
        r.integrations.len(),
        t.elapsed(),
        r.n
    );
    let ints: Vec<serde_json::Value> = r
        .integrations
        .iter()
        .map(|f| serde_json::json!({"amp": f.observables.fringe_amp, "pha": f.observables.fringe_phase_rad,
            "cp": f.observables.closure_phase_rad, "centroid": [f.centroid_px.0, f.centroid_px.1], "solns": f.coeffs_norm}))
        .collect();
    println!(
        "{}",
        serde_json::json!({"ints": ints, "avg": r.average, "bandpass": r.bandpass, "notes": r.notes})
    );
}
