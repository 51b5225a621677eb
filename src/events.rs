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
/// `names`; `None` while a feature's inputs do not exist yet.
#[derive(Debug, Default)]
pub struct FeatureFrame {
    pub names: Arc<Vec<String>>,
    pub instruments: Vec<InstrumentId>,
    pub values: Vec<Vec<Option<f64>>>,
}

/// Model scores of one timestamp.
#[derive(Debug, Default, Clone)]
pub struct Scores {
    pub scores: Vec<(InstrumentId, f64)>,
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
