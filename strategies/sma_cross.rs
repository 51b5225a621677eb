//! SPEC.md S1 `sma_cross`.
//!
//! `d_t = SMA_fast - SMA_slow` of each symbol's closes (|d| < 1e-9 counts as 0). A cross up
//! (`d_{t-1} <= 0 < d_t`) while flat buys `floor(E_t / N / close_t)` shares, `N` the number of
//! traded symbols; a cross down (`d_{t-1} >= 0 > d_t`) while long sells the whole position.

use super::whole_lots;
use super::StrategyError;
use crate::strategy::{Strategy, StrategyContext};
use crate::types::{dec_to_f64, Bar, Decimal, OrderRequest, Side};
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

/// The last `slow` closes of a symbol as exact mantissas at one scale, and their running sums
/// over the last `fast` and `slow` closes. Exact integer sums give the sign of the SMA gap with
/// no rounding (the float version's `1e-9` tolerance then only zeroes exact ties), at O(1) per
/// bar. A symbol whose closes cannot be aligned on one scale in 128 bits falls back to fresh
/// float sums. The rings of all symbols are one array in [`SmaCross`] (a symbol's state is then
/// found without following a pointer: this runs for every bar).
#[derive(Clone, Default)]
struct SymbolState {
    head: usize,
    count: usize,
    scale: u32,
    sum_fast: i128,
    sum_slow: i128,
    /// The float fallback: the last `slow` closes, newest last.
    float: Option<std::collections::VecDeque<f64>>,
    prev_d: Option<f64>,
    /// `fast * slow * 10^scale` as `f64`, the final divisor of the gap (kept with `scale`).
    denom: f64,
}

impl SymbolState {
    fn set_scale(&mut self, scale: u32, fast: usize, slow: usize) {
        self.scale = scale;
        self.denom = fast as f64 * slow as f64 * 10f64.powi(scale as i32);
    }

    /// Adds a close; returns the gap `SMA_fast - SMA_slow` once `slow` closes are in. `ring`
    /// is this symbol's ring of the last `slow` closes.
    fn push(&mut self, ring: &mut [i128], close: Decimal, fast: usize, slow: usize) -> Option<f64> {
        if self.count == 0 {
            self.set_scale(close.scale(), fast, slow);
        }
        self.count += 1;
        if self.float.is_none() && !self.push_exact(ring, close, fast, slow) {
            let p = 10f64.powi(self.scale as i32);
            let mut closes = std::collections::VecDeque::with_capacity(slow + 1);
            let have = (self.count - 1).min(slow);
            for k in (1..=have).rev() {
                closes.push_back(ring[(self.head + slow - k) % slow] as f64 / p);
            }
            self.float = Some(closes);
        }
        if let Some(closes) = self.float.as_mut() {
            closes.push_back(dec_to_f64(close));
            if closes.len() > slow {
                closes.pop_front();
            }
            if self.count < slow {
                return None;
            }
            let sum = |n: usize| closes.iter().rev().take(n).sum::<f64>();
            return Some(sum(fast) / fast as f64 - sum(slow) / slow as f64);
        }
        if self.count < slow {
            return None;
        }
        // (sum_fast / fast - sum_slow / slow) / 10^scale, exactly up to the final division.
        let num = self.sum_fast * slow as i128 - self.sum_slow * fast as i128;
        // Through i64 when it fits: the same rounding, without i128's software conversion
        // (kept out of line: the compiler would otherwise run it on every bar, in case).
        let num = match i64::try_from(num) {
            Ok(v) => v as f64,
            Err(_) => wide_to_f64(num),
        };
        Some(num / self.denom)
    }

    /// The exact path; false when the values no longer fit.
    fn push_exact(&mut self, ring: &mut [i128], close: Decimal, fast: usize, slow: usize) -> bool {
        let mut m = close.mantissa();
        let s = close.scale();
        if s > self.scale {
            let f = 10i128.pow(s - self.scale);
            let scaled: Option<Vec<i128>> = ring.iter().map(|v| v.checked_mul(f)).collect();
            match (scaled, self.sum_fast.checked_mul(f), self.sum_slow.checked_mul(f)) {
                (Some(r), Some(a), Some(b)) => {
                    ring.copy_from_slice(&r);
                    self.sum_fast = a;
                    self.sum_slow = b;
                    self.set_scale(s, fast, slow);
                }
                _ => return false,
            }
        } else if s < self.scale {
            match m.checked_mul(10i128.pow(self.scale - s)) {
                Some(v) => m = v,
                None => return false,
            }
        }
        let n = self.count; // including this close
        let leaving_slow = if n > slow { ring[self.head] } else { 0 };
        let leaving_fast = if n > fast {
            // (head + slow - fast) mod slow, without a division.
            let j = self.head + slow - fast;
            ring[if j >= slow { j - slow } else { j }]
        } else {
            0
        };
        let (Some(ss), Some(sf)) = (
            self.sum_slow.checked_add(m).and_then(|v| v.checked_sub(leaving_slow)),
            self.sum_fast.checked_add(m).and_then(|v| v.checked_sub(leaving_fast)),
        ) else {
            return false;
        };
        self.sum_slow = ss;
        self.sum_fast = sf;
        ring[self.head] = m;
        self.head = if self.head + 1 == slow { 0 } else { self.head + 1 };
        true
    }
}

/// `v as f64`, a software routine for `i128`, out of the per-bar path.
#[cold]
#[inline(never)]
fn wide_to_f64(v: i128) -> f64 {
    v as f64
}

pub struct SmaCross {
    p: Params,
    state: Vec<SymbolState>,
    /// Per symbol, its ring of the last `slow` closes (symbol `i` at `i * slow`).
    rings: Vec<i128>,
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
        Ok(Self {
            p,
            state: Vec::new(),
            rings: Vec::new(),
        })
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
            self.rings.resize(ctx.instruments().len() * slow, 0);
        }
        let n = Decimal::from(ctx.tradable_count().max(1));
        let mut orders = Vec::new();
        for bar in bars {
            let inst = &ctx.instruments()[bar.instrument_id.index()];
            if !inst.tradable {
                continue;
            }
            let i = bar.instrument_id.index();
            let s = &mut self.state[i];
            let Some(mut d) = s.push(&mut self.rings[i * slow..(i + 1) * slow], bar.close, fast, slow) else {
                continue;
            };
            if d.abs() < 1e-9 {
                d = 0.0;
            }
            if let Some(prev) = s.prev_d {
                let qty = ctx.position(bar.instrument_id).quantity;
                if prev <= 0.0 && d > 0.0 && qty.is_zero() && ctx.in_universe(bar.instrument_id) {
                    // The context computes equity once a step, on first asking.
                    let buy = whole_lots(ctx.equity() / n / bar.close, inst.lot_size);
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
