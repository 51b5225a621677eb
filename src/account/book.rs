//! The portfolio's synchronous core: cash, positions, marks and trade statistics.

use crate::types::{Bar, Decimal, Fill, InstrumentId, Position};
use serde::Serialize;

/// Statistics of closed round trips (flat -> position -> flat), net of their commissions.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TradeStats {
    pub closed: u64,
    pub wins: u64,
    pub gross_profit: Decimal,
    pub gross_loss: Decimal,
}

/// Cash and positions, marked at every close.
///
/// Invariant: `equity() == cash + sum(quantity * last price)` over all instruments.
#[derive(Clone, Debug)]
pub struct Portfolio {
    pub initial_cash: Decimal,
    cash: Decimal,
    positions: Vec<Position>,
    last_price: Vec<Decimal>,
    /// Instruments with a non-zero position.
    open: Vec<InstrumentId>,
    /// PnL net of commissions of each open round trip.
    round_trip: Vec<Decimal>,
    pub commissions: Decimal,
    pub slippage: Decimal,
    pub traded_notional: Decimal,
    pub fills: u64,
    pub trades: TradeStats,
    /// Annual borrow fee on the value of short positions (0: none).
    borrow_rate: Decimal,
    /// The time borrow fees have been charged up to.
    accrued_to: Option<crate::types::UnixNanos>,
    /// Borrow fees charged so far.
    pub borrow_costs: Decimal,
}

/// A year of 365 days, in nanoseconds: borrow fees accrue by calendar time.
const YEAR_NANOS: Decimal = Decimal::from_parts(0x2da3_0000, 0x0070_09d3, 0, false, 0);

/// The borrow fee on `short_value` at a yearly `rate` over `nanos` of calendar time: the one
/// formula of the account and of the broker simulator.
pub fn borrow_fee(short_value: Decimal, rate: Decimal, nanos: i64) -> Decimal {
    short_value * rate * Decimal::from(nanos) / YEAR_NANOS
}

/// `(sum |q * p|, sum q * p)` over `(quantity, price)` pairs, exactly as `Decimal` arithmetic
/// gives them (the same value and scale): in 128-bit fixed point while every product and
/// running sum fits `Decimal`'s 96 bits (always, for share counts times prices), through
/// `Decimal` otherwise. Run at every step by the portfolio and the
/// strategy's view of it, over every open position.
pub fn exposures(pairs: impl Iterator<Item = (Decimal, Decimal)> + Clone) -> (Decimal, Decimal) {
    exposures_fixed(pairs.clone()).unwrap_or_else(|| exposures_decimal(pairs))
}

/// The reference: `Decimal` products and sums.
fn exposures_decimal(pairs: impl Iterator<Item = (Decimal, Decimal)>) -> (Decimal, Decimal) {
    let mut gross = Decimal::ZERO;
    let mut net = Decimal::ZERO;
    for (q, p) in pairs {
        let v = q * p;
        gross += v.abs();
        net += v;
    }
    (gross, net)
}

/// The fast path, `None` wherever `Decimal` could round: a mantissa outside 64 bits, a
/// product or a sum outside 96 bits, or a product's scale above 28. A product of `Decimal`s is
/// exact at the sum of their scales and a sum exact at the larger scale, so the sums are kept at
/// the largest product scale so far, as `Decimal` keeps them.
fn exposures_fixed(pairs: impl Iterator<Item = (Decimal, Decimal)>) -> Option<(Decimal, Decimal)> {
    const LIMIT: u128 = 1 << 96;
    let fits = |v: i128| v.unsigned_abs() < LIMIT;
    let (mut gross, mut net, mut scale) = (0i128, 0i128, 0u32);
    for (q, p) in pairs {
        let (Ok(qm), Ok(pm)) = (i64::try_from(q.mantissa()), i64::try_from(p.mantissa())) else {
            return None;
        };
        let mut v = i128::from(qm) * i128::from(pm);
        let s = q.scale() + p.scale();
        if s > scale {
            if s > 28 {
                return None;
            }
            let f = 10i128.pow(s - scale);
            gross = gross.checked_mul(f).filter(|&g| fits(g))?;
            net = net.checked_mul(f).filter(|&n| fits(n))?;
            scale = s;
        } else if s < scale {
            v = v.checked_mul(10i128.pow(scale - s))?;
        }
        if !fits(v) {
            return None;
        }
        gross += v.abs();
        net += v;
        if !fits(gross) || !fits(net) {
            return None;
        }
    }
    Some((
        Decimal::from_i128_with_scale(gross, scale),
        Decimal::from_i128_with_scale(net, scale),
    ))
}

impl Portfolio {
    /// An empty portfolio over `instruments` instruments.
    pub fn new(initial_cash: Decimal, instruments: usize) -> Self {
        Self {
            initial_cash,
            cash: initial_cash,
            positions: (0..instruments)
                .map(|i| Position {
                    instrument_id: InstrumentId(i as u32),
                    ..Position::default()
                })
                .collect(),
            last_price: vec![Decimal::ZERO; instruments],
            open: Vec::new(),
            round_trip: vec![Decimal::ZERO; instruments],
            commissions: Decimal::ZERO,
            slippage: Decimal::ZERO,
            traded_notional: Decimal::ZERO,
            fills: 0,
            trades: TradeStats::default(),
            borrow_rate: Decimal::ZERO,
            accrued_to: None,
            borrow_costs: Decimal::ZERO,
        }
    }

    /// Charges `rate` a year on the value of short positions (see [`Portfolio::accrue_borrow`]).
    pub fn with_borrow_rate(mut self, rate: Decimal) -> Self {
        self.borrow_rate = rate;
        self
    }

    /// Charges the borrow fee of the short positions held since the last accrual up to `ts`:
    /// `short value at the latest marks x rate x elapsed / 365 days`, from cash. Called at the
    /// start of each timestamp, before its fills, by every holder of a book (the portfolio and
    /// the strategy's view), so they agree.
    pub fn accrue_borrow(&mut self, ts: crate::types::UnixNanos) {
        if let Some(t0) = self.accrued_to.filter(|_| !self.borrow_rate.is_zero()) {
            let short: Decimal = self
                .open_positions()
                .filter(|p| p.quantity.is_sign_negative())
                .map(|p| -p.quantity * self.last_price[p.instrument_id.index()])
                .sum();
            if !short.is_zero() && ts > t0 {
                let fee = borrow_fee(short, self.borrow_rate, ts - t0);
                self.cash -= fee;
                self.borrow_costs += fee;
            }
        }
        self.accrued_to = Some(ts);
    }

    /// Cash now.
    pub fn cash(&self) -> Decimal {
        self.cash
    }

    /// The position in `id` (flat when never traded).
    pub fn position(&self, id: InstrumentId) -> &Position {
        &self.positions[id.index()]
    }

    /// Open positions, in the order they were opened.
    pub fn open_positions(&self) -> impl Iterator<Item = &Position> + '_ {
        self.open.iter().map(|id| &self.positions[id.index()])
    }

    /// The latest mark (close, or fill price before the first close) of `id`.
    pub fn last_price(&self, id: InstrumentId) -> Decimal {
        self.last_price[id.index()]
    }

    /// Applies one execution.
    pub fn apply_fill(&mut self, fill: &Fill) {
        let i = fill.instrument_id.index();
        let signed = fill.signed_quantity();
        let was_flat = self.positions[i].is_flat();
        let before = self.positions[i].quantity;
        let realized = self.positions[i].apply(signed, fill.price);
        self.cash -= signed * fill.price + fill.commission;
        self.commissions += fill.commission;
        self.slippage += fill.slippage;
        self.traded_notional += fill.notional();
        self.fills += 1;
        self.round_trip[i] += realized - fill.commission;
        if self.last_price[i].is_zero() {
            self.last_price[i] = fill.price;
        }
        let after = self.positions[i].quantity;
        let closed_or_flipped =
            !before.is_zero() && (after.is_zero() || after.is_sign_positive() != before.is_sign_positive());
        if closed_or_flipped {
            let pnl = std::mem::take(&mut self.round_trip[i]);
            self.trades.closed += 1;
            if pnl > Decimal::ZERO {
                self.trades.wins += 1;
                self.trades.gross_profit += pnl;
            } else {
                self.trades.gross_loss -= pnl;
            }
        }
        if was_flat && !after.is_zero() {
            self.open.push(fill.instrument_id);
        } else if after.is_zero() {
            // Each instrument is listed once: remove it where it is, keeping the order.
            if let Some(k) = self.open.iter().position(|id| *id == fill.instrument_id) {
                self.open.remove(k);
            }
        }
    }

    /// Records the closes of a batch of bars as the latest marks.
    pub fn mark(&mut self, bars: &[Bar]) {
        for b in bars {
            self.last_price[b.instrument_id.index()] = b.close;
        }
    }

    /// Value of the positions at the latest marks (signed).
    pub fn net_exposure(&self) -> Decimal {
        self.exposures().1
    }

    /// Sum of absolute position values.
    pub fn gross_exposure(&self) -> Decimal {
        self.exposures().0
    }

    /// `(gross, net)` exposure in one pass over the open positions.
    pub fn exposures(&self) -> (Decimal, Decimal) {
        exposures(
            self.open
                .iter()
                .map(|id| (self.positions[id.index()].quantity, self.last_price[id.index()])),
        )
    }

    /// Cash plus the value of positions at the latest marks.
    pub fn equity(&self) -> Decimal {
        self.cash + self.net_exposure()
    }

    /// Realized PnL over all instruments (before commissions).
    pub fn realized_pnl(&self) -> Decimal {
        self.positions.iter().map(|p| p.realized_pnl).sum()
    }

    /// Unrealized PnL of the open positions at the latest marks.
    pub fn unrealized_pnl(&self) -> Decimal {
        self.open_positions()
            .map(|p| p.unrealized_pnl(self.last_price[p.instrument_id.index()]))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The text, sign and scale of a decimal: what an output would show.
    fn shown(d: Decimal) -> (String, u32, bool) {
        (d.to_string(), d.scale(), d.is_sign_negative())
    }

    fn decimal(m: i64, scale: u32) -> Decimal {
        Decimal::new(m, scale)
    }

    proptest! {
        /// The fixed-point sums are the `Decimal` sums, to the scale and sign, over share counts
        /// and prices at mixed scales, positions that cancel, and mantissas near 96 bits (where
        /// the fixed path hands over to `Decimal`).
        #[test]
        fn exposures_match_decimal_arithmetic(
            pairs in prop::collection::vec(
                ((-1_000_000i64..1_000_000, 0u32..4), (1i64..100_000_000, 0u32..9)),
                0..40,
            ),
            cancel in any::<bool>(),
            huge in prop::option::of((1i64..i64::MAX, 10u32..20)),
        ) {
            let mut v: Vec<(Decimal, Decimal)> =
                pairs.iter().map(|&((q, qs), (p, ps))| (decimal(q, qs), decimal(p, ps))).collect();
            if cancel {
                let mirrored: Vec<_> = v.iter().map(|&(q, p)| (-q, p)).collect();
                v.extend(mirrored);
            }
            if let Some((m, s)) = huge {
                v.push((decimal(m, 0), decimal(m, s)));
            }
            let want = exposures_decimal(v.iter().copied());
            let got = exposures(v.iter().copied());
            prop_assert_eq!(shown(got.0), shown(want.0));
            prop_assert_eq!(shown(got.1), shown(want.1));
        }
    }

    /// Products past 96 bits or scale 28 take the `Decimal` path (which rounds them).
    #[test]
    fn the_fixed_path_declines_what_decimal_would_round() {
        let big = Decimal::from_i128_with_scale(1 << 90, 0);
        assert!(exposures_fixed([(big, big)].into_iter()).is_none());
        let fine = Decimal::new(1, 20);
        assert!(exposures_fixed([(fine, fine)].into_iter()).is_none());
        let (g, n) = exposures_fixed([(Decimal::new(-3, 0), Decimal::new(1250, 2))].into_iter()).unwrap();
        assert_eq!(
            (shown(g), shown(n)),
            (shown(Decimal::new(3750, 2)), shown(Decimal::new(-3750, 2)))
        );
    }
}
