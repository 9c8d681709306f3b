//! Cross-checks of the centroid and the Fourier bad-pixel correction against jwst 3.0.0, an
//! independent implementation, on a real exposure of the shared data set. The expected numbers
//! are in tests/data/jwst_centroid_bpfix_f480m.json, written by
//! tests/python/make_centroid_bpfix_reference.py
//! (run it with jwst 3.0.0 installed to regenerate them; its docstring says how each is made).

use ami3::analyze::bpfix::BadPixelFixer;
use ami3::analyze::centroid::Centroider;
use ndarray::{s, Array2, Array3, Axis};
use serde_json::Value;

const EXPOSURE: &str = "f480m-binary/jw10005003001_03102_00001_nis_calints.fits";

fn reference() -> Value {
    let text = include_str!("data/jwst_centroid_bpfix_f480m.json");
    serde_json::from_str(text).unwrap()
}

/// The science cube [integration, row, col] with the 4 reference rows dropped, and its pixel
/// scale in radians computed the way ami_analyze hands it to the bad-pixel fix (mean of CDELT1
/// and CDELT2 in degrees → mas → rad).
fn trimmed_cube() -> (Array3<f64>, f64) {
    let path = shared_data_dir().join(EXPOSURE);
    let sci = read_fits_image(&path, "SCI");
    let (nx, ny, nint) = (sci.axes[0], sci.axes[1], sci.axes[2]);
    let cube = Array3::from_shape_vec((nint, ny, nx), sci.data.clone()).unwrap();
    let cdelt: Vec<f64> = ["CDELT1", "CDELT2"]
        .iter()
        .map(|k| sci.keyword(k).unwrap().parse().unwrap())
        .collect();
    let scale_mas = (cdelt[0] + cdelt[1]) / 2.0 * 3600.0 * 1000.0;
    let scale_rad = (scale_mas / 1000.0) * std::f64::consts::PI / (60.0 * 60.0 * 180.0);
    (cube.slice(s![.., 4.., ..]).to_owned(), scale_rad)
}

/// ami_analyze's crop (upstream.md §5.4 step 5): brightest pixel of the per-pixel median over
/// integrations, r = its distance to the nearest edge, rows/cols [peak − r, peak + r].
fn crop(cube: &Array3<f64>) -> (Array3<f64>, (usize, usize, usize)) {
    let (nint, ny, nx) = cube.dim();
    let mut median = Array2::<f64>::zeros((ny, nx));
    for ((r, c), m) in median.indexed_iter_mut() {
        let mut values: Vec<f64> = (0..nint).map(|j| cube[[j, r, c]]).collect();
        values.sort_by(f64::total_cmp);
        *m = if nint % 2 == 1 {
            values[nint / 2]
        } else {
            (values[nint / 2 - 1] + values[nint / 2]) / 2.0
        };
    }
    let (mut peak, mut best) = ((0, 0), f64::NEG_INFINITY);
    for ((r, c), &v) in median.indexed_iter() {
        if v > best {
            best = v;
            peak = (r, c);
        }
    }
    let (pr, pc) = peak;
    let half = pr.min(pc).min(ny - 1 - pr).min(nx - 1 - pc);
    let cropped = cube
        .slice(s![.., pr - half..=pr + half, pc - half..=pc + half])
        .to_owned();
    (cropped, (pr, pc, half))
}

fn relative_difference(ours: f64, theirs: f64) -> f64 {
    (ours - theirs).abs() / theirs.abs().max(1e-300)
}

#[test]
fn crop_matches_jwst() {
    let reference = reference();
    let (cube, _) = trimmed_cube();
    let (_, (pr, pc, half)) = crop(&cube);
    let expected = &reference["crop"];
    assert_eq!(pr as u64, expected["peak_row"].as_u64().unwrap());
    assert_eq!(pc as u64, expected["peak_col"].as_u64().unwrap());
    assert_eq!(half as u64, expected["half_size"].as_u64().unwrap());
}

#[test]
fn centroid_matches_jwst_find_centroid_on_every_integration() {
    let reference = reference();
    let (cube, _) = trimmed_cube();
    let (cropped, _) = crop(&cube);
    let plan = Centroider::new(cropped.dim().1).unwrap();
    let expected = reference["find_centroid_x_y_px"].as_array().unwrap();
    for (j, image) in cropped.axis_iter(Axis(0)).enumerate() {
        let offset = plan.centroid(image).unwrap();
        let x = expected[j][0].as_f64().unwrap();
        let y = expected[j][1].as_f64().unwrap();
        assert!(
            relative_difference(offset.x_px, x) < 1e-10,
            "int {j}: x {} vs {x}",
            offset.x_px
        );
        assert!(
            relative_difference(offset.y_px, y) < 1e-10,
            "int {j}: y {} vs {y}",
            offset.y_px
        );
    }
}

#[test]
fn centroid_matches_jwst_find_centroid_for_an_even_size() {
    let reference = reference();
    let (cube, _) = trimmed_cube();
    let (cropped, _) = crop(&cube);
    let n = cropped.dim().1 - 1;
    let image = cropped.slice(s![0, ..n, ..n]);
    let offset = Centroider::new(n).unwrap().centroid(image).unwrap();
    let expected = &reference["find_centroid_even_x_y_px"];
    let (x, y) = (expected[0].as_f64().unwrap(), expected[1].as_f64().unwrap());
    assert!(
        relative_difference(offset.x_px, x) < 1e-10,
        "x {} vs {x}",
        offset.x_px
    );
    assert!(
        relative_difference(offset.y_px, y) < 1e-10,
        "y {} vs {y}",
        offset.y_px
    );
}

fn fixer_for_reference() -> (BadPixelFixer, Array3<f64>) {
    let reference = reference();
    let (cube, scale_rad) = trimmed_cube();
    assert!(relative_difference(scale_rad, reference["pixscale_rad"].as_f64().unwrap()) < 1e-15);
    let (cropped, _) = crop(&cube);
    let nrm = read_fits_image(&shared_data_dir().join("f480m-binary/nrm.fits"), "NRM");
    let pupil = Array2::from_shape_vec((nrm.axes[1], nrm.axes[0]), nrm.data).unwrap();
    let n = cropped.dim().1;
    let fixer = BadPixelFixer::new(pupil.view(), "F480M", scale_rad, n).unwrap();
    (fixer, cropped)
}

#[test]
fn pupil_support_mask_matches_jwst() {
    let reference = reference();
    let (fixer, _) = fixer_for_reference();
    let rows = reference["fmas_rows"].as_array().unwrap();
    let mask = fixer.z_mask();
    assert_eq!(mask.dim(), (rows.len(), rows[0].as_str().unwrap().len()));
    for (r, row) in rows.iter().enumerate() {
        for (c, ch) in row.as_str().unwrap().chars().enumerate() {
            assert_eq!(mask[[r, c]], ch == '1', "Z mask differs at ({r}, {c})");
        }
    }
}

#[test]
fn bad_pixel_fix_matches_jwst_on_a_corrupted_integration() {
    let reference = reference();
    let case = &reference["bpfix_case"];
    let (fixer, cropped) = fixer_for_reference();
    let n = fixer.size();
    let w = fixer.work_size();
    let mut data = cropped.index_axis(Axis(0), 0).to_owned();
    let mut bad = Array2::from_elem((n, n), false);
    for corruption in case["corruptions"].as_array().unwrap() {
        let r = corruption["row"].as_u64().unwrap() as usize;
        let c = corruption["col"].as_u64().unwrap() as usize;
        data[[r, c]] = corruption["value"].as_f64().unwrap_or(f64::NAN);
        // The fit mask bits: DO_NOT_USE (1) or JUMP_DET (4).
        bad[[r, c]] = corruption["dq"].as_u64().unwrap() & 5 != 0;
    }
    let before = data.clone();
    fixer.fix(data.view_mut(), bad.view_mut()).unwrap();

    let expected_bad: Vec<(usize, usize)> = case["final_bad"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_u64().unwrap() as usize,
                p[1].as_u64().unwrap() as usize,
            )
        })
        .collect();
    let ours_bad: Vec<(usize, usize)> = (0..w)
        .flat_map(|r| (0..w).map(move |c| (r, c)))
        .filter(|&(r, c)| bad[[r, c]])
        .collect();
    assert_eq!(ours_bad, expected_bad);
    for corrected in case["corrected"].as_array().unwrap() {
        let r = corrected["row"].as_u64().unwrap() as usize;
        let c = corrected["col"].as_u64().unwrap() as usize;
        let value = corrected["value"].as_f64().unwrap();
        assert!(
            relative_difference(data[[r, c]], value) < 1e-8,
            "({r}, {c}): {} vs jwst {value}",
            data[[r, c]]
        );
    }
    // Good pixels are untouched; the odd-size last row and column keep values and flags.
    for ((r, c), &v) in data.indexed_iter() {
        if !bad[[r, c]] && r < w && c < w {
            assert_eq!(v.to_bits(), before[[r, c]].to_bits());
        }
    }
    let last = &case["last_row_col_values"];
    assert_eq!(
        data[[n - 1, 20]],
        last["row_n_minus_1_col_20"].as_f64().unwrap()
    );
    assert_eq!(
        data[[30, n - 1]],
        last["row_30_col_n_minus_1"].as_f64().unwrap()
    );
    assert!(bad[[n - 1, 20]] && bad[[30, n - 1]]);
}

// ---- shared data and a minimal FITS image reader ------------------------------------------------
// Kept local so that this check of the science does not depend on the crate's own FITS code.

use std::path::PathBuf;

/// `../shared/data` next to the crate (as laid out for developers and CI), or `$AMI3_SHARED_DATA`.
pub fn shared_data_dir() -> PathBuf {
    let dir = std::env::var_os("AMI3_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.is_dir(),
        "shared test data not found at {} (set AMI3_SHARED_DATA)",
        dir.display()
    );
    dir
}

/// An image HDU's data as f64 (BZERO/BSCALE applied) and its axes, NAXIS1 first.
pub struct FitsImage {
    pub axes: Vec<usize>,
    pub data: Vec<f64>,
    pub header: Vec<(String, String)>,
}

impl FitsImage {
    /// Value of a header keyword, quotes and comment removed.
    pub fn keyword(&self, key: &str) -> Option<&str> {
        self.header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the image HDU named `extname` (or the primary HDU for "PRIMARY").
pub fn read_fits_image(path: &std::path::Path, extname: &str) -> FitsImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut offset = 0;
    let mut first = true;
    while offset < bytes.len() {
        let mut header = Vec::new();
        let mut pos = offset;
        'blocks: loop {
            let block = &bytes[pos..pos + 2880];
            pos += 2880;
            for card in block.chunks(80) {
                let card = String::from_utf8_lossy(card);
                let key = card[..8].trim().to_string();
                if key == "END" {
                    break 'blocks;
                }
                if card.len() > 10 && &card[8..10] == "= " {
                    let raw = card[10..].trim();
                    let value = if let Some(rest) = raw.strip_prefix('\'') {
                        rest.split('\'').next().unwrap_or("").trim().to_string()
                    } else {
                        raw.split('/').next().unwrap_or("").trim().to_string()
                    };
                    header.push((key, value));
                }
            }
        }
        let get = |k: &str| -> Option<String> {
            header
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        let int = |k: &str| get(k).map(|v| v.parse::<i64>().unwrap()).unwrap_or(0);
        let bitpix = int("BITPIX");
        let naxis = int("NAXIS") as usize;
        let axes: Vec<usize> = (1..=naxis)
            .map(|i| int(&format!("NAXIS{i}")) as usize)
            .collect();
        let count: usize = if naxis == 0 { 0 } else { axes.iter().product() };
        let nbytes = count * (bitpix.unsigned_abs() as usize / 8) + int("PCOUNT") as usize;
        let name = if first {
            "PRIMARY".to_string()
        } else {
            get("EXTNAME").unwrap_or_default()
        };
        if name == extname {
            let zero: f64 = get("BZERO").map(|v| v.parse().unwrap()).unwrap_or(0.0);
            let scale: f64 = get("BSCALE").map(|v| v.parse().unwrap()).unwrap_or(1.0);
            let raw = &bytes[pos..pos + nbytes];
            let data = (0..count)
                .map(|i| {
                    let v = match bitpix {
                        8 => raw[i] as f64,
                        16 => i16::from_be_bytes(raw[2 * i..2 * i + 2].try_into().unwrap()) as f64,
                        32 => i32::from_be_bytes(raw[4 * i..4 * i + 4].try_into().unwrap()) as f64,
                        -32 => f32::from_be_bytes(raw[4 * i..4 * i + 4].try_into().unwrap()) as f64,
                        -64 => f64::from_be_bytes(raw[8 * i..8 * i + 8].try_into().unwrap()),
                        other => panic!("BITPIX {other} not supported by the test reader"),
                    };
                    zero + scale * v
                })
                .collect();
            return FitsImage { axes, data, header };
        }
        first = false;
        offset = pos + nbytes.div_ceil(2880) * 2880;
    }
    panic!("{}: no HDU named {extname}", path.display());
}
