//! Robust scaling: `(x - median) / IQR` per feature, fitted on the training split only and
//! saved with the model. Missing inputs never reach a model (windows with gaps are skipped).

use serde::{Deserialize, Serialize};

/// Per-feature median and interquartile range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RobustScaler {
    pub median: Vec<f64>,
    pub iqr: Vec<f64>,
}

/// Scaled values are clipped to this many IQRs, so a bad print cannot dominate a batch.
pub const CLIP: f64 = 10.0;

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Linear interpolation between order statistics (numpy's default).
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

impl RobustScaler {
    /// Fits on rows of `n` features; `None` values are ignored.
    pub fn fit<'a>(rows: impl Iterator<Item = &'a [Option<f64>]>, n: usize) -> Self {
        let mut cols: Vec<Vec<f64>> = vec![Vec::new(); n];
        for r in rows {
            for (c, v) in cols.iter_mut().zip(r) {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    c.push(v);
                }
            }
        }
        let mut median = Vec::with_capacity(n);
        let mut iqr = Vec::with_capacity(n);
        for mut c in cols {
            c.sort_by(f64::total_cmp);
            median.push(quantile(&c, 0.5));
            let q = quantile(&c, 0.75) - quantile(&c, 0.25);
            iqr.push(if q > 0.0 { q } else { 1.0 });
        }
        Self { median, iqr }
    }

    /// Scales one value of feature `j`.
    #[inline]
    pub fn scale(&self, j: usize, x: f64) -> f32 {
        ((x - self.median[j]) / self.iqr[j]).clamp(-CLIP, CLIP) as f32
    }

    /// Scales a full row; `None` when any value is missing.
    pub fn scale_row(&self, row: &[Option<f64>]) -> Option<Vec<f32>> {
        row.iter()
            .enumerate()
            .map(|(j, v)| v.map(|x| self.scale(j, x)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_iqr() {
        let rows: Vec<Vec<Option<f64>>> = (1..=5).map(|i| vec![Some(i as f64), None]).collect();
        let s = RobustScaler::fit(rows.iter().map(|r| r.as_slice()), 2);
        assert_eq!(s.median, vec![3.0, 0.0]);
        assert_eq!(s.iqr, vec![2.0, 1.0]);
        assert_eq!(s.scale(0, 5.0), 1.0);
        assert_eq!(s.scale(0, 1e9), CLIP as f32);
        assert_eq!(s.scale_row(&[Some(3.0), None]), None);
    }
}
