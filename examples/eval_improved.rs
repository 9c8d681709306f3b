//! The default and improved modes side by side (issue 15): calibrated closure phases against
//! the closed-form binary, the spread of (CP − truth)/error, the companion fit's error and the
//! reduction's wall time, on the shared F480M association and on our simulated sets
//! (`ami3::improved_eval`, fixed seeds). Usage:
//! `cargo run --release --example eval_improved [SHARED_DIR]` (default
//! `/work/shared/data/f480m-binary`, skipped when absent).

use ami3::improved_eval::{eval_sets, score_set, score_shared, Scores};

fn row(name: &str, mode: &str, s: &Scores) {
    println!(
        "| {name} | {mode} | {:.3} | {:.2} | {:+.2} | {:+.3} | {:+.3} | {:.2} |",
        s.cp_rms_deg, s.cp_pull_std, s.d_sep_mas, s.d_pa_deg, s.d_dmag, s.seconds
    );
}

fn main() {
    let shared = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work/shared/data/f480m-binary".into());
    println!("| set | mode | CP RMS vs truth (°) | std((CP−truth)/err) | Δsep (mas) | ΔPA (°) | ΔΔmag | time (s) |");
    println!("|---|---|---|---|---|---|---|---|");
    let dir = std::path::Path::new(&shared);
    if dir.join("asn.json").exists() {
        match score_shared(dir) {
            Ok((d, i)) => {
                row("shared f480m-binary", "default", &d);
                row("shared f480m-binary", "improved", &i);
            }
            Err(e) => eprintln!("shared set: {e}"),
        }
    }
    for set in eval_sets() {
        match score_set(&set) {
            Ok((d, i)) => {
                row(set.name, "default", &d);
                row(set.name, "improved", &i);
            }
            Err(e) => eprintln!("{}: {e}", set.name),
        }
    }
}
