//! The analysis options as the command line and the page give them (strings): upstream's
//! parameter names and defaults (upstream.md §5.2) turned into `AnalyzeParams` and `References`,
//! reading the reference files they name through a caller-given reader. Used by `ami3 analyze`,
//! `ami3 run` and `wasm`. No science here.

use crate::analyze::exposure::{AffineChoice, AnalyzeParams, References};
use crate::error::{Error, Result};
use crate::niriss::mask::parse_chooseholes;
use crate::products::reffiles::{affine_from_json, bandpass_from_json, NrmReference, Throughput};

/// Options common to the analysis commands, as strings from the command line.
#[derive(Debug, Default, Clone)]
pub struct AnalyzeOptions {
    pub throughput: Option<String>,
    pub nrm: Option<String>,
    pub bandpass: Option<String>,
    pub oversample: Option<String>,
    pub affine2d: Option<String>,
    pub rotation_search: Option<String>,
    pub psf_offset: Option<String>,
    pub rotation: Option<String>,
    pub usebp: Option<String>,
    pub run_bpfix: Option<String>,
    pub firstfew: Option<String>,
    pub chooseholes: Option<String>,
}

impl AnalyzeOptions {
    /// Takes `--name value` if `name` is one of ours; returns false otherwise.
    pub fn take(&mut self, name: &str, value: String) -> bool {
        let slot = match name {
            "--throughput" => &mut self.throughput,
            "--nrm" => &mut self.nrm,
            "--bandpass" => &mut self.bandpass,
            "--oversample" => &mut self.oversample,
            "--affine2d" => &mut self.affine2d,
            "--rotation-search" => &mut self.rotation_search,
            "--psf-offset" => &mut self.psf_offset,
            "--rotation" => &mut self.rotation,
            "--usebp" => &mut self.usebp,
            "--run-bpfix" => &mut self.run_bpfix,
            "--firstfew" => &mut self.firstfew,
            "--chooseholes" => &mut self.chooseholes,
            _ => return false,
        };
        *slot = Some(value);
        true
    }
}

fn opt_err(name: &str, problem: String) -> Error {
    Error::new(format!("option {name}"), problem)
}

/// Parses "true"/"false" (also yes/no, 1/0).
pub fn parse_bool(name: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "1" => Ok(true),
        "false" | "no" | "0" => Ok(false),
        _ => Err(opt_err(name, format!("expected true or false, got '{v}'"))),
    }
}

fn parse_floats(name: &str, v: &str, count: usize) -> Result<Vec<f64>> {
    let parts: Vec<f64> = v
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<f64>()
                .map_err(|_| opt_err(name, format!("'{s}' is not a number")))
        })
        .collect::<Result<_>>()?;
    if parts.len() != count || parts.iter().any(|x| !x.is_finite()) {
        return Err(opt_err(
            name,
            format!("expected {count} numbers, got '{v}'"),
        ));
    }
    Ok(parts)
}

/// Builds the analysis parameters; `read` loads a named file's bytes.
pub fn build_params(
    o: &AnalyzeOptions,
    read: &dyn Fn(&str) -> Result<Vec<u8>>,
) -> Result<AnalyzeParams> {
    let mut p = AnalyzeParams::default();
    if let Some(v) = &o.oversample {
        p.oversample = v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| n % 2 == 1)
            .ok_or_else(|| {
                opt_err(
                    "--oversample",
                    format!("must be an odd positive integer, got '{v}'"),
                )
            })?;
    }
    if let Some(v) = &o.rotation {
        p.rotation_deg = parse_floats("--rotation", v, 1)?[0];
    }
    if let Some(v) = &o.psf_offset {
        let f = parse_floats("--psf-offset", v, 2)?;
        p.psf_offset = (f[0], f[1]);
    }
    if let Some(v) = &o.rotation_search {
        let f = parse_floats("--rotation-search", v, 3)?;
        if !(f[2] > 0.0 && f[1] > f[0]) {
            return Err(opt_err(
                "--rotation-search",
                "needs START < STOP and STEP > 0".into(),
            ));
        }
        p.rotation_search_deg = (f[0], f[1], f[2]);
    }
    if let Some(v) = &o.usebp {
        p.usebp = parse_bool("--usebp", v)?;
    }
    if let Some(v) = &o.run_bpfix {
        p.run_bpfix = parse_bool("--run-bpfix", v)?;
    }
    if let Some(v) = &o.firstfew {
        let n = v.trim().parse::<usize>().ok().filter(|&n| n >= 1);
        p.firstfew = Some(n.ok_or_else(|| {
            opt_err(
                "--firstfew",
                format!("must be a positive integer, got '{v}'"),
            )
        })?);
    }
    if let Some(v) = &o.chooseholes {
        p.chooseholes = Some(parse_chooseholes(v).map_err(|e| opt_err("--chooseholes", e))?);
    }
    if let Some(v) = &o.affine2d {
        p.affine2d = match v.trim().to_ascii_lowercase().as_str() {
            "commissioning" => AffineChoice::Commissioning,
            "none" => AffineChoice::Search,
            _ => {
                let bytes = read(v)?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| Error::new(v.as_str(), "not a UTF-8 JSON file"))?;
                AffineChoice::Given(affine_from_json(&text, v)?)
            }
        };
    }
    if let Some(v) = &o.bandpass {
        let bytes = read(v)?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::new(v.as_str(), "not a UTF-8 JSON file"))?;
        p.bandpass = Some(bandpass_from_json(&text, v)?);
    }
    Ok(p)
}

/// Reads the reference files named in the options.
pub fn build_references(
    o: &AnalyzeOptions,
    read: &dyn Fn(&str) -> Result<Vec<u8>>,
) -> Result<References> {
    let throughput = match &o.throughput {
        Some(f) => Some(Throughput::from_bytes(&read(f)?, f)?),
        None => None,
    };
    let nrm = match &o.nrm {
        Some(f) => Some(NrmReference::from_bytes(&read(f)?, f)?),
        None => None,
    };
    Ok(References { throughput, nrm })
}
