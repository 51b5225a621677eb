//! Permutation feature importance: shuffle one feature (its whole window) across samples and
//! measure the drop in rank IC and the rise in loss. Computed on the validation split.

use super::dataset::{Dataset, Sample};
use super::train::score;
use crate::data::synth::Rng;
use serde::Serialize;
use tch::{Device, Kind, Tensor};

/// Importance of one feature.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FeatureImportance {
    pub feature: String,
    /// Rank IC with the feature intact minus with it shuffled (higher: more important).
    pub ic_drop: f64,
    /// MSE with it shuffled minus intact.
    pub loss_increase: f64,
}

fn mse(samples: &[Sample], pred: &[f64]) -> f64 {
    samples
        .iter()
        .zip(pred)
        .map(|(s, p)| (p - f64::from(s.label)).powi(2))
        .sum::<f64>()
        / samples.len().max(1) as f64
}

/// Importances of every input, sorted by IC drop (largest first). `model` maps a
/// `[batch, window, features]` tensor to predictions.
pub fn permutation_importance(
    ds: &Dataset,
    samples: &[Sample],
    model: &dyn Fn(&Tensor) -> Vec<f64>,
    seed: u64,
) -> Vec<FeatureImportance> {
    let (w, f) = (ds.window as i64, ds.n_features() as i64);
    let mut flat = Vec::with_capacity(samples.len() * (w * f) as usize);
    for s in samples {
        flat.extend(ds.window_of(s));
    }
    let x = Tensor::from_slice(&flat).view([samples.len() as i64, w, f]);
    let base_pred = model(&x);
    let base_ic = score(samples, &base_pred).rank_ic_mean;
    let base_loss = mse(samples, &base_pred);
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(f as usize);
    for j in 0..f {
        let mut order: Vec<i64> = (0..samples.len() as i64).collect();
        for i in (1..order.len()).rev() {
            let k = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, k);
        }
        let perm = Tensor::from_slice(&order).to_device(Device::Cpu);
        let shuffled = x.copy();
        let col = x.select(2, j).index_select(0, &perm).to_kind(Kind::Float);
        shuffled.select(2, j).copy_(&col);
        let pred = model(&shuffled);
        out.push(FeatureImportance {
            feature: ds.feature_names[j as usize].clone(),
            ic_drop: base_ic - score(samples, &pred).rank_ic_mean,
            loss_increase: mse(samples, &pred) - base_loss,
        });
    }
    out.sort_by(|a, b| b.ic_drop.total_cmp(&a.ic_drop));
    out
}

/// Writes `feature,ic_drop,loss_increase` rows.
///
/// # Errors
/// I/O errors.
pub fn write_csv(path: &std::path::Path, rows: &[FeatureImportance]) -> std::io::Result<()> {
    let mut s = String::from("feature,ic_drop,loss_increase\n");
    for r in rows {
        s.push_str(&format!("{},{},{}\n", r.feature, r.ic_drop, r.loss_increase));
    }
    std::fs::write(path, s)
}
