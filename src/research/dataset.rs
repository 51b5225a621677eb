//! Supervised samples for training: windows of feature rows ending at bar t, labelled with the
//! alpha (or forward return) over the next `horizon` bars.
//!
//! Splits are by date and leak nothing forward: a sample belongs to a split only when its whole
//! label window ends inside it (a training label must end before validation starts, a
//! validation label before the test period: an embargo of `horizon` bars). The scaler is fitted
//! on feature rows dated before the validation start. Windows containing a missing feature are
//! skipped, never filled.

use crate::data::MarketData;
use crate::feature::labels::label_market;
pub use crate::feature::library::feature_indices;
use crate::feature::library::FeatureRow;
use crate::feature::stream_market;
pub use crate::model::meta::LabelKind;
use crate::model::scaler::RobustScaler;
use crate::types::{InstrumentId, UnixNanos};
use std::sync::Arc;

/// One sample: symbol, last bar of its window, date, label.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    pub symbol: usize,
    pub bar: usize,
    pub ts: UnixNanos,
    pub label: f32,
}

/// Split boundaries (timestamps, exclusive ends).
#[derive(Clone, Copy, Debug)]
pub struct Splits {
    pub val_start: UnixNanos,
    pub test_start: UnixNanos,
    pub test_end: UnixNanos,
}

/// Feature rows and labels of every tradable symbol, with the split samples.
pub struct Dataset {
    pub feature_names: Vec<String>,
    pub window: usize,
    pub horizon: usize,
    /// Unscaled selected features, per instrument and bar.
    pub raw: Vec<Vec<Vec<Option<f64>>>>,
    pub scaler: RobustScaler,
    pub train: Vec<Sample>,
    pub val: Vec<Sample>,
    pub test: Vec<Sample>,
    /// Windows in the test period whose label does not exist yet (the last `horizon` bars of a
    /// series): scored for use, never evaluated (label NaN).
    pub unlabeled: Vec<Sample>,
}

/// What to build: inputs, window, label, symbols and splits.
#[derive(Clone, Copy, Debug)]
pub struct DatasetSpec<'a> {
    pub features: &'a [String],
    pub window: usize,
    pub horizon: usize,
    pub label: LabelKind,
    /// Symbols to use (empty: every tradable symbol).
    pub symbols: &'a [String],
    pub splits: Splits,
    /// Demean labels per date.
    pub cross_sectional: bool,
}

/// Subtracts each date's mean label (dates never span two splits, so nothing leaks).
fn demean_by_date(samples: &mut [Sample]) {
    let mut sums: std::collections::HashMap<UnixNanos, (f64, usize)> = std::collections::HashMap::new();
    for s in samples.iter() {
        let e = sums.entry(s.ts).or_default();
        e.0 += f64::from(s.label);
        e.1 += 1;
    }
    for s in samples.iter_mut() {
        let (sum, n) = sums[&s.ts];
        s.label -= (sum / n as f64) as f32;
    }
}

impl Dataset {
    /// Builds the dataset. With `cross_sectional`, labels are demeaned per date: the model then
    /// learns how stocks differ on a date, not the date's common move (what a ranking needs). `symbols` restricts the symbols used (empty: all tradable).
    ///
    /// # Errors
    /// Unknown features or symbols, or a polars error computing labels.
    pub fn build(
        data: &Arc<MarketData>,
        benchmark: Option<InstrumentId>,
        spec: &DatasetSpec<'_>,
    ) -> Result<Self, super::ResearchError> {
        let DatasetSpec {
            features,
            window,
            horizon,
            label,
            symbols,
            splits,
            cross_sectional,
        } = *spec;
        let cols =
            feature_indices(features).map_err(|e| super::ResearchError::Config(format!("model.features: {e}")))?;
        for s in symbols {
            if data.instrument_by_symbol(s).is_none() {
                return Err(super::ResearchError::Config(format!(
                    "model.symbols: unknown symbol {s:?}"
                )));
            }
        }
        let stream: Vec<Vec<FeatureRow>> = stream_market(data, benchmark);
        let labels =
            label_market(data, benchmark, &[horizon]).map_err(|e| super::ResearchError::Data(e.to_string()))?;
        let name = match label {
            LabelKind::Alpha => format!("alpha_{horizon}"),
            LabelKind::ForwardReturn => format!("fwd_ret_{horizon}"),
        };
        let lab = labels
            .column(&name)
            .and_then(|c| c.f64().cloned())
            .map_err(|e| super::ResearchError::Data(e.to_string()))?;
        let mut raw = Vec::with_capacity(data.series.len());
        let mut ts = Vec::with_capacity(data.series.len());
        let mut label_of: Vec<Vec<Option<f64>>> = Vec::with_capacity(data.series.len());
        let mut offset = 0;
        for (i, inst) in data.instruments.iter().enumerate() {
            let s = &data.series[i];
            raw.push(
                stream[i]
                    .iter()
                    .map(|r| cols.iter().map(|&c| r[c]).collect::<Vec<_>>())
                    .collect::<Vec<_>>(),
            );
            ts.push(s.step.iter().map(|&k| data.timestamps[k as usize]).collect::<Vec<_>>());
            // label_market covers tradable symbols, in instrument order, each in time order.
            if inst.tradable {
                label_of.push((offset..offset + s.len()).map(|r| lab.get(r)).collect());
                offset += s.len();
            } else {
                label_of.push(vec![None; s.len()]);
            }
        }
        let chosen = |i: usize| {
            let inst = &data.instruments[i];
            inst.tradable && (symbols.is_empty() || symbols.contains(&inst.symbol))
        };
        let scaler = RobustScaler::fit(
            (0..raw.len()).filter(|&i| chosen(i)).flat_map(|i| {
                raw[i]
                    .iter()
                    .zip(&ts[i])
                    .filter(|(_, t)| **t < splits.val_start)
                    .map(|(r, _)| r.as_slice())
            }),
            cols.len(),
        );
        let (mut train, mut val, mut test, mut unlabeled) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for i in (0..raw.len()).filter(|&i| chosen(i)) {
            let mut complete_run = 0usize;
            for k in 0..raw[i].len() {
                complete_run = if raw[i][k].iter().all(Option::is_some) {
                    complete_run + 1
                } else {
                    0
                };
                if complete_run < window {
                    continue;
                }
                // With a point-in-time universe, only dates the symbol was a member on.
                let step = u64::from(data.series[i].step[k]);
                if data.universe.as_ref().is_some_and(|u| !u.contains(i, step)) {
                    continue;
                }
                let t = ts[i][k];
                let Some(y) = label_of[i][k] else {
                    if t >= splits.test_start && t < splits.test_end {
                        unlabeled.push(Sample {
                            symbol: i,
                            bar: k,
                            ts: t,
                            label: f32::NAN,
                        });
                    }
                    continue;
                };
                let end = ts[i].get(k + horizon).copied().unwrap_or(UnixNanos::MAX);
                let sample = Sample {
                    symbol: i,
                    bar: k,
                    ts: t,
                    label: y as f32,
                };
                if end < splits.val_start {
                    train.push(sample);
                } else if t >= splits.val_start && end < splits.test_start {
                    val.push(sample);
                } else if t >= splits.test_start && t < splits.test_end {
                    test.push(sample);
                }
            }
        }
        if cross_sectional {
            for split in [&mut train, &mut val, &mut test] {
                demean_by_date(split);
            }
        }
        Ok(Self {
            feature_names: features.to_vec(),
            window,
            horizon,
            raw,
            scaler,
            train,
            val,
            test,
            unlabeled,
        })
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.feature_names.len()
    }

    /// The scaled window of a sample, row-major `[window, features]`.
    pub fn window_of(&self, s: &Sample) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.window * self.n_features());
        for k in s.bar + 1 - self.window..=s.bar {
            for (j, v) in self.raw[s.symbol][k].iter().enumerate() {
                out.push(self.scaler.scale(j, v.unwrap_or(0.0)));
            }
        }
        out
    }

    /// The scaled last row of a sample (the ridge baseline's input).
    pub fn last_row(&self, s: &Sample) -> Vec<f32> {
        self.raw[s.symbol][s.bar]
            .iter()
            .enumerate()
            .map(|(j, v)| self.scaler.scale(j, v.unwrap_or(0.0)))
            .collect()
    }
}
