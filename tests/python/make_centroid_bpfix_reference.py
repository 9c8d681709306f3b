"""Regenerates tests/data/jwst_centroid_bpfix_f480m.json: reference numbers from jwst 3.0.0 (an
independent implementation) for tests/centroid_bpfix_vs_jwst.rs. Not a pytest module.

Run from the crate root with a Python that has jwst==3.0.0 installed:
    python3 -m venv /tmp/jwstvenv && /tmp/jwstvenv/bin/pip install jwst==3.0.0
    /tmp/jwstvenv/bin/python tests/python/make_centroid_bpfix_reference.py [path/to/shared/data/f480m-binary]

What it records (all indices 0-based, arrays row-major [row, col]):
* the crop jwst's ami_analyze makes (instrument_data.read_data_model): drop the first 4 rows,
  median over integrations, brightest pixel, r = distance to the nearest edge, [peak-r, peak+r];
* jwst.ami.utils.find_centroid of every cropped integration, as (x_off, y_off) = (col, row), the
  order nrm_core hands to the model (it flips find_centroid's (row, col) tuple), and of
  integration 0 without its last row and column (an even size);
* the pupil-support mask fmas that jwst.ami.bp_fix.fix_bad_pixels builds for this crop;
* jwst.ami.bp_fix.fix_bad_pixels on integration 0 after corrupting a few pixels (listed in
  "bpfix_case"): the final bad-pixel map and the corrected values at its pixels.
"""

import json
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits
from jwst.ami import bp_fix, utils

data_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/f480m-binary")
exposure = "jw10005003001_03102_00001_nis_calints.fits"

with fits.open(data_dir / exposure) as hdul:
    sci = hdul["SCI"].data.astype(np.float64)[:, 4:, :]
    dq = hdul["DQ"].data.astype(np.uint32)[:, 4:, :]
    cdelt = (hdul["SCI"].header["CDELT1"], hdul["SCI"].header["CDELT2"])
with fits.open(data_dir / "nrm.fits") as hdul:
    pupil = hdul["NRM"].data.astype(np.float64)

median_image = np.median(sci, axis=0)
peak_row, peak_col, r = (int(v) for v in utils.min_distance_to_edge(median_image))
crop = sci[:, peak_row - r : peak_row + r + 1, peak_col - r : peak_col + r + 1].copy()
crop_dq = dq[:, peak_row - r : peak_row + r + 1, peak_col - r : peak_col + r + 1].copy()
n = crop.shape[1]

centroids = []
for j in range(crop.shape[0]):
    row_off, col_off = utils.find_centroid(crop[j])
    centroids.append([float(col_off), float(row_off)])

# Even size too: integration 0 without its last row and column.
row_off, col_off = utils.find_centroid(crop[0, :-1, :-1])
centroid_even = [float(col_off), float(row_off)]

# Pixel scale exactly as ami_analyze passes it to fix_bad_pixels (mas per pixel).
pscale_mas = float(np.mean(cdelt)) * 3600.0 * 1000.0
pxsc_rad = (pscale_mas / 1000) * np.pi / (60 * 60 * 180)
sh = n // 2
cvis = bp_fix.calc_pupil_support("F480M", 2 * sh, pxsc_rad, pupil)
cvis /= np.max(cvis)
fmas = np.fft.fftshift(cvis < 1e-3)[:, : 2 * sh // 2 + 1]

# Corrupted pixels of integration 0: DO_NOT_USE (1) and JUMP_DET (4) flagged pixels with wrong
# values (two of them NaN, as in calibrated products), two unflagged hot pixels the outlier search
# must find, and flagged pixels in the last row / column, which jwst leaves alone for odd n.
DNU, JUMP = 1, 4
corruptions = [
    # row, col, dq flag, new value (None = NaN)
    (r, r, DNU, 0.0),  # the PSF core
    (r + 2, r - 3, JUMP, 5.0e4),
    (r - 5, r + 4, DNU, None),
    (r - 5, r + 5, DNU, None),
    (10, 12, DNU, -3.0e3),
    (11, 12, DNU, 2.0e3),
    (r + 9, r + 1, JUMP, 1.0e5),
    (n - 1, 20, DNU, 7.0e4),
    (30, n - 1, DNU, -7.0e4),
    (25, 50, 0, 4.0e4),  # unflagged hot pixel
    (50, 22, 0, 6.0e4),  # unflagged hot pixel
]
data = crop[:1].copy()
data_dq = crop_dq[:1].copy()
for row, col, flag, value in corruptions:
    data[0, row, col] = np.nan if value is None else value
    data_dq[0, row, col] |= flag
corrupted = data.copy()


class NrmModel:
    nrm = pupil


fixed, pxdq = bp_fix.fix_bad_pixels(data, data_dq, "F480M", pscale_mas, NrmModel())
w = 2 * sh
final_bad = [[int(a), int(b)] for a, b in np.argwhere(pxdq[0, :w, :w] > 0)]
# fourier_corr only changes bad pixels, so these values and the unchanged rest are the whole image.
changed = np.argwhere(~np.isclose(fixed[0], np.nan_to_num(corrupted[0]), rtol=0, atol=0))
assert all(pxdq[0, a, b] > 0 for a, b in changed if a < w and b < w)

reference = {
    "produced_by": "tests/python/make_centroid_bpfix_reference.py with jwst 3.0.0",
    "exposure": exposure,
    "crop": {"peak_row": int(peak_row), "peak_col": int(peak_col), "half_size": int(r), "n": n},
    "pixscale_rad": pxsc_rad,
    "find_centroid_x_y_px": centroids,
    "find_centroid_even_x_y_px": centroid_even,
    "fmas_rows": ["".join("1" if v else "0" for v in row) for row in fmas],
    "bpfix_case": {
        "integration": 0,
        "filter": "F480M",
        "corruptions": [
            {"row": a, "col": b, "dq": f, "value": v} for a, b, f, v in corruptions
        ],
        "final_bad": final_bad,
        "corrected": [
            {"row": int(a), "col": int(b), "value": float(fixed[0, a, b])} for a, b in final_bad
        ],
        "last_row_col_values": {
            "row_n_minus_1_col_20": float(fixed[0, n - 1, 20]),
            "row_30_col_n_minus_1": float(fixed[0, 30, n - 1]),
        },
    },
}
out = Path(__file__).resolve().parents[1] / "data" / "jwst_centroid_bpfix_f480m.json"
out.write_text(json.dumps(reference, indent=1) + "\n")
print(f"wrote {out}: n={n}, {len(final_bad)} bad pixels, {int(fmas.sum())} Z frequencies")
