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

impl AmiLg {
    /// The integration average of an exposure's `n` x `n` fits, with its averaged observables.
    pub fn average_of(
        n: usize,
        integrations: &[IntegrationImages],
        observables: ObservableSet,
    ) -> Self {
        let np = n * n;
        let k = integrations.len() as f64;
        let mut fit = vec![0.0; np];
        let mut resid = vec![0.0; np];
        let mut resid_count = vec![0usize; np];
        let ns = integrations[0].coeffs_norm.len();
        let mut solns = vec![0.0; ns];
        for f in integrations {
            for p in 0..np {
                fit[p] += f.model[p] / k;
                if f.residual[p].is_finite() {
                    resid[p] += f.residual[p];
                    resid_count[p] += 1;
                }
            }
            for (s, c) in solns.iter_mut().zip(f.coeffs_norm) {
                *s += c / k;
            }
        }
        for p in 0..np {
            resid[p] = if resid_count[p] > 0 {
                resid[p] / resid_count[p] as f64
            } else {
                f64::NAN
            };
        }
        AmiLg {
            n,
            fit,
            resid,
            observables,
            solns,
        }
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
