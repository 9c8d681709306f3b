//! The library's one error type: what input it concerns, what kind of problem it is, and the
//! problem in words. Modules below the boundary (fits, analyze, niriss) leave the input
//! [`Input::Unnamed`]; the function that knows the file (the reader of an exposure, of a
//! reference file, of the association) names it once with [`Error::in_file`]. Callers match on
//! [`Kind`]; people read `Display`, which is "input: problem".

use std::fmt;

/// What an error concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A file given by the user: an exposure, the association, a reference file.
    File(String),
    /// An option of the command line or the page, by the name the user typed.
    Option(String),
    /// The command line as a whole (a missing argument, an unknown command).
    CommandLine,
    /// An output file or folder.
    Output(String),
    /// Data passed between the page's workers, such as "member result 2".
    Message(String),
    /// Not named yet: raised inside a module; the boundary names it with [`Error::in_file`].
    Unnamed,
}

/// The analysis stage an [`Kind::Analysis`] error comes from (upstream.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Window, reference rows, outliers, crop.
    Prepare,
    /// Geometry, bandpass, affine distortion or rotation search, model.
    Plan,
    BadPixelFix,
    Centroid,
    /// The linear fit of one integration.
    Fit,
}

/// What kind of problem an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The bytes are not a FITS file at all.
    NotFits,
    /// A FITS file whose HDU `n` (1-based, as people count) is damaged or not standard.
    MalformedHdu(usize),
    /// A readable FITS file that is not a NIRISS AMI exposure this pipeline can use.
    NotAmiExposure,
    /// A reference file (throughput, NRM, bandpass, affine) that cannot be used.
    BadReference,
    /// An association file that cannot be used.
    BadAssociation,
    /// A calibrated OIFITS file the companion search cannot use.
    BadOifits,
    /// An option value out of range or malformed.
    BadOption,
    /// The command line does not say what to do.
    Usage,
    /// The analysis of an exposure failed at `stage` (in `integration`, 0-based, if one).
    Analysis {
        stage: Stage,
        integration: Option<usize>,
    },
    /// A file could not be read from disk.
    Read,
    /// An output could not be written (or would not be a valid file).
    Write,
    /// Bytes passed between workers are damaged.
    BadMessage,
}

/// An error that names the input and the problem with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub input: Input,
    pub kind: Kind,
    /// What is wrong, in words a user can act on.
    pub problem: String,
}

impl Error {
    /// An error about the file `name`.
    pub fn file(name: impl Into<String>, kind: Kind, problem: impl Into<String>) -> Self {
        Error {
            input: Input::File(name.into()),
            kind,
            problem: problem.into(),
        }
    }

    /// An error raised inside a module, to be named by the caller ([`Error::in_file`]).
    pub fn unnamed(kind: Kind, problem: impl Into<String>) -> Self {
        Error {
            input: Input::Unnamed,
            kind,
            problem: problem.into(),
        }
    }

    /// An analysis failure at `stage`, to be named by the caller.
    pub fn analysis(stage: Stage, problem: impl Into<String>) -> Self {
        Error::unnamed(
            Kind::Analysis {
                stage,
                integration: None,
            },
            problem,
        )
    }

    /// Marks an analysis error as raised in `integration` (0-based); the text says which,
    /// 1-based as people count: "integration 3: ...".
    pub fn at_integration(mut self, integration: usize) -> Self {
        if let Kind::Analysis { stage, .. } = self.kind {
            self.kind = Kind::Analysis {
                stage,
                integration: Some(integration),
            };
        }
        self.problem = format!("integration {}: {}", integration + 1, self.problem);
        self
    }

    /// A bad value of the option `name` (as the user typed it: `--firstfew`, `firstfew`).
    pub fn option(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Error {
            input: Input::Option(name.into()),
            kind: Kind::BadOption,
            problem: problem.into(),
        }
    }

    /// A command line that does not say what to do.
    pub fn usage(problem: impl Into<String>) -> Self {
        Error {
            input: Input::CommandLine,
            kind: Kind::Usage,
            problem: problem.into(),
        }
    }

    /// An output `name` that cannot be written.
    pub fn output(name: impl Into<String>, problem: impl Into<String>) -> Self {
        Error {
            input: Input::Output(name.into()),
            kind: Kind::Write,
            problem: problem.into(),
        }
    }

    /// Damaged bytes passed between workers (`what`: "member result 2").
    pub fn message(what: impl Into<String>, problem: impl Into<String>) -> Self {
        Error {
            input: Input::Message(what.into()),
            kind: Kind::BadMessage,
            problem: problem.into(),
        }
    }

    /// Names the file this error concerns, unless it already names an input.
    pub fn in_file(mut self, name: &str) -> Self {
        if self.input == Input::Unnamed {
            self.input = Input::File(name.to_string());
        }
        self
    }

    /// The name of the input, as `Display` prints it before the colon ("" when unnamed).
    pub fn input_name(&self) -> String {
        match &self.input {
            Input::File(n) | Input::Output(n) | Input::Message(n) => n.clone(),
            Input::Option(n) => format!("option {n}"),
            Input::CommandLine => "command line".into(),
            Input::Unnamed => String::new(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.input {
            Input::Unnamed => write!(f, "{}", self.problem),
            _ => write!(f, "{}: {}", self.input_name(), self.problem),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
