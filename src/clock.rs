//! Time as data. No actor reads the wall clock: a backtest uses a [`SimulatedClock`] that only
//! the replay driver (the feed) advances; paper trading will use [`LiveClock`], the one place
//! allowed to read the system time (see `clippy.toml`).

use crate::types::UnixNanos;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A source of "now" for stamping `ts_init`.
pub trait Clock: Send + Sync {
    /// Current time in nanoseconds since the Unix epoch.
    fn now(&self) -> UnixNanos;
}

/// A clock that moves only when the replay driver advances it.
#[derive(Clone, Debug, Default)]
pub struct SimulatedClock {
    now: Arc<AtomicI64>,
}

impl SimulatedClock {
    /// A clock at `start`.
    pub fn new(start: UnixNanos) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start)),
        }
    }

    /// Moves the clock forward to `ts`; never backwards.
    pub fn advance_to(&self, ts: UnixNanos) {
        self.now.fetch_max(ts, Ordering::Release);
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> UnixNanos {
        self.now.load(Ordering::Acquire)
    }
}

/// The wall clock, for live feeds and paper trading only.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveClock;

impl Clock for LiveClock {
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> UnixNanos {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_clock_only_moves_forward() {
        let c = SimulatedClock::new(10);
        c.advance_to(20);
        c.advance_to(15);
        assert_eq!(c.now(), 20);
    }

    #[test]
    fn live_clock_is_after_2020() {
        assert!(LiveClock.now() > 1_577_836_800_000_000_000);
    }
}
