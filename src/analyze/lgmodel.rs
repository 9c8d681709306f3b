//! The LG fringe model (upstream.md §3.3–3.5): for a given PSF centre, the n x n x (2 + 2 nb)
//! basis of polychromatic fringe images that the least-squares fit combines, and the simulated
//! PSF that the rotation search correlates with the data.
//!
//! What does not change between integrations (wavelength grid, hole baselines, affine factors) is
//! held by `LgModel`; `basis` is called once per integration with that integration's centroid.
//! Every phase is a linear function of the pixel indices, so cosines on the oversampled grid are
//! built from per-row and per-column tables (cos(a + b) = cos a cos b - sin a sin b) instead of
//! one transcendental call per sample.

use super::hexagon::{hexagon_from_cosines, CENTRE_VALUE, COSINE_ARGUMENTS};
use crate::niriss::affine::Affine2d;
use crate::niriss::filters::BandpassSample;
use crate::niriss::mask::{baselines, MaskGeometry};
use crate::portable;
use std::f64::consts::PI;

/// Everything the model needs that is fixed for an exposure.
#[derive(Debug, Clone)]
pub struct LgModel {
    pub geometry: MaskGeometry,
    pub bandpass: Vec<BandpassSample>,
    pub affine: Affine2d,
    /// Detector pixel scale, radians per pixel.
    pub pixscale_rad: f64,
    /// Odd oversampling factor of the model grid.
    pub oversample: usize,
    /// Side of the (square) data image the model is built for.
    pub n: usize,
    /// Hole pairs in baseline order.
    pub pairs: Vec<[usize; 2]>,
}

/// The model basis for one PSF centre: `n_slices` images of n x n pixels, slice-major
/// (`slices[s * n * n + row * n + col]`), in upstream's order: flux, [cos_k, sin_k] per
/// baseline, constant.
#[derive(Debug, Clone)]
pub struct ModelBasis {
    pub n: usize,
    pub n_slices: usize,
    pub slices: Vec<f64>,
}

impl ModelBasis {
    pub fn slice(&self, s: usize) -> &[f64] {
        let np = self.n * self.n;
        &self.slices[s * np..(s + 1) * np]
    }
}

/// Centre-free fringe tables of an `LgModel`, built once per exposure: for baseline k and
/// wavelength w, the row and column tables of the phase alpha i + beta j on the m x m grid;
/// the column tables in the order the basis' inner loop (over wavelengths, at one baseline and
/// chunk of columns) reads them.
#[derive(Debug, Clone)]
pub struct BasisPlan {
    m: usize,
    n_wavelengths: usize,
    /// (alpha, beta) of each table, `[k * n_wavelengths + w]`.
    coefficients: Vec<(f64, f64)>,
    /// Row tables, row-major by row so that a block row reads one stretch:
    /// `[(i * n_baselines * n_wavelengths + k * n_wavelengths + w) * 2]` the cos, `+ 1` the sin.
    rows: Vec<f64>,
    /// Column tables, zero-padded to `chunks` chunks of `FRINGE_LANES`, per baseline
    /// `[k * chunks * 2 L n_wavelengths ..]` as [`FringeRows::cols`] takes them.
    cols: Vec<f64>,
    chunks: usize,
}

/// Row and column tables of cos and sin for a phase a*i + b*j + c on an m x m grid.
#[derive(Debug, Clone)]
struct SeparablePhase {
    row_cos: Vec<f64>,
    row_sin: Vec<f64>,
    col_cos: Vec<f64>,
    col_sin: Vec<f64>,
}

impl SeparablePhase {
    fn new(m: usize, a: f64, b: f64, c: f64) -> Self {
        let mut row_cos = Vec::with_capacity(m);
        let mut row_sin = Vec::with_capacity(m);
        let mut col_cos = Vec::with_capacity(m);
        let mut col_sin = Vec::with_capacity(m);
        for i in 0..m {
            let (s, co) = portable::sin_cos(a * i as f64 + c);
            row_cos.push(co);
            row_sin.push(s);
            let (s, co) = portable::sin_cos(b * i as f64);
            col_cos.push(co);
            col_sin.push(s);
        }
        SeparablePhase {
            row_cos,
            row_sin,
            col_cos,
            col_sin,
        }
    }
}

/// Columns computed together: wavelengths are the inner loop, so the accumulators of a group of
/// columns stay in registers. The column tables and the beam rows are padded to a multiple.
const FRINGE_LANES: usize = 4;

/// Block rows computed together, so that each column table value loaded serves several.
const FRINGE_GROUP: usize = 2;

/// The fringe terms of `G` block rows (`over` oversampled rows each) at one baseline, summed
/// over the wavelengths.
struct FringeRows<'a> {
    /// Primary beams of the block rows, `[((g * n_wavelengths + w) * over + s) * mp + j]`, mp the
    /// padded width.
    beam: &'a [f64],
    /// Row factors, `[(g * n_wavelengths + w) * 2 * over + s]` the cos and `[.. + over + s]` the
    /// sin of row s of block row g (bandpass weight, factor 2 and centre folded in).
    row_fac: &'a [f64],
    /// Column tables of this baseline in chunks of `FRINGE_LANES` columns:
    /// `[(c * n_wavelengths + w) * 2 L + l]` the cos, `[.. + L + l]` the sin of column c L + l.
    cols: &'a [f64],
    over: usize,
    n_wavelengths: usize,
    /// The cos and sin terms per oversampled column, `[g * mp + j]` (still to be summed over
    /// column blocks).
    out_cos: &'a mut [f64],
    out_sin: &'a mut [f64],
}

/// Sums the fringe terms of `b` over the wavelengths. With the phase e^{i phi} = R_i C_j, the
/// rows are first collapsed, Q_j = sum_i PB_ij R_i, and then cos = Re(Q C), sin = Im(Q C):
/// 2 over + 4 multiply-adds per column instead of 8 over. Each column is computed with the
/// same operations in the same order whatever the lane width the compiler picks (the lanes are
/// independent), so the AVX2 path, the SSE2 path and wasm's simd128 give the same bits.
fn block_row_fringes<const G: usize>(b: FringeRows) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for
            unsafe { block_row_fringes_avx2::<G>(b) };
            return;
        }
    }
    block_row_fringes_generic::<G>(b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_row_fringes_avx2<const G: usize>(b: FringeRows) {
    block_row_fringes_generic::<G>(b)
}

/// The oversampling factor as a constant for the usual 3 (the loops over rows unroll), as a
/// variable otherwise: the same operations in the same order either way.
#[inline(always)]
fn block_row_fringes_generic<const G: usize>(mut b: FringeRows) {
    let chunks = b.cols.len() / (2 * FRINGE_LANES * b.n_wavelengths);
    if b.over == 3 {
        for c in 0..chunks {
            fringe_lanes::<G, 3>(&mut b, c, 3);
        }
    } else {
        let over = b.over;
        for c in 0..chunks {
            fringe_lanes::<G, 0>(&mut b, c, over);
        }
    }
}

/// Columns c L..(c + 1) L of [`block_row_fringes`] for G block rows: per wavelength,
/// q = sum_s R_s PB_s (rows in increasing s), then cos += Re(q C), sin += Im(q C). `O` is the
/// oversampling factor when known at compile time (else 0 and `over` is used).
#[inline(always)]
fn fringe_lanes<const G: usize, const O: usize>(b: &mut FringeRows, c: usize, over: usize) {
    const L: usize = FRINGE_LANES;
    let over = if O > 0 { O } else { over };
    let nw = b.n_wavelengths;
    let mp = b.out_cos.len() / G;
    let j0 = c * L;
    let cols = &b.cols[c * nw * 2 * L..(c + 1) * nw * 2 * L];
    let mut ac = [[0.0f64; L]; G];
    let mut asn = [[0.0f64; L]; G];
    for (w, t) in cols.chunks_exact(2 * L).enumerate() {
        let cc: &[f64; L] = t[..L].try_into().expect("L columns");
        let cs: &[f64; L] = t[L..].try_into().expect("L columns");
        for g in 0..G {
            let gw = g * nw + w;
            let f = &b.row_fac[gw * 2 * over..(gw + 1) * 2 * over];
            let rows = &b.beam[gw * over * mp..(gw + 1) * over * mp];
            let mut qr = [0.0f64; L];
            let mut qi = [0.0f64; L];
            for s in 0..over {
                let p: &[f64; L] = rows[s * mp + j0..s * mp + j0 + L]
                    .try_into()
                    .expect("L columns");
                let (rc, rs) = (f[s], f[over + s]);
                if s == 0 {
                    for l in 0..L {
                        qr[l] = rc * p[l];
                        qi[l] = rs * p[l];
                    }
                } else {
                    for l in 0..L {
                        qr[l] += rc * p[l];
                        qi[l] += rs * p[l];
                    }
                }
            }
            let (ac, asn) = (&mut ac[g], &mut asn[g]);
            for l in 0..L {
                ac[l] = qr[l] * cc[l] + (-qi[l] * cs[l] + ac[l]);
                asn[l] = qr[l] * cs[l] + (qi[l] * cc[l] + asn[l]);
            }
        }
    }
    for g in 0..G {
        b.out_cos[g * mp + j0..g * mp + j0 + L].copy_from_slice(&ac[g]);
        b.out_sin[g * mp + j0..g * mp + j0 + L].copy_from_slice(&asn[g]);
    }
}

/// xi' and eta' as linear functions of the oversampled row and column indices.
struct BeamLinear {
    xi_0: f64,
    xi_i: f64,
    xi_j: f64,
    eta_0: f64,
    eta_i: f64,
    eta_j: f64,
}

/// The primary beam of one wavelength for one centre: its linear forms, its three separable
/// cosine tables and the grid pixel that holds the centre (if on the grid).
struct BeamPlan {
    lin: BeamLinear,
    tables: Vec<SeparablePhase>,
    centre_px: Option<(usize, usize)>,
}

impl BeamPlan {
    /// |H|^2 of the oversampled rows `rows` (m columns each) into `out` (rows.len() * m).
    fn rows(&self, m: usize, rows: std::ops::Range<usize>, out: &mut [f64]) {
        let start = rows.start;
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports the features the function is compiled for
                unsafe { beam_rows_avx2(&self.lin, &self.tables, m, rows.clone(), out) };
            } else {
                beam_rows(&self.lin, &self.tables, m, rows.clone(), out);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        beam_rows(&self.lin, &self.tables, m, rows.clone(), out);
        if let Some((ci, cj)) = self.centre_px {
            if rows.contains(&ci) {
                out[(ci - start) * m + cj] = CENTRE_VALUE * CENTRE_VALUE;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn beam_rows_avx2(
    lin: &BeamLinear,
    tables: &[SeparablePhase],
    m: usize,
    rows: std::ops::Range<usize>,
    out: &mut [f64],
) {
    beam_rows(lin, tables, m, rows, out)
}

/// |H|^2 on rows `rows` of the m x m grid from the three separable cosine tables; each value
/// depends only on its own (i, j).
#[inline(always)]
fn beam_rows(
    lin: &BeamLinear,
    tables: &[SeparablePhase],
    m: usize,
    rows: std::ops::Range<usize>,
    out: &mut [f64],
) {
    let (t1, t2, t3) = (&tables[0], &tables[1], &tables[2]);
    let (c1c, c1s) = (&t1.col_cos[..m], &t1.col_sin[..m]);
    let (c2c, c2s) = (&t2.col_cos[..m], &t2.col_sin[..m]);
    let (c3c, c3s) = (&t3.col_cos[..m], &t3.col_sin[..m]);
    let start = rows.start;
    for i in rows {
        let xi_row = lin.xi_0 + lin.xi_i * i as f64;
        let eta_row = lin.eta_0 + lin.eta_i * i as f64;
        let row = &mut out[(i - start) * m..(i - start + 1) * m];
        let (r1c, r1s) = (t1.row_cos[i], t1.row_sin[i]);
        let (r2c, r2s) = (t2.row_cos[i], t2.row_sin[i]);
        let (r3c, r3s) = (t3.row_cos[i], t3.row_sin[i]);
        for j in 0..m {
            let xi = xi_row + lin.xi_j * j as f64;
            let eta = eta_row + lin.eta_j * j as f64;
            let c1 = r1c * c1c[j] - r1s * c1s[j];
            let c2 = r2c * c2c[j] - r2s * c2s[j];
            let c3 = r3c * c3c[j] - r3s * c3s[j];
            let h = hexagon_from_cosines(xi, eta, c1, c2, c3);
            row[j] = h * h;
        }
    }
}

impl LgModel {
    pub fn new(
        geometry: MaskGeometry,
        bandpass: Vec<BandpassSample>,
        affine: Affine2d,
        pixscale_rad: f64,
        oversample: usize,
        n: usize,
    ) -> Self {
        let pairs = baselines(geometry.n_holes());
        LgModel {
            geometry,
            bandpass,
            affine,
            pixscale_rad,
            oversample,
            n,
            pairs,
        }
    }

    pub fn n_slices(&self) -> usize {
        2 + 2 * self.pairs.len()
    }

    /// The oversampled sample (row, col) whose primary beam is set to the hexagon's centre
    /// value for a PSF offset (as upstream does, at the truncated centre): the basis jumps
    /// where it changes, so [`super::expansion`] interpolates only within one such cell.
    pub fn centre_sample(&self, psf_offset: (f64, f64)) -> (f64, f64) {
        let c = self.centre(psf_offset);
        (c.0.trunc(), c.1.trunc())
    }

    /// Centre of the oversampled grid for a PSF offset (x_off = column, y_off = row, detector
    /// pixels), as (row, col) in oversampled pixels (upstream.md §3.3).
    fn centre(&self, psf_offset: (f64, f64)) -> (f64, f64) {
        let m = (self.n * self.oversample) as f64;
        let o = self.oversample as f64;
        (
            0.5 * m - 0.5 + o * psf_offset.1,
            0.5 * m - 0.5 + o * psf_offset.0,
        )
    }

    /// Primary beam |H|^2 on the oversampled grid at one wavelength, written into `out` (m*m).
    fn primary_beam(&self, wavelength_m: f64, centre: (f64, f64), out: &mut [f64]) {
        let m = self.n * self.oversample;
        self.beam_plan(wavelength_m, centre).rows(m, 0..m, out);
    }

    /// What the primary beam at one wavelength and centre is computed from (upstream.md §3.2).
    fn beam_plan(&self, wavelength_m: f64, centre: (f64, f64)) -> BeamPlan {
        let m = self.n * self.oversample;
        let pitch = self.pixscale_rad / self.oversample as f64;
        let scale = self.geometry.hole_flat_to_flat_m / wavelength_m * pitch;
        // upstream moves a centre that sits exactly on a grid point by 1e-8 (§3.2 step 1)
        let nudge = |c: f64| {
            if (c - c.trunc()).abs() < 0.5e-8 {
                c + 1e-8
            } else {
                c
            }
        };
        let (c0, c1) = (nudge(centre.0), nudge(centre.1));
        let [[a, b], [c, d]] = self.affine.f_args_matrix();
        // xi' = s(a (i - c0) + b (j - c1)), eta' = s(c (i - c0) + d (j - c1))
        let (xi_i, xi_j) = (scale * a, scale * b);
        let (eta_i, eta_j) = (scale * c, scale * d);
        let xi_0 = -(xi_i * c0 + xi_j * c1);
        let eta_0 = -(eta_i * c0 + eta_j * c1);
        let tables: Vec<SeparablePhase> = COSINE_ARGUMENTS
            .iter()
            .map(|&(kx, ke)| {
                SeparablePhase::new(
                    m,
                    kx * xi_i + ke * eta_i,
                    kx * xi_j + ke * eta_j,
                    kx * xi_0 + ke * eta_0,
                )
            })
            .collect();
        let lin = BeamLinear {
            xi_0,
            xi_i,
            xi_j,
            eta_0,
            eta_i,
            eta_j,
        };
        let (ci, cj) = (centre.0.trunc(), centre.1.trunc());
        let centre_px = (ci >= 0.0 && cj >= 0.0 && (ci as usize) < m && (cj as usize) < m)
            .then_some((ci as usize, cj as usize));
        BeamPlan {
            lin,
            tables,
            centre_px,
        }
    }

    /// Fringe phase coefficients (per row index, per column index) of baseline `pair` at one
    /// wavelength: phi = alpha (i - c0) + beta (j - c1) (upstream.md §3.4).
    fn fringe_coefficients(&self, pair: [usize; 2], wavelength_m: f64) -> (f64, f64) {
        let pitch = self.pixscale_rad / self.oversample as f64;
        let ca = self.geometry.centres_inst_m[pair[0]];
        let cb = self.geometry.centres_inst_m[pair[1]];
        let (b0, b1) = (ca[0] - cb[0], ca[1] - cb[1]);
        let [[a, b], [c, d]] = self.affine.f_args_matrix();
        let k = 2.0 * PI * pitch / wavelength_m;
        // u' = a u + b v, v' = c u + d v; phi = k (u' b0 + v' b1)
        (k * (a * b0 + c * b1), k * (b * b0 + d * b1))
    }

    /// Everything [`LgModel::plan`] depends on, as bits: models with equal keys have identical
    /// plans (so a planner can share one between exposures).
    pub fn plan_key(&self) -> Vec<u64> {
        let [[a, b], [c, d]] = self.affine.f_args_matrix();
        let mut key = vec![
            self.n as u64,
            self.oversample as u64,
            self.pixscale_rad.to_bits(),
            self.pairs.len() as u64,
            self.bandpass.len() as u64,
        ];
        key.extend([a, b, c, d].map(f64::to_bits));
        key.extend(self.pairs.iter().flat_map(|p| p.map(|h| h as u64)));
        key.extend(
            self.geometry
                .centres_inst_m
                .iter()
                .flatten()
                .map(|v| v.to_bits()),
        );
        key.extend(self.bandpass.iter().map(|s| s.wavelength_m.to_bits()));
        key
    }

    /// The once-per-exposure part of the basis: centre-free fringe phase tables per wavelength
    /// and baseline.
    pub fn plan(&self) -> BasisPlan {
        let m = self.n * self.oversample;
        let (nw, nb) = (self.bandpass.len(), self.pairs.len());
        const L: usize = FRINGE_LANES;
        let chunks = m.div_ceil(L);
        let mut plan = BasisPlan {
            m,
            n_wavelengths: nw,
            coefficients: Vec::with_capacity(nb * nw),
            rows: vec![0.0; m * nb * nw * 2],
            cols: vec![0.0; nb * chunks * nw * 2 * L],
            chunks,
        };
        for (k, &pair) in self.pairs.iter().enumerate() {
            for (w, sample) in self.bandpass.iter().enumerate() {
                let (alpha, beta) = self.fringe_coefficients(pair, sample.wavelength_m);
                let t = SeparablePhase::new(m, alpha, beta, 0.0);
                plan.coefficients.push((alpha, beta));
                for i in 0..m {
                    let at = (i * nb * nw + k * nw + w) * 2;
                    plan.rows[at] = t.row_cos[i];
                    plan.rows[at + 1] = t.row_sin[i];
                }
                for j in 0..m {
                    let at = ((k * chunks + j / L) * nw + w) * 2 * L + j % L;
                    plan.cols[at] = t.col_cos[j];
                    plan.cols[at + L] = t.col_sin[j];
                }
            }
        }
        plan
    }

    /// The model basis for one PSF offset (x_off, y_off) in detector pixels.
    pub fn basis(&self, psf_offset: (f64, f64)) -> ModelBasis {
        self.basis_with(&self.plan(), psf_offset)
    }

    /// The model basis for one PSF offset, reusing a plan made by `plan()` on this model.
    ///
    /// One block row of `over` oversampled rows at a time: the primary beams of its rows at
    /// every wavelength, then per baseline the fringe terms summed over wavelengths
    /// ([`block_row_fringes`]), then the sums over column blocks. Only one block row of beams
    /// is held (not the m x m x n_wavelengths cube).
    pub fn basis_with(&self, plan: &BasisPlan, psf_offset: (f64, f64)) -> ModelBasis {
        let n = self.n;
        let over = self.oversample;
        let m = n * over;
        assert!(
            plan.m == m && plan.n_wavelengths == self.bandpass.len(),
            "basis plan made for another model"
        );
        let np = n * n;
        let nb = self.pairs.len();
        let nw = self.bandpass.len();
        let n_slices = self.n_slices();
        let n_holes = self.geometry.n_holes() as f64;
        let mut slices = vec![0.0; n_slices * np];
        let centre = self.centre(psf_offset);
        let beam_plans: Vec<BeamPlan> = self
            .bandpass
            .iter()
            .map(|sample| self.beam_plan(sample.wavelength_m, centre))
            .collect();
        // per baseline and wavelength: the rotation of the centre-free row table by the constant
        // phase -(alpha c0 + beta c1), and the bandpass weight with the factor 2 of "2 cos" /
        // "2 sin"
        let rotations: Vec<(f64, f64, f64)> = plan
            .coefficients
            .iter()
            .enumerate()
            .map(|(kw, &(alpha, beta))| {
                let (sin0, cos0) = portable::sin_cos(-(alpha * centre.0 + beta * centre.1));
                (sin0, cos0, 2.0 * self.bandpass[kw % nw].weight)
            })
            .collect();
        const G: usize = FRINGE_GROUP;
        let mp = plan.chunks * FRINGE_LANES;
        let cols_per_k = plan.chunks * nw * 2 * FRINGE_LANES;
        // padding columns stay zero: they are computed and never read
        let mut beam = vec![0.0; G * nw * over * mp];
        let mut row_fac = vec![0.0; nb * G * nw * 2 * over];
        let mut acc_beam = vec![0.0; m];
        let mut out_cos = vec![0.0; G * mp];
        let mut out_sin = vec![0.0; G * mp];
        // block sums over `over` columns
        let add_row = |dst: &mut [f64], src: &[f64], scale: f64| {
            for (d, chunk) in dst.iter_mut().zip(src.chunks_exact(over)) {
                *d += scale * chunk.iter().sum::<f64>();
            }
        };
        let mut first_block = 0;
        while first_block < n {
            let g_here = if n - first_block >= G { G } else { 1 };
            for g in 0..g_here {
                let big_i = first_block + g;
                let rows = big_i * over..(big_i + 1) * over;
                acc_beam.iter_mut().for_each(|v| *v = 0.0);
                for (w, (sample, bp)) in self.bandpass.iter().zip(&beam_plans).enumerate() {
                    let at = (g * nw + w) * over * mp;
                    let rows_w = &mut beam[at..at + over * mp];
                    for (s, i) in rows.clone().enumerate() {
                        bp.rows(m, i..i + 1, &mut rows_w[s * mp..s * mp + m]);
                    }
                    let weight = sample.weight;
                    for p_row in rows_w.chunks_exact(mp) {
                        for (a, p) in acc_beam.iter_mut().zip(&p_row[..m]) {
                            *a += weight * p;
                        }
                    }
                }
                let row_off = big_i * n;
                add_row(&mut slices[row_off..row_off + n], &acc_beam, n_holes);
                for (s, i) in rows.clone().enumerate() {
                    let table = &plan.rows[i * nb * nw * 2..(i + 1) * nb * nw * 2];
                    for (kw, (&(sin0, cos0, f), cs)) in
                        rotations.iter().zip(table.chunks_exact(2)).enumerate()
                    {
                        let (k, w) = (kw / nw, kw % nw);
                        let at = ((k * G + g) * nw + w) * 2 * over;
                        let (c, sn) = (cs[0], cs[1]);
                        row_fac[at + s] = f * (c * cos0 - sn * sin0);
                        row_fac[at + over + s] = f * (sn * cos0 + c * sin0);
                    }
                }
            }
            for k in 0..nb {
                let fac = &row_fac[k * G * nw * 2 * over..][..g_here * nw * 2 * over];
                let rows = FringeRows {
                    beam: &beam[..g_here * nw * over * mp],
                    row_fac: fac,
                    cols: &plan.cols[k * cols_per_k..(k + 1) * cols_per_k],
                    over,
                    n_wavelengths: nw,
                    out_cos: &mut out_cos[..g_here * mp],
                    out_sin: &mut out_sin[..g_here * mp],
                };
                if g_here == G {
                    block_row_fringes::<G>(rows);
                } else {
                    block_row_fringes::<1>(rows);
                }
                for g in 0..g_here {
                    let row_off = (first_block + g) * n;
                    let cos_row = (2 * k + 1) * np + row_off;
                    let sin_row = (2 * k + 2) * np + row_off;
                    add_row(
                        &mut slices[cos_row..cos_row + n],
                        &out_cos[g * mp..g * mp + m],
                        1.0,
                    );
                    add_row(
                        &mut slices[sin_row..sin_row + n],
                        &out_sin[g * mp..g * mp + m],
                        1.0,
                    );
                }
            }
            first_block += g_here;
        }
        let weight_sum: f64 = self.bandpass.iter().map(|b| b.weight).sum();
        let block = (over * over) as f64;
        slices[(n_slices - 1) * np..]
            .iter_mut()
            .for_each(|v| *v = weight_sum * block);
        ModelBasis {
            n,
            n_slices,
            slices,
        }
    }

    /// Simulated PSF (n_fov x n_fov detector pixels) of a point source with perfect pistons at a
    /// PSF offset, summed over the bandpass (upstream.md §3.5); used by the rotation search.
    pub fn simulate_psf(&self, n_fov: usize, psf_offset: (f64, f64)) -> Vec<f64> {
        let over = self.oversample;
        let m = n_fov * over;
        let sized = LgModel {
            n: n_fov,
            ..self.clone()
        };
        let centre = sized.centre(psf_offset);
        let pitch = self.pixscale_rad / over as f64;
        let [[a, b], [c, d]] = self.affine.f_args_matrix();
        let mut beam = vec![0.0; m * m];
        let mut psf = vec![0.0; n_fov * n_fov];
        let mut fringe_re = vec![0.0; m * m];
        let mut fringe_im = vec![0.0; m * m];
        for sample in &self.bandpass {
            sized.primary_beam(sample.wavelength_m, centre, &mut beam);
            fringe_re.iter_mut().for_each(|v| *v = 0.0);
            fringe_im.iter_mut().for_each(|v| *v = 0.0);
            let k = -2.0 * PI * pitch / sample.wavelength_m;
            for h in &self.geometry.centres_inst_m {
                // exp(-2 pi i p (h0 u' + h1 v') / lambda), u = i - c0, v = j - c1
                let alpha = k * (a * h[0] + c * h[1]);
                let beta = k * (b * h[0] + d * h[1]);
                let t = SeparablePhase::new(m, alpha, beta, -(alpha * centre.0 + beta * centre.1));
                for i in 0..m {
                    let (rc, rs) = (t.row_cos[i], t.row_sin[i]);
                    let re = &mut fringe_re[i * m..(i + 1) * m];
                    let im = &mut fringe_im[i * m..(i + 1) * m];
                    for j in 0..m {
                        re[j] += rc * t.col_cos[j] - rs * t.col_sin[j];
                        im[j] += rc * t.col_sin[j] + rs * t.col_cos[j];
                    }
                }
            }
            for i in 0..m {
                for j in 0..m {
                    let idx = i * m + j;
                    let v = beam[idx] * (fringe_re[idx].powi(2) + fringe_im[idx].powi(2));
                    psf[(i / over) * n_fov + j / over] += sample.weight * v;
                }
            }
        }
        psf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portable::Rng;

    /// The fringe kernel of one column, written out plainly: the order of operations the
    /// vectorised kernel must keep lane by lane.
    fn fringe_column(b: &FringeRows, g: usize, j: usize) -> (f64, f64) {
        let (over, nw) = (b.over, b.n_wavelengths);
        let mp = b.out_cos.len() / (b.row_fac.len() / (nw * 2 * over));
        let (c, l) = (j / FRINGE_LANES, j % FRINGE_LANES);
        let (mut ac, mut asn) = (0.0, 0.0);
        for w in 0..nw {
            let gw = g * nw + w;
            let f = &b.row_fac[gw * 2 * over..];
            let mut qr = f[0] * b.beam[gw * over * mp + j];
            let mut qi = f[over] * b.beam[gw * over * mp + j];
            for s in 1..over {
                qr += f[s] * b.beam[(gw * over + s) * mp + j];
                qi += f[over + s] * b.beam[(gw * over + s) * mp + j];
            }
            let t = &b.cols[(c * nw + w) * 2 * FRINGE_LANES..];
            let (cc, cs) = (t[l], t[FRINGE_LANES + l]);
            ac = qr * cc + (-qi * cs + ac);
            asn = qr * cs + (qi * cc + asn);
        }
        (ac, asn)
    }

    #[test]
    fn fringe_kernel_gives_the_plain_loops_bits_on_every_path() {
        let mut rng = Rng::new(7);
        for over in [3usize, 5] {
            let (nw, chunks) = (4usize, 3usize);
            let mp = chunks * FRINGE_LANES;
            const G: usize = FRINGE_GROUP;
            let mut draw = |k: usize| (0..k).map(|_| rng.normal()).collect::<Vec<f64>>();
            let beam = draw(G * nw * over * mp);
            let row_fac = draw(G * nw * 2 * over);
            let cols = draw(chunks * nw * 2 * FRINGE_LANES);
            let run = |dispatch: bool| {
                let (mut oc, mut os) = (vec![0.0; G * mp], vec![0.0; G * mp]);
                let rows = FringeRows {
                    beam: &beam,
                    row_fac: &row_fac,
                    cols: &cols,
                    over,
                    n_wavelengths: nw,
                    out_cos: &mut oc,
                    out_sin: &mut os,
                };
                // the dispatched path is AVX2 on a CPU that has it; the generic one is what
                // wasm32 and other targets compile
                if dispatch {
                    block_row_fringes::<G>(rows);
                } else {
                    block_row_fringes_generic::<G>(rows);
                }
                (oc, os)
            };
            let (fast, generic) = (run(true), run(false));
            assert_eq!(fast, generic, "over = {over}");
            let (mut oc, mut os) = (vec![0.0; G * mp], vec![0.0; G * mp]);
            let rows = FringeRows {
                beam: &beam,
                row_fac: &row_fac,
                cols: &cols,
                over,
                n_wavelengths: nw,
                out_cos: &mut oc,
                out_sin: &mut os,
            };
            for g in 0..G {
                for j in 0..mp {
                    let (c, s) = fringe_column(&rows, g, j);
                    assert_eq!(c.to_bits(), fast.0[g * mp + j].to_bits(), "cos {g} {j}");
                    assert_eq!(s.to_bits(), fast.1[g * mp + j].to_bits(), "sin {g} {j}");
                }
            }
        }
    }

    #[test]
    fn beam_rows_give_the_same_bits_alone_and_in_blocks() {
        let model = LgModel::new(
            MaskGeometry::default_all_holes(),
            vec![BandpassSample {
                wavelength_m: 4.8e-6,
                weight: 1.0,
            }],
            Affine2d::commissioning(),
            65.6e-3f64.to_radians() / 3600.0,
            3,
            11,
        );
        let m = 33;
        let mut whole = vec![0.0; m * m];
        model.primary_beam(4.8e-6, (16.0, 16.2), &mut whole);
        let plan = model.beam_plan(4.8e-6, (16.0, 16.2));
        for i in 0..m {
            let mut row = vec![0.0; m];
            plan.rows(m, i..i + 1, &mut row);
            assert_eq!(row, whole[i * m..(i + 1) * m], "row {i}");
        }
        assert_eq!(whole[16 * m + 16], CENTRE_VALUE * CENTRE_VALUE);
    }
}
