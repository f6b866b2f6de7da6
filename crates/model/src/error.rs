//! Errors of model loading.

use crate::source::Problem;

/// Why a model or thresholds file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file was read and has problems, each with its position.
    #[error("{}", render(.0))]
    Invalid(Vec<Problem>),
}

fn render(problems: &[Problem]) -> String {
    let mut out = format!("{} problem{} found:", problems.len(), if problems.len() == 1 { "" } else { "s" });
    for p in problems {
        out.push_str("\n  ");
        out.push_str(&p.to_string());
    }
    out
}

impl ModelError {
    /// The problems, each with its position (empty for an I/O error).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ModelError::Io { .. } => &[],
            ModelError::Invalid(p) => p,
        }
    }
}
