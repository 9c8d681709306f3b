//! Lever 8 of issue 14 (`analyze::expansion`), measured: how far the basis interpolated from the
//! six stencil bases about a reference centroid is from the exact basis at c0 + δ, and how far
//! the fit's fringe phases and amplitudes move, on one SUB80 crop of the shared exposure (71 x 71,
//! oversample 3, the F480M throughput's bandpass, commissioning affine), for |δ| up to 0.03 px in
//! five directions; then the time of the shared bases (once) and of one fit each way.
//! Run: `cargo run --release --example lever8_error [calls] [c0_x c0_y]`.

use ami3::analyze::bandpass::from_throughput;
use ami3::analyze::expansion::ShiftedBasis;
use ami3::analyze::lgmodel::LgModel;
use ami3::analyze::observables::Orders;
use ami3::analyze::solve::{fit, Covariance};
use ami3::niriss::affine::Affine2d;
use ami3::niriss::mask::MaskGeometry;
use ami3::products::exposure::CalExposure;
use ami3::products::reffiles::{NrmReference, Throughput};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/f480m-binary");
    let read = |n: &str| std::fs::read(data.join(n)).unwrap();
    let t = Throughput::from_bytes(&read("throughput_f480m.fits"), "throughput").unwrap();
    let nrm = NrmReference::from_bytes(&read("nrm.fits"), "nrm").unwrap();
    let name = "jw10005003001_03102_00001_nis_calints.fits";
    let e = CalExposure::from_bytes(&read(name), name)
        .and_then(CalExposure::in_memory)
        .unwrap();
    let (n, half) = (71usize, 35usize);
    // the first frame without its 4 reference rows, cropped around its brightest pixel
    let frame: Vec<f64> = e.sci[4 * e.nx..e.ny * e.nx].to_vec();
    let peak = (0..frame.len())
        .filter(|&i| frame[i].is_finite())
        .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
        .unwrap();
    let (pr, pc) = (peak / e.nx, peak % e.nx);
    let crop: Vec<f64> = (pr - half..=pr + half)
        .flat_map(|r| frame[r * e.nx + pc - half..=r * e.nx + pc + half].to_vec())
        .collect();
    let dq: Vec<bool> = (pr - half..=pr + half)
        .flat_map(|r| {
            e.dq[(r + 4) * e.nx + pc - half..=(r + 4) * e.nx + pc + half]
                .iter()
                .map(|&q| q & 5 != 0)
                .collect::<Vec<_>>()
        })
        .collect();
    let pixscale = 65.6e-3f64.to_radians() / 3600.0;
    let geometry = MaskGeometry::from_design(
        &nrm.design_centres_m,
        nrm.hole_flat_to_flat_m,
        &[0, 1, 2, 3, 4, 5, 6],
    );
    let bandpass = from_throughput(&t.wavelength_angstrom, &t.throughput).unwrap();
    let model = LgModel::new(
        geometry,
        bandpass,
        Affine2d::commissioning(),
        pixscale,
        3,
        n,
    );
    let plan = model.plan();
    let c0x: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(0.0123);
    let c0y: f64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(-0.0456);
    let c0 = (c0x, c0y);
    let t0 = Instant::now();
    let shared = ShiftedBasis::new(&model, &plan, c0);
    let shared_ms = 1e3 * t0.elapsed().as_secs_f64();
    // moved into one cell of the truncated centre if the stencil crossed an edge
    let c0 = shared.reference_px;
    println!("reference centroid {c0:?} (the cells' edges are at multiples of 1/3 px)");
    let orders = Orders::new(7);
    let excluded = dq.clone();
    println!("| δ (px) | direction | max |ΔA| / max |A| | max |Δ fringe phase| (deg) | max |Δ fringe amp| |");
    println!("|---|---|---|---|---|");
    let r = std::f64::consts::FRAC_1_SQRT_2;
    for d in [0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03] {
        for (name, (ux, uy)) in [
            ("+x", (1.0, 0.0)),
            ("+y", (0.0, 1.0)),
            ("-x-y", (-r, -r)),
            ("+x-y", (r, -r)),
            ("+x+y", (r, r)),
        ] {
            let c = (c0.0 + d * ux, c0.1 + d * uy);
            let exact = model.basis_with(&plan, c);
            // beyond MAX_SHIFT_PX and across a cell's edge too, for the experiment
            let w = shared.weights_unchecked(c);
            let approx = shared.basis(&w);
            let amax = exact.slices.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let dmax = exact
                .slices
                .iter()
                .zip(&approx.slices)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            let fe = fit(&exact, &crop, &excluded, Covariance::Skip).unwrap();
            let fa = shared.fit(&w, &crop, &excluded).unwrap().unwrap();
            let (oe, oa) = (
                orders.from_coefficients(&fe.coeffs),
                orders.from_coefficients(&fa.coeffs),
            );
            let dphi = oe
                .fringe_phase_rad
                .iter()
                .zip(&oa.fringe_phase_rad)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()))
                .to_degrees();
            let damp = oe
                .fringe_amp
                .iter()
                .zip(&oa.fringe_amp)
                .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
            println!(
                "| {d} | {name} | {:.1e} | {dphi:.1e} | {damp:.1e} |",
                dmax / amax
            );
        }
    }
    let time = |work: &dyn Fn()| {
        let t = Instant::now();
        for _ in 0..calls {
            work();
        }
        1e3 * t.elapsed().as_secs_f64() / calls as f64
    };
    let c = (c0.0 + 0.003, c0.1 - 0.002);
    let w = shared.weights(&model, c).unwrap();
    println!("shared bases (once): {shared_ms:.1} ms");
    println!(
        "exact basis + fit: {:.2} ms per call",
        time(&|| {
            let b = model.basis_with(&plan, c);
            std::hint::black_box(fit(&b, &crop, &excluded, Covariance::Skip).unwrap());
        })
    );
    println!(
        "shared fit: {:.2} ms per call",
        time(&|| {
            std::hint::black_box(shared.fit(&w, &crop, &excluded).unwrap().unwrap());
        })
    );
}
