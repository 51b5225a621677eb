//! Replay of a loaded market, one timestamp at a time: the synchronous core of the historical
//! feed, also used to stream a whole market through the feature library without actors.

use super::MarketData;
use crate::clock::{Clock, SimulatedClock};
use crate::events::MarketEvent;
use std::sync::Arc;

/// Turns the column store into time-ordered batches of bars.
pub struct ReplayCursor {
    data: Arc<MarketData>,
    clock: SimulatedClock,
    /// Next position in each symbol's series.
    cursor: Vec<usize>,
    next_step: usize,
    seq: u64,
}

impl ReplayCursor {
    pub fn new(data: Arc<MarketData>, clock: SimulatedClock) -> Self {
        let n = data.series.len();
        Self {
            data,
            clock,
            cursor: vec![0; n],
            next_step: 0,
            seq: 0,
        }
    }

    /// Number of timestamps not yet emitted.
    pub fn remaining(&self) -> usize {
        self.data.timestamps.len() - self.next_step
    }

    /// The next timestamp's bars; advances the simulated clock to its close.
    pub fn next_event(&mut self) -> Option<MarketEvent> {
        let step = self.next_step;
        let ts_event = *self.data.timestamps.get(step)?;
        self.clock.advance_to(ts_event);
        let ts_init = self.clock.now();
        let mut bars = Vec::with_capacity(self.data.series.len());
        for (i, s) in self.data.series.iter().enumerate() {
            let k = self.cursor[i];
            if k < s.len() && s.step[k] as usize == step {
                bars.push(self.data.bar(i, k, ts_event, ts_init, self.seq));
                self.seq += 1;
                self.cursor[i] = k + 1;
            }
        }
        self.next_step += 1;
        Some(MarketEvent {
            step: step as u64,
            ts_event,
            ts_init,
            last: self.next_step == self.data.timestamps.len(),
            in_flight: 0,
            bars,
        })
    }
}
