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

/// The bar of `id` in a batch of one timestamp's bars, sorted by instrument (each at most once).
///
/// Ids count from 0, so `id`'s bar is at index `id` or before, and exactly there when every
/// instrument has a bar: that one place is tried first (a binary search touches about nine bars,
/// each a cache miss when the batch was built on another core).
#[inline]
pub fn find_bar(bars: &[Bar], id: InstrumentId) -> Option<&Bar> {
    let head = &bars[..bars.len().min(id.index() + 1)];
    match head.last() {
        Some(b) if b.instrument_id == id => Some(b),
        _ => head
            .binary_search_by_key(&id, |b| b.instrument_id)
            .ok()
            .map(|i| &head[i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever instruments a batch lacks, `find_bar` finds what a linear search finds.
    #[test]
    fn find_bar_agrees_with_a_linear_search() {
        let bar = |i: u32| Bar {
            instrument_id: InstrumentId(i),
            open: Decimal::ONE,
            high: Decimal::ONE,
            low: Decimal::ONE,
            close: Decimal::from(i),
            volume: Decimal::ONE,
            ts_event: 0,
            ts_init: 0,
            seq: u64::from(i),
        };
        for holes in [0u32, 1, 2, 3, 5, 7] {
            let bars: Vec<Bar> = (0..40u32).filter(|i| holes == 0 || i % holes != 1).map(bar).collect();
            for id in 0..45u32 {
                let want = bars.iter().find(|b| b.instrument_id.0 == id);
                assert_eq!(find_bar(&bars, InstrumentId(id)), want, "holes every {holes}, id {id}");
            }
        }
        assert!(find_bar(&[], InstrumentId(0)).is_none());
    }
}
