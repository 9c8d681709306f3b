//! AmiLgModel (`_ami`, `_amiavg`, `_psf-amiavg`, `_aminorm`; upstream.md §7.3) and
//! AmiLgFitModel (`_amilg`, §7.5) products. Phases in radians as the older design stores them;
//! residuals are data - model (the newer design's sign) throughout our products.

use crate::fits::{Card, Column, ColumnData, Hdu, Header, Table};
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

/// AmiLgFitModel HDUs: per-integration data, model and residual (plain and divided by each
/// integration's data peak) and the normalised coefficients.
pub fn lg_fit_hdus(n: usize, integrations: &[IntegrationImages], primary: Header) -> Vec<Hdu> {
    let nint = integrations.len();
    let shape = [nint, n, n];
    let stack = |f: &dyn Fn(usize, f64) -> f64,
                 pick: &dyn for<'b> Fn(&'b IntegrationImages<'b>) -> &'b [f64]|
     -> Vec<f64> {
        integrations
            .iter()
            .enumerate()
            .flat_map(|(k, it)| pick(it).iter().map(move |&v| f(k, v)).collect::<Vec<_>>())
            .collect()
    };
    let peaks: Vec<f64> = integrations
        .iter()
        .map(|it| {
            it.data
                .iter()
                .copied()
                .filter(|v| v.is_finite())
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .collect();
    let plain = |_: usize, v: f64| v;
    let normed = |k: usize, v: f64| v / peaks[k];
    let ns = integrations[0].coeffs_norm.len();
    let solns: Vec<f64> = integrations
        .iter()
        .flat_map(|it| it.coeffs_norm.to_vec())
        .collect();
    let no_cards = Vec::<Card>::new;
    vec![
        Hdu::primary(primary),
        Hdu::image_f32("CTRD", &shape, stack(&plain, &|it| it.data), no_cards()),
        Hdu::image_f32("N_CTRD", &shape, stack(&normed, &|it| it.data), no_cards()),
        Hdu::image_f32("FIT", &shape, stack(&plain, &|it| it.model), no_cards()),
        Hdu::image_f32("N_FIT", &shape, stack(&normed, &|it| it.model), no_cards()),
        Hdu::image_f32(
            "RESID",
            &shape,
            stack(&plain, &|it| it.residual),
            no_cards(),
        ),
        Hdu::image_f32(
            "N_RESID",
            &shape,
            stack(&normed, &|it| it.residual),
            no_cards(),
        ),
        Hdu::bintable(
            "SOLNS",
            Table::new(
                nint,
                vec![Column::new(
                    "coeffs",
                    ColumnData::F64 {
                        repeat: ns,
                        values: solns,
                    },
                )],
            ),
            no_cards(),
        ),
    ]
}
