//! SPEC.md S1 `sma_cross`.
//!
//! `d_t = SMA_fast - SMA_slow` of each symbol's closes (|d| < 1e-9 counts as 0). A cross up
//! (`d_{t-1} <= 0 < d_t`) while flat buys `floor(E_t / N / close_t)` shares, `N` the number of
//! traded symbols; a cross down (`d_{t-1} >= 0 > d_t`) while long sells the whole position.

use super::whole_lots;
use super::StrategyError;
use crate::strategy::{Strategy, StrategyContext};
use crate::types::{Bar, Decimal, OrderRequest, Side};
use serde::Deserialize;

/// `[strategy.params]` of `sma_cross`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub fast: usize,
    pub slow: usize,
}

impl Default for Params {
    fn default() -> Self {
        Self { fast: 10, slow: 30 }
    }
}

#[derive(Clone, Default)]
struct SymbolState {
    closes: Vec<f64>,
    head: usize,
    count: usize,
    prev_d: Option<f64>,
}

pub struct SmaCross {
    p: Params,
    state: Vec<SymbolState>,
}

impl SmaCross {
    /// # Errors
    /// `strategy.params.fast/slow` out of range.
    pub fn new(p: Params) -> Result<Self, StrategyError> {
        if p.fast == 0 || p.slow <= p.fast {
            return Err(StrategyError(format!(
                "strategy.params: need 0 < fast < slow, got fast {} slow {}",
                p.fast, p.slow
            )));
        }
        Ok(Self { p, state: Vec::new() })
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &str {
        "sma_cross"
    }

    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let (fast, slow) = (self.p.fast, self.p.slow);
        if self.state.len() < ctx.instruments().len() {
            self.state.resize(ctx.instruments().len(), SymbolState::default());
        }
        let n = Decimal::from(ctx.tradable_count().max(1));
        let equity = ctx.equity();
        let mut orders = Vec::new();
        for bar in bars {
            let inst = &ctx.instruments()[bar.instrument_id.index()];
            if !inst.tradable {
                continue;
            }
            let s = &mut self.state[bar.instrument_id.index()];
            if s.closes.is_empty() {
                s.closes = vec![0.0; slow];
            }
            s.closes[s.head] = bar.close_f64();
            s.head = (s.head + 1) % slow;
            s.count += 1;
            if s.count < slow {
                continue;
            }
            // Fresh sums of the last `fast` and `slow` closes, newest first.
            let mut sum_fast = 0.0;
            let mut sum_slow = 0.0;
            for k in 0..slow {
                let v = s.closes[(s.head + slow - 1 - k) % slow];
                if k < fast {
                    sum_fast += v;
                }
                sum_slow += v;
            }
            let mut d = sum_fast / fast as f64 - sum_slow / slow as f64;
            if d.abs() < 1e-9 {
                d = 0.0;
            }
            if let Some(prev) = s.prev_d {
                let qty = ctx.position(bar.instrument_id).quantity;
                if prev <= 0.0 && d > 0.0 && qty.is_zero() {
                    let buy = whole_lots(equity / n / bar.close, inst.lot_size);
                    if buy > Decimal::ZERO {
                        orders.push(OrderRequest::market(bar.instrument_id, Side::Buy, buy));
                    }
                } else if prev >= 0.0 && d < 0.0 && qty > Decimal::ZERO {
                    orders.push(OrderRequest::market(bar.instrument_id, Side::Sell, qty));
                }
            }
            s.prev_d = Some(d);
        }
        orders
    }
}
