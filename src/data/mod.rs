//! The in-memory market: a compact column store of validated bars, one series per symbol.
//!
//! Prices are kept as `i64` mantissas with one decimal scale per instrument, so 500 symbols x
//! 2,520 days fit in about 55 MB; a second copy in time order (the [`Tape`], as much again) is
//! what the feed turns into [`Bar`]s, one timestamp at a time.

mod replay;
pub mod synth;
mod tape;
pub mod universe;

pub use replay::ReplayCursor;
pub use tape::{Tape, TapeCell};

use crate::types::{Bar, Decimal, Instrument, InstrumentId, UnixNanos};
use serde::{Deserialize, Serialize};

/// The bars of one symbol, in time order, as mantissas at the instrument's scales.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Index into [`MarketData::timestamps`] of each bar.
    pub step: Vec<u32>,
    pub open: Vec<i64>,
    pub high: Vec<i64>,
    pub low: Vec<i64>,
    pub close: Vec<i64>,
    pub volume: Vec<i64>,
    pub price_scale: u32,
    pub volume_scale: u32,
}

impl Series {
    /// Number of bars.
    pub fn len(&self) -> usize {
        self.step.len()
    }
    /// True when the series has no bar.
    pub fn is_empty(&self) -> bool {
        self.step.is_empty()
    }
    /// Closes as `f64` (for indicators and baselines).
    pub fn closes_f64(&self) -> Vec<f64> {
        to_f64(&self.close, self.price_scale)
    }
    /// Opens as `f64`.
    pub fn opens_f64(&self) -> Vec<f64> {
        to_f64(&self.open, self.price_scale)
    }
}

/// Mantissas at `scale` decimals as `f64` (correctly rounded while they fit 53 bits).
pub fn to_f64(mantissas: &[i64], scale: u32) -> Vec<f64> {
    let p = 10f64.powi(scale as i32);
    mantissas.iter().map(|&m| m as f64 / p).collect()
}

impl Series {}

/// A stored mantissa as a decimal, without `Decimal::new`'s checks (the loader chose `scale`
/// at most 28, and the mantissa is an `i64`): this runs five times per bar of every replay.
#[inline]
fn exact(m: i64, scale: u32) -> Decimal {
    let a = m.unsigned_abs();
    Decimal::from_parts(a as u32, (a >> 32) as u32, 0, m < 0, scale)
}

/// What loading found and did, for the run summary.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LoadReport {
    pub files: usize,
    pub rows_read: usize,
    pub rows_kept: usize,
    /// Rows dropped under the `skip` policy, by reason.
    pub rows_skipped: std::collections::BTreeMap<String, usize>,
    /// Bars absent from the common calendar: timestamps inside a symbol's own first..last span
    /// at which it has no bar, plus the calendar's timestamps after its last bar. Such symbols
    /// simply have no bar in that batch: nothing is invented.
    pub missing_bars: usize,
    /// The first messages of skipped rows (at most 20), naming file, row and field.
    pub skipped_examples: Vec<String>,
    /// Bars of `data.reference` series at timestamps the data does not have, left out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reference_bars_outside: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A validated, time-aligned market.
#[derive(Clone, Debug, Default)]
pub struct MarketData {
    pub instruments: Vec<Instrument>,
    pub series: Vec<Series>,
    /// The union of all bar timestamps, strictly increasing.
    pub timestamps: Vec<UnixNanos>,
    /// True when every input timestamp was a plain date (daily bars).
    pub daily: bool,
    pub report: LoadReport,
    /// Membership per instrument and step when `data.universe` is set (see [`universe`]).
    pub universe: Option<std::sync::Arc<universe::UniverseMask>>,
    /// The bars in time order, for replay ([`MarketData::tape`]); `TapeCell::default()` when
    /// building a market by hand. The series must not change once it is built (a clone starts
    /// without it).
    pub tape: TapeCell,
}

impl MarketData {
    /// Total number of bars.
    pub fn bar_count(&self) -> usize {
        self.series.iter().map(Series::len).sum()
    }

    /// Looks up an instrument by symbol.
    pub fn instrument_by_symbol(&self, symbol: &str) -> Option<&Instrument> {
        self.instruments.iter().find(|i| i.symbol == symbol)
    }

    /// The bars in time order (built on first use from [`MarketData::series`]; the loaders
    /// build it as they finish).
    pub fn tape(&self) -> &Tape {
        self.tape.get_or_build(&self.series, self.timestamps.len())
    }

    /// The bar of series `i` at position `k` of that series.
    #[inline]
    pub fn bar(&self, i: usize, k: usize, ts_event: UnixNanos, ts_init: UnixNanos, seq: u64) -> Bar {
        let s = &self.series[i];
        let v = [s.open[k], s.high[k], s.low[k], s.close[k], s.volume[k]];
        stored_bar(i as u32, &v, [s.price_scale, s.volume_scale], ts_event, ts_init, seq)
    }
}

/// A bar of series `i` from its stored open, high, low, close and volume mantissas at the
/// series' price and volume scales: how both the column store and the tape become [`Bar`]s.
#[inline]
fn stored_bar(i: u32, v: &[i64; 5], [ps, vs]: [u32; 2], ts_event: UnixNanos, ts_init: UnixNanos, seq: u64) -> Bar {
    Bar {
        instrument_id: InstrumentId(i),
        open: exact(v[0], ps),
        high: exact(v[1], ps),
        low: exact(v[2], ps),
        close: exact(v[3], ps),
        volume: exact(v[4], vs),
        ts_event,
        ts_init,
        seq,
    }
}
