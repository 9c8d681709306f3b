//! Interferometric observables of one integration from its fit coefficients (upstream.md §3.10):
//! fringe amplitudes and phases per baseline, squared visibilities, closure phases and triple
//! amplitudes per triangle, closure amplitudes and quad phases per quad, hole pistons.
//! Orders are those of `niriss::mask` (lexicographic hole tuples).

use crate::niriss::mask::{baseline_index, baselines, quads, triangles};
use crate::portable;
use std::f64::consts::PI;

/// Wraps an angle in radians to (-pi, pi].
pub fn wrap_pi(angle_rad: f64) -> f64 {
    let mut a = angle_rad % (2.0 * PI);
    if a <= -PI {
        a += 2.0 * PI;
    } else if a > PI {
        a -= 2.0 * PI;
    }
    a
}

/// Observables of one integration. Phases in radians.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observables {
    pub fringe_amp: Vec<f64>,
    pub fringe_phase_rad: Vec<f64>,
    pub closure_phase_rad: Vec<f64>,
    pub t3_amp: Vec<f64>,
    pub closure_amp: Vec<f64>,
    pub quad_phase_rad: Vec<f64>,
    pub piston_rad: Vec<f64>,
}

/// The fixed index lists for a mask of `n` holes.
#[derive(Debug, Clone)]
pub struct Orders {
    pub n_holes: usize,
    pub baselines: Vec<[usize; 2]>,
    pub triangles: Vec<[usize; 3]>,
    pub quads: Vec<[usize; 4]>,
}

impl Orders {
    pub fn new(n_holes: usize) -> Self {
        Orders {
            n_holes,
            baselines: baselines(n_holes),
            triangles: triangles(n_holes),
            quads: quads(n_holes),
        }
    }

    /// Phase of the ordered hole pair (i, j): Phi_k for i < j, -Phi_k for i > j.
    fn phase(&self, phases: &[f64], i: usize, j: usize) -> f64 {
        if i < j {
            phases[baseline_index(self.n_holes, i, j)]
        } else {
            -phases[baseline_index(self.n_holes, j, i)]
        }
    }

    fn amp(&self, amps: &[f64], i: usize, j: usize) -> f64 {
        amps[baseline_index(self.n_holes, i.min(j), i.max(j))]
    }

    /// Closure phases Phi_ab + Phi_bc + Phi_ca per triangle (not wrapped).
    pub fn closure_phases(&self, phases: &[f64]) -> Vec<f64> {
        self.triangles
            .iter()
            .map(|&[a, b, c]| {
                self.phase(phases, a, b) + self.phase(phases, b, c) + self.phase(phases, c, a)
            })
            .collect()
    }

    /// Triple amplitudes V_ab V_bc V_ca per triangle.
    pub fn t3_amplitudes(&self, amps: &[f64]) -> Vec<f64> {
        self.triangles
            .iter()
            .map(|&[a, b, c]| self.amp(amps, a, b) * self.amp(amps, b, c) * self.amp(amps, c, a))
            .collect()
    }

    /// Closure amplitudes V_ab V_dc / (V_ac V_bd) per quad.
    pub fn closure_amplitudes(&self, amps: &[f64]) -> Vec<f64> {
        self.quads
            .iter()
            .map(|&[a, b, c, d]| {
                self.amp(amps, a, b) * self.amp(amps, d, c)
                    / (self.amp(amps, a, c) * self.amp(amps, b, d))
            })
            .collect()
    }

    /// Quad phases Phi[a,b] + Phi[d,c] - Phi[a,c] - Phi[b,d] per quad.
    pub fn quad_phases(&self, phases: &[f64]) -> Vec<f64> {
        self.quads
            .iter()
            .map(|&[a, b, c, d]| {
                self.phase(phases, a, b) + self.phase(phases, d, c)
                    - self.phase(phases, a, c)
                    - self.phase(phases, b, d)
            })
            .collect()
    }

    /// Hole pistons: the minimum-norm least-squares solution of Phi_(a,b) = P_b - P_a. The
    /// design matrix is the incidence matrix of the complete graph, whose pseudo-inverse is its
    /// transpose divided by the number of holes, so P_h = (sum of phases into h - out of h) / n.
    pub fn pistons(&self, phases: &[f64]) -> Vec<f64> {
        let mut p = vec![0.0; self.n_holes];
        for (k, &[a, b]) in self.baselines.iter().enumerate() {
            p[b] += phases[k];
            p[a] -= phases[k];
        }
        let n = self.n_holes as f64;
        p.iter_mut().for_each(|v| *v /= n);
        p
    }

    /// All observables from raw fit coefficients (flux first, [cos, sin] per baseline, DC).
    pub fn from_coefficients(&self, coeffs: &[f64]) -> Observables {
        let flux = coeffs[0];
        let nb = self.baselines.len();
        let mut fringe_amp = Vec::with_capacity(nb);
        let mut fringe_phase_rad = Vec::with_capacity(nb);
        for k in 0..nb {
            let (c, s) = (coeffs[2 * k + 1] / flux, coeffs[2 * k + 2] / flux);
            fringe_amp.push(portable::hypot(c, s));
            fringe_phase_rad.push(portable::atan2(s, c));
        }
        Observables {
            closure_phase_rad: self
                .closure_phases(&fringe_phase_rad)
                .into_iter()
                .map(wrap_pi)
                .collect(),
            t3_amp: self.t3_amplitudes(&fringe_amp),
            closure_amp: self.closure_amplitudes(&fringe_amp),
            quad_phase_rad: self
                .quad_phases(&fringe_phase_rad)
                .into_iter()
                .map(wrap_pi)
                .collect(),
            piston_rad: self.pistons(&fringe_phase_rad),
            fringe_amp,
            fringe_phase_rad,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closure_phases_of_pure_hole_pistons_vanish() {
        let o = Orders::new(7);
        let p = [0.1, -0.4, 0.9, 0.3, -1.2, 0.05, 0.7];
        let phases: Vec<f64> = o.baselines.iter().map(|&[a, b]| p[b] - p[a]).collect();
        for cp in o.closure_phases(&phases) {
            assert!(cp.abs() < 1e-12);
        }
        // pistons come back up to their mean
        let mean = p.iter().sum::<f64>() / 7.0;
        for (got, want) in o.pistons(&phases).iter().zip(p) {
            assert!((got - (want - mean)).abs() < 1e-12);
        }
    }

    #[test]
    fn quad_phase_is_phi_ab_plus_phi_dc_minus_phi_ac_minus_phi_bd() {
        let o = Orders::new(7);
        let phases: Vec<f64> = (0..21).map(|k| 0.01 * (k * k) as f64).collect();
        // quad 0 = (0,1,2,3): baselines (0,1)=0, (2,3)=11, (0,2)=1, (1,3)=7
        let want = phases[0] - phases[11] - phases[1] - phases[7];
        assert!((o.quad_phases(&phases)[0] - want).abs() < 1e-15);
        // triangle 0 = (0,1,2): (0,1)=0 + (1,2)=6 - (0,2)=1
        assert!((o.closure_phases(&phases)[0] - (phases[0] + phases[6] - phases[1])).abs() < 1e-15);
    }

    #[test]
    fn closure_amplitudes_of_hole_gains_are_one() {
        let o = Orders::new(7);
        let g = [1.0, 0.8, 1.3, 0.9, 1.1, 0.7, 1.05];
        let amps: Vec<f64> = o.baselines.iter().map(|&[a, b]| g[a] * g[b]).collect();
        for ca in o.closure_amplitudes(&amps) {
            assert!((ca - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn wrap_keeps_pi_and_maps_minus_pi_to_pi() {
        assert!((wrap_pi(PI) - PI).abs() < 1e-15);
        assert!((wrap_pi(-PI) - PI).abs() < 1e-15);
        assert!((wrap_pi(3.0 * PI / 2.0) + PI / 2.0).abs() < 1e-15);
    }
}
