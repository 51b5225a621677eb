//! The broker simulator's synchronous core.
//!
//! # Fill timing
//! | policy | market orders submitted at the close of bar t fill at |
//! |---|---|
//! | `next_open` (default) | the open of the symbol's next bar |
//! | `next_close` | the close of the symbol's next bar |
//! | `same_close` | the close of bar t itself: flagged in the summary as prone to look-ahead |
//!
//! Limit, stop and stop-limit orders are matched against the range of each later bar of their
//! symbol, in submission order, whatever the policy:
//! - **limit buy L**: open <= L fills at the open (a gap through the limit gets the better
//!   price); else low <= L fills at L. Sells mirror it (open >= L, else high >= L).
//! - **stop buy S**: open >= S fills at the open (a gap through the stop gets the worse price);
//!   else high >= S fills at S. Sells mirror it (open <= S, else low <= S).
//! - **stop-limit buy (S, L)**: triggers as a stop. Triggered at the open, it then behaves as a
//!   limit in the same bar (open <= L: open; else low <= L: L). Triggered inside the bar, it
//!   fills at S when S <= L; when L < S the path inside the bar is unknown, so it fills no
//!   earlier than the next bar, as a limit. Sells mirror it.
//!
//! # Costs
//! Slippage of `slippage_bps` moves market and stop fills against the order (limit fills get
//! their limit price or better, no slippage). Commission per fill is
//! `max(commission_min, notional * commission_bps / 10^4 + quantity * commission_per_share)`.
//!
//! # Quantity and cash
//! With `max_volume_fraction`, one bar fills at most that fraction of its volume per symbol
//! (rounded down to whole lots); the rest stays working (partial fills). Under
//! `cash_check = "reject"` a buy fill whose cost and commission exceed cash is rejected and the
//! order removed; `allow_negative` lets cash go below zero (SPEC.md). DAY orders are canceled at
//! the end of the session of their first eligible bar. Orders still working at the end of the
//! data never fill: they are canceled with reason `end of data`.
//!
//! # A-share rules (`[broker.a_share]`)
//! For mainland China stocks: buys in whole lots of `buy_lot` (100) shares; T+1: shares bought
//! on a session date cannot be sold on that date (a sell fills at most the shares held from
//! earlier dates; the rest keeps working, so no sell ever opens a short); daily price limits of
//! `price_limit` (10 %) around the previous close (rounded to the tick): a buy does not fill at a
//! price at or above the limit-up price, a sell not at or below the limit-down price (the order
//! keeps working); and stamp duty of `stamp_duty_bps` on the notional of every sell, added to its
//! commission. Set `data.time_zone = "Asia/Shanghai"` for the session dates.
//!
//! # Orders sized when they execute
//! An equity-fraction order ([`OrderRequest::equity_fraction`]) is a market buy of quantity 0
//! that the simulator sizes the first time it can execute: that fraction of equity (cash plus
//! the held positions at the fill bar's prices, the open under `next_open`; a held name without
//! a bar at its last close), divided by the fill's price, in whole lots (buy lots under A-share
//! rules). Less than a lot: canceled (`equity fraction: less than a lot at this price`).
//!
//! # Short sales
//! A sell beyond the position opens a short: its proceeds are cash. `borrow_rate` charges a
//! yearly fee on the value of short positions (at the latest closes, by calendar time between
//! timestamps), booked by the account (`summary.json`'s `borrow_costs`). With `short_margin`, a
//! sale that opens or adds to a short is rejected when equity after it would be below that
//! fraction of the short positions' value.
//!
//! # Bracket orders
//! An entry with a [`Bracket`] places, once completely filled, a stop-loss and a take-profit
//! order for the filled quantity on the opposite side (ids: the entry's with a leg bit,
//! printed `O7-sl`, `O7-tp`), working from the next bar with the entry's time in force. A fill
//! of one leg takes as much off the other (canceled when nothing is left: `bracket: the other
//! leg filled`). The stop-loss is matched first, so when one bar reaches both prices the stop
//! fills (the worse outcome: the path inside the bar is unknown).

use crate::config::ConfigError;
use crate::types::{
    find_bar, Bar, Bracket, ClientOrderId, Decimal, Fill, Instrument, Leg, OrderAccepted, OrderCanceled, OrderEvent,
    OrderRejected, OrderRequest, OrderSubmitted, OrderType, Side, TimeInForce, UnixNanos,
};
use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// When market orders fill (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillPolicy {
    #[default]
    NextOpen,
    NextClose,
    SameClose,
}

impl FillPolicy {
    /// The name used in configuration and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            FillPolicy::NextOpen => "next_open",
            FillPolicy::NextClose => "next_close",
            FillPolicy::SameClose => "same_close",
        }
    }
}

/// What to do with a buy that cash does not cover.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CashCheck {
    #[default]
    Reject,
    AllowNegative,
}

/// Mainland China A-share rules (see the module documentation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AShareRules {
    pub buy_lot: Decimal,
    pub price_limit: Decimal,
    pub stamp_duty_bps: Decimal,
}

impl Default for AShareRules {
    fn default() -> Self {
        Self {
            buy_lot: Decimal::from(100),
            price_limit: Decimal::new(10, 2),
            stamp_duty_bps: Decimal::from(10),
        }
    }
}

/// Broker simulator settings (`[broker]` in the configuration).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    pub fill_policy: FillPolicy,
    pub commission_bps: Decimal,
    pub commission_per_share: Decimal,
    pub commission_min: Decimal,
    pub slippage_bps: Decimal,
    pub max_volume_fraction: Option<Decimal>,
    pub cash_check: CashCheck,
    /// Mainland China A-share rules, when present.
    pub a_share: Option<AShareRules>,
    /// Annual fee on the value of short positions, booked by the account at each timestamp
    /// (0: none).
    pub borrow_rate: Decimal,
    /// Margin for short sales: a sell that opens or adds to a short fills only if, after it,
    /// equity (cash and positions at their latest prices) is at least this fraction of the
    /// short positions' value (0.5: Regulation T's 150 % of the proceeds). `None`: no check.
    pub short_margin: Option<Decimal>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            fill_policy: FillPolicy::NextOpen,
            commission_bps: Decimal::ZERO,
            commission_per_share: Decimal::ZERO,
            commission_min: Decimal::ZERO,
            slippage_bps: Decimal::ZERO,
            max_volume_fraction: None,
            cash_check: CashCheck::Reject,
            a_share: None,
            borrow_rate: Decimal::ZERO,
            short_margin: None,
        }
    }
}

impl BrokerConfig {
    /// Checks ranges; the error names the key.
    ///
    /// # Errors
    /// [`ConfigError::Value`] `broker.KEY: reason`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, v) in [
            ("commission_bps", self.commission_bps),
            ("commission_per_share", self.commission_per_share),
            ("commission_min", self.commission_min),
            ("slippage_bps", self.slippage_bps),
        ] {
            if v < Decimal::ZERO {
                return Err(format!("broker.{key}: must be >= 0, got {v}").into());
            }
        }
        if self.commission_bps >= Decimal::from(10_000) {
            return Err(format!(
                "broker.commission_bps: {} bps is 100 % or more of the notional; a basis point is 0.01 %",
                self.commission_bps
            )
            .into());
        }
        if self.slippage_bps >= Decimal::from(10_000) {
            return Err("broker.slippage_bps: must be below 10000".into());
        }
        if let Some(f) = self.max_volume_fraction {
            if f <= Decimal::ZERO || f > Decimal::ONE {
                return Err(format!("broker.max_volume_fraction: must be in (0, 1], got {f}").into());
            }
        }
        if self.borrow_rate < Decimal::ZERO || self.borrow_rate >= Decimal::ONE {
            return Err(format!(
                "broker.borrow_rate: a yearly fraction in [0, 1), got {}",
                self.borrow_rate
            )
            .into());
        }
        if let Some(m) = self.short_margin {
            if m < Decimal::ZERO || m > Decimal::from(10) {
                return Err(format!("broker.short_margin: in [0, 10], got {m}").into());
            }
        }
        if let Some(a) = &self.a_share {
            if a.buy_lot <= Decimal::ZERO || a.buy_lot.fract() != Decimal::ZERO {
                return Err(format!("broker.a_share.buy_lot: a positive whole number, got {}", a.buy_lot).into());
            }
            if a.price_limit <= Decimal::ZERO || a.price_limit >= Decimal::ONE {
                return Err(format!("broker.a_share.price_limit: in (0, 1), got {}", a.price_limit).into());
            }
            if a.stamp_duty_bps < Decimal::ZERO || a.stamp_duty_bps >= BPS {
                return Err(format!("broker.a_share.stamp_duty_bps: in [0, 10000), got {}", a.stamp_duty_bps).into());
            }
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct WorkingOrder {
    id: ClientOrderId,
    request: OrderRequest,
    /// The order's quantity: the request's, or what an equity fraction came to when it
    /// executed (zero until then).
    quantity: Decimal,
    remaining: Decimal,
    /// Session date of the first bar the order could fill on (DAY orders).
    session: Option<NaiveDate>,
    /// A stop-limit whose stop has been hit.
    triggered: bool,
}

/// The simulated venue: working orders, matching, costs and the cash it lends against.
pub struct BrokerSim {
    cfg: BrokerConfig,
    instruments: Arc<Vec<Instrument>>,
    daily: bool,
    working: Vec<WorkingOrder>,
    cash: Decimal,
    /// Volume already filled per instrument in the current bar (volume cap).
    used_volume: Vec<Decimal>,
    /// A-share state per instrument: shares held, shares bought on the session date, the
    /// previous bar's close (price limits).
    held: Vec<Decimal>,
    bought_today: Vec<(NaiveDate, Decimal)>,
    prev_close: Vec<Option<Decimal>>,
    accrued_to: Option<UnixNanos>,
}

const BPS: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

impl BrokerSim {
    /// A broker for `instruments`, lending against `initial_cash`. `daily` tells whether each
    /// bar is a whole session (DAY orders then expire after one bar).
    pub fn new(cfg: BrokerConfig, instruments: Arc<Vec<Instrument>>, initial_cash: Decimal, daily: bool) -> Self {
        let n = instruments.len();
        Self {
            cfg,
            instruments,
            daily,
            working: Vec::new(),
            cash: initial_cash,
            used_volume: vec![Decimal::ZERO; n],
            held: vec![Decimal::ZERO; n],
            bought_today: vec![(NaiveDate::MIN, Decimal::ZERO); n],
            prev_close: vec![None; n],
            accrued_to: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &BrokerConfig {
        &self.cfg
    }

    /// Cash as the broker sees it.
    pub fn cash(&self) -> Decimal {
        self.cash
    }

    /// Number of working orders.
    pub fn working_count(&self) -> usize {
        self.working.len()
    }

    /// Orders submitted at the close of the bars `bars` (time `ts`): each is validated and
    /// accepted or rejected; under `same_close`, market orders fill at once at `bars`' close.
    pub fn submit(
        &mut self,
        orders: Vec<(ClientOrderId, OrderRequest)>,
        ts: UnixNanos,
        bars: &[Bar],
        out: &mut Vec<OrderEvent>,
    ) {
        for (id, request) in orders {
            out.push(OrderEvent::Submitted(OrderSubmitted {
                order_id: id,
                ts_event: ts,
                request: request.clone(),
            }));
            if let Err(reason) = self.check(&request) {
                out.push(OrderEvent::Rejected(OrderRejected {
                    order_id: id,
                    ts_event: ts,
                    reason,
                }));
                continue;
            }
            out.push(OrderEvent::Accepted(OrderAccepted {
                order_id: id,
                ts_event: ts,
            }));
            let mut order = WorkingOrder {
                id,
                quantity: request.quantity,
                remaining: request.quantity,
                request,
                session: None,
                triggered: false,
            };
            if self.cfg.fill_policy == FillPolicy::SameClose && order.request.order_type == OrderType::Market {
                if let Some(bar) = find_bar(bars, order.request.instrument_id) {
                    let bar = *bar;
                    let equity = order.request.equity_fraction.map(|_| self.equity_at(bars, |b| b.close));
                    if self.size(&mut order, equity, bar.close, &bar, out) == Some(true)
                        && self.fill(&mut order, bar.close, true, &bar, out)
                    {
                        let legs = legs(&order, bar.ts_event, out);
                        self.working.extend(legs);
                        continue;
                    }
                }
            }
            self.working.push(order);
        }
        self.used_volume.iter_mut().for_each(|v| *v = Decimal::ZERO);
    }

    fn check(&self, r: &OrderRequest) -> Result<(), String> {
        let Some(inst) = self.instruments.get(r.instrument_id.index()) else {
            return Err(format!("unknown instrument {}", r.instrument_id));
        };
        if !inst.tradable {
            return Err(format!("{} is a reference series and is not traded", inst.symbol));
        }
        if let Some(f) = r.equity_fraction {
            if r.order_type != OrderType::Market || r.side != Side::Buy || !r.quantity.is_zero() {
                return Err("an equity-fraction order is a market buy of quantity 0 (sized when it executes)".into());
            }
            if f <= Decimal::ZERO || f > Decimal::ONE {
                return Err(format!("equity fraction {f}: must be in (0, 1]"));
            }
        } else if !inst.valid_quantity(r.quantity) {
            return Err(format!(
                "quantity {} is not a positive multiple of the lot size {}",
                r.quantity, inst.lot_size
            ));
        }
        let prices: &[Decimal] = match &r.order_type {
            OrderType::Market => &[],
            OrderType::Limit { limit } => &[*limit],
            OrderType::Stop { trigger } => &[*trigger],
            OrderType::StopLimit { trigger, limit } => &[*trigger, *limit],
        };
        if let Some(a) = &self.cfg.a_share {
            if r.side == Side::Buy && (r.quantity % a.buy_lot) != Decimal::ZERO {
                return Err(format!(
                    "A-share rules: buys are in lots of {} shares, not {}",
                    a.buy_lot, r.quantity
                ));
            }
        }
        let bracket: &[Decimal] = match &r.bracket {
            None => &[],
            Some(Bracket {
                take_profit,
                stop_loss,
                stop_loss_limit: None,
            }) => &[*take_profit, *stop_loss],
            Some(Bracket {
                take_profit,
                stop_loss,
                stop_loss_limit: Some(l),
            }) => &[*take_profit, *stop_loss, *l],
        };
        for p in prices.iter().chain(bracket) {
            if !inst.valid_price(*p) {
                return Err(format!(
                    "price {p} is not positive or not on the tick size {}",
                    inst.tick_size
                ));
            }
        }
        if let Some(b) = &r.bracket {
            let ordered = match r.side {
                Side::Buy => b.stop_loss < b.take_profit,
                Side::Sell => b.stop_loss > b.take_profit,
            };
            if !ordered {
                return Err(format!(
                    "bracket: the stop-loss {} must be on the losing side of the take-profit {} for a {}",
                    b.stop_loss,
                    b.take_profit,
                    r.side.as_str()
                ));
            }
        }
        Ok(())
    }

    /// Cancels a working order (a venue's cancel request); false when it is not working.
    pub fn cancel_order(&mut self, id: ClientOrderId, ts: UnixNanos, reason: &str, out: &mut Vec<OrderEvent>) -> bool {
        let Some(k) = self.working.iter().position(|o| o.id == id) else {
            return false;
        };
        let order = self.working.remove(k);
        out.push(cancel(&order, ts, reason));
        true
    }

    /// A new batch of bars (one timestamp, sorted by instrument): matches every working order
    /// whose symbol has a bar, in submission order.
    pub fn on_bars(&mut self, bars: &[Bar], out: &mut Vec<OrderEvent>) {
        if let Some(b) = bars.first() {
            self.accrue_borrow(b.ts_event);
        }
        if self.working.is_empty() {
            self.remember_closes(bars);
            return;
        }
        let equity = self
            .working
            .iter()
            .any(|o| o.request.equity_fraction.is_some() && o.quantity.is_zero())
            .then(|| self.equity_at(bars, |b| b.open));
        let mut working = std::mem::take(&mut self.working);
        let mut placed = Vec::new();
        // Quantity to take off a bracket leg because its sibling filled in this bar.
        let mut reduce: Vec<(ClientOrderId, Decimal)> = Vec::new();
        working.retain_mut(|order| {
            let Some(bar) = find_bar(bars, order.request.instrument_id) else {
                return true;
            };
            let bar = *bar;
            if !take_off(order, &mut reduce, bar.ts_event, out) {
                return false;
            }
            // With daily bars a DAY order has exactly one bar (it is canceled below if that bar
            // does not fill it); only intraday bars need the session's date.
            if !self.daily && order.request.time_in_force == TimeInForce::Day {
                let date = self.session_date(&bar);
                match order.session {
                    None => order.session = Some(date),
                    Some(s) if date > s => {
                        out.push(cancel(order, bar.ts_event, "day order expired"));
                        return false;
                    }
                    Some(_) => {}
                }
            }
            let before = order.remaining;
            let done = match self.match_price(order, &bar) {
                Some((price, slip)) => match self.size(order, equity, price, &bar, out) {
                    Some(true) => self.fill(order, price, slip, &bar, out),
                    Some(false) => false,
                    None => return false,
                },
                None => false,
            };
            let filled = before - order.remaining;
            if let Some(sibling) = order.id.sibling().filter(|_| !filled.is_zero()) {
                reduce.push((sibling, filled));
            }
            if done {
                placed.extend(legs(order, bar.ts_event, out));
            }
            if !done && self.daily && order.request.time_in_force == TimeInForce::Day {
                out.push(cancel(order, bar.ts_event, "day order expired"));
                return false;
            }
            !done
        });
        // Siblings matched before their leg filled in this bar.
        working.retain_mut(|order| take_off(order, &mut reduce, bars.first().map_or(0, |b| b.ts_event), out));
        working.extend(placed);
        self.working = working;
        self.used_volume.iter_mut().for_each(|v| *v = Decimal::ZERO);
        self.remember_closes(bars);
    }

    /// Equity at `price` of each bar (its open or close) for the instruments in `bars`, and
    /// the latest close for the others held.
    fn equity_at(&self, bars: &[Bar], price: impl Fn(&Bar) -> Decimal) -> Decimal {
        let mut e = self.cash;
        for (i, q) in self.held.iter().enumerate() {
            if q.is_zero() {
                continue;
            }
            let p = find_bar(bars, crate::types::InstrumentId(i as u32))
                .map(&price)
                .or(self.prev_close[i])
                .unwrap_or_default();
            e += *q * p;
        }
        e
    }

    /// Sizes an equity-fraction order the first time it can execute, at `price`: `Some(true)`
    /// to fill it, `Some(false)` when it is not one that needs sizing now... and `None` when it
    /// came to less than a lot (it is canceled, the event out).
    fn size(
        &mut self,
        order: &mut WorkingOrder,
        equity: Option<Decimal>,
        price: Decimal,
        bar: &Bar,
        out: &mut Vec<OrderEvent>,
    ) -> Option<bool> {
        let (Some(f), Some(equity)) = (order.request.equity_fraction, equity) else {
            return Some(true);
        };
        if !order.quantity.is_zero() {
            return Some(true);
        }
        let lot = self.instruments[order.request.instrument_id.index()].lot_size;
        let lot = self.cfg.a_share.as_ref().map_or(lot, |a| a.buy_lot.max(lot));
        let qty = if price > Decimal::ZERO {
            super::super::strategies::whole_lots(equity * f / price, lot)
        } else {
            Decimal::ZERO
        };
        if qty <= Decimal::ZERO {
            out.push(cancel(
                order,
                bar.ts_event,
                "equity fraction: less than a lot at this price",
            ));
            return None;
        }
        order.quantity = qty;
        order.remaining = qty;
        Some(true)
    }

    /// Whether positions and closes are followed (A-share rules, short margin, borrow fees).
    fn tracks(&self) -> bool {
        self.cfg.a_share.is_some() || self.cfg.short_margin.is_some() || !self.cfg.borrow_rate.is_zero()
    }

    /// Borrow fees on short positions since the last bars, from the cash it lends against (the
    /// account books the same fee).
    fn accrue_borrow(&mut self, ts: UnixNanos) {
        if self.cfg.borrow_rate.is_zero() {
            return;
        }
        if let Some(t0) = self.accrued_to.filter(|t0| ts > *t0) {
            let short: Decimal = self
                .held
                .iter()
                .zip(&self.prev_close)
                .filter(|(q, _)| q.is_sign_negative() && !q.is_zero())
                .map(|(q, p)| -*q * p.unwrap_or_default())
                .sum();
            self.cash -= crate::account::borrow_fee(short, self.cfg.borrow_rate, ts - t0);
        }
        self.accrued_to = Some(ts);
    }

    /// The closes the next bars' price limits are set from.
    fn remember_closes(&mut self, bars: &[Bar]) {
        if self.tracks() {
            for b in bars {
                self.prev_close[b.instrument_id.index()] = Some(b.close);
            }
        } else {
            // Only what equity-fraction sizing needs: the held names' last closes, looked up
            // by name, so that the batch's other bars are not read (this runs every bar).
            for (i, q) in self.held.iter().enumerate() {
                if !q.is_zero() {
                    if let Some(b) = find_bar(bars, crate::types::InstrumentId(i as u32)) {
                        self.prev_close[i] = Some(b.close);
                    }
                }
            }
        }
    }

    /// End of the data: working orders never fill.
    pub fn finish(&mut self, ts: UnixNanos, out: &mut Vec<OrderEvent>) {
        for order in self.working.drain(..) {
            out.push(cancel(&order, ts, "end of data"));
        }
    }

    fn session_date(&self, bar: &Bar) -> NaiveDate {
        let tz = self.instruments[bar.instrument_id.index()].time_zone;
        tz.timestamp_nanos(bar.ts_event).date_naive()
    }

    /// The price an order fills at in `bar`, and whether slippage applies; `None`: no fill.
    fn match_price(&self, order: &mut WorkingOrder, bar: &Bar) -> Option<(Decimal, bool)> {
        let buy = order.request.side == Side::Buy;
        let (o, h, l) = (bar.open, bar.high, bar.low);
        match order.request.order_type {
            OrderType::Market => Some((
                match self.cfg.fill_policy {
                    FillPolicy::NextOpen => o,
                    FillPolicy::NextClose | FillPolicy::SameClose => bar.close,
                },
                true,
            )),
            OrderType::Limit { limit } => limit_price(buy, limit, o, h, l).map(|p| (p, false)),
            OrderType::Stop { trigger } => {
                if buy {
                    if o >= trigger {
                        Some((o, true))
                    } else if h >= trigger {
                        Some((trigger, true))
                    } else {
                        None
                    }
                } else if o <= trigger {
                    Some((o, true))
                } else if l <= trigger {
                    Some((trigger, true))
                } else {
                    None
                }
            }
            OrderType::StopLimit { trigger, limit } => {
                if order.triggered {
                    return limit_price(buy, limit, o, h, l).map(|p| (p, false));
                }
                let (at_open, inside) = if buy {
                    (o >= trigger, h >= trigger)
                } else {
                    (o <= trigger, l <= trigger)
                };
                if at_open {
                    order.triggered = true;
                    limit_price(buy, limit, o, h, l).map(|p| (p, false))
                } else if inside {
                    order.triggered = true;
                    let within = if buy { trigger <= limit } else { trigger >= limit };
                    within.then_some((trigger, false))
                } else {
                    None
                }
            }
        }
    }

    /// Fills as much of `order` as the volume cap allows at `price`; returns true when the
    /// order is finished (completely filled or rejected).
    fn fill(
        &mut self,
        order: &mut WorkingOrder,
        price: Decimal,
        slip: bool,
        bar: &Bar,
        out: &mut Vec<OrderEvent>,
    ) -> bool {
        let idx = order.request.instrument_id.index();
        let inst = &self.instruments[idx];
        let mut qty = order.remaining;
        if let Some(f) = self.cfg.max_volume_fraction {
            let room = (bar.volume * f - self.used_volume[idx]).max(Decimal::ZERO);
            let lots = (room / inst.lot_size).floor() * inst.lot_size;
            qty = qty.min(lots);
            if qty <= Decimal::ZERO {
                return false;
            }
        }
        let side = order.request.side;
        let mut stamp_duty = Decimal::ZERO;
        if let Some(a) = &self.cfg.a_share {
            if let Some(pc) = self.prev_close[idx] {
                let to_tick = |x: Decimal| {
                    (x / inst.tick_size).round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
                        * inst.tick_size
                };
                let blocked = match side {
                    Side::Buy => price >= to_tick(pc * (Decimal::ONE + a.price_limit)),
                    Side::Sell => price <= to_tick(pc * (Decimal::ONE - a.price_limit)),
                };
                if blocked {
                    return false;
                }
            }
            if side == Side::Sell {
                let date = self.session_date(bar);
                let (d, bought) = self.bought_today[idx];
                let today = if d == date { bought } else { Decimal::ZERO };
                qty = qty.min((self.held[idx] - today).max(Decimal::ZERO));
                if qty <= Decimal::ZERO {
                    return false;
                }
            }
            stamp_duty = a.stamp_duty_bps;
        }
        let reference = price;
        let price = if slip && !self.cfg.slippage_bps.is_zero() {
            reference * (Decimal::ONE + side.sign() * self.cfg.slippage_bps / BPS)
        } else {
            reference
        };
        let notional = qty * price;
        let mut commission = notional * self.cfg.commission_bps / BPS + qty * self.cfg.commission_per_share;
        if commission < self.cfg.commission_min {
            commission = self.cfg.commission_min;
        }
        if side == Side::Sell {
            commission += notional * stamp_duty / BPS;
        }
        if side == Side::Buy && self.cfg.cash_check == CashCheck::Reject && notional + commission > self.cash {
            out.push(OrderEvent::Rejected(OrderRejected {
                order_id: order.id,
                ts_event: bar.ts_event,
                reason: format!(
                    "insufficient cash: fill needs {} with commission, cash is {}",
                    (notional + commission).round_dp(2),
                    self.cash.round_dp(2)
                ),
            }));
            return true;
        }
        if let Some(m) = self.cfg.short_margin {
            let after = self.held[idx] - qty;
            if side == Side::Sell && after < Decimal::ZERO {
                let cash = self.cash + notional - commission;
                let (mut equity, mut short) = (cash, Decimal::ZERO);
                for (j, q) in self.held.iter().enumerate() {
                    let (q, p) = if j == idx {
                        (after, reference)
                    } else {
                        (*q, self.prev_close[j].unwrap_or_default())
                    };
                    equity += q * p;
                    if q < Decimal::ZERO {
                        short -= q * p;
                    }
                }
                if equity < m * short {
                    out.push(OrderEvent::Rejected(OrderRejected {
                        order_id: order.id,
                        ts_event: bar.ts_event,
                        reason: format!(
                            "short margin: equity {} after the sale would be below {} of the short value {}",
                            equity.round_dp(2),
                            m,
                            short.round_dp(2)
                        ),
                    }));
                    return true;
                }
            }
        }
        self.cash -= side.sign() * notional + commission;
        self.used_volume[idx] += qty;
        self.held[idx] += side.sign() * qty;
        if self.cfg.a_share.is_some() && side == Side::Buy {
            let date = self.session_date(bar);
            let b = &mut self.bought_today[idx];
            *b = if b.0 == date { (date, b.1 + qty) } else { (date, qty) };
        }
        order.remaining -= qty;
        out.push(OrderEvent::Filled(Fill {
            order_id: order.id,
            instrument_id: order.request.instrument_id,
            side,
            quantity: qty,
            price,
            commission,
            slippage: ((price - reference) * qty).abs(),
            leaves_quantity: order.remaining,
            ts_event: bar.ts_event,
        }));
        order.remaining.is_zero()
    }
}

fn limit_price(buy: bool, limit: Decimal, o: Decimal, h: Decimal, l: Decimal) -> Option<Decimal> {
    if buy {
        if o <= limit {
            Some(o)
        } else if l <= limit {
            Some(limit)
        } else {
            None
        }
    } else if o >= limit {
        Some(o)
    } else if h >= limit {
        Some(limit)
    } else {
        None
    }
}

/// Applies what a sibling's fills take off this bracket leg; false when nothing is left (the
/// leg is then canceled).
fn take_off(
    order: &mut WorkingOrder,
    reduce: &mut Vec<(ClientOrderId, Decimal)>,
    ts: UnixNanos,
    out: &mut Vec<OrderEvent>,
) -> bool {
    let Some(k) = reduce.iter().position(|(id, _)| *id == order.id) else {
        return true;
    };
    let (_, q) = reduce.swap_remove(k);
    order.remaining = (order.remaining - q).max(Decimal::ZERO);
    if order.remaining.is_zero() {
        out.push(cancel(order, ts, "bracket: the other leg filled"));
        return false;
    }
    true
}

/// The exit legs of an entry that has just been completely filled (none without a bracket, or
/// when the entry was rejected rather than filled): stop-loss first, then take-profit.
fn legs(entry: &WorkingOrder, ts: UnixNanos, out: &mut Vec<OrderEvent>) -> Vec<WorkingOrder> {
    let Some(b) = entry.request.bracket.filter(|_| entry.remaining.is_zero()) else {
        return Vec::new();
    };
    if !matches!(out.last(), Some(OrderEvent::Filled(f)) if f.order_id == entry.id) {
        return Vec::new();
    }
    let side = match entry.request.side {
        Side::Buy => Side::Sell,
        Side::Sell => Side::Buy,
    };
    let stop = match b.stop_loss_limit {
        None => OrderType::Stop { trigger: b.stop_loss },
        Some(limit) => OrderType::StopLimit {
            trigger: b.stop_loss,
            limit,
        },
    };
    [
        (Leg::StopLoss, stop),
        (Leg::TakeProfit, OrderType::Limit { limit: b.take_profit }),
    ]
    .into_iter()
    .map(|(leg, order_type)| {
        let id = entry.id.with_leg(leg);
        let request = OrderRequest {
            instrument_id: entry.request.instrument_id,
            side,
            quantity: entry.quantity,
            order_type,
            time_in_force: entry.request.time_in_force,
            bracket: None,
            equity_fraction: None,
        };
        out.push(OrderEvent::Submitted(OrderSubmitted {
            order_id: id,
            ts_event: ts,
            request: request.clone(),
        }));
        out.push(OrderEvent::Accepted(OrderAccepted {
            order_id: id,
            ts_event: ts,
        }));
        WorkingOrder {
            id,
            quantity: request.quantity,
            remaining: request.quantity,
            request,
            session: None,
            triggered: false,
        }
    })
    .collect()
}

fn cancel(order: &WorkingOrder, ts: UnixNanos, reason: &str) -> OrderEvent {
    OrderEvent::Canceled(OrderCanceled {
        order_id: order.id,
        ts_event: ts,
        reason: reason.into(),
        unfilled: order.remaining,
    })
}
