//! SPEC.md S2 `topk`: cross-sectional momentum with a hysteresis band and stops.
//!
//! At the close of bar t:
//! 1. **Stops** (every bar): a long position whose close is at or below `entry * (1 - sl)` or at
//!    or above `entry * (1 + tp)` (1e-9 tolerance) is sold whole; the symbol is *stopped* for
//!    this bar.
//! 2. **Rebalance** when `t >= lookback` and `t % every == 0`: rank symbols by
//!    `close_t / close_{t-lookback} - 1` (rank 1 highest, ties by symbol order); keep held names
//!    ranked within `band`, fill up to `k` with the best-ranked others (never a stopped name);
//!    sell held names outside the target; size each target to `floor(E_t / k / close_t)`.
//! 3. Submission order: stop exits, then sells, then buys.
//!
//! With a point-in-time universe (`data.universe`), only members at t are ranked; a held name
//! that left the universe is unranked, so it leaves the target and is sold.

use super::whole_lots;
use super::StrategyError;
use crate::strategy::{Strategy, StrategyContext};
use crate::types::{Bar, Decimal, InstrumentId, OrderRequest, Side};
use serde::Deserialize;

/// `[strategy.params]` of `topk`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub k: usize,
    pub band: usize,
    pub lookback: usize,
    pub rebalance_every: u64,
    pub stop_loss: f64,
    pub take_profit: f64,
    /// What to rank by: `momentum` (SPEC.md S2) or `model` (the model actor's scores).
    pub signal: Signal,
}

/// The ranking signal of `topk`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    #[default]
    Momentum,
    Model,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            k: 5,
            band: 8,
            lookback: 20,
            rebalance_every: 5,
            stop_loss: 0.03,
            take_profit: 0.05,
            signal: Signal::Momentum,
        }
    }
}

/// The last `cap` closes of every symbol in one flat array (symbol `i`'s ring at `i * cap`),
/// each ring kept as [`crate::feature::indicators::Ring`] keeps its one: a bar's close is stored
/// without following a pointer.
#[derive(Default)]
struct Closes {
    cap: usize,
    values: Vec<f64>,
    /// Per symbol: where its next close goes (once full, its oldest), and how many it has.
    ends: Vec<(u32, u32)>,
}

impl Closes {
    fn new(symbols: usize, cap: usize) -> Self {
        Self {
            cap,
            values: vec![0.0; symbols * cap],
            ends: vec![(0, 0); symbols],
        }
    }

    /// Appends symbol `i`'s newest close, over its oldest when full.
    fn push(&mut self, i: usize, v: f64) {
        let (head, len) = &mut self.ends[i];
        let h = *head as usize;
        self.values[i * self.cap + h] = v;
        *head = if h + 1 == self.cap { 0 } else { *head + 1 };
        *len = (*len + 1).min(self.cap as u32);
    }

    /// `(oldest, newest)` of symbol `i` once it has `cap` closes.
    fn full_ends(&self, i: usize) -> Option<(f64, f64)> {
        let (head, len) = self.ends[i];
        if len as usize != self.cap {
            return None;
        }
        let ring = &self.values[i * self.cap..(i + 1) * self.cap];
        let h = head as usize;
        Some((ring[h], ring[if h == 0 { self.cap - 1 } else { h - 1 }]))
    }
}

pub struct TopK {
    p: Params,
    history: Closes,
    /// Per symbol, whether it can be traded (the instruments' flag, read once).
    tradable: Vec<bool>,
    /// Scratch buffers reused across bars.
    ranked: Vec<(f64, InstrumentId)>,
    rank: Vec<usize>,
    stopped: Vec<bool>,
}

impl TopK {
    /// # Errors
    /// Parameters out of range, naming the key.
    pub fn new(p: Params) -> Result<Self, StrategyError> {
        if p.k == 0 {
            return Err(StrategyError("strategy.params.k: must be at least 1".into()));
        }
        if p.band < p.k {
            return Err(StrategyError(format!(
                "strategy.params.band: must be >= k ({}), got {}",
                p.k, p.band
            )));
        }
        if p.lookback == 0 || p.rebalance_every == 0 {
            return Err(StrategyError(
                "strategy.params.lookback and rebalance_every: must be at least 1".into(),
            ));
        }
        let valid = p.stop_loss > 0.0 && p.stop_loss < 1.0 && p.take_profit > 0.0;
        if !valid {
            return Err(StrategyError(
                "strategy.params.stop_loss/take_profit: need 0 < stop_loss < 1 and take_profit > 0".into(),
            ));
        }
        Ok(Self {
            p,
            history: Closes::default(),
            tradable: Vec::new(),
            ranked: Vec::new(),
            rank: Vec::new(),
            stopped: Vec::new(),
        })
    }
}

impl Strategy for TopK {
    fn name(&self) -> &str {
        "topk"
    }

    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let n = ctx.instruments().len();
        let lb = self.p.lookback;
        if self.tradable.len() != n {
            self.tradable = ctx.instruments().iter().map(|i| i.tradable).collect();
            self.history = Closes::new(n, lb + 1);
            self.rank.resize(n, usize::MAX);
            self.stopped.resize(n, false);
        }
        for bar in bars {
            let i = bar.instrument_id.index();
            if self.tradable[i] {
                self.history.push(i, bar.close_f64());
            }
        }
        let bar_of = |id: InstrumentId| crate::types::find_bar(bars, id);
        let mut exits = Vec::new();
        let mut sells = Vec::new();
        let mut buys = Vec::new();

        // 1. Stops, in symbol order.
        let mut held: Vec<InstrumentId> = ctx
            .open_positions()
            .filter(|p| p.is_long())
            .map(|p| p.instrument_id)
            .collect();
        held.sort_unstable();
        self.stopped.iter_mut().for_each(|s| *s = false);
        for &id in &held {
            let Some(bar) = bar_of(id) else { continue };
            let pos = ctx.position(id);
            let entry = crate::types::dec_to_f64(pos.avg_entry);
            let close = bar.close_f64();
            if close <= entry * (1.0 - self.p.stop_loss) + 1e-9 || close >= entry * (1.0 + self.p.take_profit) - 1e-9 {
                exits.push(OrderRequest::market(id, Side::Sell, pos.quantity));
                self.stopped[id.index()] = true;
            }
        }

        // 2. Rebalance.
        let t = ctx.step();
        if t >= lb as u64 && t % self.p.rebalance_every == 0 {
            self.ranked.clear();
            match (self.p.signal, ctx.scores()) {
                (Signal::Model, Some(scores)) => {
                    for &(id, score) in scores.all() {
                        if self.tradable[id.index()] && ctx.in_universe(id) && bar_of(id).is_some() && score.is_finite()
                        {
                            self.ranked.push((score, id));
                        }
                    }
                }
                (Signal::Model, None) => {}
                (Signal::Momentum, _) => {
                    for bar in bars {
                        let i = bar.instrument_id.index();
                        if self.tradable[i] && ctx.in_universe(bar.instrument_id) {
                            if let Some((oldest, newest)) = self.history.full_ends(i) {
                                self.ranked.push((newest / oldest - 1.0, bar.instrument_id));
                            }
                        }
                    }
                }
            }
            let order = |a: &(f64, InstrumentId), b: &(f64, InstrumentId)| {
                b.0.partial_cmp(&a.0)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.1.cmp(&b.1))
            };
            // Only the best `max(band, k)` ranks are ever read (a held name ranked below the
            // band is sold either way): select them, then sort only those. Scores are finite
            // and ties go by symbol, so they come out as a full sort would order them.
            let top = self.p.band.max(self.p.k).min(self.ranked.len());
            if top < self.ranked.len() {
                self.ranked.select_nth_unstable_by(top, order);
            }
            self.ranked[..top].sort_unstable_by(order);
            self.rank.iter_mut().for_each(|r| *r = usize::MAX);
            for (r, (_, id)) in self.ranked[..top].iter().enumerate() {
                self.rank[id.index()] = r + 1;
            }
            let kept: Vec<InstrumentId> = held.iter().copied().filter(|id| !self.stopped[id.index()]).collect();
            let mut target: Vec<InstrumentId> = kept
                .iter()
                .copied()
                .filter(|id| self.rank[id.index()] <= self.p.band)
                .collect();
            for &(_, id) in self.ranked.iter().take(self.p.k) {
                if target.len() >= self.p.k {
                    break;
                }
                if !self.stopped[id.index()] && !target.contains(&id) {
                    target.push(id);
                }
            }
            for &id in &kept {
                if !target.contains(&id) {
                    sells.push(OrderRequest::market(id, Side::Sell, ctx.position(id).quantity));
                }
            }
            let k = Decimal::from(self.p.k);
            let equity = ctx.equity();
            let mut sized: Vec<(InstrumentId, Decimal)> = Vec::with_capacity(target.len());
            for &id in &target {
                let Some(bar) = bar_of(id) else { continue };
                let lot = ctx.instruments()[id.index()].lot_size;
                let delta = whole_lots(equity / k / bar.close, lot) - ctx.position(id).quantity;
                sized.push((id, delta));
            }
            sized.sort_unstable_by_key(|(id, _)| *id);
            for (id, delta) in sized {
                super::order_delta(id, delta, &mut sells, &mut buys);
            }
        }
        exits.extend(sells);
        exits.extend(buys);
        exits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    #[test]
    fn closes_keep_each_symbols_last_values_as_a_deque_would() {
        let (symbols, cap) = (4, 3);
        let mut c = Closes::new(symbols, cap);
        let mut want: Vec<VecDeque<f64>> = vec![VecDeque::new(); symbols];
        for k in 0..40u32 {
            // Symbols receive closes at different rates (some bars are missing).
            let i = ((k * 7) % 5) as usize % symbols;
            let v = f64::from(k) + 0.5;
            c.push(i, v);
            let d = &mut want[i];
            if d.len() == cap {
                d.pop_front();
            }
            d.push_back(v);
            for (j, d) in want.iter().enumerate() {
                let expect = (d.len() == cap).then(|| (d[0], d[cap - 1]));
                assert_eq!(c.full_ends(j), expect, "symbol {j} after close {k}");
            }
        }
    }
}
