//! The reduction's options, declared once: `calwebb_ami3`'s switches and `ami_analyze`'s
//! parameters with upstream's names, types and defaults (upstream.md §5.2), and the reference
//! files that override CRDS. The page sends them as one object (serde, through
//! `serde_wasm_bindgen`); the command line fills the same struct from `--name value` pairs
//! ([`Options::set`]); [`Options::validate`] checks them once for both; [`Options::resolve`]
//! reads the files they name. Where upstream types a value as a string ("-3 3 1", "0.0 0.0"),
//! that form is accepted beside the typed one. No science here.

use crate::analyze::exposure::{AffineChoice, AnalyzeParams, References, MAX_OVERSAMPLE};
use crate::analyze::improved::Mode;
use crate::error::{Error, Kind, Result};
use crate::niriss::mask::parse_chooseholes;
use crate::pipeline::PipelineOptions;
use crate::products::reffiles::{affine_from_json, bandpass_from_json, NrmReference, Throughput};
use serde::{Deserialize, Deserializer, Serialize};

/// Every option of `ami3 run` and the page (`ami3 analyze` takes all but the first two).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Write the per-role averages `_amiavg` / `_psf-amiavg` (calwebb_ami3).
    #[serde(deserialize_with = "flex::boolean")]
    pub save_averages: bool,
    /// Write the OIFITS products (calwebb_ami3; default true).
    #[serde(deserialize_with = "flex::boolean")]
    pub oifits: bool,
    /// Model oversampling, odd (default 3).
    #[serde(deserialize_with = "flex::count")]
    pub oversample: usize,
    /// Extra pupil rotation, degrees counter-clockwise.
    #[serde(deserialize_with = "flex::number")]
    pub rotation: f64,
    /// (x, y) offset of the simulated PSF in the rotation search, pixels ("0.0 0.0").
    #[serde(deserialize_with = "flex::numbers")]
    pub psf_offset: [f64; 2],
    /// Rotation search start, stop, step in degrees ("-3 3 1").
    #[serde(deserialize_with = "flex::numbers")]
    pub rotation_search: [f64; 3],
    /// Leave out flagged pixels from the fit.
    #[serde(deserialize_with = "flex::boolean")]
    pub usebp: bool,
    /// Run the Fourier bad-pixel correction.
    #[serde(deserialize_with = "flex::boolean")]
    pub run_bpfix: bool,
    /// Fit only the first N integrations.
    #[serde(deserialize_with = "flex::optional_count")]
    pub firstfew: Option<usize>,
    /// Holes to use, by name ("B4,C2,B5,..."): all seven when absent.
    #[serde(deserialize_with = "flex::optional_text")]
    pub chooseholes: Option<String>,
    /// "commissioning", "none" (search the rotation), or the name of an affine2d JSON file.
    pub affine2d: String,
    /// The name of a bandpass JSON file overriding the throughput.
    #[serde(deserialize_with = "flex::optional_text")]
    pub bandpass: Option<String>,
    /// The name of a THROUGHPUT reference file (else the built-in curve of the filter).
    #[serde(deserialize_with = "flex::optional_text")]
    pub throughput: Option<String>,
    /// The name of an NRM reference file (else the design pupil).
    #[serde(deserialize_with = "flex::optional_text")]
    pub nrm: Option<String>,
    /// "default" (jwst's reduction, byte-identical products) or "improved" (issue 15: a
    /// weighted refit with a fitted noise + mismatch variance; products carry AMIMODE).
    pub mode: Mode,
    /// The model basis built at every integration's own centroid, jwst's way (the products of
    /// the default before issue 14's lever 8), instead of interpolated from bases shared by the
    /// exposure (within 1e-5 and 0.001° of jwst 3.0.0 on every shared set).
    #[serde(deserialize_with = "flex::boolean")]
    pub exact: bool,
}

impl Default for Options {
    fn default() -> Self {
        let a = AnalyzeParams::default();
        Options {
            save_averages: false,
            oifits: true,
            oversample: a.oversample,
            rotation: a.rotation_deg,
            psf_offset: [a.psf_offset.0, a.psf_offset.1],
            rotation_search: [
                a.rotation_search_deg.0,
                a.rotation_search_deg.1,
                a.rotation_search_deg.2,
            ],
            usebp: a.usebp,
            run_bpfix: a.run_bpfix,
            firstfew: None,
            chooseholes: None,
            affine2d: "commissioning".into(),
            bandpass: None,
            throughput: None,
            nrm: None,
            mode: Mode::Default,
            exact: a.exact,
        }
    }
}

/// The option `field` as the command line spells it: `--rotation-search`.
pub fn cli_name(field: &str) -> String {
    format!("--{}", field.replace('_', "-"))
}

impl Options {
    /// Sets the option the command-line argument `--name` names from its text; false if
    /// `--name` is not one of ours. Values are checked by [`Options::validate`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool> {
        let Some(field) = name.strip_prefix("--").map(|f| f.replace('-', "_")) else {
            return Ok(false);
        };
        let text = serde_json::Value::String(value.to_string());
        let mut object = serde_json::to_value(&*self).expect("options serialise");
        match object.get_mut(&field) {
            Some(slot) => *slot = text,
            None => return Ok(false),
        }
        *self = Options::deserialize(object).map_err(|e| Error::option(name, e.to_string()))?;
        Ok(true)
    }

    /// Checks every value; `name` spells a field as the user typed it (`cli_name` on the
    /// command line, the field itself on the page).
    pub fn validate(&self, name: &dyn Fn(&str) -> String) -> Result<()> {
        let bad = |field: &str, problem: String| Err(Error::option(name(field), problem));
        if self.oversample == 0 || self.oversample.is_multiple_of(2) {
            return bad(
                "oversample",
                format!("must be an odd positive integer, got {}", self.oversample),
            );
        }
        if self.oversample > MAX_OVERSAMPLE {
            return bad(
                "oversample",
                format!(
                    "at most {MAX_OVERSAMPLE} (the model's memory grows with its square), got {}",
                    self.oversample
                ),
            );
        }
        if !self.rotation.is_finite() {
            return bad(
                "rotation",
                format!("must be a number, got {}", self.rotation),
            );
        }
        if self.psf_offset.iter().any(|v| !v.is_finite()) {
            return bad("psf_offset", "needs two numbers X Y".into());
        }
        let [start, stop, step] = self.rotation_search;
        if !(start.is_finite() && stop.is_finite() && step > 0.0 && stop > start) {
            return bad("rotation_search", "needs START < STOP and STEP > 0".into());
        }
        if self.firstfew == Some(0) {
            return bad("firstfew", "must be a positive integer, got '0'".into());
        }
        if let Some(h) = &self.chooseholes {
            parse_chooseholes(h).map_err(|e| Error::option(name("chooseholes"), e.problem))?;
        }
        Ok(())
    }

    /// Validates, reads the files the options name through `read`, and gives what the
    /// pipeline takes.
    pub fn resolve(
        &self,
        name: &dyn Fn(&str) -> String,
        read: &dyn Fn(&str) -> Result<Vec<u8>>,
    ) -> Result<(PipelineOptions, References)> {
        self.validate(name)?;
        let json = |file: &str| {
            let bytes = read(file)?;
            String::from_utf8(bytes)
                .map_err(|_| Error::file(file, Kind::BadReference, "not a UTF-8 JSON file"))
        };
        let affine2d = match self.affine2d.trim().to_ascii_lowercase().as_str() {
            "commissioning" | "" => AffineChoice::Commissioning,
            "none" => AffineChoice::Search,
            _ => AffineChoice::Given(affine_from_json(&json(&self.affine2d)?, &self.affine2d)?),
        };
        let bandpass = match &self.bandpass {
            Some(f) => Some(bandpass_from_json(&json(f)?, f)?),
            None => None,
        };
        let analyze = AnalyzeParams {
            oversample: self.oversample,
            rotation_deg: self.rotation,
            psf_offset: (self.psf_offset[0], self.psf_offset[1]),
            rotation_search_deg: (
                self.rotation_search[0],
                self.rotation_search[1],
                self.rotation_search[2],
            ),
            bandpass,
            usebp: self.usebp,
            firstfew: self.firstfew,
            chooseholes: match &self.chooseholes {
                Some(h) => Some(parse_chooseholes(h)?),
                None => None,
            },
            affine2d,
            run_bpfix: self.run_bpfix,
            mode: self.mode,
            exact: self.exact,
            ..AnalyzeParams::default()
        };
        let references = References {
            throughput: match &self.throughput {
                Some(f) => Some(Throughput::from_bytes(&read(f)?, f)?),
                None => None,
            },
            nrm: match &self.nrm {
                Some(f) => Some(NrmReference::from_bytes(&read(f)?, f)?),
                None => None,
            },
        };
        let pipeline = PipelineOptions {
            save_averages: self.save_averages,
            oifits: self.oifits,
            analyze,
        };
        Ok((pipeline, references))
    }
}

/// Deserialisers that take a value typed (a number, an array, a boolean) or as text, the way
/// upstream's configuration and the page's text fields give it; empty text is "not given".
mod flex {
    use super::*;
    use serde::de::Error as _;

    /// A name or list as the user gave it (a file name, "B4,C2,...").
    type Text = String;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Bool(bool),
        Number(f64),
        Numbers(Vec<f64>),
        Text(String),
        Null(()),
    }

    fn text_numbers<E: serde::de::Error>(s: &str) -> std::result::Result<Vec<f64>, E> {
        s.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<f64>()
                    .map_err(|_| E::custom(format!("'{t}' is not a number")))
            })
            .collect()
    }

    fn raw_numbers<E: serde::de::Error>(raw: Raw) -> std::result::Result<Vec<f64>, E> {
        match raw {
            Raw::Number(x) => Ok(vec![x]),
            Raw::Numbers(v) => Ok(v),
            Raw::Text(s) => text_numbers(&s),
            Raw::Bool(b) => Err(E::custom(format!("expected a number, got {b}"))),
            Raw::Null(()) => Ok(vec![]),
        }
    }

    pub fn numbers<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> std::result::Result<[f64; N], D::Error> {
        let v: Vec<f64> = raw_numbers(Raw::deserialize(d)?)?;
        <[f64; N]>::try_from(v.as_slice()).map_err(|_| {
            let given: Vec<String> = v.iter().map(f64::to_string).collect();
            D::Error::custom(format!("expected {N} numbers, got '{}'", given.join(" ")))
        })
    }

    pub fn number<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
        numbers::<D, 1>(d).map(|[x]| x)
    }

    fn to_count<E: serde::de::Error>(x: f64) -> std::result::Result<usize, E> {
        if x >= 0.0 && x.fract() == 0.0 && x < 1e9 {
            Ok(x as usize)
        } else {
            Err(E::custom(format!("must be a positive integer, got '{x}'")))
        }
    }

    pub fn count<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
        to_count(number(d)?)
    }

    pub fn optional_count<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<usize>, D::Error> {
        let v: Vec<f64> = raw_numbers(Raw::deserialize(d)?)?;
        match v.as_slice() {
            [] => Ok(None),
            [x] => to_count(*x).map(Some),
            _ => Err(D::Error::custom("expected one integer")),
        }
    }
    pub fn boolean<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
        match Raw::deserialize(d)? {
            Raw::Bool(b) => Ok(b),
            Raw::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "1" => Ok(true),
                "false" | "no" | "0" => Ok(false),
                _ => Err(D::Error::custom(format!(
                    "expected true or false, got '{s}'"
                ))),
            },
            _ => Err(D::Error::custom("expected true or false")),
        }
    }

    pub fn optional_text<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Option<Text>, D::Error> {
        Ok(Option::<Text>::deserialize(d)?.filter(|s| !s.trim().is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(json: &str) -> std::result::Result<Options, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn typed_and_upstream_text_forms_agree() {
        let typed = page(r#"{"rotation_search": [-2, 2, 0.5], "psf_offset": [1, -1], "oversample": 5, "firstfew": 3, "usebp": false}"#).unwrap();
        let text = page(r#"{"rotation_search": "-2 2 0.5", "psf_offset": "1.0 -1.0", "oversample": "5", "firstfew": "3", "usebp": "false"}"#).unwrap();
        assert_eq!(typed, text);
        assert_eq!(typed.rotation_search, [-2.0, 2.0, 0.5]);
        assert_eq!(typed.firstfew, Some(3));
        assert!(!typed.usebp && typed.run_bpfix);
    }

    #[test]
    fn defaults_are_upstreams() {
        let o = page("{}").unwrap();
        assert_eq!(o, Options::default());
        assert_eq!(
            (o.oversample, o.rotation_search, o.psf_offset),
            (3, [-3.0, 3.0, 1.0], [0.0, 0.0])
        );
        assert!(o.usebp && o.run_bpfix && o.oifits && !o.save_averages);
        assert_eq!(o.affine2d, "commissioning");
        // empty page fields mean "not given"
        let empty = page(r#"{"firstfew": "", "chooseholes": " ", "bandpass": ""}"#).unwrap();
        assert_eq!(empty, Options::default());
    }

    #[test]
    fn command_line_fills_the_same_struct() {
        let mut o = Options::default();
        assert!(o.set("--rotation-search", "-2 2 0.5").unwrap());
        assert!(o.set("--firstfew", "3").unwrap());
        assert!(o.set("--usebp", "no").unwrap());
        assert!(o.set("--save-averages", "true").unwrap());
        assert!(o.set("--oifits", "false").unwrap());
        assert!(o.save_averages && !o.oifits);
        assert!(!o.set("--out", "x").unwrap());
        assert_eq!(o.rotation_search, [-2.0, 2.0, 0.5]);
        assert_eq!((o.firstfew, o.usebp), (Some(3), false));
        let e = o.set("--psf-offset", "1 x").unwrap_err();
        assert_eq!(e.input, crate::error::Input::Option("--psf-offset".into()));
        assert!(e.problem.contains("'x' is not a number"), "{e}");
    }

    #[test]
    fn validate_names_the_option_as_typed() {
        let mut o = Options::default();
        o.set("--oversample", "4").unwrap();
        let e = o.validate(&cli_name).unwrap_err();
        assert_eq!(e.kind, Kind::BadOption);
        assert_eq!(
            e.to_string(),
            "option --oversample: must be an odd positive integer, got 4"
        );
        let e = page(r#"{"rotation_search": "3 -3 1"}"#)
            .unwrap()
            .validate(&|f| f.to_string())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "option rotation_search: needs START < STOP and STEP > 0"
        );
        let e = page(r#"{"chooseholes": "B4,X9"}"#)
            .unwrap()
            .validate(&cli_name)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("option --chooseholes: unknown hole name 'X9'"),
            "{e}"
        );
        assert!(
            page(r#"{"oversampel": 3}"#).is_err(),
            "unknown options are refused"
        );
    }
}
