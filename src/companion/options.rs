//! The options of `ami3 fit-binary` (companion.md §1) as one plain struct that the command line
//! fills with [`FitOptions::take`] and the page passes through serde; defaults from §1.

use super::frames::FrameChoice;
use crate::error::{Error, Result};

/// One contrast for all files, or one per filter (§1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContrastChoice {
    Common,
    PerFilter,
}

/// §4's covariance choice, or CANDID's diagonal weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorsChoice {
    Auto,
    Diagonal,
}

/// §2's bandpass rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BandpassChoice {
    Filter,
    Tophat,
}

/// The options of the companion search, named as the command line's in snake case.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default)]
pub struct FitOptions {
    pub rmin_mas: f64,
    pub rmax_mas: f64,
    pub step_mas: f64,
    pub starts: usize,
    pub contrast: ContrastChoice,
    pub v2: bool,
    pub errors: ErrorsChoice,
    pub frame: FrameChoice,
    pub bandpass: BandpassChoice,
    pub limits: bool,
    pub limit_bin_mas: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            rmin_mas: 30.0,
            rmax_mas: 600.0,
            step_mas: 2.0,
            starts: 20,
            contrast: ContrastChoice::Common,
            v2: false,
            errors: ErrorsChoice::Auto,
            frame: FrameChoice::Auto,
            bandpass: BandpassChoice::Filter,
            limits: true,
            limit_bin_mas: 10.0,
        }
    }
}

fn bad(name: &str, problem: String) -> Error {
    Error::option(name, problem)
}

fn number(name: &str, v: &str) -> Result<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| bad(name, format!("'{v}' is not a number")))
}

fn choice<T>(name: &str, v: &str, options: &[(&str, T)]) -> Result<T>
where
    T: Copy,
{
    let names: Vec<&str> = options.iter().map(|o| o.0).collect();
    options
        .iter()
        .find(|o| o.0 == v.trim())
        .map(|o| o.1)
        .ok_or_else(|| bad(name, format!("expected {}, got '{v}'", names.join(" or "))))
}

impl FitOptions {
    /// Whether `--name` takes no value (`--v2`, `--no-limits`).
    pub fn is_flag(name: &str) -> bool {
        matches!(name, "--v2" | "--no-limits")
    }

    /// Takes `--name value` (a flag with any value) if it is one of §1's; false otherwise.
    pub fn take(&mut self, name: &str, value: &str) -> Result<bool> {
        match name {
            "--rmin-mas" => self.rmin_mas = number(name, value)?,
            "--rmax-mas" => self.rmax_mas = number(name, value)?,
            "--step-mas" => self.step_mas = number(name, value)?,
            "--limit-bin-mas" => self.limit_bin_mas = number(name, value)?,
            "--starts" => {
                self.starts = value
                    .trim()
                    .parse()
                    .map_err(|_| bad(name, format!("'{value}' is not a whole number")))?
            }
            "--contrast" => {
                self.contrast = choice(
                    name,
                    value,
                    &[
                        ("common", ContrastChoice::Common),
                        ("per-filter", ContrastChoice::PerFilter),
                    ],
                )?
            }
            "--errors" => {
                self.errors = choice(
                    name,
                    value,
                    &[
                        ("auto", ErrorsChoice::Auto),
                        ("diagonal", ErrorsChoice::Diagonal),
                    ],
                )?
            }
            "--frame" => {
                self.frame = choice(
                    name,
                    value,
                    &[
                        ("auto", FrameChoice::Auto),
                        ("sky", FrameChoice::Sky),
                        ("detector", FrameChoice::Detector),
                    ],
                )?
            }
            "--bandpass" => {
                self.bandpass = choice(
                    name,
                    value,
                    &[
                        ("filter", BandpassChoice::Filter),
                        ("tophat", BandpassChoice::Tophat),
                    ],
                )?
            }
            "--v2" => self.v2 = true,
            "--no-limits" => self.limits = false,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Checks the values; the error names the option.
    pub fn validate(&self) -> Result<()> {
        if self.step_mas.is_nan() || self.step_mas <= 0.0 {
            return Err(bad(
                "--step-mas",
                format!("must be positive, got {}", self.step_mas),
            ));
        }
        if self.rmin_mas.is_nan() || self.rmin_mas < 0.0 {
            return Err(bad(
                "--rmin-mas",
                format!("must be ≥ 0, got {}", self.rmin_mas),
            ));
        }
        if self.rmax_mas.is_nan() || self.rmax_mas <= self.rmin_mas + self.step_mas {
            return Err(bad(
                "--rmax-mas",
                format!(
                    "must exceed --rmin-mas ({}) by more than one step, got {}",
                    self.rmin_mas, self.rmax_mas
                ),
            ));
        }
        if self.rmax_mas / self.step_mas > 5000.0 {
            return Err(bad(
                "--step-mas",
                "more than 5000 nodes per side: use a larger step".into(),
            ));
        }
        if self.starts == 0 {
            return Err(bad("--starts", "needs at least one start".into()));
        }
        if self.limit_bin_mas.is_nan() || self.limit_bin_mas <= 0.0 {
            return Err(bad(
                "--limit-bin-mas",
                format!("must be positive, got {}", self.limit_bin_mas),
            ));
        }
        Ok(())
    }
}
