//! The one product registry: every product's kind, its file-name suffix, its data model and the
//! step-status keywords it carries (ami3.md §2, upstream.md §7.1–7.2), the file name built from
//! them, and the primary-header provenance cards that `ami3 analyze`, `ami3 run` and the page all
//! stamp with the same function. Knows nothing of how a product's tables are laid out (that is
//! `amilg` and `oifits`) and nothing of associations beyond two strings.

use crate::fits::Card;

/// What a product is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductKind {
    /// `_ami`: one exposure's integration averages (AmiLgModel).
    Ami,
    /// `_ami-oi`: a science exposure's averaged OIFITS.
    AmiOi,
    /// `_psf-ami-oi`: a reference-star exposure's averaged OIFITS (`ami3 run`).
    PsfAmiOi,
    /// `_amimulti-oi`: OIFITS with one row per integration (`ami3 analyze`).
    AmiMultiOi,
    /// `_amilg`: the per-integration fit cubes (AmiLgFitModel, `ami3 analyze`).
    AmiLg,
    /// `_amiavg`: the science exposures averaged (`--save-averages`).
    AmiAvg,
    /// `_psf-amiavg`: the reference-star exposures averaged (`--save-averages`).
    PsfAmiAvg,
    /// `_aminorm`: the science average calibrated by the reference average.
    AmiNorm,
    /// `_aminorm-oi`: the calibrated OIFITS.
    AmiNormOi,
}

/// The steps whose status keywords a product carries, in pipeline order.
const ANALYZE: &[(&str, &str)] = &[("S_AMIANA", "ami_analyze step status")];
const AVERAGE: &[(&str, &str)] = &[
    ("S_AMIANA", "ami_analyze step status"),
    ("S_AMIAVG", "ami_average step status"),
];
const NORMALIZE: &[(&str, &str)] = &[
    ("S_AMIANA", "ami_analyze step status"),
    ("S_AMIAVG", "ami_average step status"),
    ("S_AMINOR", "ami_normalize step status"),
];

impl ProductKind {
    /// The suffix of the file name, after the last `_`.
    pub fn suffix(self) -> &'static str {
        match self {
            ProductKind::Ami => "ami",
            ProductKind::AmiOi => "ami-oi",
            ProductKind::PsfAmiOi => "psf-ami-oi",
            ProductKind::AmiMultiOi => "amimulti-oi",
            ProductKind::AmiLg => "amilg",
            ProductKind::AmiAvg => "amiavg",
            ProductKind::PsfAmiAvg => "psf-amiavg",
            ProductKind::AmiNorm => "aminorm",
            ProductKind::AmiNormOi => "aminorm-oi",
        }
    }

    /// The stdatamodels model the file opens as (the `DATAMODL` keyword).
    pub fn data_model(self) -> &'static str {
        match self {
            ProductKind::AmiOi
            | ProductKind::PsfAmiOi
            | ProductKind::AmiMultiOi
            | ProductKind::AmiNormOi => "AmiOIModel",
            ProductKind::AmiLg => "AmiLgFitModel",
            ProductKind::Ami
            | ProductKind::AmiAvg
            | ProductKind::PsfAmiAvg
            | ProductKind::AmiNorm => "AmiLgModel",
        }
    }

    /// The step-status keywords (each `COMPLETE`) and their comments.
    pub fn step_status(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ProductKind::AmiAvg | ProductKind::PsfAmiAvg => AVERAGE,
            ProductKind::AmiNorm | ProductKind::AmiNormOi => NORMALIZE,
            _ => ANALYZE,
        }
    }
}

/// The file name of a product: `<stem>_<suffix>.fits`, where the stem is an exposure's root
/// (`ami3 analyze`), `<root>_<asn_id>` (a member of `ami3 run`) or the ASN product name.
pub fn product_name(stem: &str, kind: ProductKind) -> String {
    format!("{stem}_{}.fits", kind.suffix())
}

/// What the fit of one exposure was, for the `AMI_*` provenance cards.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitSummary {
    pub nint: usize,
    pub npix: usize,
    /// The affine distortion's magnifications and shears.
    pub mx: f64,
    pub my: f64,
    pub sx: f64,
    pub sy: f64,
    /// Integrations left out because they could not be fitted.
    pub dropped: usize,
    /// Baselines whose V² exceeds 1.1 and 1 + 3σ (the fit failed to describe the image).
    pub vis2_above_one: usize,
    /// The image shows no fringes (median V² below 0.01).
    pub no_fringes: bool,
}

/// Where a product comes from, beyond its kind.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// `(ASNPOOL, ASNTABLE)` for products of an association.
    pub association: Option<(String, String)>,
    /// The fit, for products of one exposure.
    pub fit: Option<FitSummary>,
    /// Keywords of the step itself (e.g. the calibrator of a calibrated product).
    pub step: Vec<Card>,
}

/// The cards every product's primary header gets on top of the input's keywords, in this order:
/// association, step status, fit, step keywords, software, data model.
pub fn primary_cards(kind: ProductKind, p: &Provenance) -> Vec<Card> {
    let mut cards = Vec::new();
    if let Some((pool, table)) = &p.association {
        cards.push(Card::new(
            "ASNPOOL",
            pool.as_str(),
            Some("name of the ASN pool"),
        ));
        cards.push(Card::new(
            "ASNTABLE",
            table.as_str(),
            Some("name of the ASN table"),
        ));
    }
    for (key, comment) in kind.step_status() {
        cards.push(Card::new(key, "COMPLETE", Some(comment)));
    }
    if let Some(f) = &p.fit {
        cards.push(Card::new(
            "AMI_NINT",
            f.nint as i64,
            Some("integrations fitted"),
        ));
        cards.push(Card::new(
            "AMI_NPIX",
            f.npix as i64,
            Some("side of the cropped image fitted"),
        ));
        cards.push(Card::new("AMI_MX", f.mx, Some("affine distortion mx")));
        cards.push(Card::new("AMI_MY", f.my, Some("affine distortion my")));
        cards.push(Card::new("AMI_SX", f.sx, Some("affine distortion sx")));
        cards.push(Card::new("AMI_SY", f.sy, Some("affine distortion sy")));
        if f.dropped > 0 {
            cards.push(Card::new(
                "AMI_NDRP",
                f.dropped as i64,
                Some("integrations dropped: could not be fitted"),
            ));
        }
        if f.vis2_above_one > 0 {
            cards.push(Card::new(
                "AMI_WV2",
                f.vis2_above_one as i64,
                Some("WARNING: baselines with V2 > 1.1 and 1 + 3 sigma"),
            ));
        }
        if f.no_fringes {
            cards.push(Card::new(
                "AMI_WNOF",
                true,
                Some("WARNING: no fringes (median V2 < 0.01)"),
            ));
        }
    }
    cards.extend(p.step.iter().cloned());
    cards.push(Card::new(
        "CAL_VER",
        env!("CARGO_PKG_VERSION"),
        Some("ami3 version"),
    ));
    cards.push(Card::new(
        "CAL_SOFT",
        "ami3",
        Some("software that made this file"),
    ));
    cards.push(Card::new(
        "DATAMODL",
        kind.data_model(),
        Some("type of data model"),
    ));
    cards
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_end_in_the_upstream_suffixes() {
        assert_eq!(
            product_name("jw1_nis", ProductKind::PsfAmiOi),
            "jw1_nis_psf-ami-oi.fits"
        );
        assert_eq!(
            product_name("p", ProductKind::AmiNormOi),
            "p_aminorm-oi.fits"
        );
    }

    #[test]
    fn calibrated_products_carry_all_three_step_statuses_and_exposures_one() {
        let keys = |k: ProductKind| -> Vec<String> {
            primary_cards(k, &Provenance::default())
                .into_iter()
                .map(|c| c.key)
                .collect()
        };
        assert_eq!(
            keys(ProductKind::AmiNormOi),
            ["S_AMIANA", "S_AMIAVG", "S_AMINOR", "CAL_VER", "CAL_SOFT", "DATAMODL"]
        );
        assert_eq!(
            keys(ProductKind::AmiLg),
            ["S_AMIANA", "CAL_VER", "CAL_SOFT", "DATAMODL"]
        );
    }
}
