//! The planner: the expensive objects an analysis builds and can reuse, owned by its caller
//! (as rustfft's `FftPlanner`), never hidden in a process-wide static. `run_pipeline` owns one
//! for an association, `ami3 analyze` one for its exposures, each page worker one for its life.
//! It holds the bad-pixel fixers (three 1024² matrix DFTs each, ~0.1 s), the bandpasses made
//! from throughput tables and the model's basis plans (fringe tables, a few ms each): the
//! exposures of an association share filter, pixel scale, crop size and mask, so one of each
//! serves them all. Every cache is keyed by the exact bits of what the object is built from, so
//! a cached object is identical to a fresh one.

use super::bandpass;
use super::bpfix::BadPixelFixer;
use super::lgmodel::{BasisPlan, LgModel};
use crate::error::{Error, Result, Stage};
use crate::niriss::filters::BandpassSample;
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

/// The most bandpasses and basis plans kept.
const MAX_PLANS: usize = 8;

/// A small cache of objects by key, oldest dropped first.
type Cache<K, V> = Mutex<Vec<(K, Arc<V>)>>;

/// Builds the expensive objects of an analysis once and hands them out again.
#[derive(Debug, Default)]
pub struct Planner {
    fixers: Cache<FixerKey, BadPixelFixer>,
    /// Keyed by the table's (wavelength, throughput) bits.
    bandpasses: Cache<Vec<u32>, Vec<BandpassSample>>,
    /// Keyed by [`LgModel::plan_key`].
    basis_plans: Cache<Vec<u64>, BasisPlan>,
}

/// The cached value for `key`, else `make()`'s, kept for next time.
fn cached<K: PartialEq, V>(
    cache: &Cache<K, V>,
    key: K,
    max: usize,
    make: impl FnOnce() -> Result<V>,
) -> Result<Arc<V>> {
    let poisoned = || Error::analysis(Stage::Prepare, "internal cache poisoned");
    if let Some((_, v)) = cache
        .lock()
        .map_err(|_| poisoned())?
        .iter()
        .find(|(k, _)| *k == key)
    {
        return Ok(v.clone());
    }
    let value = Arc::new(make()?);
    let mut entries = cache.lock().map_err(|_| poisoned())?;
    if entries.len() >= max {
        entries.remove(0);
    }
    entries.push((key, value.clone()));
    Ok(value)
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

    /// The bandpass of a throughput table (`bandpass::from_throughput`): made on first use,
    /// shared afterwards.
    pub fn bandpass(
        &self,
        wavelength_angstrom: &[f32],
        throughput: &[f32],
    ) -> Result<Arc<Vec<BandpassSample>>> {
        let key: Vec<u32> = wavelength_angstrom
            .iter()
            .chain(throughput)
            .map(|v| v.to_bits())
            .chain([wavelength_angstrom.len() as u32])
            .collect();
        cached(&self.bandpasses, key, MAX_PLANS, || {
            bandpass::from_throughput(wavelength_angstrom, throughput)
        })
    }

    /// The basis plan of `model` (`LgModel::plan`): made on first use, shared afterwards.
    pub fn basis_plan(&self, model: &LgModel) -> Result<Arc<BasisPlan>> {
        cached(&self.basis_plans, model.plan_key(), MAX_PLANS, || {
            Ok(model.plan())
        })
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

    #[test]
    fn bandpasses_and_basis_plans_are_shared_by_equal_inputs_only() {
        use crate::niriss::affine::Affine2d;
        let wl: Vec<f32> = (0..50).map(|i| 45000.0 + 100.0 * i as f32).collect();
        let th: Vec<f32> = (0..50)
            .map(|i| if (10..40).contains(&i) { 0.5 } else { 0.0 })
            .collect();
        let planner = Planner::new();
        let a = planner.bandpass(&wl, &th).unwrap();
        assert!(Arc::ptr_eq(&a, &planner.bandpass(&wl, &th).unwrap()));
        assert_eq!(*a, bandpass::from_throughput(&wl, &th).unwrap());
        let mut th2 = th.clone();
        th2[20] = 0.6;
        assert!(!Arc::ptr_eq(&a, &planner.bandpass(&wl, &th2).unwrap()));
        let model = |bp: Vec<BandpassSample>| {
            LgModel::new(
                MaskGeometry::default_all_holes(),
                bp,
                Affine2d::commissioning(),
                65.6e-3f64.to_radians() / 3600.0,
                3,
                15,
            )
        };
        let m1 = model(a.to_vec());
        let p1 = planner.basis_plan(&m1).unwrap();
        assert!(Arc::ptr_eq(
            &p1,
            &planner.basis_plan(&model(a.to_vec())).unwrap()
        ));
        // a shared plan gives the bits of a fresh one
        let (shared, fresh) = (m1.basis_with(&p1, (0.1, -0.2)), m1.basis((0.1, -0.2)));
        assert_eq!(shared.slices, fresh.slices);
        // the plan does not depend on the weights, only on the wavelengths
        let reweighted = model(planner.bandpass(&wl, &th2).unwrap().to_vec());
        assert!(Arc::ptr_eq(&p1, &planner.basis_plan(&reweighted).unwrap()));
        let wl2: Vec<f32> = wl.iter().map(|w| w + 50.0).collect();
        let other = model(planner.bandpass(&wl2, &th).unwrap().to_vec());
        assert!(!Arc::ptr_eq(&p1, &planner.basis_plan(&other).unwrap()));
    }
}
