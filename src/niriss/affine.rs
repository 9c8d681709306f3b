//! The pupil affine distortion (`Affine2d`, upstream.md §3.1): magnification, shear and offset of
//! the pupil, applied to image-plane frequency coordinates by the Bracewell affine theorem.
//! Only the argument transform matters for intensities: the offset phase factor has modulus one
//! and cancels in every |.|^2 the model takes, so it is not computed.
use crate::portable;

/// Affine distortion of the pupil: x' = mx x + sx y + xo, y' = my y + sy x + yo.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Affine2d {
    pub mx: f64,
    pub my: f64,
    pub sx: f64,
    pub sy: f64,
    pub xo: f64,
    pub yo: f64,
    /// Set when the distortion is a pure rotation (radians, counter-clockwise).
    pub rotradccw: Option<f64>,
}

impl Affine2d {
    /// No distortion.
    pub fn ideal() -> Self {
        Affine2d {
            mx: 1.0,
            my: 1.0,
            sx: 0.0,
            sy: 0.0,
            xo: 0.0,
            yo: 0.0,
            rotradccw: None,
        }
    }

    /// The commissioning distortion, jwst's default since 1.17.0 (upstream.md §3.1).
    pub fn commissioning() -> Self {
        Affine2d {
            mx: 0.992820,
            my: 0.998540,
            sx: 0.00618605,
            sy: -0.00727008,
            xo: 0.0,
            yo: 0.0,
            rotradccw: None,
        }
    }

    /// A pure rotation; `rotradccw` overrides the other parameters as upstream does.
    pub fn rotation(rotradccw: f64) -> Self {
        let (s, c) = portable::sin_cos(rotradccw);
        Affine2d {
            mx: c,
            my: c,
            sx: -s,
            sy: s,
            xo: 0.0,
            yo: 0.0,
            rotradccw: Some(rotradccw),
        }
    }

    /// mx my - sx sy.
    pub fn determinant(&self) -> f64 {
        self.mx * self.my - self.sx * self.sy
    }

    /// The argument transform of an image-plane coordinate pair (u, v) -> (u', v').
    pub fn distort_f_args(&self, u: f64, v: f64) -> (f64, f64) {
        let det = self.determinant();
        (
            (self.my * u - self.sy * v) / det,
            (-self.sx * u + self.mx * v) / det,
        )
    }

    /// The linear map of `distort_f_args` as a 2x2 matrix [[a, b], [c, d]] with
    /// u' = a u + b v, v' = c u + d v.
    pub fn f_args_matrix(&self) -> [[f64; 2]; 2] {
        let det = self.determinant();
        [
            [self.my / det, -self.sy / det],
            [-self.sx / det, self.mx / det],
        ]
    }
}

/// Nudges a rotation (degrees) that is a multiple of 15 degrees by 1e-12 degrees, off the
/// hexagon transform's singular lines (upstream.md §3.1).
pub fn avoid_hex_singularity_deg(rotation_deg: f64) -> f64 {
    let q = rotation_deg / 15.0;
    if (q - q.trunc()).abs() < 0.5e-12 {
        rotation_deg + 1e-12
    } else {
        rotation_deg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_argument_transform_rotates_by_minus_the_angle_over_det() {
        let a = Affine2d::rotation(0.3);
        let (u, v) = a.distort_f_args(1.0, 0.0);
        // det = cos^2 + sin^2 = 1; u' = cos, v' = sin
        assert!((u - 0.3f64.cos()).abs() < 1e-15);
        assert!((v - 0.3f64.sin()).abs() < 1e-15);
    }

    #[test]
    fn multiples_of_fifteen_degrees_are_nudged() {
        assert_eq!(avoid_hex_singularity_deg(30.0), 30.0 + 1e-12);
        assert_eq!(avoid_hex_singularity_deg(1.0), 1.0);
    }
}
