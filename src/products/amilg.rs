//! AmiLgModel (`_ami`, `_amiavg`, `_psf-amiavg`, `_aminorm`; upstream.md §7.3) and
//! AmiLgFitModel (`_amilg`, §7.5) products. Phases in radians as the older design stores them;
//! residuals are data - model (the newer design's sign) throughout our products.

use std::io::{Cursor, Read, Seek, Write};

use crate::error::{Error, Result};
use crate::fits::{Column, ColumnData, FitsWriter, Hdu, Header, PlaneWriter, Table};
use crate::products::observables::ObservableSet;

fn coeffs_table(name: &str, values: &[f64]) -> Hdu {
    let table = Table::new(
        values.len(),
        vec![Column::new(
            "coeffs",
            ColumnData::F64 {
                repeat: 1,
                values: values.to_vec(),
            },
        )],
    );
    Hdu::bintable(name, table, vec![])
}

/// One integration's images (n x n) and normalised coefficients, as the AmiLg products take
/// them from the fit.
#[derive(Debug, Clone, Copy)]
pub struct IntegrationImages<'a> {
    pub data: &'a [f64],
    pub model: &'a [f64],
    /// data - model, NaN where the pixel was left out of the fit.
    pub residual: &'a [f64],
    pub coeffs_norm: &'a [f64],
}

/// The observables and images of one AmiLgModel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AmiLg {
    pub n: usize,
    /// Model image, n x n.
    pub fit: Vec<f64>,
    /// data - model, n x n (NaN where excluded).
    pub resid: Vec<f64>,
    pub observables: ObservableSet,
    /// Normalised fit coefficients (s0 = 1).
    pub solns: Vec<f64>,
}

/// The running sums of an integration average ([`AmiLg::average_of`]) taken one integration
/// at a time, so that an exposure's images need not all be kept: each model and coefficient is
/// divided by the number of integrations averaged before it is added, so that number must be
/// known at the start (the analysis runs its integrations again when one is dropped).
#[derive(Debug, Clone, PartialEq)]
pub struct AmiLgSum {
    n: usize,
    divisor: f64,
    fit: Vec<f64>,
    resid: Vec<f64>,
    resid_count: Vec<usize>,
    solns: Vec<f64>,
    added: usize,
}

impl AmiLgSum {
    /// Sums for the average of `integrations` images of `n` x `n`.
    pub fn new(n: usize, integrations: usize) -> Self {
        AmiLgSum {
            n,
            divisor: integrations as f64,
            fit: vec![0.0; n * n],
            resid: vec![0.0; n * n],
            resid_count: vec![0; n * n],
            solns: Vec::new(),
            added: 0,
        }
    }

    /// Integrations added so far.
    pub fn added(&self) -> usize {
        self.added
    }

    /// Adds one integration (in the order of the average).
    pub fn add(&mut self, f: &IntegrationImages) {
        let k = self.divisor;
        if self.added == 0 {
            self.solns = vec![0.0; f.coeffs_norm.len()];
        }
        for p in 0..self.n * self.n {
            self.fit[p] += f.model[p] / k;
            if f.residual[p].is_finite() {
                self.resid[p] += f.residual[p];
                self.resid_count[p] += 1;
            }
        }
        for (s, c) in self.solns.iter_mut().zip(f.coeffs_norm) {
            *s += c / k;
        }
        self.added += 1;
    }

    /// The average, with its averaged `observables`.
    pub fn finish(&self, observables: ObservableSet) -> AmiLg {
        let resid = self
            .resid
            .iter()
            .zip(&self.resid_count)
            .map(|(&r, &count)| {
                if count > 0 {
                    r / count as f64
                } else {
                    f64::NAN
                }
            })
            .collect();
        AmiLg {
            n: self.n,
            fit: self.fit.clone(),
            resid,
            observables,
            solns: self.solns.clone(),
        }
    }
}

impl AmiLg {
    /// The integration average of an exposure's `n` x `n` fits, with its averaged observables.
    pub fn average_of(
        n: usize,
        integrations: &[IntegrationImages],
        observables: ObservableSet,
    ) -> Self {
        let mut sum = AmiLgSum::new(n, integrations.len());
        for f in integrations {
            sum.add(f);
        }
        sum.finish(observables)
    }

    pub fn to_hdus(&self, primary: Header) -> Vec<Hdu> {
        let o = &self.observables;
        vec![
            Hdu::primary(primary),
            Hdu::image_f32("FIT", &[self.n, self.n], self.fit.clone(), vec![]),
            Hdu::image_f32("RESID", &[self.n, self.n], self.resid.clone(), vec![]),
            coeffs_table("CLOSURE_AMP", &o.closure_amp),
            coeffs_table("CLOSURE_PHA", &o.closure_phase_rad),
            coeffs_table("FRINGE_AMP", &o.fringe_amp),
            coeffs_table("FRINGE_PHA", &o.fringe_phase_rad),
            coeffs_table("PUPIL_PHA", &o.piston_rad),
            coeffs_table("SOLNS", &self.solns),
        ]
    }
}

/// What receives each integration fitted, in order, as the analysis fits them: a pass over
/// the integrations begins with [`begin`](IntegrationSink::begin), and a later pass (the
/// analysis fits again when an integration is dropped) voids what an earlier one gave.
pub trait IntegrationSink {
    /// A pass begins whose images are `n` x `n` and which will keep `kept` integrations.
    fn begin(&mut self, n: usize, kept: usize) -> Result<()>;
    /// The next integration kept.
    fn add(&mut self, f: &IntegrationImages) -> Result<()>;
}

/// The cubes of AmiLgFitModel, in file order.
const LG_FIT_CUBES: [&str; 6] = ["CTRD", "N_CTRD", "FIT", "N_FIT", "RESID", "N_RESID"];

/// The AmiLgFitModel (`_amilg`) product written as its integrations come: per integration, the
/// data, model and residual (plain and divided by each integration's data peak) as a plane of
/// six cubes, each spooled by a [`PlaneWriter`] (a temporary file natively, memory for
/// [`lg_fit_bytes`]), and the normalised coefficients (a few hundred bytes each) kept for SOLNS.
/// Errors name the product file.
pub struct LgFitWriter<S> {
    file_name: String,
    spools: Vec<S>,
    cubes: Vec<PlaneWriter<S>>,
    ncoeffs: usize,
    solns: Vec<f64>,
    kept: usize,
}

impl<S: Read + Write + Seek> LgFitWriter<S> {
    /// A writer of the product `file_name` over six spools (one per cube, in file order).
    pub fn new(file_name: &str, spools: Vec<S>) -> Result<Self> {
        if spools.len() != LG_FIT_CUBES.len() {
            return Err(Error::output(
                file_name,
                format!(
                    "{} spools given, {} needed",
                    spools.len(),
                    LG_FIT_CUBES.len()
                ),
            ));
        }
        Ok(LgFitWriter {
            file_name: file_name.to_string(),
            spools,
            cubes: Vec::new(),
            ncoeffs: 0,
            solns: Vec::new(),
            kept: 0,
        })
    }

    /// Integrations added since the last [`begin`](IntegrationSink::begin).
    pub fn added(&self) -> usize {
        self.cubes.first().map_or(0, |c| c.planes())
    }

    /// Writes the product to `out`: `primary` (known only after the analysis), the six cubes
    /// and SOLNS. Every integration of the pass must have been added.
    pub fn finish<W: Write>(mut self, primary: Header, out: W) -> Result<W> {
        if self.cubes.is_empty() || self.added() != self.kept {
            return Err(Error::output(
                &self.file_name,
                format!(
                    "{} of the {} integrations were added before the product was written",
                    self.added(),
                    self.kept
                ),
            ));
        }
        let mut file = FitsWriter::new(out, &self.file_name);
        file.write_hdu(&Hdu::primary(primary))?;
        for cube in &mut self.cubes {
            file.write_planes(cube)?;
        }
        let solns = Table::new(
            self.kept,
            vec![Column::new(
                "coeffs",
                ColumnData::F64 {
                    repeat: self.ncoeffs,
                    values: std::mem::take(&mut self.solns),
                },
            )],
        );
        file.write_hdu(&Hdu::bintable("SOLNS", solns, vec![]))?;
        file.finish()
    }
}

/// `e` named as an error writing `file_name`, unless it names something already.
fn named(file_name: &str, e: Error) -> Error {
    match e.input {
        crate::error::Input::Unnamed => Error::output(file_name, e.problem),
        _ => e,
    }
}

impl<S: Read + Write + Seek> IntegrationSink for LgFitWriter<S> {
    fn begin(&mut self, n: usize, kept: usize) -> Result<()> {
        self.spools.extend(
            std::mem::take(&mut self.cubes)
                .into_iter()
                .map(PlaneWriter::into_spool),
        );
        for (name, spool) in LG_FIT_CUBES.iter().zip(std::mem::take(&mut self.spools)) {
            let header = Hdu::image_f32(name, &[n, n], Vec::new(), Vec::new()).header;
            let cube =
                PlaneWriter::new(header, &[n, n], spool).map_err(|e| named(&self.file_name, e))?;
            self.cubes.push(cube);
        }
        self.ncoeffs = 0;
        self.solns.clear();
        self.kept = kept;
        Ok(())
    }

    fn add(&mut self, f: &IntegrationImages) -> Result<()> {
        let peak = f
            .data
            .iter()
            .copied()
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        let normed = |v: &[f64]| v.iter().map(|x| x / peak).collect::<Vec<f64>>();
        let planes: [&[f64]; 6] = [
            f.data,
            &normed(f.data),
            f.model,
            &normed(f.model),
            f.residual,
            &normed(f.residual),
        ];
        if self.cubes.is_empty() {
            return Err(Error::output(
                &self.file_name,
                "an integration came before the pass began",
            ));
        }
        let file_name = &self.file_name;
        for (cube, plane) in self.cubes.iter_mut().zip(planes) {
            cube.write_plane(plane).map_err(|e| named(file_name, e))?;
        }
        if self.solns.is_empty() {
            self.ncoeffs = f.coeffs_norm.len();
        }
        self.solns.extend_from_slice(f.coeffs_norm);
        Ok(())
    }
}

/// The AmiLgFitModel product of integrations held in memory: [`LgFitWriter`] over spools in
/// memory, so that it is the bytes the streamed product has.
pub fn lg_fit_bytes(
    file_name: &str,
    n: usize,
    integrations: &[IntegrationImages],
    primary: Header,
) -> Result<Vec<u8>> {
    let spools = (0..LG_FIT_CUBES.len())
        .map(|_| Cursor::new(Vec::new()))
        .collect();
    let mut writer = LgFitWriter::new(file_name, spools)?;
    writer.begin(n, integrations.len())?;
    for f in integrations {
        writer.add(f)?;
    }
    writer.finish(primary, Vec::new())
}
