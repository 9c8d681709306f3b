//! Time of each per-integration stage on its own, in one process, one thread: the model basis,
//! the least-squares fit, the centroid and the bad-pixel fix of one SUB80 crop (71 x 71,
//! oversample 3, the F480M throughput's bandpass, commissioning affine). Prints the best of
//! `repeats` rounds of `calls` calls and a checksum of the basis (identical bits across builds).
//! Run: `cargo run --release --example bench_stages [calls] [repeats]`.

use ami3::analyze::bandpass::from_throughput;
use ami3::analyze::bpfix::BadPixelFixer;
use ami3::analyze::centroid::Centroider;
use ami3::analyze::lgmodel::LgModel;
use ami3::analyze::solve::{fit, Covariance};
use ami3::niriss::affine::Affine2d;
use ami3::niriss::mask::MaskGeometry;
use ami3::products::exposure::CalExposure;
use ami3::products::reffiles::{NrmReference, Throughput};
use ndarray::{ArrayView2, ArrayViewMut2};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let calls: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let repeats: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
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
    let offset = (0.0123, -0.0456);
    let basis = model.basis_with(&plan, offset);
    let checksum = basis.slices.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
        (h ^ v.to_bits()).wrapping_mul(0x0100_0000_01b3)
    });
    println!("basis checksum {checksum:016x}");
    let pupil = ArrayView2::from_shape((nrm.pupil_size, nrm.pupil_size), &nrm.pupil).unwrap();
    let t0 = Instant::now();
    let fixer = BadPixelFixer::new(pupil, "F480M", pixscale, n).unwrap();
    let support_ms = 1e3 * t0.elapsed().as_secs_f64();
    let centroider = Centroider::new(n).unwrap();
    let excluded = vec![false; n * n];
    let best = |work: &dyn Fn()| {
        (0..repeats)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..calls {
                    work();
                }
                1e3 * t.elapsed().as_secs_f64() / calls as f64
            })
            .fold(f64::INFINITY, f64::min)
    };
    println!("| stage | ms per call, best of {repeats} x {calls} |");
    println!("|---|---|");
    println!("| bad-pixel support (once) | {support_ms:.1} |");
    println!(
        "| basis plan (once per exposure) | {:.2} |",
        best(&|| {
            std::hint::black_box(model.plan());
        })
    );
    println!(
        "| basis | {:.2} |",
        best(&|| {
            std::hint::black_box(model.basis_with(&plan, offset));
        })
    );
    println!(
        "| fit | {:.2} |",
        best(&|| {
            std::hint::black_box(fit(&basis, &crop, &excluded, Covariance::Skip).unwrap());
        })
    );
    println!(
        "| centroid | {:.2} |",
        best(&|| {
            let v = ArrayView2::from_shape((n, n), &crop).unwrap();
            std::hint::black_box(centroider.centroid(v).unwrap());
        })
    );
    println!(
        "| bad-pixel fix | {:.2} |",
        best(&|| {
            let mut img = crop.clone();
            let mut bad = dq.clone();
            let d = ArrayViewMut2::from_shape((n, n), &mut img).unwrap();
            let b = ArrayViewMut2::from_shape((n, n), &mut bad).unwrap();
            std::hint::black_box(fixer.fix(d, b).unwrap());
        })
    );
}
