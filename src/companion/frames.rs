//! Which frame the offset is fitted in (companion.md §3), and each file's baselines in it.
//! Our writer (`products::oifits::sky_centres`, as jwst's upstream §5.10) rotates (u, v) to the
//! sky by a = ROLL_REF + V3I_YANG (negated when VPARITY = −1) only when ROLL_REF ≠ 0, so that
//! (u, v)_sky = R(−a) (u, v)_det with R the counter-clockwise rotation (the writer turns the hole
//! centres counter-clockwise by a in its (−y, x) frame, which is clockwise by a in (u, v));
//! undoing it, R(a) (u, v)_sky, gives the ideal detector frame, where "east" is −x and "north"
//! +y. Nothing here fits anything.

use super::input::OiObservation;
use crate::portable;

/// The frame of the fitted offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Frame {
    Sky,
    Detector,
}

impl Frame {
    pub fn name(self) -> &'static str {
        match self {
            Frame::Sky => "sky",
            Frame::Detector => "detector",
        }
    }
}

/// The frame asked for by `--frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameChoice {
    Auto,
    Sky,
    Detector,
}

/// Why the files cannot be put in one frame.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameError {
    /// `--frame sky` on files without pointing (ROLL_REF = 0): names them.
    NoPointing(Vec<String>),
    /// The detector frame of files at different rolls is not one frame: names them.
    SeveralRolls(Vec<String>),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::NoPointing(v) => write!(
                f,
                "--frame sky needs ROLL_REF ≠ 0, but {} have ROLL_REF = 0 (detector frame)",
                v.join(", ")
            ),
            FrameError::SeveralRolls(v) => write!(
                f,
                "the detector frame needs one roll (ROLL_REF equal within 0.01°), but {} differ; \
                 fit them in the sky frame",
                v.join(", ")
            ),
        }
    }
}

/// Whether a file's (u, v) were rotated to the sky by the writer.
pub fn is_sky_frame(obs: &OiObservation) -> bool {
    obs.roll_ref_deg != 0.0
}

/// The writer's rotation angle of a sky-frame file, degrees (§3).
pub fn writer_rotation_deg(obs: &OiObservation) -> f64 {
    let a = obs.roll_ref_deg + obs.v3i_yang_deg;
    if obs.vparity == -1 {
        -a
    } else {
        a
    }
}

/// The frame of a set of files, and the rotation (degrees, counter-clockwise) applied to each
/// file's (u, v) to bring it there.
pub fn choose_frame(
    files: &[OiObservation],
    choice: FrameChoice,
) -> Result<(Frame, Vec<f64>), FrameError> {
    let all_sky = files.iter().all(is_sky_frame);
    let frame = match choice {
        FrameChoice::Sky if !all_sky => {
            let names = files
                .iter()
                .filter(|o| !is_sky_frame(o))
                .map(|o| o.name.clone());
            return Err(FrameError::NoPointing(names.collect()));
        }
        FrameChoice::Sky => Frame::Sky,
        FrameChoice::Auto if all_sky => Frame::Sky,
        _ => Frame::Detector,
    };
    if frame == Frame::Sky {
        return Ok((frame, vec![0.0; files.len()]));
    }
    let roll0 = files[0].roll_ref_deg;
    if files.iter().any(|o| (o.roll_ref_deg - roll0).abs() > 0.01) {
        let names = files
            .iter()
            .map(|o| format!("{} (ROLL_REF {})", o.name, o.roll_ref_deg));
        return Err(FrameError::SeveralRolls(names.collect()));
    }
    let rotations = files
        .iter()
        .map(|o| {
            if is_sky_frame(o) {
                writer_rotation_deg(o)
            } else {
                0.0
            }
        })
        .collect();
    Ok((frame, rotations))
}

/// (u, v) rotated counter-clockwise by `rotation_deg`.
pub fn rotate_uv(uv_m: &[[f64; 2]], rotation_deg: f64) -> Vec<[f64; 2]> {
    if rotation_deg == 0.0 {
        return uv_m.to_vec();
    }
    let (s, c) = portable::sin_cos(rotation_deg.to_radians());
    uv_m.iter()
        .map(|b| [c * b[0] - s * b[1], s * b[0] + c * b[1]])
        .collect()
}
