//! `staged`: a strategy assembled from the [`super::stages`] blocks by its parameters.
//!
//! At the close of each bar:
//! 1. **Exits** (every bar): a long whose close reaches the stop-loss or take-profit (fractions
//!    of its entry, checked at the close) or its trailing stop is sold whole, and is not bought
//!    back on this bar.
//! 2. **Rebalance** every `rebalance_every` bars: the candidates (tradable, in the universe,
//!    with a bar) are ranked by the `signal` (`momentum`: trailing `lookback` return; `model`:
//!    the model's scores; `none`: symbol order), then selected (`top_k` with a `buffer`;
//!    `threshold`: score above it; `trend`: close above its own `trend_sma`-bar average; `all`),
//!    weighted (`equal`, `rank`, `inverse_vol` over `vol_lookback` bars), scaled by the regime
//!    gate (`regime = "trend"`: `regime_symbol` above its `regime_sma`-bar average, or `"six"`:
//!    not a bear regime of [`super::stages::RegimeModel`]; otherwise `bear_exposure`, also while
//!    the regime is not known yet) and by volatility targeting (`vol_target` a year, from the
//!    selection's trailing volatility at these weights, at most `max_leverage`). Each name is
//!    sized to its weight of equity at the close, in whole lots; names no longer selected are
//!    sold.
//! 3. Submission order: exits, then sells, then buys.
//!
//! Resting stop orders at the broker (brackets) are a block of their own
//! ([`super::stages::StopRule::bracket`] with [`crate::types::OrderRequest::with_bracket`]); this
//! strategy checks its stops at the close, since a rebalance could not cancel a resting leg.

use super::stages::{
    above_threshold, portfolio_vol, realized_vol, top_k_hysteresis, trend_up, Closes, RegimeModel, StopRule,
    TrailingStop, VolTarget, Weighting,
};
use super::StrategyError;
use crate::strategy::{Strategy, StrategyContext};
use crate::types::{find_bar, Bar, Decimal, InstrumentId, OrderRequest, Side};
use serde::Deserialize;

/// What ranks the candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Momentum,
    Model,
    None,
}

/// Which ranked candidates are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selection {
    TopK,
    Threshold,
    Trend,
    All,
}

/// How positions are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Every `rebalance_every` bars, the selection is sized to its weights.
    Rebalance,
    /// Entries and reviews (seeds 000-002): names scored above `threshold` are entered while
    /// fewer than `max_positions` are held, each at `position_size` of equity (or
    /// `fixed_shares`), and kept until a review (every `review_every` bars after entry) finds
    /// their score below `exit_below` or missing, or a stop.
    Entries,
    /// Long above `threshold`, short below `short_threshold`, flat between (seed 003), each
    /// name at `position_size` of equity (or `fixed_shares`), every `rebalance_every` bars.
    LongShort,
}

/// The regime gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegimeGate {
    None,
    Trend,
    Six,
}

/// `[strategy.params]` of `staged`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub signal: Signal,
    pub lookback: usize,
    pub selection: Selection,
    pub k: usize,
    pub buffer: usize,
    pub threshold: f64,
    pub trend_sma: usize,
    pub weighting: Weighting,
    pub vol_lookback: usize,
    pub vol_target: f64,
    pub max_leverage: f64,
    pub regime: RegimeGate,
    pub regime_symbol: String,
    pub regime_sma: usize,
    pub bear_exposure: f64,
    pub rebalance_every: u64,
    pub stop_loss: f64,
    pub take_profit: f64,
    pub trailing_stop: f64,
    pub mode: Mode,
    pub max_positions: usize,
    pub position_size: f64,
    pub fixed_shares: u64,
    pub review_every: u64,
    pub exit_below: f64,
    pub min_cash_buy: f64,
    pub short_threshold: f64,
    /// Entries at `position_size`: equity valued at the decision's `close`, or at the `open`
    /// the order executes at (the broker sizes it then: an equity-fraction order).
    pub value_at: ValueAt,
    /// `regime = "six"`: the trailing window and the thresholds of the six regimes (bear below
    /// `bear_return`, bull above `bull_return`, high volatility above `high_vol` a year).
    pub regime_lookback: usize,
    pub bull_return: f64,
    pub bear_return: f64,
    pub high_vol: f64,
}

/// When an entry's share of equity is valued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueAt {
    Close,
    Open,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            signal: Signal::Momentum,
            lookback: 20,
            selection: Selection::TopK,
            k: 5,
            buffer: 3,
            threshold: 0.0,
            trend_sma: 50,
            weighting: Weighting::Equal,
            vol_lookback: 20,
            vol_target: 0.0,
            max_leverage: 1.0,
            regime: RegimeGate::None,
            regime_symbol: String::new(),
            regime_sma: 200,
            bear_exposure: 0.0,
            rebalance_every: 5,
            stop_loss: 0.0,
            take_profit: 0.0,
            trailing_stop: 0.0,
            mode: Mode::Rebalance,
            max_positions: 5,
            position_size: 0.2,
            fixed_shares: 0,
            review_every: 1,
            exit_below: 0.0,
            min_cash_buy: 1000.0,
            short_threshold: 0.0,
            value_at: ValueAt::Close,
            regime_lookback: 60,
            bull_return: 0.05,
            bear_return: -0.05,
            high_vol: 0.25,
        }
    }
}

pub struct Staged {
    p: Params,
    closes: Closes,
    stops: StopRule,
    trailing: TrailingStop,
    regime: RegimeModel,
    /// The regime symbol's instrument, once looked up.
    regime_id: Option<Option<InstrumentId>>,
    review: super::stages::Review,
}

impl Staged {
    /// # Errors
    /// Parameters out of range, naming the key.
    pub fn new(p: Params) -> Result<Self, StrategyError> {
        let bad = |m: &str| Err(StrategyError(format!("strategy.params.{m}")));
        if p.k == 0 {
            return bad("k: must be at least 1");
        }
        if p.lookback == 0 || p.rebalance_every == 0 || p.vol_lookback < 2 || p.trend_sma == 0 || p.regime_sma == 0 {
            return bad("lookback, rebalance_every, trend_sma, regime_sma: at least 1; vol_lookback: at least 2");
        }
        if !(0.0..=1.0).contains(&p.bear_exposure) {
            return bad("bear_exposure: in [0, 1]");
        }
        if p.vol_target < 0.0 || p.max_leverage <= 0.0 {
            return bad("vol_target: >= 0 (0: off); max_leverage: > 0");
        }
        if !(0.0..1.0).contains(&p.stop_loss) || p.take_profit < 0.0 || !(0.0..1.0).contains(&p.trailing_stop) {
            return bad("stop_loss, trailing_stop: in [0, 1); take_profit: >= 0 (0: off)");
        }
        if p.mode == Mode::Entries && (p.max_positions == 0 || p.review_every == 0) {
            return bad("max_positions, review_every: at least 1");
        }
        if p.mode == Mode::LongShort && p.short_threshold > p.threshold {
            return bad("short_threshold: at most threshold (short below it, long above threshold)");
        }
        if p.mode != Mode::Rebalance && p.fixed_shares == 0 && !(p.position_size > 0.0 && p.position_size <= 1.0) {
            return bad("position_size: in (0, 1] (or fixed_shares > 0)");
        }
        if p.regime != RegimeGate::None && p.regime_symbol.is_empty() {
            return bad("regime_symbol: the series the regime is read from (e.g. the benchmark)");
        }
        if p.regime_lookback < 2 || p.bear_return > p.bull_return || p.high_vol <= 0.0 {
            return bad("regime_lookback: at least 2; bear_return <= bull_return; high_vol > 0");
        }
        let n = p
            .lookback
            .max(p.trend_sma)
            .max(p.vol_lookback)
            .max(p.regime_sma)
            .max(p.regime_lookback);
        Ok(Self {
            closes: Closes::new(n),
            stops: StopRule {
                stop_loss: p.stop_loss,
                take_profit: p.take_profit,
            },
            trailing: TrailingStop::new(p.trailing_stop),
            regime: RegimeModel {
                lookback: p.regime_lookback,
                bull_return: p.bull_return,
                bear_return: p.bear_return,
                high_vol: p.high_vol,
            },
            regime_id: None,
            review: super::stages::Review::new(p.review_every),
            p,
        })
    }

    /// The last `n + 1` closes of instrument `i` (fewer while they come).
    fn tail(&self, i: usize, n: usize) -> Vec<f64> {
        let c = self.closes.of(i);
        c[c.len().saturating_sub(n + 1)..].to_vec()
    }

    /// The candidates' scores (tradable, in the universe, with a bar, not `excluded`), best
    /// first.
    fn ranked(&self, bars: &[Bar], ctx: &StrategyContext<'_>, excluded: &[InstrumentId]) -> Vec<(f64, InstrumentId)> {
        let mut ranked: Vec<(f64, InstrumentId)> = Vec::new();
        for b in bars {
            let id = b.instrument_id;
            if !ctx.instruments()[id.index()].tradable || !ctx.in_universe(id) || excluded.contains(&id) {
                continue;
            }
            if let Some(s) = self.score(id, ctx).filter(|s| s.is_finite()) {
                ranked.push((s, id));
            }
        }
        ranked.sort_by(|a, b| {
            b.0.partial_cmp(&a.0)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(a.1.cmp(&b.1))
        });
        ranked
    }

    fn score(&self, id: InstrumentId, ctx: &StrategyContext<'_>) -> Option<f64> {
        match self.p.signal {
            Signal::Momentum => {
                let c = self.tail(id.index(), self.p.lookback);
                (c.len() == self.p.lookback + 1).then(|| c[c.len() - 1] / c[0] - 1.0)
            }
            Signal::Model => ctx.score(id),
            Signal::None => Some(0.0),
        }
    }

    /// `Mode::Entries`: reviews, then entries while room and cash allow.
    fn entries(
        &mut self,
        bars: &[Bar],
        ctx: &StrategyContext<'_>,
        held: &[InstrumentId],
        mut out: Vec<OrderRequest>,
        stopped: &[InstrumentId],
    ) -> Vec<OrderRequest> {
        let step = ctx.step();
        let mut holding: Vec<InstrumentId> = held.iter().copied().filter(|id| !stopped.contains(id)).collect();
        for id in stopped {
            self.review.exited(*id);
        }
        for &id in held {
            if stopped.contains(&id) || !self.review.due(id, step) {
                continue;
            }
            if self
                .score(id, ctx)
                .is_none_or(|s| !s.is_finite() || s < self.p.exit_below)
            {
                out.push(OrderRequest::market(id, Side::Sell, ctx.position(id).quantity));
                self.review.exited(id);
                holding.retain(|h| *h != id);
            }
        }
        // A held name the strategy does not know (entered before a restart) is reviewed from now.
        for &id in &holding {
            if !self.review.knows(id) {
                self.review.entered(id, step);
            }
        }
        if self.gate(ctx) < 1.0 {
            return out;
        }
        let equity = ctx.equity();
        let mut cash = ctx.cash();
        let min_buy = Decimal::from_f64_retain(self.p.min_cash_buy).unwrap_or_default();
        let mut excluded: Vec<InstrumentId> = held.to_vec();
        excluded.extend_from_slice(stopped);
        for (score, id) in self.ranked(bars, ctx, &excluded) {
            if holding.len() >= self.p.max_positions || score <= self.p.threshold {
                break;
            }
            let Some(bar) = find_bar(bars, id) else { continue };
            if self.p.fixed_shares == 0 && self.p.value_at == ValueAt::Open {
                // Sized by the broker at the open it executes at (cash checked there).
                let f = Decimal::from_f64_retain(self.p.position_size).unwrap_or_default();
                out.push(OrderRequest::equity_fraction(id, f.round_dp(6)));
                self.review.entered(id, step);
                holding.push(id);
                continue;
            }
            let lot = ctx.instruments()[id.index()].lot_size;
            let mut qty = if self.p.fixed_shares > 0 {
                super::whole_lots(Decimal::from(self.p.fixed_shares), lot)
            } else {
                super::stages::target_quantity(self.p.position_size, equity, bar.close, lot)
            };
            if qty * bar.close > cash {
                // Short of the target: what is left, if it is worth a trade.
                if cash < min_buy {
                    break;
                }
                qty = super::whole_lots(cash / bar.close, lot);
            }
            if qty <= Decimal::ZERO {
                continue;
            }
            cash -= qty * bar.close;
            out.push(OrderRequest::market(id, Side::Buy, qty));
            self.review.entered(id, step);
            holding.push(id);
        }
        out
    }

    /// `Mode::LongShort`: each name to its long, short or flat target.
    fn long_short(
        &mut self,
        bars: &[Bar],
        ctx: &StrategyContext<'_>,
        mut out: Vec<OrderRequest>,
        stopped: &[InstrumentId],
    ) -> Vec<OrderRequest> {
        let equity = ctx.equity();
        let gate = self.gate(ctx);
        let mut buys = Vec::new();
        for b in bars {
            let id = b.instrument_id;
            if !ctx.instruments()[id.index()].tradable || stopped.contains(&id) {
                continue;
            }
            let lot = ctx.instruments()[id.index()].lot_size;
            let size = if self.p.fixed_shares > 0 {
                super::whole_lots(Decimal::from(self.p.fixed_shares), lot)
            } else {
                super::stages::target_quantity(self.p.position_size * gate, equity, b.close, lot)
            };
            let held = ctx.position(id).quantity;
            // Outside the universe: only back to flat.
            let target = match self.score(id, ctx).filter(|s| s.is_finite()) {
                _ if !ctx.in_universe(id) => Decimal::ZERO,
                Some(s) if s > self.p.threshold => size,
                Some(s) if s < self.p.short_threshold => -size,
                _ => Decimal::ZERO,
            };
            super::order_delta(id, target - held, &mut out, &mut buys);
        }
        out.extend(buys);
        out
    }

    /// The exposure the regime allows now.
    fn gate(&mut self, ctx: &StrategyContext<'_>) -> f64 {
        if self.p.regime == RegimeGate::None {
            return 1.0;
        }
        let id = *self.regime_id.get_or_insert_with(|| {
            ctx.instruments()
                .iter()
                .find(|i| i.symbol == self.p.regime_symbol)
                .map(|i| i.id)
        });
        let Some(id) = id else { return self.p.bear_exposure };
        let c = self.closes.of(id.index());
        let good = match self.p.regime {
            RegimeGate::Trend => trend_up(&c, self.p.regime_sma),
            RegimeGate::Six => self.regime.classify(&c).map(|r| !r.is_bearish()),
            RegimeGate::None => Some(true),
        };
        if good == Some(true) {
            1.0
        } else {
            self.p.bear_exposure
        }
    }
}

impl Strategy for Staged {
    fn name(&self) -> &str {
        "staged"
    }

    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        for b in bars {
            self.closes.push(b.instrument_id.index(), b.close_f64());
        }
        let mut exits = Vec::new();
        let mut stopped = Vec::new();
        let mut held: Vec<InstrumentId> = ctx
            .open_positions()
            .filter(|p| p.is_long())
            .map(|p| p.instrument_id)
            .collect();
        held.sort_unstable();
        for &id in &held {
            let Some(bar) = find_bar(bars, id) else { continue };
            let entry = crate::types::dec_to_f64(ctx.position(id).avg_entry);
            let trail = self.trailing.update(id, bar.close_f64(), true);
            if self.stops.hit(entry, bar.close_f64()) || trail {
                exits.push(OrderRequest::market(id, Side::Sell, ctx.position(id).quantity));
                stopped.push(id);
            }
        }
        for b in bars {
            if !held.contains(&b.instrument_id) {
                self.trailing.update(b.instrument_id, b.close_f64(), false);
            }
        }
        let step = ctx.step();
        if self.p.mode == Mode::Entries {
            return self.entries(bars, ctx, &held, exits, &stopped);
        }
        if self.p.mode == Mode::LongShort {
            if step % self.p.rebalance_every != 0 {
                return exits;
            }
            return self.long_short(bars, ctx, exits, &stopped);
        }
        if step % self.p.rebalance_every != 0 {
            return exits;
        }
        // Rank the candidates.
        let ranked = self.ranked(bars, ctx, &stopped);
        let selected: Vec<InstrumentId> = match self.p.selection {
            Selection::TopK => top_k_hysteresis(&ranked, &held, self.p.k, self.p.buffer),
            Selection::Threshold => above_threshold(&ranked, self.p.threshold),
            Selection::Trend => ranked
                .iter()
                .map(|(_, id)| *id)
                .filter(|id| trend_up(&self.closes.of(id.index()), self.p.trend_sma) == Some(true))
                .collect(),
            Selection::All => ranked.iter().map(|(_, id)| *id).collect(),
        };
        // Weights, regime gate, volatility target.
        let tails: Vec<Vec<f64>> = selected
            .iter()
            .map(|id| self.tail(id.index(), self.p.vol_lookback))
            .collect();
        let vols: Vec<f64> = tails.iter().map(|c| realized_vol(c).unwrap_or(0.0)).collect();
        let weights = self.p.weighting.weights(selected.len(), &vols);
        let gate = self.gate(ctx);
        let full: Vec<Vec<f64>> = tails
            .iter()
            .filter(|c| c.len() == self.p.vol_lookback + 1)
            .cloned()
            .collect();
        let scale = if full.len() == tails.len() {
            VolTarget {
                target: self.p.vol_target,
                max_leverage: self.p.max_leverage,
            }
            .scale(portfolio_vol(&weights, &full))
        } else {
            1.0f64.min(self.p.max_leverage)
        };
        let equity = ctx.equity();
        let mut sells = Vec::new();
        let mut buys = Vec::new();
        for &id in &held {
            if !selected.contains(&id) && !stopped.contains(&id) {
                sells.push(OrderRequest::market(id, Side::Sell, ctx.position(id).quantity));
            }
        }
        for (&id, w) in selected.iter().zip(&weights) {
            let Some(bar) = find_bar(bars, id) else { continue };
            let lot = ctx.instruments()[id.index()].lot_size;
            let target = super::stages::target_quantity(w * gate * scale, equity, bar.close, lot);
            super::order_delta(id, target - ctx.position(id).quantity, &mut sells, &mut buys);
        }
        exits.extend(sells);
        exits.extend(buys);
        exits
    }
}
