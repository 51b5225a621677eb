//! What a model artifact records beside its weights and that inference reads: the label the
//! model was trained on and the figures it reached. Part of the artifact format, so it lives
//! with the runtime; [`crate::research`] computes the figures.

use serde::{Deserialize, Serialize};

/// Which target to learn.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// `(r - r_benchmark) / cross-sectional sd`, clipped to [-3, 3] (the reference project).
    #[default]
    Alpha,
    /// `C_{t+h} / C_t - 1`.
    ForwardReturn,
}

/// Evaluation figures.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    pub n: usize,
    pub rmse: f64,
    pub directional_accuracy: f64,
    pub rank_ic_mean: f64,
    pub rank_ic_t: f64,
    pub dates: usize,
}
