//! Development aid: writes an LG model basis as raw little-endian f64 for comparison with jwst.
use ami3::analyze::lgmodel::LgModel;
use ami3::niriss::affine::Affine2d;
use ami3::niriss::filters::BandpassSample;
use ami3::niriss::mask::MaskGeometry;
use std::io::Write;

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().unwrap())
        .collect();
    let (n, over, xoff, yoff) = (args[0] as usize, args[1] as usize, args[2], args[3]);
    let bandpass = vec![
        BandpassSample {
            weight: 0.3,
            wavelength_m: 4.7e-6,
        },
        BandpassSample {
            weight: 0.7,
            wavelength_m: 4.85e-6,
        },
    ];
    let pixscale = (65.6f64 / 3.6e6).to_radians();
    let model = LgModel::new(
        MaskGeometry::default_all_holes(),
        bandpass,
        Affine2d::commissioning(),
        pixscale,
        over,
        n,
    );
    let t = std::time::Instant::now();
    let b = model.basis((xoff, yoff));
    eprintln!("basis in {:?}", t.elapsed());
    if std::env::var_os("NO_OUTPUT").is_some() {
        return;
    }
    let mut out = std::io::stdout().lock();
    for v in &b.slices {
        out.write_all(&v.to_le_bytes()).unwrap();
    }
}
