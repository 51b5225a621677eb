//! The events that flow between actors. Every per-timestamp event carries the replay `step`
//! (the index of its timestamp), which is what the joins inside actors key on.

use crate::types::{Bar, ClientOrderId, InstrumentId, OrderEvent, OrderRequest, UnixNanos};
use std::sync::Arc;

/// All bars of one timestamp, sorted by instrument.
#[derive(Debug)]
pub struct MarketEvent {
    pub step: u64,
    pub ts_event: UnixNanos,
    pub ts_init: UnixNanos,
    /// True for the last timestamp of the replay.
    pub last: bool,
    /// Timestamps in flight (emitted, not yet settled) when this one was emitted, itself
    /// included: never above the configured window.
    pub in_flight: usize,
    pub bars: Vec<Bar>,
}

/// Feature values of one timestamp: `values[k]` belongs to `instruments[k]`, in the order of
/// `names`; `None` while a feature's inputs do not exist yet. [`FeatureFrame::value`] reads one
/// value by instrument and [`FeatureKey`] in O(1): resolve the key from its name once
/// ([`FeatureFrame::key`]), not per bar.
#[derive(Debug, Default)]
pub struct FeatureFrame {
    names: Arc<Vec<String>>,
    instruments: Vec<InstrumentId>,
    values: Vec<Vec<Option<f64>>>,
    /// Row of each instrument by its index (`u32::MAX`: no row).
    row: Vec<u32>,
}

/// A feature's column in the frames of a run (the position of its name in
/// [`FeatureFrame::names`], the same at every timestamp).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeatureKey(pub usize);

impl FeatureFrame {
    /// A frame of `values[k]` for `instruments[k]`, columns in the order of `names`.
    pub fn new(names: Arc<Vec<String>>, instruments: Vec<InstrumentId>, values: Vec<Vec<Option<f64>>>) -> Self {
        let row = position_index(instruments.iter().copied());
        Self {
            names,
            instruments,
            values,
            row,
        }
    }
    /// The features' names, in column order.
    pub fn names(&self) -> &Arc<Vec<String>> {
        &self.names
    }
    /// The instruments with a row, in row order.
    pub fn instruments(&self) -> &[InstrumentId] {
        &self.instruments
    }
    /// The rows, `values()[k]` for `instruments()[k]`.
    pub fn values(&self) -> &[Vec<Option<f64>>] {
        &self.values
    }
    /// The column of feature `name` (a search over the names: once, not per bar).
    pub fn key(&self, name: &str) -> Option<FeatureKey> {
        self.names.iter().position(|n| n == name).map(FeatureKey)
    }
    /// The row of `id`, in O(1).
    pub fn row(&self, id: InstrumentId) -> Option<&[Option<f64>]> {
        let k = *self.row.get(id.index())?;
        self.values.get(k as usize).map(Vec::as_slice)
    }
    /// Feature `key` of `id`, in O(1); `None` without a row or while the feature has no value.
    pub fn value(&self, id: InstrumentId, key: FeatureKey) -> Option<f64> {
        self.row(id)?.get(key.0).copied().flatten()
    }
}

/// Model scores of one timestamp. [`Scores::get`] reads an instrument's score in O(1).
#[derive(Debug, Default, Clone)]
pub struct Scores {
    scores: Vec<(InstrumentId, f64)>,
    /// Position in `scores` of each instrument by its index (`u32::MAX`: not scored).
    position: Vec<u32>,
}

impl Scores {
    /// The scores of a timestamp, one per instrument scored.
    pub fn new(scores: Vec<(InstrumentId, f64)>) -> Self {
        let position = position_index(scores.iter().map(|(id, _)| *id));
        Self { scores, position }
    }
    /// Every score, in the order the model gave them.
    pub fn all(&self) -> &[(InstrumentId, f64)] {
        &self.scores
    }
    /// The score of `id`, in O(1); `None` when the model did not score it at this timestamp.
    pub fn get(&self, id: InstrumentId) -> Option<f64> {
        let k = *self.position.get(id.index())?;
        self.scores.get(k as usize).map(|(_, v)| *v)
    }
    /// Number of instruments scored.
    pub fn len(&self) -> usize {
        self.scores.len()
    }
    /// True when nothing was scored.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }
}

/// For ids in order, a table from each id's index to its position (`u32::MAX`: absent).
fn position_index(ids: impl Iterator<Item = InstrumentId> + Clone) -> Vec<u32> {
    let len = ids.clone().map(|id| id.index() + 1).max().unwrap_or(0);
    let mut table = vec![u32::MAX; len];
    for (k, id) in ids.enumerate() {
        table[id.index()] = k as u32;
    }
    table
}

#[cfg(test)]
mod lookup_tests {
    use super::*;

    /// The O(1) lookups agree with a linear search, for ids in any order, absent ones included.
    #[test]
    fn lookups_agree_with_a_search() {
        let ids = [7u32, 2, 11, 0, 5];
        let scores = Scores::new(ids.iter().map(|&i| (InstrumentId(i), f64::from(i) * 0.5)).collect());
        for i in 0..14u32 {
            let searched = scores.all().iter().find(|(id, _)| id.0 == i).map(|(_, v)| *v);
            assert_eq!(scores.get(InstrumentId(i)), searched, "score of {i}");
        }
        let names = Arc::new(vec!["a".to_string(), "b".to_string()]);
        let values: Vec<Vec<Option<f64>>> = ids
            .iter()
            .map(|&i| vec![Some(f64::from(i)), (i % 2 == 0).then_some(-1.0)])
            .collect();
        let frame = FeatureFrame::new(names, ids.iter().map(|&i| InstrumentId(i)).collect(), values.clone());
        let b = frame.key("b").expect("b");
        assert_eq!(frame.key("c"), None);
        for i in 0..14u32 {
            let k = ids.iter().position(|&x| x == i);
            assert_eq!(
                frame.value(InstrumentId(i), b),
                k.and_then(|k| values[k][1]),
                "b of {i}"
            );
            assert_eq!(
                frame.row(InstrumentId(i)).map(<[_]>::to_vec),
                k.map(|k| values[k].clone())
            );
        }
        assert!(Scores::new(Vec::new()).get(InstrumentId(0)).is_none());
    }
}

/// Market data with what the feature and model stages added.
#[derive(Debug, Clone)]
pub struct SignalEvent {
    pub market: Arc<MarketEvent>,
    pub features: Option<Arc<FeatureFrame>>,
    pub scores: Option<Arc<Scores>>,
}

/// Orders a strategy decided at the close of `step` (possibly none: it is also the marker that
/// the strategy is done with that step).
#[derive(Debug)]
pub struct OrderBatch {
    pub step: u64,
    pub ts: UnixNanos,
    pub orders: Vec<(ClientOrderId, OrderRequest)>,
}

/// When in a bar a report's events happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Matching against the bar (fills at its open or inside its range).
    Intrabar,
    /// The bar's close: orders submitted there (and `same_close` fills).
    Close,
    /// After the last bar: orders that never filled.
    Final,
}

/// What the broker did in one phase of one step.
#[derive(Debug)]
pub struct ExecutionReport {
    pub step: u64,
    pub phase: Phase,
    pub market: Arc<MarketEvent>,
    pub events: Vec<OrderEvent>,
}
