//! The plug-in API: a small synchronous trait, and the read-only view a strategy decides on.

use crate::account::Portfolio;
use crate::events::{FeatureFrame, FeatureKey, Scores};
use crate::types::{Bar, Decimal, Fill, Instrument, InstrumentId, OrderRequest, Position, UnixNanos};

/// A trading strategy. The host calls it in time order; it sees only data up to now and
/// returns order requests instead of sending them.
pub trait Strategy: Send {
    /// A short name for logs and summaries.
    fn name(&self) -> &str;
    /// Before the first bar.
    fn on_start(&mut self, _ctx: &StrategyContext<'_>) {}
    /// At the close of each timestamp, with all bars of that timestamp (sorted by instrument;
    /// a symbol without a bar there is simply absent). Orders fill per the broker's policy.
    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest>;
    /// After each execution of one of this strategy's orders, before the next `on_bars`.
    fn on_fill(&mut self, _fill: &Fill, _ctx: &StrategyContext<'_>) {}
    /// After the last bar.
    fn on_end(&mut self, _ctx: &StrategyContext<'_>) {}
}

/// What a strategy may look at: the clock, the instruments, its account (read-only) and the
/// outputs of the feature and model stages for this timestamp.
pub struct StrategyContext<'a> {
    pub(crate) step: u64,
    pub(crate) now: UnixNanos,
    pub(crate) instruments: &'a [Instrument],
    pub(crate) book: &'a Portfolio,
    /// Equity at this close, computed on first use (a strategy that never asks pays nothing).
    pub(crate) equity: std::cell::OnceCell<Decimal>,
    pub(crate) features: Option<&'a FeatureFrame>,
    pub(crate) scores: Option<&'a Scores>,
    pub(crate) universe: Option<&'a crate::data::universe::UniverseMask>,
}

impl<'a> StrategyContext<'a> {
    /// The view at `now`: equity is marked from `book` as it stands.
    pub(crate) fn new(
        step: u64,
        now: UnixNanos,
        instruments: &'a [Instrument],
        book: &'a Portfolio,
        signals: Option<&'a crate::events::SignalEvent>,
    ) -> Self {
        Self {
            step,
            now,
            instruments,
            book,
            equity: std::cell::OnceCell::new(),
            features: signals.and_then(|s| s.features.as_deref()),
            scores: signals.and_then(|s| s.scores.as_deref()),
            universe: None,
        }
    }

    /// Whether `id` is in the run's point-in-time universe at this step (`data.universe`);
    /// always true without one. Orders that would open or add to a position outside it are
    /// dropped by the host; held names may always be sold.
    pub fn in_universe(&self, id: InstrumentId) -> bool {
        self.universe.is_none_or(|u| u.contains(id.index(), self.step))
    }

    /// Index of the current timestamp in the replay (0-based).
    pub fn step(&self) -> u64 {
        self.step
    }
    /// The current time (the close of the current bars).
    pub fn now(&self) -> UnixNanos {
        self.now
    }
    /// All instruments, indexed by [`InstrumentId`].
    pub fn instruments(&self) -> &'a [Instrument] {
        self.instruments
    }
    /// Number of tradable instruments (the benchmark excluded).
    pub fn tradable_count(&self) -> usize {
        self.instruments.iter().filter(|i| i.tradable).count()
    }
    /// The position in `id`.
    pub fn position(&self, id: InstrumentId) -> &'a Position {
        self.book.position(id)
    }
    /// Open positions.
    pub fn open_positions(&self) -> impl Iterator<Item = &'a Position> + 'a {
        self.book.open_positions()
    }
    /// Cash now.
    pub fn cash(&self) -> Decimal {
        self.book.cash()
    }
    /// Equity at this close, computed once before any order of this bar.
    pub fn equity(&self) -> Decimal {
        *self.equity.get_or_init(|| self.book.equity())
    }
    /// Features of this timestamp, when a feature set is configured.
    pub fn features(&self) -> Option<&'a FeatureFrame> {
        self.features
    }
    /// Model scores of this timestamp, when a model is configured.
    pub fn scores(&self) -> Option<&'a Scores> {
        self.scores
    }
    /// The model's score of `id` at this timestamp, in O(1); `None` without a model or when
    /// `id` was not scored.
    pub fn score(&self, id: InstrumentId) -> Option<f64> {
        self.scores?.get(id)
    }
    /// The column of feature `name` in this run's frames (the same at every timestamp): look it
    /// up once, in `on_start`, and read values with [`StrategyContext::feature`].
    pub fn feature_key(&self, name: &str) -> Option<FeatureKey> {
        self.features?.key(name)
    }
    /// Feature `key` of `id` at this timestamp, in O(1); `None` without features, without a bar
    /// of `id`, or while the feature has no value yet.
    pub fn feature(&self, id: InstrumentId, key: FeatureKey) -> Option<f64> {
        self.features?.value(id, key)
    }
}
