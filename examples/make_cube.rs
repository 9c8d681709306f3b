//! Makes a long simulated exposure for the scale benchmark (`scripts/bench-scale.sh`) and the
//! page's 1,000-integration e2e case: a SUB80 F480M `_calints` of `nint` integrations of a
//! point source with photon and read noise and the demo's bad pixels (our simulator,
//! `simulate.rs`, seeded: the same file on every run), and an association naming it as the one
//! science member. The cube is built in memory here (about 0.3 GB per 1,000 integrations); only
//! its reduction is measured.
//! Run: `cargo run --release --example make_cube -- NINT OUT_DIR`; prints the two file names.

use ami3::simulate::{exposure_fits, long_cube};

fn main() {
    let mut args = std::env::args().skip(1);
    let nint: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .filter(|&n| n > 0)
        .expect("usage: make_cube NINT OUT_DIR");
    let dir = std::path::PathBuf::from(args.next().expect("usage: make_cube NINT OUT_DIR"));
    std::fs::create_dir_all(&dir).expect("create the output folder");
    let name = format!("jw99998{nint:07}_nis_calints.fits");
    let e = long_cube(nint, &name);
    std::fs::write(dir.join(&name), exposure_fits(&e)).expect("write the cube");
    drop(e);
    let asn = serde_json::json!({
        "asn_type": "ami3",
        "asn_rule": "bench",
        "asn_id": "a0001",
        "asn_pool": "ami3_bench_pool",
        "products": [{
            "name": format!("jw99998-n{nint}_niriss_f480m-nrm"),
            "members": [{"expname": name, "exptype": "science"}]
        }]
    });
    let asn_name = format!("long_{nint}_asn.json");
    std::fs::write(
        dir.join(&asn_name),
        serde_json::to_vec_pretty(&asn).expect("json"),
    )
    .expect("write the association");
    println!("{}", dir.join(&name).display());
    println!("{}", dir.join(&asn_name).display());
}
