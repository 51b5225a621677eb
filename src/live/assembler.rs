//! Bar assembly: turns bars arriving one by one (stream or REST, any symbol order) into whole
//! timestamps, released in time order. A synchronous core: the caller passes "now" (the live
//! clock in a session, the test's own clock in tests).
//!
//! A pending timestamp `T` is released when, for every symbol, its bar at `T` has arrived or a
//! later bar of it has (venues send each symbol's bars in time order, so a symbol that has moved
//! past `T` will not deliver `T`), or `grace` after the stream reached `T` (its first stream bar
//! at `T` or later). A symbol absent at release is missing from that timestamp, and counted.
//!
//! Grace measures the venue's delay, so it starts with the stream, not with history fetched
//! over REST: a backfill fetches symbol after symbol, and when the venue publishes faster than
//! real time (a replay at high speed) later symbols come back with timestamps the stream, still
//! behind in its socket, has not delivered yet for the others. A grace started by the REST bars
//! would run out while the client works through that backlog, and release those timestamps
//! without the symbols the stream was about to deliver (and every timestamp after them, as the
//! backlog grows: a session once ran seconds behind with most of its bars late).
//!
//! Bars at or before the last released timestamp are dropped and counted: as duplicates when
//! that symbol's bar at that time was already taken, as late otherwise (the decision at that
//! time is made; nothing is revised).

use crate::types::{Bar, UnixNanos};
use std::collections::{BTreeMap, BTreeSet};

/// Where an offered bar came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// The venue's stream: it has reached the bar's time.
    Stream,
    /// History over REST (warm-up, backfill): it says nothing of where the stream is.
    History,
}

/// What became of an offered bar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    Taken,
    /// Same symbol and time as a bar already taken.
    Duplicate,
    /// Its timestamp was released before it came.
    Late,
}

/// One released timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Ready {
    pub ts: UnixNanos,
    /// Sorted by instrument.
    pub bars: Vec<Bar>,
    /// When its last bar arrived.
    pub received: UnixNanos,
    /// Symbols without a bar.
    pub missing: usize,
}

struct Pending {
    /// When the stream reached this timestamp (its grace starts there), on the reading clock
    /// (time less the time paused before); `None` while only history has filled it.
    first_seen: Option<UnixNanos>,
    last_seen: UnixNanos,
    bars: Vec<Option<Bar>>,
    count: usize,
}

/// Released `(symbol, time)` pairs remembered per symbol, to tell duplicates from late bars.
const REMEMBERED: usize = 4096;

pub struct Assembler {
    n: usize,
    grace: i64,
    last_released: Option<UnixNanos>,
    /// Per symbol: the newest time it delivered.
    newest: Vec<Option<UnixNanos>>,
    pending: BTreeMap<UnixNanos, Pending>,
    released: Vec<BTreeSet<UnixNanos>>,
    /// The latest time the stream has delivered a bar at.
    reached: Option<UnixNanos>,
    /// Time spent not reading the venue (see [`Assembler::pause`]): the reading clock is
    /// `now - paused`, and graces run on it.
    paused: i64,
}

impl Assembler {
    /// For `n` symbols (instrument ids `0..n`), releasing at most `grace_nanos` after the
    /// stream reached a timestamp.
    pub fn new(n: usize, grace_nanos: i64) -> Self {
        Self {
            n,
            grace: grace_nanos,
            last_released: None,
            newest: vec![None; n],
            pending: BTreeMap::new(),
            released: vec![BTreeSet::new(); n],
            reached: None,
            paused: 0,
        }
    }

    /// The last released timestamp.
    pub fn last_released(&self) -> Option<UnixNanos> {
        self.last_released
    }

    /// Timestamps waiting.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Takes what was released before (a journal replayed at restart): later bars at or before
    /// `ts` are duplicates or late.
    pub fn restore(&mut self, ts: UnixNanos, bars: &[Bar]) {
        for b in bars {
            let i = b.instrument_id.index();
            self.remember(i, ts);
            self.newest[i] = self.newest[i].max(Some(ts));
        }
        self.last_released = self.last_released.max(Some(ts));
    }

    fn remember(&mut self, i: usize, ts: UnixNanos) {
        let set = &mut self.released[i];
        set.insert(ts);
        if set.len() > REMEMBERED {
            set.pop_first();
        }
    }

    /// The stream delivered a bar at `ts` at `now`: the grace of every pending timestamp up to
    /// `ts` runs from now, if it was not running yet.
    fn stream_reached(&mut self, ts: UnixNanos, now: UnixNanos) {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        if self.reached.is_some_and(|r| ts <= r) {
            return;
        }
        let from = self.reached.map_or(Unbounded, Excluded);
        let reading = now - self.paused;
        for p in self.pending.range_mut((from, Included(ts))).map(|(_, p)| p) {
            p.first_seen.get_or_insert(reading);
        }
        self.reached = Some(ts);
    }

    /// Offers one bar (its `instrument_id` below `n`), received at `now` from `via`.
    pub fn offer(&mut self, bar: Bar, now: UnixNanos, via: Via) -> Offer {
        let i = bar.instrument_id.index();
        let ts = bar.ts_event;
        if via == Via::Stream {
            self.stream_reached(ts, now);
        }
        if self.last_released.is_some_and(|last| ts <= last) {
            return if self.released[i].contains(&ts) {
                Offer::Duplicate
            } else {
                Offer::Late
            };
        }
        let n = self.n;
        let reached = self.reached.is_some_and(|r| ts <= r);
        let reading = now - self.paused;
        let p = self.pending.entry(ts).or_insert_with(|| Pending {
            first_seen: reached.then_some(reading),
            last_seen: now,
            bars: vec![None; n],
            count: 0,
        });
        if p.bars[i].is_some() {
            return Offer::Duplicate;
        }
        p.bars[i] = Some(bar);
        p.count += 1;
        p.last_seen = p.last_seen.max(now);
        self.newest[i] = self.newest[i].max(Some(ts));
        Offer::Taken
    }

    /// The session did not read the venue for `nanos` (it waited for room in the pipeline): the
    /// bars it did not read may be waiting in the socket, so every pending timestamp's grace
    /// is extended by that time. Grace measures the venue's delay, not the pipeline's. (Graces
    /// run on a clock that stops while paused: one addition, however many timestamps wait; a
    /// backfill ahead of the stream can leave thousands pending, and shifting each of them at
    /// every push cost about a millisecond a timestamp.)
    pub fn pause(&mut self, nanos: i64) {
        self.paused = self.paused.saturating_add(nanos.max(0));
    }

    /// When the oldest pending timestamp's grace ends (`None`: no grace is running for it, and
    /// none of the later ones can be released before it).
    pub fn deadline(&self) -> Option<UnixNanos> {
        self.pending.values().next().and_then(|p| self.grace_end(p))
    }

    /// When `p`'s grace ends, in time (the reading clock's end plus the time paused); `None`
    /// while the stream has not reached it.
    fn grace_end(&self, p: &Pending) -> Option<UnixNanos> {
        p.first_seen
            .map(|f| f.saturating_add(self.grace).saturating_add(self.paused))
    }

    /// Releases, in time order, every timestamp that is ready at `now`.
    pub fn release(&mut self, now: UnixNanos) -> Vec<Ready> {
        let mut out = Vec::new();
        while let Some((&ts, p)) = self.pending.iter().next() {
            let settled =
                p.count == self.n || (0..self.n).all(|i| p.bars[i].is_some() || self.newest[i].is_some_and(|t| t > ts));
            if !settled && self.grace_end(p).is_none_or(|end| now < end) {
                break;
            }
            let Some(p) = self.pending.remove(&ts) else { break };
            let bars: Vec<Bar> = p.bars.into_iter().flatten().collect();
            for b in &bars {
                self.remember(b.instrument_id.index(), ts);
            }
            self.last_released = Some(ts);
            out.push(Ready {
                ts,
                missing: self.n - bars.len(),
                bars,
                received: p.last_seen,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Decimal, InstrumentId};

    impl Assembler {
        fn offer_s(&mut self, bar: Bar, now: UnixNanos) -> Offer {
            self.offer(bar, now, Via::Stream)
        }
    }

    fn bar(i: u32, ts: i64) -> Bar {
        Bar {
            instrument_id: InstrumentId(i),
            open: Decimal::ONE,
            high: Decimal::ONE,
            low: Decimal::ONE,
            close: Decimal::ONE,
            volume: Decimal::ONE,
            ts_event: ts,
            ts_init: 0,
            seq: 0,
        }
    }

    #[test]
    fn releases_when_every_symbol_delivered() {
        let mut a = Assembler::new(2, 1000);
        assert_eq!(a.offer_s(bar(1, 60), 5), Offer::Taken);
        assert!(a.release(6).is_empty());
        assert_eq!(a.offer_s(bar(0, 60), 7), Offer::Taken);
        let r = a.release(7);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].ts, 60);
        assert_eq!(r[0].received, 7);
        assert_eq!(r[0].missing, 0);
        assert_eq!(
            r[0].bars.iter().map(|b| b.instrument_id.0).collect::<Vec<_>>(),
            vec![0, 1]
        );
    }

    #[test]
    fn a_silent_symbol_is_missing_after_the_grace() {
        let mut a = Assembler::new(2, 1000);
        a.offer_s(bar(0, 60), 100);
        assert!(a.release(1099).is_empty());
        assert_eq!(a.deadline(), Some(1100));
        let r = a.release(1100);
        assert_eq!((r[0].ts, r[0].missing), (60, 1));
        // It comes after all: late, not acted on.
        assert_eq!(a.offer_s(bar(1, 60), 1200), Offer::Late);
        assert_eq!(a.offer_s(bar(0, 60), 1200), Offer::Duplicate);
    }

    #[test]
    fn time_spent_waiting_for_the_pipeline_does_not_count_against_the_grace() {
        let mut a = Assembler::new(2, 1000);
        a.offer_s(bar(0, 60), 100);
        // The session waited 5000 for room in the pipeline: the other bar may be in the socket.
        a.pause(5000);
        assert_eq!(a.deadline(), Some(6100));
        assert!(a.release(5200).is_empty());
        assert_eq!(a.offer_s(bar(1, 60), 5300), Offer::Taken);
        let r = a.release(5300);
        assert_eq!((r[0].ts, r[0].missing, r[0].received), (60, 0, 5300));
        // A timestamp the stream reaches after the pause has its plain grace.
        a.offer_s(bar(0, 120), 7000);
        assert_eq!(a.deadline(), Some(8000));
        assert!(a.release(7999).is_empty());
        assert_eq!(a.release(8000)[0].missing, 1);
    }

    #[test]
    fn a_symbol_that_moved_on_is_missing_at_once() {
        let mut a = Assembler::new(2, 1_000_000);
        a.offer_s(bar(0, 60), 1);
        a.offer_s(bar(1, 120), 2);
        a.offer_s(bar(0, 120), 3);
        let r = a.release(3);
        assert_eq!(
            r.iter().map(|r| (r.ts, r.missing)).collect::<Vec<_>>(),
            vec![(60, 1), (120, 0)]
        );
    }

    #[test]
    fn out_of_order_bars_inside_the_window_are_sorted() {
        let mut a = Assembler::new(1, 1_000_000);
        a.offer_s(bar(0, 120), 1);
        a.offer_s(bar(0, 60), 2);
        // 60 and 120 both settled (the symbol is at 120): released in time order.
        let r = a.release(2);
        assert_eq!(r.iter().map(|r| r.ts).collect::<Vec<_>>(), vec![60, 120]);
        assert_eq!(a.offer_s(bar(0, 120), 3), Offer::Duplicate);
    }

    #[test]
    fn restore_marks_the_journal_as_released() {
        let mut a = Assembler::new(2, 10);
        a.restore(60, &[bar(0, 60)]);
        assert_eq!(a.offer_s(bar(0, 60), 1), Offer::Duplicate);
        assert_eq!(a.offer_s(bar(1, 60), 1), Offer::Late);
        assert_eq!(a.offer_s(bar(1, 120), 1), Offer::Taken);
    }

    /// History over REST fills timestamps the stream has not reached: their grace waits for
    /// the stream, however long the client takes to work through the stream's backlog, so the
    /// stream's bars complete them instead of coming late.
    #[test]
    fn grace_starts_when_the_stream_reaches_a_timestamp() {
        let mut a = Assembler::new(2, 1000);
        // A backfill: symbol 0 fetched up to 120, symbol 1 (fetched later) up to 240.
        for (i, ts) in [(0, 60), (0, 120), (1, 60), (1, 120), (1, 180), (1, 240)] {
            assert_eq!(a.offer(bar(i, ts), 10, Via::History), Offer::Taken);
        }
        let r = a.release(10);
        assert_eq!(
            r.iter().map(|r| (r.ts, r.missing)).collect::<Vec<_>>(),
            vec![(60, 0), (120, 0)]
        );
        assert_eq!(a.deadline(), None, "no grace runs before the stream reaches 180");
        assert!(
            a.release(1_000_000).is_empty(),
            "long after, still waiting for the stream"
        );
        // The stream, behind in its socket, delivers symbol 0's 180 much later: complete.
        assert_eq!(a.offer_s(bar(0, 180), 2_000_000), Offer::Taken);
        let r = a.release(2_000_000);
        assert_eq!(r.iter().map(|r| (r.ts, r.missing)).collect::<Vec<_>>(), vec![(180, 0)]);
        // 240 waits for symbol 0 with no grace yet; the stream's duplicate of symbol 1 at 240
        // shows the stream has reached it: the grace runs from then.
        assert_eq!(a.deadline(), None);
        assert_eq!(a.offer_s(bar(1, 240), 3_000_000), Offer::Duplicate);
        assert_eq!(a.deadline(), Some(3_001_000));
        let r = a.release(3_001_000);
        assert_eq!(r.iter().map(|r| (r.ts, r.missing)).collect::<Vec<_>>(), vec![(240, 1)]);
        // History for a time the stream has passed runs its grace at once; beyond it, not.
        a.offer_s(bar(1, 360), 4_000_000);
        assert_eq!(a.offer(bar(0, 420), 4_000_500, Via::History), Offer::Taken);
        assert_eq!(a.offer(bar(0, 300), 4_000_500, Via::History), Offer::Taken);
        assert_eq!(a.deadline(), Some(4_001_500), "300 is behind the stream");
        let r = a.release(4_000_500);
        assert_eq!(
            r.iter().map(|r| (r.ts, r.missing)).collect::<Vec<_>>(),
            vec![(300, 1), (360, 1)]
        );
        assert_eq!(a.deadline(), None, "420 is ahead of the stream");
    }
}
