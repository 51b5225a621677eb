use super::{dec_to_f64, Decimal, InstrumentId, UnixNanos};
use serde::Serialize;

/// One OHLCV bar, stamped at its close: a bar is only visible once it has closed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bar {
    pub instrument_id: InstrumentId,
    pub open: Decimal,
    pub high: Decimal,
    pub low: Decimal,
    pub close: Decimal,
    pub volume: Decimal,
    /// When the bar closed (exchange event time).
    pub ts_event: UnixNanos,
    /// When the engine saw it (the simulated clock in a backtest).
    pub ts_init: UnixNanos,
    /// Global sequence number of the bar in this run, for ordering and audit.
    pub seq: u64,
}

impl Bar {
    /// The close as `f64`, for indicators.
    #[inline]
    pub fn close_f64(&self) -> f64 {
        dec_to_f64(self.close)
    }
    /// The open as `f64`, for indicators.
    #[inline]
    pub fn open_f64(&self) -> f64 {
        dec_to_f64(self.open)
    }
}

/// The bar of `id` in a batch of one timestamp's bars, sorted by instrument.
#[inline]
pub fn find_bar(bars: &[Bar], id: InstrumentId) -> Option<&Bar> {
    bars.binary_search_by_key(&id, |b| b.instrument_id)
        .ok()
        .map(|i| &bars[i])
}
