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

/// Centre-free fringe tables of an `LgModel`, built once per exposure.
#[derive(Debug, Clone)]
pub struct BasisPlan {
    fringe: Vec<Vec<SeparablePhase>>,
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

/// The fringe terms of one block of oversampled rows, for one baseline at one wavelength.
struct FringeBlock<'a> {
    /// Primary beam on the oversampled grid, m x m.
    beam: &'a [f64],
    rows: std::ops::Range<usize>,
    phase: &'a SeparablePhase,
    /// Where the cos and sin terms accumulate, length m (still to be summed over column blocks).
    acc_cos: &'a mut [f64],
    acc_sin: &'a mut [f64],
    /// Scratch, length m.
    q_re: &'a mut [f64],
    q_im: &'a mut [f64],
}

/// Adds the fringe terms of `b` to its accumulators. With the phase e^{i phi} = R_i C_j, the
/// rows are first collapsed, Q_j = sum_i PB_ij R_i, and then cos = Re(Q C), sin = Im(Q C):
/// 2 over + 4 multiply-adds per column instead of 8 over.
fn block_row_fringes(b: FringeBlock) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for
            unsafe { block_row_fringes_avx2(b) };
            return;
        }
    }
    block_row_fringes_generic(b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn block_row_fringes_avx2(b: FringeBlock) {
    block_row_fringes_generic(b)
}

#[inline(always)]
fn block_row_fringes_generic(b: FringeBlock) {
    let FringeBlock {
        beam,
        rows,
        phase: t,
        acc_cos,
        acc_sin,
        q_re,
        q_im,
    } = b;
    let m = acc_cos.len();
    let (qr, qi) = (&mut q_re[..m], &mut q_im[..m]);
    let (cc, cs) = (&t.col_cos[..m], &t.col_sin[..m]);
    let (ac, asn) = (&mut acc_cos[..m], &mut acc_sin[..m]);
    let mut first = true;
    for i in rows {
        let (rc, rs) = (t.row_cos[i], t.row_sin[i]);
        let p = &beam[i * m..(i + 1) * m];
        if first {
            for j in 0..m {
                qr[j] = rc * p[j];
                qi[j] = rs * p[j];
            }
            first = false;
        } else {
            for j in 0..m {
                qr[j] += rc * p[j];
                qi[j] += rs * p[j];
            }
        }
    }
    for j in 0..m {
        ac[j] = qr[j] * cc[j] + (-qi[j] * cs[j] + ac[j]);
        asn[j] = qr[j] * cs[j] + (qi[j] * cc[j] + asn[j]);
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

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn beam_rows_avx2(lin: &BeamLinear, tables: &[SeparablePhase], m: usize, out: &mut [f64]) {
    beam_rows(lin, tables, m, out)
}

/// |H|^2 on the m x m grid from the three separable cosine tables.
#[inline(always)]
fn beam_rows(lin: &BeamLinear, tables: &[SeparablePhase], m: usize, out: &mut [f64]) {
    let (t1, t2, t3) = (&tables[0], &tables[1], &tables[2]);
    let (c1c, c1s) = (&t1.col_cos[..m], &t1.col_sin[..m]);
    let (c2c, c2s) = (&t2.col_cos[..m], &t2.col_sin[..m]);
    let (c3c, c3s) = (&t3.col_cos[..m], &t3.col_sin[..m]);
    for i in 0..m {
        let xi_row = lin.xi_0 + lin.xi_i * i as f64;
        let eta_row = lin.eta_0 + lin.eta_i * i as f64;
        let row = &mut out[i * m..(i + 1) * m];
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
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports the features the function is compiled for
                unsafe { beam_rows_avx2(&lin, &tables, m, out) };
            } else {
                beam_rows(&lin, &tables, m, out);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        beam_rows(&lin, &tables, m, out);
        let (ci, cj) = (centre.0.trunc(), centre.1.trunc());
        if ci >= 0.0 && cj >= 0.0 && (ci as usize) < m && (cj as usize) < m {
            out[ci as usize * m + cj as usize] = CENTRE_VALUE * CENTRE_VALUE;
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

    /// The once-per-exposure part of the basis: centre-free fringe phase tables per wavelength
    /// and baseline.
    pub fn plan(&self) -> BasisPlan {
        let m = self.n * self.oversample;
        let fringe = self
            .bandpass
            .iter()
            .map(|sample| {
                self.pairs
                    .iter()
                    .map(|&pair| {
                        let (alpha, beta) = self.fringe_coefficients(pair, sample.wavelength_m);
                        SeparablePhase::new(m, alpha, beta, 0.0)
                    })
                    .collect()
            })
            .collect();
        BasisPlan { fringe }
    }

    /// The model basis for one PSF offset (x_off, y_off) in detector pixels.
    pub fn basis(&self, psf_offset: (f64, f64)) -> ModelBasis {
        self.basis_with(&self.plan(), psf_offset)
    }

    /// The model basis for one PSF offset, reusing a plan made by `plan()` on this model.
    pub fn basis_with(&self, plan: &BasisPlan, psf_offset: (f64, f64)) -> ModelBasis {
        let n = self.n;
        let over = self.oversample;
        let m = n * over;
        let np = n * n;
        let nb = self.pairs.len();
        let n_slices = self.n_slices();
        let n_holes = self.geometry.n_holes() as f64;
        let mut slices = vec![0.0; n_slices * np];
        let centre = self.centre(psf_offset);
        // per wavelength: the primary beam on the oversampled grid and the fringe phase tables,
        // with the bandpass weight and the factor 2 of "2 cos" / "2 sin" folded into the rows
        let beams: Vec<Vec<f64>> = self
            .bandpass
            .iter()
            .map(|sample| {
                let mut beam = vec![0.0; m * m];
                self.primary_beam(sample.wavelength_m, centre, &mut beam);
                beam
            })
            .collect();
        let phases: Vec<Vec<SeparablePhase>> = self
            .bandpass
            .iter()
            .zip(&plan.fringe)
            .map(|(sample, tables)| {
                self.pairs
                    .iter()
                    .zip(tables)
                    .map(|(&pair, base)| {
                        let (alpha, beta) = self.fringe_coefficients(pair, sample.wavelength_m);
                        // phi = alpha i + beta j - (alpha c0 + beta c1): rotate the centre-free
                        // row table by the constant term
                        let (sin0, cos0) = portable::sin_cos(-(alpha * centre.0 + beta * centre.1));
                        let f = 2.0 * sample.weight;
                        let (row_cos, row_sin) = base
                            .row_cos
                            .iter()
                            .zip(&base.row_sin)
                            .map(|(&c, &s)| (f * (c * cos0 - s * sin0), f * (s * cos0 + c * sin0)))
                            .unzip();
                        SeparablePhase {
                            row_cos,
                            row_sin,
                            col_cos: base.col_cos.clone(),
                            col_sin: base.col_sin.clone(),
                        }
                    })
                    .collect()
            })
            .collect();
        // accumulators over one block of `over` oversampled rows, all wavelengths
        let mut acc_cos = vec![0.0; nb * m];
        let mut acc_sin = vec![0.0; nb * m];
        let mut acc_beam = vec![0.0; m];
        let mut q_re = vec![0.0; m];
        let mut q_im = vec![0.0; m];
        for big_i in 0..n {
            let rows = big_i * over..(big_i + 1) * over;
            acc_cos.iter_mut().for_each(|v| *v = 0.0);
            acc_sin.iter_mut().for_each(|v| *v = 0.0);
            acc_beam.iter_mut().for_each(|v| *v = 0.0);
            for ((sample, beam), tables) in self.bandpass.iter().zip(&beams).zip(&phases) {
                let w = sample.weight;
                for i in rows.clone() {
                    for (a, p) in acc_beam.iter_mut().zip(&beam[i * m..(i + 1) * m]) {
                        *a += w * p;
                    }
                }
                for (k, phase) in tables.iter().enumerate() {
                    block_row_fringes(FringeBlock {
                        beam,
                        rows: rows.clone(),
                        phase,
                        acc_cos: &mut acc_cos[k * m..(k + 1) * m],
                        acc_sin: &mut acc_sin[k * m..(k + 1) * m],
                        q_re: &mut q_re,
                        q_im: &mut q_im,
                    });
                }
            }
            // block sums over `over` columns
            let row_off = big_i * n;
            let add_row = |dst: &mut [f64], src: &[f64], scale: f64| {
                for (d, chunk) in dst.iter_mut().zip(src.chunks_exact(over)) {
                    *d += scale * chunk.iter().sum::<f64>();
                }
            };
            add_row(&mut slices[row_off..row_off + n], &acc_beam, n_holes);
            for k in 0..nb {
                let cos_row = (2 * k + 1) * np + row_off;
                let sin_row = (2 * k + 2) * np + row_off;
                add_row(
                    &mut slices[cos_row..cos_row + n],
                    &acc_cos[k * m..(k + 1) * m],
                    1.0,
                );
                add_row(
                    &mut slices[sin_row..sin_row + n],
                    &acc_sin[k * m..(k + 1) * m],
                    1.0,
                );
            }
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
