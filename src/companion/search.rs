//! The grid search (companion.md §5.1–§5.4): nodes (i h, j h) within the annulus, walked row by
//! row with phasors from sin/cos at each row segment's first node and then stepped by the
//! precomputed exp(−2πi u_b h/λ_k) (no trigonometry per node); per node and file
//! y_b = Σ_k w_k Im z_bk, c = d̃ᵀ(A y), G = ‖A y‖², and the closed-form linear contrast. Only
//! δ > 0 and the half row δ = 0, α > 0 are walked: y is odd under (α, δ) → (−α, −δ), so the
//! mirrored node has the same G and −c. Closure phases only (V² are used by the refinement).

use super::input::N_BASELINES;
use super::model::{BandRule, MAS_RAD};
use super::problem::FitFile;
use crate::portable;
use std::f64::consts::PI;

/// The grid: step and annulus (mas), and half its side in nodes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub step_mas: f64,
    pub rmin_mas: f64,
    pub rmax_mas: f64,
    pub half: i32,
}

impl Grid {
    pub fn new(step_mas: f64, rmin_mas: f64, rmax_mas: f64) -> Grid {
        Grid {
            step_mas,
            rmin_mas,
            rmax_mas,
            half: (rmax_mas / step_mas + 1e-9).floor() as i32,
        }
    }
    /// Nodes per side of the full plane.
    pub fn side(&self) -> usize {
        (2 * self.half + 1) as usize
    }
    /// Index in the full plane (row = north, column = east, both from −half).
    pub fn index(&self, i: i32, j: i32) -> usize {
        (j + self.half) as usize * self.side() + (i + self.half) as usize
    }
    pub fn inside(&self, i: i32, j: i32) -> bool {
        let r = self.step_mas * ((i * i + j * j) as f64).sqrt();
        r >= self.rmin_mas && r <= self.rmax_mas
    }
}

/// Baselines padded to whole AVX2 vectors in the walk's phasor layout (the 3 padding lanes hold
/// z = s = 0 and are never read back).
const PHASOR_LANES: usize = 24;

/// One file's phasors along a row: z_kb and the step s_kb, split in real and imaginary parts,
/// one padded array of baselines per wavelength, so that the band sums run across baselines in
/// whole vectors.
#[derive(Clone)]
struct RowPhasors<'a> {
    uv_m: &'a [[f64; 2]],
    rule: &'a BandRule,
    zr: Vec<[f64; PHASOR_LANES]>,
    zi: Vec<[f64; PHASOR_LANES]>,
    sr: Vec<[f64; PHASOR_LANES]>,
    si: Vec<[f64; PHASOR_LANES]>,
}

impl<'a> RowPhasors<'a> {
    fn new(uv_m: &'a [[f64; 2]], rule: &'a BandRule, step_rad: f64) -> Self {
        assert_eq!(uv_m.len(), N_BASELINES, "7-hole files (checked on reading)");
        let k = rule.weights.len();
        let (mut sr, mut si) = (vec![[0.0; PHASOR_LANES]; k], vec![[0.0; PHASOR_LANES]; k]);
        for (q, l) in rule.wavelengths_m.iter().enumerate() {
            for (b, uv) in uv_m.iter().enumerate() {
                let (s, c) = portable::sin_cos(-2.0 * PI * uv[0] * step_rad / l);
                sr[q][b] = c;
                si[q][b] = s;
            }
        }
        RowPhasors {
            uv_m,
            rule,
            zr: vec![[0.0; PHASOR_LANES]; k],
            zi: vec![[0.0; PHASOR_LANES]; k],
            sr,
            si,
        }
    }

    /// z_kb by direct exponentials at (α, δ) radians.
    fn start(&mut self, east_rad: f64, north_rad: f64) {
        for (q, l) in self.rule.wavelengths_m.iter().enumerate() {
            for (b, uv) in self.uv_m.iter().enumerate() {
                let s = uv[0] * east_rad + uv[1] * north_rad;
                let (sn, cs) = portable::sin_cos(-2.0 * PI * s / l);
                self.zr[q][b] = cs;
                self.zi[q][b] = sn;
            }
        }
    }

    /// One step east, z_kb ← z_kb s_kb, and y_b = Σ_k w_k Im z_kb (summed in increasing k, as
    /// [`Self::imag_band_sum`]) in one pass.
    #[inline(always)]
    fn step_imag_band_sum(&mut self, y: &mut [f64]) {
        let mut sum = [0.0; PHASOR_LANES];
        for (q, w) in self.rule.weights.iter().enumerate() {
            let (zr, zi) = (&mut self.zr[q], &mut self.zi[q]);
            let (sr, si) = (&self.sr[q], &self.si[q]);
            for b in 0..PHASOR_LANES {
                let (a, c) = (zr[b], zi[b]);
                zr[b] = a * sr[b] - c * si[b];
                zi[b] = a * si[b] + c * sr[b];
                sum[b] += w * zi[b];
            }
        }
        y.copy_from_slice(&sum[..N_BASELINES]);
    }

    /// y_b = Σ_k w_k Im z_kb, summed in increasing k.
    #[inline(always)]
    fn imag_band_sum(&self, y: &mut [f64]) {
        band_sum(&self.rule.weights, &self.zi, y)
    }

    /// Re F_b = Σ_k w_k Re z_kb (with [`Self::imag_band_sum`], F_b).
    fn real_band_sum(&self, x: &mut [f64]) {
        band_sum(&self.rule.weights, &self.zr, x)
    }
}

/// Σ_k w_k z_kb of one part of the phasors, in increasing k.
#[inline(always)]
fn band_sum(weights: &[f64], z: &[[f64; PHASOR_LANES]], out: &mut [f64]) {
    let mut sum = [0.0; PHASOR_LANES];
    for (w, zq) in weights.iter().zip(z) {
        for b in 0..PHASOR_LANES {
            sum[b] += w * zq[b];
        }
    }
    out.copy_from_slice(&sum[..N_BASELINES]);
}

/// What a visitor of the walk sees at one node: for each file, y = Im F (21) and, when asked,
/// Re F.
pub struct Node<'a> {
    pub i: i32,
    pub j: i32,
    /// y of file f is `y[f * 21..(f + 1) * 21]`.
    pub y: &'a [f64],
    /// Re F_b of file f at `x[f * 21 + b]` (only filled when the walk was asked).
    pub x: &'a [f64],
}

/// Walks the half plane (δ > 0, and δ = 0 with α > 0) within the annulus, calling `visit` at
/// each node in row order (§5.1); `with_f` also fills F_b.
pub fn walk<V: FnMut(&Node)>(files: &[FitFile], grid: &Grid, with_f: bool, mut visit: V) {
    let proto = first_rows(files, grid);
    let mut rows = proto.clone();
    let mut buffers = NodeBuffers::new(files.len(), with_f);
    for j in 0..=grid.half {
        walk_row(&mut rows, grid, j, &mut buffers, &mut visit);
    }
}

/// [`walk`] with the rows on the thread pool: each row starts its phasors afresh (sin/cos at
/// its segments' first nodes), so a row's nodes are the same bits whichever thread walks it and
/// in whatever order. `visit` records what it needs in the row's state (`new_row(n)` per row,
/// n the most nodes a row can have); the states come back in row order, j = 0 to half, for the
/// caller to apply in that order.
pub fn walk_rows<S, N, V>(
    files: &[FitFile],
    grid: &Grid,
    with_f: bool,
    new_row: N,
    visit: V,
) -> Vec<S>
where
    S: Send,
    N: Fn(usize) -> S + Sync,
    V: Fn(&mut S, &Node) + Sync,
{
    use rayon::prelude::*;
    let proto = first_rows(files, grid);
    (0..=grid.half)
        .into_par_iter()
        .map(|j| {
            let mut rows = proto.clone();
            let mut buffers = NodeBuffers::new(files.len(), with_f);
            let mut state = new_row(grid.side());
            walk_row(&mut rows, grid, j, &mut buffers, &mut |node| {
                visit(&mut state, node)
            });
            state
        })
        .collect()
}

/// Each file's row phasors with their east steps (the starting phasors are set per segment).
fn first_rows<'a>(files: &'a [FitFile], grid: &Grid) -> Vec<RowPhasors<'a>> {
    let step_rad = grid.step_mas * MAS_RAD;
    files
        .iter()
        .map(|f| RowPhasors::new(&f.model.uv_m, &f.model.rule, step_rad))
        .collect()
}

/// y (and x) of every file at the current node.
struct NodeBuffers {
    y: Vec<f64>,
    x: Vec<f64>,
    with_f: bool,
}

impl NodeBuffers {
    fn new(files: usize, with_f: bool) -> Self {
        NodeBuffers {
            y: vec![0.0; files * N_BASELINES],
            x: vec![0.0; if with_f { files * N_BASELINES } else { 0 }],
            with_f,
        }
    }
}

/// Row j of the walk. On x86_64 with AVX2 the same code is compiled for AVX2 (mul and add stay
/// separate IEEE operations in the same order: the same bits).
fn walk_row<V: FnMut(&Node)>(
    rows: &mut [RowPhasors],
    grid: &Grid,
    j: i32,
    buffers: &mut NodeBuffers,
    visit: &mut V,
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports the features the function is compiled for
            unsafe { walk_row_avx2(rows, grid, j, buffers, visit) };
            return;
        }
    }
    walk_row_generic(rows, grid, j, buffers, visit)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn walk_row_avx2<V: FnMut(&Node)>(
    rows: &mut [RowPhasors],
    grid: &Grid,
    j: i32,
    buffers: &mut NodeBuffers,
    visit: &mut V,
) {
    walk_row_generic(rows, grid, j, buffers, visit)
}

#[inline(always)]
fn walk_row_generic<V: FnMut(&Node)>(
    rows: &mut [RowPhasors],
    grid: &Grid,
    j: i32,
    buffers: &mut NodeBuffers,
    visit: &mut V,
) {
    let step_rad = grid.step_mas * MAS_RAD;
    let NodeBuffers { y, x, with_f } = buffers;
    let first = if j == 0 { 1 } else { -grid.half };
    let mut previous_inside = false;
    for i in first..=grid.half {
        if !grid.inside(i, j) {
            previous_inside = false;
            continue;
        }
        for (f, row) in rows.iter_mut().enumerate() {
            let yf = &mut y[f * N_BASELINES..(f + 1) * N_BASELINES];
            if previous_inside {
                row.step_imag_band_sum(yf);
            } else {
                row.start(i as f64 * step_rad, j as f64 * step_rad);
                row.imag_band_sum(yf);
            }
            if *with_f {
                row.real_band_sum(&mut x[f * N_BASELINES..(f + 1) * N_BASELINES]);
            }
        }
        previous_inside = true;
        visit(&Node { i, j, y, x });
    }
}

/// One file's A = W T laid out for the walk (§5.2): column b of A (its `rank` entries, padded
/// with zeros to `lanes`, a multiple of 4) at `at[b * lanes..(b + 1) * lanes]`, so that
/// t = A y is 21 multiply-adds of whole vectors, in increasing b for every entry (the same order
/// on every target), then c = d̃ᵀ t and G = ‖t‖² = yᵀ M y.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub lanes: usize,
    pub at: Vec<f64>,
    /// d̃ padded with zeros to `lanes`.
    pub d_tilde: Vec<f64>,
}

/// The lanes of the usual rank (15 for one 7-hole file with nothing flagged).
const LANES_15: usize = 16;

impl Kernel {
    /// The layout of A (rank × 21, row-major) with data d̃ (rank).
    pub fn new(a: &[f64], d_tilde: &[f64]) -> Kernel {
        let rank = d_tilde.len();
        let lanes = rank.div_ceil(4).max(1) * 4;
        let mut at = vec![0.0; N_BASELINES * lanes];
        for i in 0..rank {
            for b in 0..N_BASELINES {
                at[b * lanes + i] = a[i * N_BASELINES + b];
            }
        }
        let mut d = vec![0.0; lanes];
        d[..rank].copy_from_slice(d_tilde);
        Kernel {
            lanes,
            at,
            d_tilde: d,
        }
    }

    /// t = A v into `t` (`lanes` long).
    #[inline(always)]
    pub fn apply(&self, v: &[f64], t: &mut [f64]) {
        if self.lanes == LANES_15 {
            let t: &mut [f64; LANES_15] = t.try_into().expect("16 lanes");
            t.fill(0.0);
            for (col, &vb) in self.at.chunks_exact(LANES_15).zip(v) {
                for (ti, &a) in t.iter_mut().zip(col) {
                    *ti += vb * a;
                }
            }
        } else {
            t.fill(0.0);
            for (col, &vb) in self.at.chunks_exact(self.lanes).zip(v) {
                for (ti, &a) in t.iter_mut().zip(col) {
                    *ti += vb * a;
                }
            }
        }
    }

    /// (c, G) at a node with y = Im F (§5.2); compiled for AVX2 where the CPU has it (the same
    /// operations in the same order: the same bits).
    #[inline]
    pub fn terms(&self, y: &[f64]) -> (f64, f64) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports the features the function is compiled for
                return unsafe { self.terms_avx2(y) };
            }
        }
        self.terms_generic(y)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn terms_avx2(&self, y: &[f64]) -> (f64, f64) {
        self.terms_generic(y)
    }

    #[inline(always)]
    fn terms_generic(&self, y: &[f64]) -> (f64, f64) {
        let mut buffer = [0.0; MAX_LANES];
        let t = &mut buffer[..self.lanes];
        self.apply(y, t);
        (portable::dot(&self.d_tilde, t), portable::dot(t, t))
    }
}

/// Lanes of the largest rank: 35 closure phases with diagonal weights.
pub const MAX_LANES: usize = 36;

/// The linearised search over the full plane: per contrast group c_g and G_g at every node
/// (NaN outside the annulus), filled in the mirrored half by symmetry.
#[derive(Debug, Clone)]
pub struct LinearMaps {
    pub grid: Grid,
    pub groups: usize,
    /// c of group g at node n: `c[n * groups + g]`.
    pub c: Vec<f64>,
    pub g: Vec<f64>,
    /// The walked nodes with their y, row by row, for the limits (§8) without a second walk.
    pub walked: Vec<WalkedRow>,
}

/// One row of the walk: its nodes (i, j) and y = Im F of every file there, node-major
/// (node q, file f at `y[(q * files + f) * 21..][..21]`).
#[derive(Debug, Clone, Default)]
pub struct WalkedRow {
    pub nodes: Vec<(i32, i32)>,
    pub y: Vec<f64>,
}

impl LinearMaps {
    /// Δχ²_lin at node n: Σ_g c_g²/G_g over c_g > 0 (§5.2), NaN outside the annulus.
    pub fn delta_chi2(&self, n: usize) -> f64 {
        let mut sum = 0.0;
        for k in 0..self.groups {
            let (c, g) = (self.c[n * self.groups + k], self.g[n * self.groups + k]);
            if c.is_nan() {
                return f64::NAN;
            }
            if c > 0.0 && g > 0.0 {
                sum += c * c / g;
            }
        }
        sum
    }
}

/// Runs the first walk (§5.1–§5.3).
pub fn linear_maps(files: &[FitFile], grid: &Grid, groups: usize) -> LinearMaps {
    let nodes = grid.side() * grid.side();
    let mut c = vec![f64::NAN; nodes * groups];
    let mut g = vec![f64::NAN; nodes * groups];
    let kernels: Vec<Kernel> = files
        .iter()
        .map(|f| Kernel::new(&f.white.a, &f.white.d_tilde))
        .collect();
    // per row: the nodes with their y, and c, G of each group there
    struct Row {
        walked: WalkedRow,
        c: Vec<f64>,
        g: Vec<f64>,
    }
    let new_row = |n: usize| Row {
        walked: WalkedRow {
            nodes: Vec::with_capacity(n),
            y: Vec::with_capacity(n * files.len() * N_BASELINES),
        },
        c: Vec::with_capacity(n * groups),
        g: Vec::with_capacity(n * groups),
    };
    let rows = walk_rows(files, grid, false, new_row, |row: &mut Row, node| {
        row.walked.nodes.push((node.i, node.j));
        row.walked.y.extend_from_slice(node.y);
        let at = row.c.len();
        row.c.resize(at + groups, 0.0);
        row.g.resize(at + groups, 0.0);
        for (f, (file, kernel)) in files.iter().zip(&kernels).enumerate() {
            let y = &node.y[f * N_BASELINES..(f + 1) * N_BASELINES];
            let (cf, gf) = kernel.terms(y);
            row.c[at + file.group] += cf;
            row.g[at + file.group] += gf;
        }
    });
    let mut walked = Vec::with_capacity(rows.len());
    for row in rows {
        for (q, &(i, j)) in row.walked.nodes.iter().enumerate() {
            let (n, m) = (grid.index(i, j), grid.index(-i, -j));
            for k in 0..groups {
                let (cv, gv) = (row.c[q * groups + k], row.g[q * groups + k]);
                c[n * groups + k] = cv;
                g[n * groups + k] = gv;
                c[m * groups + k] = -cv;
                g[m * groups + k] = gv;
            }
        }
        walked.push(row.walked);
    }
    LinearMaps {
        grid: *grid,
        groups,
        c,
        g,
        walked,
    }
}

/// A start of the refinement: offset (mas) and linear contrasts r̂_g = c_g/G_g clipped to
/// [1e-4, 1] (§5.4, §5.5).
#[derive(Debug, Clone, PartialEq)]
pub struct Start {
    pub east_mas: f64,
    pub north_mas: f64,
    pub ratios: Vec<f64>,
    pub delta_chi2_lin: f64,
}

/// The `count` largest 3×3 local maxima of Δχ²_lin (minima of χ²₀ − Δχ²_lin) at least
/// `min_separation_mas` apart (§5.4).
pub fn starts(maps: &LinearMaps, count: usize, min_separation_mas: f64) -> Vec<Start> {
    let grid = &maps.grid;
    let (h, side) = (grid.half, grid.side());
    let values: Vec<f64> = (0..side * side).map(|n| maps.delta_chi2(n)).collect();
    let value = |i: i32, j: i32| {
        if i.abs() > h || j.abs() > h {
            f64::NAN
        } else {
            values[grid.index(i, j)]
        }
    };
    const NEIGHBOURS: [(i32, i32); 8] = [
        (-1, -1),
        (0, -1),
        (1, -1),
        (-1, 0),
        (1, 0),
        (-1, 1),
        (0, 1),
        (1, 1),
    ];
    let mut peaks = Vec::new();
    for j in -h..=h {
        for i in -h..=h {
            let v = values[grid.index(i, j)];
            if v.is_nan() || v <= 0.0 {
                continue;
            }
            let is_peak = NEIGHBOURS.iter().all(|&(di, dj)| {
                let w = value(i + di, j + dj);
                w.is_nan() || w <= v
            });
            if is_peak {
                peaks.push((v, i, j));
            }
        }
    }
    // largest first; ties in the order found (row by row), as a stable sort would leave them
    peaks.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then((a.2, a.1).cmp(&(b.2, b.1))));
    let mut chosen: Vec<Start> = Vec::new();
    for (v, i, j) in peaks {
        if chosen.len() >= count {
            break;
        }
        let (e, n) = (i as f64 * grid.step_mas, j as f64 * grid.step_mas);
        if chosen
            .iter()
            .any(|s| portable::hypot(s.east_mas - e, s.north_mas - n) < min_separation_mas)
        {
            continue;
        }
        let idx = grid.index(i, j);
        let ratios = (0..maps.groups)
            .map(|k| {
                let (c, g) = (maps.c[idx * maps.groups + k], maps.g[idx * maps.groups + k]);
                if g > 0.0 {
                    (c / g).clamp(1e-4, 1.0)
                } else {
                    1e-4
                }
            })
            .collect();
        chosen.push(Start {
            east_mas: e,
            north_mas: n,
            ratios,
            delta_chi2_lin: v,
        });
    }
    chosen
}
