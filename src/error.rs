//! The library's one error type: every error names the file it concerns and what is wrong.

use std::fmt;

/// An error that names the file (or other input) and the problem with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// The file or input the error concerns (a file name, or a description such as "ASN").
    pub file: String,
    /// What is wrong, in words a user can act on.
    pub problem: String,
}

impl Error {
    pub fn new(file: impl Into<String>, problem: impl Into<String>) -> Self {
        Error {
            file: file.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.problem)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
