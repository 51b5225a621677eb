//! Research: datasets, training, walk-forward evaluation, figures and importance.
//!
//! Everything here produces or judges models; nothing here runs in a backtest or a paper
//! session. The dependencies run one way: research uses the runtime's artifact format, networks
//! and scaler ([`crate::model`]) and the feature library; the runtime uses nothing of research.

pub mod dataset;
pub mod eval;
#[cfg(feature = "torch")]
pub mod importance;
#[cfg(feature = "torch")]
pub mod job;
#[cfg(feature = "torch")]
pub mod pipeline;
pub mod ridge;
#[cfg(feature = "torch")]
pub mod train;
#[cfg(feature = "torch")]
pub mod walkforward;

use std::path::PathBuf;

/// Errors of training and evaluation, split by what the user does about them.
#[derive(Debug, thiserror::Error)]
pub enum ResearchError {
    /// The job file is wrong: fix the key it names (`section.key: reason`).
    #[error("{0}")]
    Config(String),
    /// The data cannot give what the job asks for (an empty split, a missing feature window).
    #[error("{0}")]
    Data(String),
    /// libtorch or a model artifact failed.
    #[error("{0}")]
    Model(String),
    /// An output cannot be written.
    #[error("cannot write {path}: {message}")]
    Write { path: PathBuf, message: String },
}

impl ResearchError {
    /// Maps an I/O error on `path` to [`ResearchError::Write`].
    pub fn write(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |e| ResearchError::Write {
            path,
            message: e.to_string(),
        }
    }
}
