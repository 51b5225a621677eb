use super::{ClientOrderId, Decimal, InstrumentId, UnixNanos};
use serde::{Deserialize, Serialize};

/// Buy or sell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    /// +1 for a buy, -1 for a sell.
    pub fn sign(self) -> Decimal {
        match self {
            Side::Buy => Decimal::ONE,
            Side::Sell => Decimal::NEGATIVE_ONE,
        }
    }
    /// `BUY` or `SELL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// How an order is priced. Matching rules are documented on
/// [`crate::broker::BrokerSim`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderType {
    Market,
    Limit { limit: Decimal },
    Stop { trigger: Decimal },
    StopLimit { trigger: Decimal, limit: Decimal },
}

/// How long an order stays working.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeInForce {
    /// Valid for the trading session of the first bar it can fill on, then canceled.
    Day,
    /// Good till canceled (or the end of the run: orders still open at the end never fill).
    #[default]
    Gtc,
}

/// Exit legs attached to an entry order (Alpaca's `order_class = "bracket"`). Once the entry is
/// completely filled, two orders for its quantity work on the opposite side, from the next bar
/// on: a take-profit limit at `take_profit` and a stop-loss stop at `stop_loss` (a stop-limit
/// with `stop_loss_limit`). One canceling the other: a fill of one leg takes as much off the
/// other; when both could fill in one bar, the stop-loss fills (the worse outcome).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bracket {
    pub take_profit: Decimal,
    pub stop_loss: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_loss_limit: Option<Decimal>,
}

/// What a strategy asks for. The host turns it into an order with a [`ClientOrderId`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub instrument_id: InstrumentId,
    pub side: Side,
    pub quantity: Decimal,
    pub order_type: OrderType,
    pub time_in_force: TimeInForce,
    /// Exit legs placed once this order is filled (a bracket order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bracket: Option<Bracket>,
    /// Sized when it executes: this fraction of equity valued at the fill's prices (the open,
    /// under `next_open`), in whole lots; `quantity` is then 0 (see
    /// [`OrderRequest::equity_fraction`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equity_fraction: Option<Decimal>,
}

impl OrderRequest {
    /// A GTC market order.
    pub fn market(instrument_id: InstrumentId, side: Side, quantity: Decimal) -> Self {
        Self {
            instrument_id,
            side,
            quantity,
            order_type: OrderType::Market,
            time_in_force: TimeInForce::Gtc,
            bracket: None,
            equity_fraction: None,
        }
    }
    /// A GTC market buy of `fraction` of equity, valued when it executes (at the fill bar's
    /// open under `next_open`: the prices of the moment it trades, not of the decision).
    pub fn equity_fraction(instrument_id: InstrumentId, fraction: Decimal) -> Self {
        Self {
            equity_fraction: Some(fraction),
            ..Self::market(instrument_id, Side::Buy, Decimal::ZERO)
        }
    }
    /// A GTC limit order.
    pub fn limit(instrument_id: InstrumentId, side: Side, quantity: Decimal, limit: Decimal) -> Self {
        Self {
            order_type: OrderType::Limit { limit },
            ..Self::market(instrument_id, side, quantity)
        }
    }
    /// A GTC stop (market once triggered) order.
    pub fn stop(instrument_id: InstrumentId, side: Side, quantity: Decimal, trigger: Decimal) -> Self {
        Self {
            order_type: OrderType::Stop { trigger },
            ..Self::market(instrument_id, side, quantity)
        }
    }
    /// A GTC stop-limit order.
    pub fn stop_limit(
        instrument_id: InstrumentId,
        side: Side,
        quantity: Decimal,
        trigger: Decimal,
        limit: Decimal,
    ) -> Self {
        Self {
            order_type: OrderType::StopLimit { trigger, limit },
            ..Self::market(instrument_id, side, quantity)
        }
    }
    /// The same order with exit legs (a bracket order).
    pub fn with_bracket(mut self, bracket: Bracket) -> Self {
        self.bracket = Some(bracket);
        self
    }
    /// The same order with another time in force.
    pub fn with_time_in_force(mut self, tif: TimeInForce) -> Self {
        self.time_in_force = tif;
        self
    }
}

/// The order reached the broker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderSubmitted {
    pub order_id: ClientOrderId,
    pub ts_event: UnixNanos,
    pub request: OrderRequest,
}

/// The broker accepted the order; it is working.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderAccepted {
    pub order_id: ClientOrderId,
    pub ts_event: UnixNanos,
}

/// The broker refused the order, or a fill of it (insufficient cash).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderRejected {
    pub order_id: ClientOrderId,
    pub ts_event: UnixNanos,
    pub reason: String,
}

/// The order stopped working without (completely) filling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OrderCanceled {
    pub order_id: ClientOrderId,
    pub ts_event: UnixNanos,
    pub reason: String,
    pub unfilled: Decimal,
}

/// One execution. `price` includes slippage; `slippage` is its cost in money (>= 0).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    pub order_id: ClientOrderId,
    pub instrument_id: InstrumentId,
    pub side: Side,
    pub quantity: Decimal,
    pub price: Decimal,
    pub commission: Decimal,
    pub slippage: Decimal,
    /// Quantity of the order still working after this fill.
    pub leaves_quantity: Decimal,
    pub ts_event: UnixNanos,
}

impl Fill {
    /// Signed quantity: positive for buys.
    pub fn signed_quantity(&self) -> Decimal {
        self.quantity * self.side.sign()
    }
    /// Traded notional (positive).
    pub fn notional(&self) -> Decimal {
        self.quantity * self.price
    }
}

/// Everything that happens to an order, in the order it happened.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum OrderEvent {
    Submitted(OrderSubmitted),
    Accepted(OrderAccepted),
    Rejected(OrderRejected),
    Filled(Fill),
    Canceled(OrderCanceled),
}

impl OrderEvent {
    /// The order the event belongs to.
    pub fn order_id(&self) -> ClientOrderId {
        match self {
            OrderEvent::Submitted(e) => e.order_id,
            OrderEvent::Accepted(e) => e.order_id,
            OrderEvent::Rejected(e) => e.order_id,
            OrderEvent::Filled(e) => e.order_id,
            OrderEvent::Canceled(e) => e.order_id,
        }
    }
}
