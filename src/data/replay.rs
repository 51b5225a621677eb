//! Replay of a loaded market, one timestamp at a time: the synchronous core of the historical
//! feed, also used to stream a whole market through the feature library without actors.
//!
//! It reads the market's [`Tape`](super::Tape) (its bars already in time order) front to back,
//! so a timestamp's bars are one contiguous run of one array; each bar is built once, with its
//! sequence number (its place on the tape), into its timestamp's event.

use super::MarketData;
use crate::clock::{Clock, SimulatedClock};
use crate::events::MarketEvent;
use std::sync::Arc;

/// Turns the market's tape into time-ordered batches of bars, on the caller's thread.
pub struct ReplayCursor {
    data: Arc<MarketData>,
    clock: SimulatedClock,
    next_step: usize,
}

impl ReplayCursor {
    pub fn new(data: Arc<MarketData>, clock: SimulatedClock) -> Self {
        Self {
            data,
            clock,
            next_step: 0,
        }
    }

    /// Number of timestamps not yet emitted.
    pub fn remaining(&self) -> usize {
        self.data.timestamps.len() - self.next_step
    }

    /// The next timestamp's bars, in instrument order, numbered on from the bars before, `last`
    /// on the market's last timestamp; advances the simulated clock to its close.
    pub fn next_event(&mut self) -> Option<MarketEvent> {
        let data = &*self.data;
        let t = self.next_step;
        let &ts = data.timestamps.get(t)?;
        let tape = data.tape();
        let (ids, values, first) = tape.step(t);
        let scales = tape.scales();
        let bars = ids
            .iter()
            .zip(values)
            .zip(first as u64..)
            .map(|((&i, v), seq)| super::stored_bar(i, v, scales[i as usize], ts, ts, seq))
            .collect();
        self.next_step += 1;
        let ev = MarketEvent {
            step: t as u64,
            ts_event: ts,
            ts_init: ts,
            last: t + 1 == data.timestamps.len(),
            in_flight: 0,
            bars,
        };
        Some(stamp(&self.clock, ev))
    }
}

/// Advances `clock` to the event's close and stamps the event with it (the same time but for
/// a clock that started after the data).
fn stamp(clock: &SimulatedClock, mut ev: MarketEvent) -> MarketEvent {
    clock.advance_to(ev.ts_event);
    let now = clock.now();
    if now != ev.ts_init {
        ev.ts_init = now;
        for b in &mut ev.bars {
            b.ts_init = now;
        }
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Series;

    /// A market of 7 symbols over 300 steps with holes: symbols that start late, end early or
    /// miss steps, so that holes fall on block boundaries of every size tried.
    fn market() -> MarketData {
        let steps = 300u32;
        let series = (0..7u32)
            .map(|i| {
                let step: Vec<u32> = (0..steps)
                    .filter(|&t| match i {
                        2 => t % 5 != 3,
                        4 => t >= 40,
                        5 => t < 170,
                        6 => t % 16 == 15,
                        _ => true,
                    })
                    .collect();
                let px = |f: i64| step.iter().map(|&t| 10_000 + f * i64::from(i) + i64::from(t)).collect();
                Series {
                    open: px(1),
                    high: px(3),
                    low: px(-2),
                    close: px(2),
                    volume: step.iter().map(|&t| i64::from(t) * 7 + i64::from(i)).collect(),
                    step,
                    price_scale: 2 + i % 3,
                    volume_scale: i % 2,
                }
            })
            .collect();
        MarketData {
            instruments: Vec::new(),
            series,
            timestamps: (0..i64::from(steps)).map(|t| 1_000 + t * 60).collect(),
            daily: false,
            report: Default::default(),
            universe: None,
            tape: Default::default(),
        }
    }

    /// The replay emits exactly the bars a direct gather would, in instrument order, with
    /// global sequence numbers, whatever the tape's build blocks and threads.
    #[test]
    fn the_replay_emits_what_a_direct_gather_emits() {
        let base = market();
        for (block, threads) in [(1usize, 1usize), (21, 2), (112, 3), (7000, 7), (7000, 1)] {
            let data = Arc::new(MarketData {
                tape: crate::data::TapeCell::with(crate::data::Tape::build_with(
                    &base.series,
                    base.timestamps.len(),
                    block,
                    threads,
                )),
                ..base.clone()
            });
            let n = (block, threads);
            let mut c = ReplayCursor::new(data.clone(), SimulatedClock::new(0));
            let mut seq = 0;
            let mut total = 0;
            for (step, &ts) in data.timestamps.iter().enumerate() {
                let ev = c.next_event().expect("an event per timestamp");
                let mut want = Vec::new();
                for (i, s) in data.series.iter().enumerate() {
                    if let Ok(k) = s.step.binary_search(&(step as u32)) {
                        want.push(data.bar(i, k, ts, ts, seq));
                        seq += 1;
                    }
                }
                assert_eq!(ev.bars, want, "blocks and bars a thread {n:?}, step {step}");
                assert_eq!(ev.last, step + 1 == data.timestamps.len());
                assert_eq!(c.remaining(), data.timestamps.len() - step - 1);
                total += ev.bars.len();
            }
            assert!(c.next_event().is_none());
            assert_eq!(total, data.bar_count());
        }
    }

    /// A clone of a replayed market starts without its tape, so a clone changed afterwards (as
    /// the look-ahead audit changes one) replays its own bars.
    #[test]
    fn a_changed_clone_replays_its_own_bars() {
        let data = Arc::new(market());
        let first = ReplayCursor::new(data.clone(), SimulatedClock::new(0))
            .next_event()
            .unwrap();
        let mut other = (*data).clone();
        other.series[0].close[0] += 1;
        let again = ReplayCursor::new(Arc::new(other), SimulatedClock::new(0))
            .next_event()
            .unwrap();
        let cent = crate::types::Decimal::new(1, data.series[0].price_scale);
        assert_eq!(again.bars[0].close, first.bars[0].close + cent);
        assert_eq!(again.bars[1..], first.bars[1..]);
    }

    /// A clock that starts after the data stamps the bars with its own time.
    #[test]
    fn a_later_clock_stamps_ts_init() {
        let data = Arc::new(market());
        let late = data.timestamps[10];
        let mut c = ReplayCursor::new(data.clone(), SimulatedClock::new(late));
        let ev = c.next_event().unwrap();
        assert_eq!(ev.ts_event, data.timestamps[0]);
        assert!(ev.ts_init == late && ev.bars.iter().all(|b| b.ts_init == late));
    }
}
