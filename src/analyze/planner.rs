//! The planner: the expensive objects an analysis builds and can reuse, owned by its caller
//! (as rustfft's `FftPlanner`), never hidden in a process-wide static. `run_pipeline` owns one
//! for an association, `ami3 analyze` one for its exposures, each page worker one for its life.
//! Today it holds the bad-pixel fixers (three 1024² matrix DFTs each, ~0.1 s): the exposures of
//! an association share filter, pixel scale, crop size and mask, so one fixer serves them all.

use super::bpfix::BadPixelFixer;
use crate::error::{Error, Result, Stage};
use ndarray::ArrayView2;
use std::sync::{Arc, Mutex};

/// What a bad-pixel fixer is built from; equal keys give identical fixers.
#[derive(Debug, Clone, PartialEq)]
struct FixerKey {
    pupil_size: usize,
    pupil_checksum: u64,
    filter: String,
    pixscale_bits: u64,
    n: usize,
}

/// The most fixers kept (an association needs one; mixed inputs a few).
const MAX_FIXERS: usize = 4;

/// Builds the expensive objects of an analysis once and hands them out again.
#[derive(Debug, Default)]
pub struct Planner {
    fixers: Mutex<Vec<(FixerKey, Arc<BadPixelFixer>)>>,
}

impl Planner {
    pub fn new() -> Planner {
        Planner::default()
    }

    /// The bad-pixel fixer for this pupil image (`size` x `size`), filter, pixel scale and crop
    /// size `n`: built on first use, shared afterwards.
    pub fn bad_pixel_fixer(
        &self,
        pupil: &[f64],
        size: usize,
        filter: &str,
        pixscale_rad: f64,
        n: usize,
    ) -> Result<Arc<BadPixelFixer>> {
        let pupil_checksum = pupil
            .iter()
            .enumerate()
            .fold(0xcbf2_9ce4_8422_2325u64, |h, (i, v)| {
                (h ^ v.to_bits().wrapping_add(i as u64)).wrapping_mul(0x0100_0000_01b3)
            });
        let key = FixerKey {
            pupil_size: size,
            pupil_checksum,
            filter: filter.to_string(),
            pixscale_bits: pixscale_rad.to_bits(),
            n,
        };
        let poisoned = || Error::analysis(Stage::BadPixelFix, "internal cache poisoned");
        if let Some((_, f)) = self
            .fixers
            .lock()
            .map_err(|_| poisoned())?
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(f.clone());
        }
        let view = ArrayView2::from_shape((size, size), pupil)
            .map_err(|e| Error::analysis(Stage::BadPixelFix, e.to_string()))?;
        let fixer = Arc::new(BadPixelFixer::new(view, filter, pixscale_rad, n)?);
        let mut fixers = self.fixers.lock().map_err(|_| poisoned())?;
        if fixers.len() >= MAX_FIXERS {
            fixers.remove(0);
        }
        fixers.push((key, fixer.clone()));
        Ok(fixer)
    }

    /// How many fixers were built and kept.
    pub fn fixers_built(&self) -> usize {
        self.fixers.lock().map_or(0, |f| f.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::bpfix::PUPIL_IMAGE_DIAMETER_M;
    use crate::analyze::exposure::rasterise_pupil;
    use crate::niriss::mask::MaskGeometry;

    #[test]
    fn a_fixer_is_built_once_per_key_and_shared() {
        let pupil = rasterise_pupil(
            &MaskGeometry::default_all_holes(),
            1024,
            PUPIL_IMAGE_DIAMETER_M,
        );
        let scale = 65.6e-3f64.to_radians() / 3600.0;
        let planner = Planner::new();
        let a = planner
            .bad_pixel_fixer(&pupil, 1024, "F480M", scale, 69)
            .unwrap();
        let b = planner
            .bad_pixel_fixer(&pupil, 1024, "F480M", scale, 69)
            .unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same key gives the same fixer");
        assert_eq!(planner.fixers_built(), 1);
        let c = planner
            .bad_pixel_fixer(&pupil, 1024, "F430M", scale, 69)
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &c), "another filter needs its own fixer");
        assert_eq!(planner.fixers_built(), 2);
        // a second planner shares nothing with the first
        let other = Planner::new();
        let d = other
            .bad_pixel_fixer(&pupil, 1024, "F480M", scale, 69)
            .unwrap();
        assert!(!Arc::ptr_eq(&a, &d));
    }
}
