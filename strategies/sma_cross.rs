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
/// float sums. This runs for every bar, so a symbol's state is one cache line: the rings of all
/// symbols are one array in [`SmaCross`], and the rare float fallback lives beside them.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct SymbolState {
    sum_fast: i128,
    sum_slow: i128,
    /// `fast * slow * 10^scale` as `f64`, the final divisor of the gap (kept with `scale`).
    denom: f64,
    /// The previous gap's class ([`classify`]); [`NO_GAP`] before the first.
    prev: i8,
    head: u32,
    /// Closes seen, saturating (only compared with `slow`).
    count: u32,
    scale: u32,
    /// The symbol runs on the float fallback ([`SmaCross`]'s `floats`).
    float: bool,
}

impl Default for SymbolState {
    fn default() -> Self {
        Self {
            sum_fast: 0,
            sum_slow: 0,
            denom: 0.0,
            prev: NO_GAP,
            head: 0,
            count: 0,
            scale: 0,
            float: false,
        }
    }
}

impl SymbolState {
    fn set_scale(&mut self, scale: u32, fast: usize, slow: usize) {
        self.scale = scale;
        self.denom = fast as f64 * slow as f64 * 10f64.powi(scale as i32);
    }

    /// Adds a close; returns the gap `SMA_fast - SMA_slow` once `slow` closes are in, as a
    /// numerator and a positive divisor (the division is left to [`classify`]). `ring` is
    /// this symbol's ring of the last `slow` closes, `floats` its float fallback.
    fn push(
        &mut self,
        mut ring: Ring<'_>,
        floats: &mut Option<std::collections::VecDeque<f64>>,
        close: Decimal,
        fast: usize,
        slow: usize,
    ) -> Option<(f64, f64)> {
        if self.count == 0 {
            self.set_scale(close.scale(), fast, slow);
        }
        self.count = self.count.saturating_add(1);
        if !self.float && !self.push_exact(&mut ring, close, fast, slow) {
            let p = 10f64.powi(self.scale as i32);
            let mut closes = std::collections::VecDeque::with_capacity(slow + 1);
            let have = (self.count as usize - 1).min(slow);
            for k in (1..=have).rev() {
                closes.push_back(ring.get((self.head as usize + slow - k) % slow) as f64 / p);
            }
            *floats = Some(closes);
            self.float = true;
        }
        if self.float {
            let closes = floats.get_or_insert_with(Default::default);
            closes.push_back(dec_to_f64(close));
            if closes.len() > slow {
                closes.pop_front();
            }
            if (self.count as usize) < slow {
                return None;
            }
            let sum = |n: usize| closes.iter().rev().take(n).sum::<f64>();
            return Some((sum(fast) / fast as f64 - sum(slow) / slow as f64, 1.0));
        }
        if (self.count as usize) < slow {
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
        Some((num, self.denom))
    }

    /// The exact path; false when the values no longer fit.
    fn push_exact(&mut self, ring: &mut Ring<'_>, close: Decimal, fast: usize, slow: usize) -> bool {
        let mut m = close.mantissa();
        let s = close.scale();
        if s > self.scale {
            let f = 10i128.pow(s - self.scale);
            let scaled: Option<Vec<i128>> = (0..slow).map(|k| ring.get(k).checked_mul(f)).collect();
            match (scaled, self.sum_fast.checked_mul(f), self.sum_slow.checked_mul(f)) {
                (Some(r), Some(a), Some(b)) => {
                    for (k, v) in r.into_iter().enumerate() {
                        ring.set(k, v);
                    }
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
        let n = self.count as usize; // including this close
        let head = self.head as usize;
        let leaving_slow = if n > slow { ring.get(head) } else { 0 };
        let leaving_fast = if n > fast {
            // (head + slow - fast) mod slow, without a division.
            let j = head + slow - fast;
            ring.get(if j >= slow { j - slow } else { j })
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
        ring.set(head, m);
        self.head = if head + 1 == slow { 0 } else { self.head + 1 };
        true
    }
}

/// A gap's class when it is undefined (NaN) or not yet known.
const NO_GAP: i8 = 2;

/// The class of the gap `x / denom` (`denom > 0`): 1 above zero, -1 below, 0 when
/// `|gap| < 1e-9` (SPEC.md's tie), [`NO_GAP`] for NaN. Exactly what dividing and comparing
/// gives, but the division (the slowest step of a bar) is made only near the tolerance: when
/// `|x| >= 2e-9 * denom`, the quotient is at least about `2e-9`, far from `1e-9`.
#[inline]
fn classify(x: f64, denom: f64) -> i8 {
    if x.abs() >= denom * 2e-9 {
        return if x > 0.0 { 1 } else { -1 };
    }
    classify_quotient(x / denom)
}

/// The class of a gap already divided.
fn classify_quotient(d: f64) -> i8 {
    if d.abs() < 1e-9 {
        0
    } else if d > 0.0 {
        1
    } else if d < 0.0 {
        -1
    } else {
        NO_GAP
    }
}

/// One symbol's ring in [`SmaCross`]'s slot-major array: slot `k` at `k * stride + col`.
struct Ring<'a> {
    all: &'a mut [i128],
    stride: usize,
    col: usize,
}

impl Ring<'_> {
    fn get(&self, k: usize) -> i128 {
        self.all[k * self.stride + self.col]
    }

    fn set(&mut self, k: usize, v: i128) {
        self.all[k * self.stride + self.col] = v;
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
    /// The rings of the last `slow` closes, slot-major: slot `k` of symbol `i` at `k * N + i`
    /// (`N` symbols). While every symbol has a bar at every timestamp their heads move together,
    /// so a timestamp reads two contiguous rows instead of two lines of every symbol's ring.
    rings: Vec<i128>,
    /// Per symbol, its float fallback (used only when its closes stop fitting).
    floats: Vec<Option<std::collections::VecDeque<f64>>>,
    /// Per symbol, whether it can be traded (the instruments' flag, read once).
    tradable: Vec<bool>,
    /// `N`, the number of tradable symbols.
    n: Decimal,
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
            floats: Vec::new(),
            tradable: Vec::new(),
            n: Decimal::ONE,
        })
    }
}

impl Strategy for SmaCross {
    fn name(&self) -> &str {
        "sma_cross"
    }

    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let (fast, slow) = (self.p.fast, self.p.slow);
        let instruments = ctx.instruments();
        if self.tradable.len() != instruments.len() {
            // The first bars (the instruments are fixed for a run).
            let n = instruments.len();
            self.tradable = instruments.iter().map(|i| i.tradable).collect();
            self.n = Decimal::from(ctx.tradable_count().max(1));
            self.state = vec![SymbolState::default(); n];
            self.rings = vec![0; n * slow];
            self.floats = vec![None; n];
        }
        let mut orders = Vec::new();
        for bar in bars {
            let i = bar.instrument_id.index();
            if !self.tradable[i] {
                continue;
            }
            let s = &mut self.state[i];
            let ring = Ring {
                all: &mut self.rings,
                stride: self.tradable.len(),
                col: i,
            };
            let Some((x, denom)) = s.push(ring, &mut self.floats[i], bar.close, fast, slow) else {
                continue;
            };
            let d = classify(x, denom);
            let prev = std::mem::replace(&mut s.prev, d);
            // No previous gap (or an undefined one): no cross.
            if d == 1 && (prev == 0 || prev == -1) {
                let qty = ctx.position(bar.instrument_id).quantity;
                if qty.is_zero() && ctx.in_universe(bar.instrument_id) {
                    // The context computes equity once a step, on first asking.
                    let buy = whole_lots(ctx.equity() / self.n / bar.close, instruments[i].lot_size);
                    if buy > Decimal::ZERO {
                        orders.push(OrderRequest::market(bar.instrument_id, Side::Buy, buy));
                    }
                }
            } else if d == -1 && (prev == 0 || prev == 1) {
                let qty = ctx.position(bar.instrument_id).quantity;
                if qty > Decimal::ZERO {
                    orders.push(OrderRequest::market(bar.instrument_id, Side::Sell, qty));
                }
            }
        }
        orders
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::prelude::FromPrimitive;

    /// The float reference: the SMA gap over the last closes, newest last.
    fn float_gap(closes: &[f64], fast: usize, slow: usize) -> Option<f64> {
        if closes.len() < slow {
            return None;
        }
        let sma = |n: usize| closes[closes.len() - n..].iter().sum::<f64>() / n as f64;
        Some(sma(fast) - sma(slow))
    }

    fn run(closes: &[Decimal], fast: usize, slow: usize) -> (Vec<Option<f64>>, bool) {
        let gap = |(x, denom): (f64, f64)| x / denom;
        let mut s = SymbolState::default();
        let mut rings = vec![0i128; slow];
        let mut floats = None;
        let gaps = closes
            .iter()
            .map(|&c| {
                let ring = Ring {
                    all: &mut rings,
                    stride: 1,
                    col: 0,
                };
                s.push(ring, &mut floats, c, fast, slow).map(gap)
            })
            .collect();
        (gaps, s.float)
    }

    #[test]
    fn the_state_is_one_cache_line() {
        assert_eq!(std::mem::size_of::<SymbolState>(), 64);
        assert_eq!(std::mem::align_of::<SymbolState>(), 64);
    }

    #[test]
    fn exact_gaps_follow_the_float_reference_across_scales() {
        // Closes whose decimals grow and shrink: the ring is rescaled on the way.
        let mut closes = Vec::new();
        for k in 0..200u32 {
            let scale = [0, 2, 1, 4, 3][(k % 5) as usize] + u32::from(k > 100);
            let m = 10_000 + i64::from((k * 7919) % 613) - 300;
            closes.push(Decimal::new(m * 10i64.pow(scale), scale) + Decimal::new(i64::from(k % 9), scale));
        }
        let (fast, slow) = (3, 7);
        let (gaps, float) = run(&closes, fast, slow);
        assert!(!float, "these closes fit the exact path");
        let f: Vec<f64> = closes.iter().map(|c| dec_to_f64(*c)).collect();
        for (t, g) in gaps.iter().enumerate() {
            let want = float_gap(&f[..=t], fast, slow);
            match (g, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!((g - w).abs() < 1e-9 * w.abs().max(1.0), "step {t}: {g} vs {w}"),
                _ => panic!("step {t}: {g:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn closes_that_cannot_share_a_scale_fall_back_to_floats() {
        // Whole closes of 2e10, then one with 28 decimals: 2e10 x 10^28 does not fit 128 bits.
        let mut closes: Vec<Decimal> = (0..10).map(|k| Decimal::from(20_000_000_000i64 + k)).collect();
        closes.push(Decimal::from_f64(1.5).unwrap() + Decimal::new(1, 28));
        closes.extend((0..10).map(|k| Decimal::from(100 + k)));
        let (fast, slow) = (2, 5);
        let (gaps, float) = run(&closes, fast, slow);
        assert!(float, "the fallback was taken");
        let f: Vec<f64> = closes.iter().map(|c| dec_to_f64(*c)).collect();
        for (t, g) in gaps.iter().enumerate() {
            let want = float_gap(&f[..=t], fast, slow);
            match (g, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-6 * w.abs().max(1.0), "step {t}: {g} vs {w}"),
                _ => panic!("step {t}: {g:?} vs {want:?}"),
            }
        }
    }

    /// `classify` gives what the division and the comparisons give, around the tolerance, at
    /// zero, far from it, and for infinities and NaN.
    #[test]
    fn classify_is_the_divided_comparison() {
        let naive = |x: f64, denom: f64| classify_quotient(x / denom);
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut denoms: Vec<f64> = vec![2.0, 300.0, 3e4, 3e6, 3e10, 3e20, 3e30, 7.123456789e12];
        for _ in 0..300 {
            let m = 1.0 + (next() >> 11) as f64 / (1u64 << 53) as f64;
            denoms.push(m * 10f64.powi((next() % 30) as i32));
        }
        for denom in denoms {
            let edge = denom * 1e-9;
            let mut xs = vec![
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                1.0,
                -1.0,
                1e300,
                -1e300,
            ];
            for k in -64i64..=64 {
                // Around the tolerance, ulp by ulp, on both sides and both signs.
                for base in [edge, 2.0 * edge] {
                    let v = f64::from_bits((base.to_bits() as i64 + k) as u64);
                    xs.extend([v, -v]);
                }
            }
            for _ in 0..2000 {
                let scale = 10f64.powi((next() % 40) as i32 - 20);
                let v = (next() >> 11) as f64 / (1u64 << 53) as f64 * edge * scale;
                xs.extend([v, -v]);
            }
            for x in xs {
                assert_eq!(classify(x, denom), naive(x, denom), "x {x:e} denom {denom:e}");
            }
        }
    }
}
