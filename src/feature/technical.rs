//! [`TechnicalFeatures`]: the feature library as a [`FeatureEngine`] for the feature actor,
//! and [`stream_market`], the same computation over a whole market without actors.

use super::library::{BenchmarkState, FeatureRow, SymbolFeatures, FEATURE_NAMES};
use super::FeatureEngine;
use crate::data::MarketData;
use crate::events::{FeatureFrame, MarketEvent};
use crate::types::{dec_to_f64, Bar, InstrumentId};
use std::sync::Arc;

/// Streaming features of every symbol, with one benchmark.
pub struct TechnicalFeatures {
    names: Arc<Vec<String>>,
    symbols: Vec<SymbolFeatures>,
    benchmark: Option<InstrumentId>,
    bench: BenchmarkState,
}

impl TechnicalFeatures {
    /// Features for `n_instruments` instruments; `benchmark` feeds the `*_spy_*` features.
    pub fn new(n_instruments: usize, benchmark: Option<InstrumentId>) -> Self {
        Self {
            names: Arc::new(FEATURE_NAMES.iter().map(|s| s.to_string()).collect()),
            symbols: vec![SymbolFeatures::default(); n_instruments],
            benchmark,
            bench: BenchmarkState::default(),
        }
    }

    /// Updates with all bars of one timestamp (sorted by instrument) and returns each bar's
    /// features, in the order of `bars`.
    pub fn push(&mut self, bars: &[Bar]) -> Vec<FeatureRow> {
        let bench_bar = self.benchmark.and_then(|id| crate::types::find_bar(bars, id));
        match bench_bar {
            Some(b) => self.bench.push(b.close_f64()),
            None => self.bench.clear_current(),
        }
        let bench = self.benchmark.map(|_| &self.bench);
        bars.iter()
            .map(|b| {
                let s = &mut self.symbols[b.instrument_id.index()];
                s.push(
                    dec_to_f64(b.open),
                    dec_to_f64(b.high),
                    dec_to_f64(b.low),
                    b.close_f64(),
                    dec_to_f64(b.volume),
                    bench,
                )
            })
            .collect()
    }
}

impl FeatureEngine for TechnicalFeatures {
    fn update(&mut self, market: &MarketEvent) -> Option<FeatureFrame> {
        let rows = self.push(&market.bars);
        Some(FeatureFrame::new(
            self.names.clone(),
            market.bars.iter().map(|b| b.instrument_id).collect(),
            rows.into_iter().map(|r| r.to_vec()).collect(),
        ))
    }
}

/// Streams the whole market through [`TechnicalFeatures`] in time order; returns, per
/// instrument, one feature row per bar of its series.
pub fn stream_market(data: &Arc<MarketData>, benchmark: Option<InstrumentId>) -> Vec<Vec<FeatureRow>> {
    let mut engine = TechnicalFeatures::new(data.instruments.len(), benchmark);
    let mut out: Vec<Vec<FeatureRow>> = data.series.iter().map(|s| Vec::with_capacity(s.len())).collect();
    let mut cursor = crate::data::ReplayCursor::new(
        data.clone(),
        crate::clock::SimulatedClock::new(data.timestamps.first().copied().unwrap_or_default()),
    );
    while let Some(ev) = cursor.next_event() {
        let rows = engine.push(&ev.bars);
        for (b, r) in ev.bars.iter().zip(rows) {
            out[b.instrument_id.index()].push(r);
        }
    }
    out
}
