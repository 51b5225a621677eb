//! The linear baseline's predictor: ridge regression on the last bar's scaled features. It is
//! fitted by [`crate::research::ridge`].

use serde::{Deserialize, Serialize};

/// A fitted ridge model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ridge {
    pub weights: Vec<f64>,
    pub bias: f64,
    pub lambda: f64,
}

impl Ridge {
    /// Prediction for one row (f32 model inputs or f64 values).
    pub fn predict<T: Copy + Into<f64>>(&self, row: &[T]) -> f64 {
        self.bias + self.weights.iter().zip(row).map(|(w, x)| w * (*x).into()).sum::<f64>()
    }
}
