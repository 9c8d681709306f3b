//! OIFITS2 products (`_ami-oi`, `_psf-ami-oi`, `_amimulti-oi`, `_aminorm-oi`): the layout of
//! upstream.md §7.4 made standard as ami3.md §5 asks: 32A target strings, degrees for every
//! angle, real MJD and DATE-OBS with time, OIFITS2 enumerated keywords, one row per baseline per
//! integration in the multi file, and (u,v) of the model actually fitted (affine applied).

use super::exposure::CalExposure;
use crate::error::Result;
use crate::fits::{Card, Column, ColumnData, Hdu, Header, Table, Value};
use crate::niriss::affine::Affine2d;
use crate::niriss::mask::MaskGeometry;
use crate::portable;
use crate::products::observables::{deg, ObservableSet};

/// What the OIFITS tables need to know about the observation.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct OiMeta {
    /// Primary keywords of the input exposure, copied into the product.
    pub input_primary: Header,
    pub object: String,
    pub date_obs: String,
    /// MJD of the middle of each integration (one entry for averaged products).
    pub mjd_per_integration: Vec<f64>,
    pub mjd_mean: f64,
    pub int_time_s: f64,
    pub ra_deg: f64,
    pub dec_deg: f64,
    pub ra_err_deg: f64,
    pub dec_err_deg: f64,
    pub pmra_deg_per_yr: f64,
    pub pmdec_deg_per_yr: f64,
    pub roll_ref_deg: f64,
    pub v3i_yang_deg: f64,
    pub vparity: i64,
    pub pi_name: String,
    pub pupil: String,
    pub pixscale_arcsec: f64,
    pub fov_pixels: usize,
    pub eff_wave_m: f64,
    pub eff_band_m: f64,
}

fn kw_f64(e: &CalExposure, key: &str) -> Option<f64> {
    e.number(key).filter(|v| v.is_finite())
}

impl OiMeta {
    /// Metadata of an analysed exposure whose fitted `integrations` are these (0-based, in
    /// order; those that could not be fitted are missing).
    pub fn from_exposure(
        e: &CalExposure,
        integrations: &[usize],
        pixscale_arcsec: f64,
        n: usize,
        eff: (f64, f64),
    ) -> Self {
        let date = e.keyword("DATE-OBS").unwrap_or_else(|| "2000-01-01".into());
        let time = e
            .keyword("TIME-OBS")
            .unwrap_or_else(|| "00:00:00.000".into());
        let date_obs = if date.contains('T') {
            date.clone()
        } else {
            format!("{date}T{time}")
        };
        let start =
            kw_f64(e, "EXPSTART").unwrap_or_else(|| mjd_from_iso(&date_obs).unwrap_or(51544.0));
        let nint = integrations.last().map_or(1, |k| k + 1);
        let nints = kw_f64(e, "NINTS").unwrap_or(nint as f64).max(nint as f64);
        // per-integration time: EFFINTTM, else the exposure time shared out
        let int_s = kw_f64(e, "EFFINTTM")
            .or_else(|| kw_f64(e, "EFFEXPTM").map(|t| t / nints))
            .unwrap_or(0.0);
        let end = kw_f64(e, "EXPEND")
            .filter(|&v| v > start)
            .unwrap_or(start + int_s * nints / 86400.0);
        // integration k of the file is integration k of the exposure (firstfew keeps the first)
        let step = (end - start) / nints;
        let mjd_per_integration: Vec<f64> = integrations
            .iter()
            .map(|&k| start + (k as f64 + 0.5) * step)
            .collect();
        // a 2-D image stands for all integrations (upstream.md §5.3)
        let int_time_s = if e.is_2d { int_s * nints } else { int_s };
        let targname = e
            .keyword("TARGNAME")
            .filter(|s| !s.is_empty() && s != "UNKNOWN");
        let object = targname
            .or_else(|| e.keyword("TARGPROP"))
            .unwrap_or_else(|| "UNKNOWN".into())
            .replace('-', " ");
        let arcsec = |k: &str| kw_f64(e, k).unwrap_or(0.0) / 3600.0;
        OiMeta {
            input_primary: e.primary.clone(),
            object,
            date_obs,
            mjd_mean: 0.5 * (start + end),
            mjd_per_integration,
            int_time_s,
            ra_deg: kw_f64(e, "TARG_RA").unwrap_or(0.0),
            dec_deg: kw_f64(e, "TARG_DEC").unwrap_or(0.0),
            ra_err_deg: arcsec("TARGURA"),
            dec_err_deg: arcsec("TARGUDEC"),
            pmra_deg_per_yr: arcsec("MU_RA"),
            pmdec_deg_per_yr: arcsec("MU_DEC"),
            roll_ref_deg: kw_f64(e, "ROLL_REF").unwrap_or(0.0),
            v3i_yang_deg: kw_f64(e, "V3I_YANG").unwrap_or(0.0),
            vparity: e.number("VPARITY").map(|v| v as i64).unwrap_or(-1),
            pi_name: e.keyword("PI_NAME").unwrap_or_else(|| "UNKNOWN".into()),
            pupil: e.keyword("PUPIL").unwrap_or_else(|| "NRM".into()),
            pixscale_arcsec,
            fov_pixels: n,
            eff_wave_m: eff.0,
            eff_band_m: eff.1,
        }
    }
}

/// MJD of an ISO date-time 'YYYY-MM-DD[Thh:mm:ss[.sss]]'.
pub fn mjd_from_iso(s: &str) -> Option<f64> {
    let (date, time) = s.split_once(['T', ' ']).unwrap_or((s, "00:00:00"));
    let mut d = date.split('-').map(|p| p.trim().parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = time.split(':').map(|p| p.trim().parse::<f64>());
    let (hh, mm, ss) = (
        t.next().and_then(|x| x.ok()).unwrap_or(0.0),
        t.next().and_then(|x| x.ok()).unwrap_or(0.0),
        t.next().and_then(|x| x.ok()).unwrap_or(0.0),
    );
    // days from civil (proleptic Gregorian), then MJD = JD - 2400000.5
    let (yy, mo) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days_since_1970 = era * 146097 + doe - 719468;
    Some(days_since_1970 as f64 + 40587.0 + (hh * 3600.0 + mm * 60.0 + ss) / 86400.0)
}

/// Hole centres rotated to the sky as upstream's `ctrs_eqt` (upstream.md §5.10), from
/// instrument-frame centres.
pub fn sky_centres(centres_inst: &[[f64; 2]], meta: &OiMeta) -> Vec<[f64; 2]> {
    centres_inst
        .iter()
        .map(|c| {
            // +90 degrees: (x, y) -> (-y, x)
            let (mut x, mut y) = (-c[1], c[0]);
            if meta.roll_ref_deg != 0.0 {
                let a = (meta.roll_ref_deg + meta.v3i_yang_deg).to_radians();
                let a = if meta.vparity == -1 { -a } else { a };
                let (s, co) = portable::sin_cos(a);
                (x, y) = (co * x - s * y, s * x + co * y);
            }
            [-y, -x]
        })
        .collect()
}

/// Instrument-frame hole centres as the fitted model sees them: the fringe phase of a baseline
/// B is 2 pi p (u' B0 + v' B1) / lambda with (u', v') = T (u, v), i.e. detector-frame
/// baseline T^T B. Writing these makes a binary fit of the file return detector offsets.
pub fn effective_centres(geometry: &MaskGeometry, affine: &Affine2d) -> Vec<[f64; 2]> {
    let [[a, b], [c, d]] = affine.f_args_matrix();
    geometry
        .centres_inst_m
        .iter()
        .map(|h| [a * h[0] + c * h[1], b * h[0] + d * h[1]])
        .collect()
}

fn str_col(name: &str, width: usize, values: Vec<String>) -> Column {
    Column::new(name, ColumnData::Str { width, values })
}
fn f64_col(name: &str, repeat: usize, values: Vec<f64>, unit: Option<&str>) -> Column {
    let c = Column::new(name, ColumnData::F64 { repeat, values });
    match unit {
        Some(u) => c.with_unit(u),
        None => c,
    }
}
fn f32_col(name: &str, values: Vec<f32>, unit: Option<&str>) -> Column {
    let c = Column::new(name, ColumnData::F32 { repeat: 1, values });
    match unit {
        Some(u) => c.with_unit(u),
        None => c,
    }
}
fn i16_col(name: &str, repeat: usize, values: Vec<i16>) -> Column {
    Column::new(name, ColumnData::I16 { repeat, values })
}

/// The observables of one OIFITS product: averaged (one set) or per integration.
pub enum OiData<'a> {
    /// One row per baseline/triangle/quad.
    Averaged(&'a ObservableSet),
    /// One row per baseline/triangle/quad per integration (integration-major), each with the
    /// MJD of its integration.
    PerIntegration(&'a [ObservableSet]),
}

/// Everything needed to write one OIFITS product.
pub struct OiProduct<'a> {
    pub meta: &'a OiMeta,
    pub geometry: &'a MaskGeometry,
    pub affine: &'a Affine2d,
    pub data: OiData<'a>,
    /// Extra primary keywords (step status, ASN, CALIB ...), set after the input's.
    pub extra_primary: Vec<Card>,
    /// For calibrated products: the calibrator's pistons, written as PISTON_C beside PISTON_T.
    pub calibrator_pistons: Option<(&'a [f64], &'a [f64])>,
}

const STRUCTURAL: [&str; 8] = [
    "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "CHECKSUM", "DATASUM", "END", "XTENSION",
];

/// The input's primary keywords without the structural ones.
pub fn copied_primary(input: &Header) -> Header {
    let cards = input
        .cards
        .iter()
        .filter(|c| {
            let k = c.key.as_str();
            !(STRUCTURAL.contains(&k)
                || (k.starts_with("NAXIS") && k[5..].chars().all(|ch| ch.is_ascii_digit())))
        })
        .cloned()
        .collect();
    Header::from_cards(cards)
}

fn revn() -> Card {
    Card::new("OI_REVN", 2i64, Some("OIFITS revision"))
}

fn arrname() -> Card {
    Card::new("ARRNAME", "jwst_ami", Some("array name"))
}

fn insname() -> Card {
    Card::new("INSNAME", "NIRISS", Some("instrument name"))
}

impl OiProduct<'_> {
    /// The product's HDUs: PRIMARY, OI_ARRAY, OI_TARGET, OI_T3, OI_VIS, OI_VIS2, OI_Q4,
    /// OI_WAVELENGTH (upstream's order), one function per table below.
    pub fn to_hdus(&self) -> Vec<Hdu> {
        let mut hdus = Vec::new();
        let collected: Result<()> = self.each_hdu(&mut |h| {
            hdus.push(h);
            Ok(())
        });
        debug_assert!(collected.is_ok(), "pushing cannot fail");
        hdus
    }

    /// [`to_hdus`](Self::to_hdus) one HDU at a time, in file order: each is built, given to
    /// `put` and dropped before the next is built, so that a product of many integrations
    /// (`_amimulti-oi`: ~12 kB per integration) is never held whole, as HDUs or as bytes.
    pub fn each_hdu(&self, put: &mut dyn FnMut(Hdu) -> Result<()>) -> Result<()> {
        let rows = Rows::of(self);
        put(Hdu::primary(self.primary_header()))?;
        put(rows.array_hdu())?;
        put(self.target_hdu())?;
        put(rows.t3_hdu())?;
        put(rows.vis_hdu())?;
        put(rows.vis2_hdu())?;
        put(rows.q4_hdu())?;
        put(self.wavelength_hdu())
    }

    /// The input's primary keywords with the OIFITS2 ones and the step's.
    fn primary_header(&self) -> Header {
        let m = self.meta;
        let mut primary = copied_primary(&m.input_primary);
        let set = |h: &mut Header, k: &str, v: Value, c: &str| h.set(k, v, Some(c));
        set(
            &mut primary,
            "TELESCOP",
            Value::Str("JWST".into()),
            "telescope",
        );
        if !primary.contains("ORIGIN") {
            set(
                &mut primary,
                "ORIGIN",
                Value::Str("STScI".into()),
                "institution of the data",
            );
        }
        set(
            &mut primary,
            "INSTRUME",
            Value::Str("NIRISS".into()),
            "instrument",
        );
        set(
            &mut primary,
            "DATE-OBS",
            Value::Str(m.date_obs.clone()),
            "UTC start of the exposure",
        );
        if !primary.contains("DATE") {
            set(
                &mut primary,
                "DATE",
                Value::Str(m.date_obs.clone()),
                "taken from DATE-OBS",
            );
        }
        for (key, value, comment) in [
            (
                "CONTENT",
                Value::Str("OIFITS2".into()),
                "OIFITS version 2 file",
            ),
            (
                "OBSERVER",
                Value::Str(m.pi_name.clone()),
                "principal investigator",
            ),
            ("INSMODE", Value::Str(m.pupil.clone()), "pupil element"),
            ("OBJECT", Value::Str(m.object.clone()), "target name"),
            (
                "ROLL_REF",
                Value::Float(m.roll_ref_deg),
                "[deg] V3 roll angle at the ref point",
            ),
            (
                "V3I_YANG",
                Value::Float(m.v3i_yang_deg),
                "[deg] angle from V3 axis to Ideal y axis",
            ),
            (
                "VPARITY",
                Value::Int(m.vparity),
                "relative sense of rotation",
            ),
            (
                "UVAFFINE",
                Value::Bool(true),
                "UCOORD/VCOORD include the fitted affine",
            ),
        ] {
            set(&mut primary, key, value, comment);
        }
        for c in &self.extra_primary {
            primary.set(
                &c.key,
                c.value.clone().unwrap_or(Value::Bool(true)),
                c.comment.as_deref(),
            );
        }
        primary
    }

    fn target_hdu(&self) -> Hdu {
        let m = self.meta;
        Hdu::bintable(
            "OI_TARGET",
            Table::new(
                1,
                vec![
                    i16_col("TARGET_ID", 1, vec![1]),
                    str_col("TARGET", 32, vec![m.object.clone()]),
                    f64_col("RAEP0", 1, vec![m.ra_deg], Some("deg")),
                    f64_col("DECEP0", 1, vec![m.dec_deg], Some("deg")),
                    f32_col("EQUINOX", vec![2000.0], Some("yr")),
                    f64_col("RA_ERR", 1, vec![m.ra_err_deg], Some("deg")),
                    f64_col("DEC_ERR", 1, vec![m.dec_err_deg], Some("deg")),
                    f64_col("SYSVEL", 1, vec![0.0], Some("m/s")),
                    str_col("VELTYP", 8, vec!["UNKNOWN".into()]),
                    str_col("VELDEF", 8, vec!["OPTICAL".into()]),
                    f64_col("PMRA", 1, vec![m.pmra_deg_per_yr], Some("deg/yr")),
                    f64_col("PMDEC", 1, vec![m.pmdec_deg_per_yr], Some("deg/yr")),
                    f64_col("PMRA_ERR", 1, vec![0.0], Some("deg/yr")),
                    f64_col("PMDEC_ERR", 1, vec![0.0], Some("deg/yr")),
                    f32_col("PARALLAX", vec![0.0], Some("deg")),
                    f32_col("PARA_ERR", vec![0.0], Some("deg")),
                    str_col("SPECTYP", 32, vec!["UNKNOWN".into()]),
                ],
            ),
            vec![revn()],
        )
    }

    fn wavelength_hdu(&self) -> Hdu {
        let m = self.meta;
        Hdu::bintable(
            "OI_WAVELENGTH",
            Table::new(
                1,
                vec![
                    f32_col("EFF_WAVE", vec![m.eff_wave_m as f32], Some("m")),
                    f32_col("EFF_BAND", vec![m.eff_band_m as f32], Some("m")),
                ],
            ),
            vec![revn(), insname()],
        )
    }
}

/// What the data tables of one product share: the observable sets (one, or one per
/// integration: rows are integration-major, then in baseline/triangle/quad order), their MJDs,
/// the hole centres on the sky and the hole orders of `niriss::mask` (the lists
/// `analyze::observables` uses).
struct Rows<'a> {
    product: &'a OiProduct<'a>,
    sets: Vec<&'a ObservableSet>,
    mjds: Vec<f64>,
    eqt: Vec<[f64; 2]>,
    baselines: Vec<[usize; 2]>,
    triangles: Vec<[usize; 3]>,
    quads: Vec<[usize; 4]>,
}

impl<'a> Rows<'a> {
    fn of(product: &'a OiProduct<'a>) -> Self {
        let m = product.meta;
        let nh = product.geometry.holes.len();
        let (sets, mjds): (Vec<&ObservableSet>, Vec<f64>) = match &product.data {
            OiData::Averaged(s) => (vec![*s], vec![m.mjd_mean]),
            OiData::PerIntegration(v) => (v.iter().collect(), m.mjd_per_integration.clone()),
        };
        Rows {
            product,
            sets,
            mjds,
            eqt: sky_centres(&effective_centres(product.geometry, product.affine), m),
            baselines: crate::niriss::mask::baselines(nh),
            triangles: crate::niriss::mask::triangles(nh),
            quads: crate::niriss::mask::quads(nh),
        }
    }

    fn nset(&self) -> usize {
        self.sets.len()
    }

    /// The STA_INDEX of hole `h` (1-based, in the full mask's numbering).
    fn sta(&self, h: usize) -> i16 {
        (self.product.geometry.holes[h] + 1) as i16
    }

    /// (u, v) of the baseline from hole `a` to hole `b`, metres on the sky.
    fn uv(&self, a: usize, b: usize) -> (f64, f64) {
        let e = &self.eqt;
        let d = [e[a][0] - e[b][0], e[a][1] - e[b][1]];
        (d[1], d[0])
    }

    /// TARGET_ID, TIME, MJD, INT_TIME for `nrows_per` rows per set.
    fn common(&self, nrows_per: usize) -> Vec<Column> {
        let rows = nrows_per * self.nset();
        vec![
            i16_col("TARGET_ID", 1, vec![1; rows]),
            f64_col("TIME", 1, vec![0.0; rows], Some("s")),
            f64_col(
                "MJD",
                1,
                self.mjds
                    .iter()
                    .flat_map(|&t| std::iter::repeat_n(t, nrows_per))
                    .collect(),
                Some("day"),
            ),
            f64_col(
                "INT_TIME",
                1,
                vec![self.product.meta.int_time_s; rows],
                Some("s"),
            ),
        ]
    }

    /// One field of every set, set after set.
    fn flat(&self, f: &dyn Fn(&ObservableSet) -> Vec<f64>) -> Vec<f64> {
        self.sets.iter().flat_map(|s| f(s)).collect()
    }

    /// Per-row values of one set, repeated for every set.
    fn repeat_rows(&self, v: Vec<f64>) -> Vec<f64> {
        (0..self.nset()).flat_map(|_| v.clone()).collect()
    }

    fn flags(&self, rows: usize) -> Column {
        Column::new(
            "FLAG",
            ColumnData::Bool {
                repeat: 1,
                values: vec![false; rows * self.nset()],
            },
        )
    }

    fn data_header(&self, extra: Vec<Card>) -> Vec<Card> {
        let date = Card::new(
            "DATE-OBS",
            self.product.meta.date_obs.as_str(),
            Some("UTC start of the exposure"),
        );
        let mut h = vec![revn(), date, arrname(), insname()];
        h.extend(extra);
        h
    }

    /// Baseline (u, v) and STA_INDEX columns' values.
    fn baseline_uv(&self) -> (Vec<f64>, Vec<f64>, Vec<i16>) {
        let bu = self
            .baselines
            .iter()
            .map(|&[a, b]| self.uv(a, b).0)
            .collect();
        let bv = self
            .baselines
            .iter()
            .map(|&[a, b]| self.uv(a, b).1)
            .collect();
        let sta = (0..self.nset())
            .flat_map(|_| {
                self.baselines
                    .iter()
                    .flat_map(|&[a, b]| [self.sta(a), self.sta(b)])
            })
            .collect();
        (bu, bv, sta)
    }

    fn array_hdu(&self) -> Hdu {
        let (p, m) = (self.product, self.product.meta);
        let holes = &p.geometry.holes;
        let (nh, nset) = (holes.len(), self.nset());
        let mut piston = vec![0.0; nh * nset];
        let mut piston_err = vec![0.0; nh * nset];
        for (k, s) in self.sets.iter().enumerate() {
            for h in 0..nh {
                piston[h * nset + k] = s.piston_rad[h].to_degrees();
                piston_err[h * nset + k] = s.piston_err_rad[h].to_degrees();
            }
        }
        let names: Vec<String> = holes.iter().map(|h| format!("A{}", h + 1)).collect();
        let mut array_cols = vec![
            str_col("TEL_NAME", 16, names.clone()),
            str_col("STA_NAME", 16, names),
            i16_col("STA_INDEX", 1, (0..nh).map(|h| self.sta(h)).collect()),
            f32_col(
                "DIAMETER",
                vec![p.geometry.hole_flat_to_flat_m as f32; nh],
                Some("m"),
            ),
            f64_col(
                "STAXYZ",
                3,
                p.geometry
                    .centres_inst_m
                    .iter()
                    .flat_map(|c| [c[0], c[1], 0.0])
                    .collect(),
                Some("m"),
            ),
            f64_col(
                "FOV",
                1,
                vec![m.pixscale_arcsec * m.fov_pixels as f64; nh],
                Some("arcsec"),
            ),
            str_col("FOVTYPE", 6, vec!["RADIUS".into(); nh]),
            f64_col(
                "CTRS_EQT",
                2,
                self.eqt.iter().flat_map(|c| [c[0], c[1]]).collect(),
                Some("m"),
            ),
        ];
        match p.calibrator_pistons {
            Some((pc, pc_err)) => {
                let pe: Vec<f64> = (0..nh)
                    .map(|h| portable::hypot(piston_err[h], pc_err[h].to_degrees()))
                    .collect();
                array_cols.push(f64_col("PISTON_T", 1, piston.clone(), Some("deg")));
                array_cols.push(f64_col("PISTON_C", 1, deg(pc), Some("deg")));
                array_cols.push(f64_col("PIST_ERR", 1, pe, Some("deg")));
            }
            None => {
                array_cols.push(f64_col("PISTONS", nset, piston, Some("deg")));
                array_cols.push(f64_col("PIST_ERR", nset, piston_err, Some("deg")));
            }
        }
        Hdu::bintable(
            "OI_ARRAY",
            Table::new(nh, array_cols),
            vec![
                revn(),
                arrname(),
                Card::new("FRAME", "SKY", Some("coordinate frame")),
                Card::new("ARRAYX", 0.0, Some("[m] array centre x")),
                Card::new("ARRAYY", 0.0, Some("[m] array centre y")),
                Card::new("ARRAYZ", 0.0, Some("[m] array centre z")),
            ],
        )
    }

    fn vis_hdu(&self) -> Hdu {
        let nb = self.baselines.len();
        let (bu, bv, bsta) = self.baseline_uv();
        let mut vis_cols = self.common(nb);
        vis_cols.extend([
            f64_col("VISAMP", 1, self.flat(&|s| s.fringe_amp.clone()), None),
            f64_col(
                "VISAMPERR",
                1,
                self.flat(&|s| s.fringe_amp_err.clone()),
                None,
            ),
            f64_col(
                "VISPHI",
                1,
                self.flat(&|s| deg(&s.fringe_phase_rad)),
                Some("deg"),
            ),
            f64_col(
                "VISPHIERR",
                1,
                self.flat(&|s| deg(&s.fringe_phase_err_rad)),
                Some("deg"),
            ),
            f64_col("UCOORD", 1, self.repeat_rows(bu), Some("m")),
            f64_col("VCOORD", 1, self.repeat_rows(bv), Some("m")),
            i16_col("STA_INDEX", 2, bsta),
            self.flags(nb),
        ]);
        Hdu::bintable(
            "OI_VIS",
            Table::new(nb * self.nset(), vis_cols),
            self.data_header(vec![
                Card::new(
                    "AMPTYP",
                    "absolute",
                    Some("visibility amplitudes are normalised"),
                ),
                Card::new("PHITYP", "absolute", Some("fringe phases")),
            ]),
        )
    }

    fn vis2_hdu(&self) -> Hdu {
        let nb = self.baselines.len();
        let (bu, bv, bsta) = self.baseline_uv();
        let mut vis2_cols = self.common(nb);
        vis2_cols.extend([
            f64_col("VIS2DATA", 1, self.flat(&|s| s.vis2.clone()), None),
            f64_col("VIS2ERR", 1, self.flat(&|s| s.vis2_err.clone()), None),
            f64_col("UCOORD", 1, self.repeat_rows(bu), Some("m")),
            f64_col("VCOORD", 1, self.repeat_rows(bv), Some("m")),
            i16_col("STA_INDEX", 2, bsta),
            self.flags(nb),
        ]);
        Hdu::bintable(
            "OI_VIS2",
            Table::new(nb * self.nset(), vis2_cols),
            self.data_header(vec![]),
        )
    }

    fn t3_hdu(&self) -> Hdu {
        let nt = self.triangles.len();
        let mut t3_cols = self.common(nt);
        let tri = |f: &dyn Fn([usize; 3]) -> f64| {
            self.repeat_rows(self.triangles.iter().map(|&t| f(t)).collect())
        };
        t3_cols.extend([
            f64_col("T3AMP", 1, self.flat(&|s| s.t3_amp.clone()), None),
            f64_col("T3AMPERR", 1, self.flat(&|s| s.t3_amp_err.clone()), None),
            f64_col(
                "T3PHI",
                1,
                self.flat(&|s| deg(&s.closure_phase_rad)),
                Some("deg"),
            ),
            f64_col(
                "T3PHIERR",
                1,
                self.flat(&|s| deg(&s.closure_phase_err_rad)),
                Some("deg"),
            ),
            f64_col("U1COORD", 1, tri(&|[a, b, _]| self.uv(a, b).0), Some("m")),
            f64_col("V1COORD", 1, tri(&|[a, b, _]| self.uv(a, b).1), Some("m")),
            f64_col("U2COORD", 1, tri(&|[_, b, c]| self.uv(b, c).0), Some("m")),
            f64_col("V2COORD", 1, tri(&|[_, b, c]| self.uv(b, c).1), Some("m")),
            i16_col(
                "STA_INDEX",
                3,
                (0..self.nset())
                    .flat_map(|_| {
                        self.triangles
                            .iter()
                            .flat_map(|&[a, b, c]| [self.sta(a), self.sta(b), self.sta(c)])
                    })
                    .collect(),
            ),
            self.flags(nt),
        ]);
        Hdu::bintable(
            "OI_T3",
            Table::new(nt * self.nset(), t3_cols),
            self.data_header(vec![]),
        )
    }

    fn q4_hdu(&self) -> Hdu {
        let nq = self.quads.len();
        let mut q4_cols = self.common(nq);
        let quad = |f: &dyn Fn([usize; 4]) -> f64| {
            self.repeat_rows(self.quads.iter().map(|&q| f(q)).collect())
        };
        let uv = |a, b| self.uv(a, b);
        q4_cols.extend([
            f64_col("Q4AMP", 1, self.flat(&|s| s.closure_amp.clone()), None),
            f64_col(
                "Q4AMPERR",
                1,
                self.flat(&|s| s.closure_amp_err.clone()),
                None,
            ),
            f64_col(
                "Q4PHI",
                1,
                self.flat(&|s| deg(&s.quad_phase_rad)),
                Some("deg"),
            ),
            f64_col(
                "Q4PHIERR",
                1,
                self.flat(&|s| deg(&s.quad_phase_err_rad)),
                Some("deg"),
            ),
            f64_col("U1COORD", 1, quad(&|[a, b, _, _]| uv(a, b).0), Some("m")),
            f64_col("V1COORD", 1, quad(&|[a, b, _, _]| uv(a, b).1), Some("m")),
            f64_col("U2COORD", 1, quad(&|[_, b, c, _]| uv(b, c).0), Some("m")),
            f64_col("V2COORD", 1, quad(&|[_, b, c, _]| uv(b, c).1), Some("m")),
            f64_col("U3COORD", 1, quad(&|[_, _, c, d]| uv(c, d).0), Some("m")),
            f64_col("V3COORD", 1, quad(&|[_, _, c, d]| uv(c, d).1), Some("m")),
            // the closing baseline d -> a, so the four baselines sum to zero
            f64_col("U4COORD", 1, quad(&|[a, _, _, d]| uv(d, a).0), Some("m")),
            f64_col("V4COORD", 1, quad(&|[a, _, _, d]| uv(d, a).1), Some("m")),
            i16_col(
                "STA_INDEX",
                4,
                (0..self.nset())
                    .flat_map(|_| {
                        self.quads.iter().flat_map(|&[a, b, c, d]| {
                            [self.sta(a), self.sta(b), self.sta(c), self.sta(d)]
                        })
                    })
                    .collect(),
            ),
            self.flags(nq),
        ]);
        Hdu::bintable(
            "OI_Q4",
            Table::new(nq * self.nset(), q4_cols),
            self.data_header(vec![]),
        )
    }
}
