//! One calibrated OIFITS2 file (ours `*_aminorm-oi.fits`, jwst's, or any conformant one) read
//! into what the companion search needs (companion.md §1, §2, §4): the 35 closure phases of 7
//! holes with errors and flags, the 35×21 ±1 matrix T from STA_INDEX with the sign of each side
//! checked against OI_VIS2's (UCOORD, VCOORD), the fringe-phase errors of OI_VIS, V², the
//! wavelength, the filter and the pointing keywords. It does no fitting; every problem with the
//! file is an `Error` naming the file, created here at the file boundary.

use crate::error::{Error, Kind, Result};
use crate::fits::{find_hdu, read_fits, Hdu, Table};

/// Holes of the NIRISS non-redundant mask.
pub const N_HOLES: usize = 7;
/// Baselines of 7 holes.
pub const N_BASELINES: usize = 21;
/// Triangles of 7 holes.
pub const N_TRIANGLES: usize = 35;
/// How closely a triangle side must equal ±(UCOORD, VCOORD) of its baseline (§2), metres.
const UV_TOLERANCE_M: f64 = 1e-6;

/// The observables of one calibrated file, angles in radians, (u, v) in metres as written.
#[derive(Debug, Clone)]
pub struct OiObservation {
    /// The file name, for messages and the report.
    pub name: String,
    /// FILTER keyword (upper case), or "" when absent.
    pub filter: String,
    pub eff_wave_m: f64,
    pub eff_band_m: f64,
    pub roll_ref_deg: f64,
    pub v3i_yang_deg: f64,
    pub vparity: i64,
    /// `UVAFFINE = T`: (u, v) include the fitted affine distortion (ours).
    pub uvaffine: bool,
    /// Baselines in OI_VIS2 row order: (UCOORD, VCOORD), metres.
    pub baseline_uv_m: Vec<[f64; 2]>,
    /// Closure phases T3PHI, their errors T3PHIERR, FLAG, per OI_T3 row.
    pub cp_rad: Vec<f64>,
    pub cp_err_rad: Vec<f64>,
    pub cp_flag: Vec<bool>,
    /// Each OI_T3 row's (U1, V1, U2, V2), metres.
    pub t3_uv_m: Vec<[f64; 4]>,
    /// T (rows × 21, row-major): CP = T φ with φ the phases of the OI_VIS2 baselines.
    pub t_matrix: Vec<f64>,
    /// VISPHIERR of OI_VIS in OI_VIS2 row order, radians, when the table has them all.
    pub vis_phi_err_rad: Option<Vec<f64>>,
    /// VIS2DATA, VIS2ERR in OI_VIS2 row order.
    pub vis2: Vec<f64>,
    pub vis2_err: Vec<f64>,
}

/// What is wrong with a file (no file name: [`read_observation`] adds it).
#[derive(Debug, Clone, PartialEq)]
pub enum InputError {
    /// A table the fit needs is missing.
    NoTable(&'static str),
    /// A column the fit needs is missing or empty.
    NoColumn(&'static str, &'static str),
    /// More OI_T3 rows than one set of 35 triangles.
    TooManyTriangles(usize),
    /// OI_VIS2 is not one set of 21 baselines of 7 holes: (rows, holes).
    NotSevenHoles(usize, usize),
    /// A triangle side that is not an OI_VIS2 baseline: (row, station, station).
    UnknownBaseline(usize, i64, i64),
    /// A triangle side that is not ±(UCOORD, VCOORD) of its baseline: (row, a, b, u, v, vis2 row).
    InconsistentUv(usize, i64, i64, f64, f64, usize),
    /// T3PHI not finite on an unflagged row.
    BadPhase(usize),
    /// T3PHIERR not positive on an unflagged row: (row, value in degrees).
    BadError(usize, f64),
    /// OI_WAVELENGTH is not one channel with positive EFF_WAVE.
    BadWavelength,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::NoTable(ext) => write!(f, "no {ext} table: not a calibrated OIFITS file"),
            InputError::NoColumn(ext, name) => write!(f, "{ext} has no {name} column"),
            InputError::TooManyTriangles(n) => write!(
                f,
                "OI_T3 has {n} rows, more than one set of {N_TRIANGLES} triangles of 7 holes \
                 (fit one average's file, not one with a row per integration)"
            ),
            InputError::NotSevenHoles(rows, holes) => write!(
                f,
                "OI_VIS2 has {rows} rows over {holes} holes: the fit needs one set of \
                 {N_BASELINES} baselines of {N_HOLES} holes"
            ),
            InputError::UnknownBaseline(r, a, b) => {
                write!(f, "OI_T3 row {r}: baseline {a}-{b} is not in OI_VIS2")
            }
            InputError::InconsistentUv(r, a, b, u, v, k) => write!(
                f,
                "OI_T3 row {r}: side {a}-{b} ({u:.6}, {v:.6}) m is not ±(UCOORD, VCOORD) of \
                 OI_VIS2 row {k} within 1e-6 m"
            ),
            InputError::BadPhase(r) => {
                write!(f, "OI_T3 row {r}: T3PHI is not finite and not flagged")
            }
            InputError::BadError(r, e) => write!(
                f,
                "OI_T3 row {r}: T3PHIERR {e} is not a positive number (jwst writes NaN errors \
                 for 2-D inputs; such files cannot be fitted)"
            ),
            InputError::BadWavelength => {
                write!(
                    f,
                    "OI_WAVELENGTH must have one channel with positive EFF_WAVE"
                )
            }
        }
    }
}

type Parsed<T> = std::result::Result<T, InputError>;

fn table<'a>(hdus: &'a [Hdu], ext: &'static str) -> Parsed<&'a Table> {
    find_hdu(hdus, ext)
        .and_then(|h| h.table())
        .ok_or(InputError::NoTable(ext))
}

fn col(t: &Table, ext: &'static str, name: &'static str) -> Parsed<Vec<f64>> {
    t.column(name)
        .map(|c| c.data.as_f64())
        .filter(|v| !v.is_empty())
        .ok_or(InputError::NoColumn(ext, name))
}

fn flags(t: &Table) -> Vec<bool> {
    t.column("FLAG")
        .and_then(|c| c.data.as_bools().map(|b| b.to_vec()))
        .unwrap_or_else(|| vec![false; t.nrows])
}

/// Reads one calibrated OIFITS file.
pub fn read_observation(bytes: &[u8], file_name: &str) -> Result<OiObservation> {
    let hdus = read_fits(bytes, file_name)?;
    from_hdus(&hdus, file_name).map_err(|p| Error::file(file_name, Kind::BadOifits, p.to_string()))
}

/// The observation from a file's HDUs; the problem in words when it is not usable.
pub fn from_hdus(hdus: &[Hdu], file_name: &str) -> Parsed<OiObservation> {
    let primary = &hdus.first().ok_or(InputError::NoTable("PRIMARY"))?.header;
    let t3 = table(hdus, "OI_T3")?;
    let vis2 = table(hdus, "OI_VIS2")?;
    let wave = table(hdus, "OI_WAVELENGTH")?;
    let (baselines, baseline_uv_m) = read_baselines(vis2)?;
    let t3_sta = t3
        .column("STA_INDEX")
        .filter(|c| c.data.repeat() == 3)
        .map(|c| c.data.as_f64())
        .ok_or(InputError::NoColumn("OI_T3", "STA_INDEX"))?;
    if t3.nrows > N_TRIANGLES {
        return Err(InputError::TooManyTriangles(t3.nrows));
    }
    let cp_deg = col(t3, "OI_T3", "T3PHI")?;
    let cp_err_deg = col(t3, "OI_T3", "T3PHIERR")?;
    let (u1, v1, u2, v2) = (
        col(t3, "OI_T3", "U1COORD")?,
        col(t3, "OI_T3", "V1COORD")?,
        col(t3, "OI_T3", "U2COORD")?,
        col(t3, "OI_T3", "V2COORD")?,
    );
    let cp_flag = flags(t3);
    let mut t_matrix = vec![0.0; t3.nrows * N_BASELINES];
    let mut t3_uv_m = Vec::with_capacity(t3.nrows);
    for r in 0..t3.nrows {
        let sta = [t3_sta[3 * r], t3_sta[3 * r + 1], t3_sta[3 * r + 2]].map(|s| s as i64);
        let sides = [
            (sta[0], sta[1], [u1[r], v1[r]], 1.0),
            (sta[1], sta[2], [u2[r], v2[r]], 1.0),
            (sta[0], sta[2], [u1[r] + u2[r], v1[r] + v2[r]], -1.0),
        ];
        for (a, b, uv, sign) in sides {
            let k = baselines
                .iter()
                .position(|p| (p[0] == a && p[1] == b) || (p[0] == b && p[1] == a))
                .ok_or(InputError::UnknownBaseline(r, a, b))?;
            let s = side_sign(uv, baseline_uv_m[k])
                .ok_or(InputError::InconsistentUv(r, a, b, uv[0], uv[1], k))?;
            t_matrix[r * N_BASELINES + k] += sign * s;
        }
        t3_uv_m.push([u1[r], v1[r], u2[r], v2[r]]);
    }
    for r in 0..t3.nrows {
        if cp_flag[r] {
            continue;
        }
        if !cp_deg[r].is_finite() {
            return Err(InputError::BadPhase(r));
        }
        if !(cp_err_deg[r].is_finite() && cp_err_deg[r] > 0.0) {
            return Err(InputError::BadError(r, cp_err_deg[r]));
        }
    }
    let eff_wave_m = col(wave, "OI_WAVELENGTH", "EFF_WAVE")?;
    let eff_band_m = col(wave, "OI_WAVELENGTH", "EFF_BAND")?;
    let positive = |v: f64| v.is_finite() && v > 0.0;
    if wave.nrows != 1 || !positive(eff_wave_m[0]) || eff_band_m[0].is_nan() || eff_band_m[0] < 0.0
    {
        return Err(InputError::BadWavelength);
    }
    let keyword = |k: &str| primary.get_f64(k);
    Ok(OiObservation {
        name: file_name.to_string(),
        filter: primary
            .get_str("FILTER")
            .map(|s| s.trim().to_ascii_uppercase())
            .unwrap_or_default(),
        eff_wave_m: eff_wave_m[0],
        eff_band_m: eff_band_m[0],
        roll_ref_deg: keyword("ROLL_REF").filter(|v| v.is_finite()).unwrap_or(0.0),
        v3i_yang_deg: keyword("V3I_YANG").filter(|v| v.is_finite()).unwrap_or(0.0),
        vparity: primary.get_i64("VPARITY").unwrap_or(-1),
        uvaffine: primary.get_bool("UVAFFINE") == Some(true),
        cp_rad: cp_deg.iter().map(|d| d.to_radians()).collect(),
        cp_err_rad: cp_err_deg.iter().map(|d| d.to_radians()).collect(),
        cp_flag,
        t3_uv_m,
        t_matrix,
        vis_phi_err_rad: read_vis_phase_errors(hdus, &baselines),
        vis2: col(vis2, "OI_VIS2", "VIS2DATA")?,
        vis2_err: col(vis2, "OI_VIS2", "VIS2ERR")?,
        baseline_uv_m,
    })
}

/// +1 or −1 when `side` equals ±`baseline` within [`UV_TOLERANCE_M`].
fn side_sign(side: [f64; 2], baseline: [f64; 2]) -> Option<f64> {
    let close = |s: f64| {
        (side[0] - s * baseline[0]).abs() <= UV_TOLERANCE_M
            && (side[1] - s * baseline[1]).abs() <= UV_TOLERANCE_M
    };
    [1.0, -1.0].into_iter().find(|&s| close(s))
}

/// Station pairs and (u, v) of OI_VIS2's rows.
type Baselines = (Vec<[i64; 2]>, Vec<[f64; 2]>);

/// Station pairs and (u, v) of the 21 OI_VIS2 rows; the file must have 7 holes.
fn read_baselines(vis2: &Table) -> Parsed<Baselines> {
    let sta = vis2
        .column("STA_INDEX")
        .filter(|c| c.data.repeat() == 2)
        .map(|c| c.data.as_f64())
        .ok_or(InputError::NoColumn("OI_VIS2", "STA_INDEX"))?;
    let u = col(vis2, "OI_VIS2", "UCOORD")?;
    let v = col(vis2, "OI_VIS2", "VCOORD")?;
    let pairs: Vec<[i64; 2]> = (0..vis2.nrows)
        .map(|r| [sta[2 * r] as i64, sta[2 * r + 1] as i64])
        .collect();
    let mut holes: Vec<i64> = pairs.iter().flatten().copied().collect();
    holes.sort_unstable();
    holes.dedup();
    if holes.len() != N_HOLES || vis2.nrows != N_BASELINES {
        return Err(InputError::NotSevenHoles(vis2.nrows, holes.len()));
    }
    let uv = (0..vis2.nrows).map(|r| [u[r], v[r]]).collect();
    Ok((pairs, uv))
}

/// VISPHIERR (radians) of OI_VIS matched to the OI_VIS2 baselines, when all are present.
fn read_vis_phase_errors(hdus: &[Hdu], baselines: &[[i64; 2]]) -> Option<Vec<f64>> {
    let vis = find_hdu(hdus, "OI_VIS")?.table()?;
    let sta = vis.column("STA_INDEX")?.data.as_f64();
    let err = vis.column("VISPHIERR")?.data.as_f64();
    if vis.nrows != baselines.len() || sta.len() != 2 * vis.nrows || err.len() != vis.nrows {
        return None;
    }
    baselines
        .iter()
        .map(|p| {
            (0..vis.nrows)
                .find(|&r| {
                    let (a, b) = (sta[2 * r] as i64, sta[2 * r + 1] as i64);
                    (a == p[0] && b == p[1]) || (a == p[1] && b == p[0])
                })
                .map(|r| err[r].to_radians())
        })
        .collect()
}
