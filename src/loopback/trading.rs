//! The loopback Alpaca venue's trading side: `POST /v2/orders` (market, limit, stop,
//! stop-limit; day and gtc; `order_class = "bracket"` with `take_profit` and `stop_loss`),
//! `GET /v2/orders?status=open|closed|all`, `GET /v2/orders/{id}`,
//! `GET /v2/orders:by_client_order_id`,
//! `DELETE /v2/orders/{id}`, `GET /v2/positions`, `GET /v2/account`, and the `trade_updates`
//! stream on `/stream` (binary frames with JSON inside, as Alpaca sends them: `authenticate`,
//! then `listen`).
//!
//! Matching is the broker simulator's, with no costs, on the bars the venue publishes: an order
//! placed while timestamp `k` is the latest published one is matched from timestamp `k + 1` on
//! (market orders at its open), as the simulator's `next_open` policy does. Times in orders and
//! updates are the market's (the bar's close), not the wall clock. A client order id can be used
//! once (`422`), as on Alpaca, which makes a client's retries idempotent.

use super::Shared;
use crate::broker::{BrokerConfig, BrokerSim};
use crate::live::protocol::rfc3339;
use crate::types::{
    Bar, Bracket, ClientOrderId, Decimal, Instrument, Leg, OrderEvent, OrderRequest, OrderType, Side, TimeInForce,
    UnixNanos,
};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// One order as the venue keeps it.
#[derive(Clone, Debug)]
struct VenueOrder {
    id: String,
    client_order_id: String,
    /// The simulator's id of this order (legs: the entry's with a leg bit).
    sim: ClientOrderId,
    request: OrderRequest,
    status: &'static str,
    filled_qty: Decimal,
    filled_notional: Decimal,
    created: UnixNanos,
    updated: UnixNanos,
    filled_at: Option<UnixNanos>,
    canceled_at: Option<UnixNanos>,
    order_class: &'static str,
    /// Legs of a bracket entry (indices into the book's orders).
    legs: Vec<usize>,
}

/// The venue's account: orders, positions, cash, and the matching simulator.
pub(crate) struct Book {
    sim: BrokerSim,
    instruments: Arc<Vec<Instrument>>,
    orders: Vec<VenueOrder>,
    by_sim: HashMap<ClientOrderId, usize>,
    by_client: HashMap<String, usize>,
    next_sim: u64,
    /// Per instrument: quantity and cost of the open position.
    positions: Vec<(Decimal, Decimal)>,
    cash: Decimal,
    last_bars: Vec<Bar>,
    last_ts: UnixNanos,
    /// Orders received (POST), for the rejection fault.
    received: usize,
    updates: broadcast::Sender<String>,
    /// Raw POST bodies, for tests to see what clients sent.
    pub(crate) bodies: Vec<Value>,
}

/// A version-4-shaped UUID naming `n` of a kind (all 64 bits of `n` kept).
fn uuid(kind: u32, n: u64) -> String {
    format!(
        "{kind:08x}-{:04x}-4{:03x}-8000-{:012x}",
        n >> 48,
        (n >> 36) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

impl Book {
    pub(crate) fn new(instruments: Arc<Vec<Instrument>>, cash: Decimal, daily: bool) -> Self {
        let n = instruments.len();
        let (updates, _) = broadcast::channel(65_536);
        Self {
            sim: BrokerSim::new(BrokerConfig::default(), instruments.clone(), cash, daily),
            instruments,
            orders: Vec::new(),
            by_sim: HashMap::new(),
            by_client: HashMap::new(),
            next_sim: 1,
            positions: vec![(Decimal::ZERO, Decimal::ZERO); n],
            cash,
            last_bars: Vec::new(),
            last_ts: 0,
            received: 0,
            updates,
            bodies: Vec::new(),
        }
    }

    fn json(&self, k: usize) -> Value {
        let o = &self.orders[k];
        let r = &o.request;
        let dec = |d: Option<Decimal>| {
            d.map(|d| Value::String(d.normalize().to_string()))
                .unwrap_or(Value::Null)
        };
        let (kind, limit, stop) = match r.order_type {
            OrderType::Market => ("market", None, None),
            OrderType::Limit { limit } => ("limit", Some(limit), None),
            OrderType::Stop { trigger } => ("stop", None, Some(trigger)),
            OrderType::StopLimit { trigger, limit } => ("stop_limit", Some(limit), Some(trigger)),
        };
        let t = |ts: Option<UnixNanos>| ts.map(|t| Value::String(rfc3339(t))).unwrap_or(Value::Null);
        let avg = (!o.filled_qty.is_zero()).then(|| o.filled_notional / o.filled_qty);
        let inst = &self.instruments[r.instrument_id.index()];
        let legs: Vec<Value> = o.legs.iter().map(|&l| self.json(l)).collect();
        json!({
            "id": o.id,
            "client_order_id": o.client_order_id,
            "created_at": rfc3339(o.created),
            "updated_at": rfc3339(o.updated),
            "submitted_at": rfc3339(o.created),
            "filled_at": t(o.filled_at),
            "expired_at": if o.status == "expired" { t(o.canceled_at) } else { Value::Null },
            "canceled_at": if o.status == "canceled" { t(o.canceled_at) } else { Value::Null },
            "failed_at": null,
            "replaced_at": null,
            "replaced_by": null,
            "replaces": null,
            "asset_id": uuid(0xa55e7, r.instrument_id.0 as u64),
            "symbol": inst.symbol,
            "asset_class": "us_equity",
            "notional": null,
            "qty": r.quantity.normalize().to_string(),
            "filled_qty": o.filled_qty.normalize().to_string(),
            "filled_avg_price": dec(avg),
            "order_class": o.order_class,
            "order_type": kind,
            "type": kind,
            "side": if r.side == Side::Buy { "buy" } else { "sell" },
            "time_in_force": if r.time_in_force == TimeInForce::Day { "day" } else { "gtc" },
            "limit_price": dec(limit),
            "stop_price": dec(stop),
            "status": o.status,
            "extended_hours": false,
            "legs": if legs.is_empty() { Value::Null } else { Value::Array(legs) },
            "trail_percent": null,
            "trail_price": null,
            "hwm": null,
        })
    }

    fn update(&self, event: &str, k: usize, ts: UnixNanos, fill: Option<(Decimal, Decimal)>) {
        let mut data = json!({
            "event": event,
            "timestamp": rfc3339(ts),
            "order": self.json(k),
        });
        if let Some((qty, price)) = fill {
            let i = self.orders[k].request.instrument_id.index();
            data["execution_id"] = json!(uuid(0xe7ec, self.orders[k].sim.0 ^ (ts as u64)));
            data["qty"] = json!(qty.normalize().to_string());
            data["price"] = json!(price.normalize().to_string());
            data["position_qty"] = json!(self.positions[i].0.normalize().to_string());
        }
        let _ = self
            .updates
            .send(json!({"stream": "trade_updates", "data": data}).to_string());
    }

    /// Applies the simulator's events to the orders, the positions and the cash, and sends
    /// each as a trade update.
    fn apply(&mut self, events: Vec<OrderEvent>) {
        for ev in events {
            let Some(&k) = self.by_sim.get(&ev.order_id()) else {
                continue;
            };
            match ev {
                OrderEvent::Submitted(_) => {}
                OrderEvent::Accepted(a) => {
                    let o = &mut self.orders[k];
                    o.status = "new";
                    o.updated = a.ts_event;
                    self.update("new", k, a.ts_event, None);
                }
                OrderEvent::Rejected(r) => {
                    let o = &mut self.orders[k];
                    o.status = "rejected";
                    o.updated = r.ts_event;
                    self.update("rejected", k, r.ts_event, None);
                }
                OrderEvent::Filled(f) => {
                    let i = f.instrument_id.index();
                    let signed = f.signed_quantity();
                    let (qty, cost) = self.positions[i];
                    let new_qty = qty + signed;
                    // Cost basis: average cost of what stays open on the same side.
                    let new_cost = if qty.is_zero() || (qty > Decimal::ZERO) == (signed > Decimal::ZERO) {
                        cost + signed * f.price
                    } else if new_qty.is_zero() || (new_qty > Decimal::ZERO) == (qty > Decimal::ZERO) {
                        cost * new_qty / qty
                    } else {
                        new_qty * f.price
                    };
                    self.positions[i] = (new_qty, new_cost);
                    self.cash -= signed * f.price;
                    let o = &mut self.orders[k];
                    o.filled_qty += f.quantity;
                    o.filled_notional += f.quantity * f.price;
                    o.updated = f.ts_event;
                    let done = f.leaves_quantity.is_zero();
                    o.status = if done { "filled" } else { "partially_filled" };
                    if done {
                        o.filled_at = Some(f.ts_event);
                    }
                    self.update(
                        if done { "fill" } else { "partial_fill" },
                        k,
                        f.ts_event,
                        Some((f.quantity, f.price)),
                    );
                }
                OrderEvent::Canceled(c) => {
                    let expired = c.reason.contains("expired");
                    let o = &mut self.orders[k];
                    o.status = if expired { "expired" } else { "canceled" };
                    o.updated = c.ts_event;
                    o.canceled_at = Some(c.ts_event);
                    self.update(if expired { "expired" } else { "canceled" }, k, c.ts_event, None);
                }
            }
        }
    }

    /// A timestamp's bars were published: match the working orders.
    pub(crate) fn on_bars(&mut self, ts: UnixNanos, bars: Vec<Bar>) {
        let mut ev = Vec::new();
        self.sim.on_bars(&bars, &mut ev);
        self.last_bars = bars;
        self.last_ts = ts;
        self.apply(ev);
    }

    fn add(&mut self, order: VenueOrder) -> usize {
        let k = self.orders.len();
        self.by_sim.insert(order.sim, k);
        self.by_client.insert(order.client_order_id.clone(), k);
        self.orders.push(order);
        k
    }

    /// `POST /v2/orders`: the order's JSON, or an error status and message.
    fn place(&mut self, body: &Value, reject: Option<usize>) -> Result<Value, (StatusCode, String)> {
        self.bodies.push(body.clone());
        self.received += 1;
        let unprocessable = |m: &str| (StatusCode::UNPROCESSABLE_ENTITY, m.to_string());
        let s = |k: &str| body.get(k).and_then(Value::as_str);
        let dec = |v: Option<&Value>| -> Result<Option<Decimal>, (StatusCode, String)> {
            match v {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(t)) => t.parse().map(Some).map_err(|_| unprocessable("invalid decimal")),
                Some(Value::Number(n)) => n
                    .to_string()
                    .parse()
                    .map(Some)
                    .map_err(|_| unprocessable("invalid decimal")),
                Some(_) => Err(unprocessable("invalid decimal")),
            }
        };
        let symbol = s("symbol").ok_or_else(|| unprocessable("symbol is required"))?;
        let Some(inst) = self.instruments.iter().find(|i| i.symbol == symbol) else {
            return Err(unprocessable(&format!("asset \"{symbol}\" not found")));
        };
        let qty = dec(body.get("qty"))?.ok_or_else(|| unprocessable("qty is required"))?;
        let side = match s("side") {
            Some("buy") => Side::Buy,
            Some("sell") => Side::Sell,
            _ => return Err(unprocessable("invalid side")),
        };
        let limit = dec(body.get("limit_price"))?;
        let stop = dec(body.get("stop_price"))?;
        let order_type = match (s("type"), limit, stop) {
            (Some("market"), None, None) => OrderType::Market,
            (Some("limit"), Some(limit), None) => OrderType::Limit { limit },
            (Some("stop"), None, Some(trigger)) => OrderType::Stop { trigger },
            (Some("stop_limit"), Some(limit), Some(trigger)) => OrderType::StopLimit { trigger, limit },
            _ => return Err(unprocessable("invalid order type for the prices given")),
        };
        let time_in_force = match s("time_in_force") {
            Some("day") => TimeInForce::Day,
            Some("gtc") => TimeInForce::Gtc,
            _ => return Err(unprocessable("invalid time_in_force")),
        };
        let bracket = match s("order_class").unwrap_or("simple") {
            "simple" | "" => None,
            "bracket" => Some(Bracket {
                take_profit: dec(body.pointer("/take_profit/limit_price"))?
                    .ok_or_else(|| unprocessable("bracket orders require take_profit.limit_price"))?,
                stop_loss: dec(body.pointer("/stop_loss/stop_price"))?
                    .ok_or_else(|| unprocessable("bracket orders require stop_loss.stop_price"))?,
                stop_loss_limit: dec(body.pointer("/stop_loss/limit_price"))?,
            }),
            other => return Err(unprocessable(&format!("order_class {other} is not supported here"))),
        };
        let client_order_id = s("client_order_id").map_or_else(|| uuid(0xc1, self.next_sim), str::to_string);
        if client_order_id.len() > 48 {
            return Err(unprocessable("client_order_id must be at most 48 characters"));
        }
        if self.by_client.contains_key(&client_order_id) {
            return Err(unprocessable("client_order_id must be unique"));
        }
        if reject == Some(self.received) {
            return Err((StatusCode::FORBIDDEN, "insufficient buying power".into()));
        }
        let request = OrderRequest {
            instrument_id: inst.id,
            side,
            quantity: qty,
            order_type,
            time_in_force,
            bracket,
            equity_fraction: None,
        };
        let sim = ClientOrderId(self.next_sim);
        self.next_sim += 1;
        let ts = self.last_ts;
        let order =
            |id: String, client: String, sim: ClientOrderId, request: OrderRequest, class: &'static str| VenueOrder {
                id,
                client_order_id: client,
                sim,
                request,
                status: "pending_new",
                filled_qty: Decimal::ZERO,
                filled_notional: Decimal::ZERO,
                created: ts,
                updated: ts,
                filled_at: None,
                canceled_at: None,
                order_class: class,
                legs: Vec::new(),
            };
        let k = self.add(order(
            uuid(0x0d, sim.0),
            client_order_id,
            sim,
            request.clone(),
            if bracket.is_some() { "bracket" } else { "simple" },
        ));
        if let Some(b) = bracket {
            // The legs exist from the start, `held` until the entry fills.
            let exit = if side == Side::Buy { Side::Sell } else { Side::Buy };
            let stop = match b.stop_loss_limit {
                None => OrderType::Stop { trigger: b.stop_loss },
                Some(limit) => OrderType::StopLimit {
                    trigger: b.stop_loss,
                    limit,
                },
            };
            for (leg, order_type) in [
                (Leg::TakeProfit, OrderType::Limit { limit: b.take_profit }),
                (Leg::StopLoss, stop),
            ] {
                let leg_sim = sim.with_leg(leg);
                let mut o = order(
                    uuid(0x1e, leg_sim.0),
                    uuid(0xc1e, leg_sim.0),
                    leg_sim,
                    OrderRequest {
                        side: exit,
                        order_type,
                        bracket: None,
                        ..request.clone()
                    },
                    "bracket",
                );
                o.status = "held";
                let l = self.add(o);
                self.orders[k].legs.push(l);
            }
        }
        let mut ev = Vec::new();
        let bars = std::mem::take(&mut self.last_bars);
        self.sim.submit(vec![(sim, request)], ts, &bars, &mut ev);
        self.last_bars = bars;
        self.apply(ev);
        if self.orders[k].status == "rejected" {
            return Err((StatusCode::FORBIDDEN, "order rejected by the venue's checks".into()));
        }
        Ok(self.json(k))
    }

    fn open(&self, k: usize) -> bool {
        matches!(
            self.orders[k].status,
            "new" | "partially_filled" | "accepted" | "pending_new" | "held"
        )
    }

    fn cancel(&mut self, id: &str) -> Result<(), (StatusCode, String)> {
        let Some(k) = self.orders.iter().position(|o| o.id == id) else {
            return Err((StatusCode::NOT_FOUND, "order not found".into()));
        };
        if !self.open(k) {
            return Err((StatusCode::UNPROCESSABLE_ENTITY, "order is not cancelable".into()));
        }
        let mut ev = Vec::new();
        let ts = self.last_ts;
        let ids: Vec<ClientOrderId> = std::iter::once(self.orders[k].sim)
            .chain(self.orders[k].legs.iter().map(|&l| self.orders[l].sim))
            .collect();
        for sim in ids {
            if !self.sim.cancel_order(sim, ts, "canceled by the client", &mut ev) {
                // A held leg is not in the simulator yet.
                if let Some(&l) = self.by_sim.get(&sim) {
                    if self.orders[l].status == "held" {
                        self.orders[l].status = "canceled";
                        self.orders[l].canceled_at = Some(ts);
                    }
                }
            }
        }
        self.apply(ev);
        Ok(())
    }

    fn positions_json(&self) -> Value {
        let mut out = Vec::new();
        for (i, (qty, cost)) in self.positions.iter().enumerate() {
            if qty.is_zero() {
                continue;
            }
            let inst = &self.instruments[i];
            let price = self
                .last_bars
                .iter()
                .find(|b| b.instrument_id.index() == i)
                .map(|b| b.close);
            out.push(json!({
                "asset_id": uuid(0xa55e7, i as u64),
                "symbol": inst.symbol,
                "exchange": "NASDAQ",
                "asset_class": "us_equity",
                "asset_marginable": true,
                "avg_entry_price": (cost / qty).normalize().to_string(),
                "qty": qty.normalize().to_string(),
                "side": if *qty > Decimal::ZERO { "long" } else { "short" },
                "market_value": price.map(|p| (p * qty).normalize().to_string()),
                "cost_basis": cost.normalize().to_string(),
                "current_price": price.map(|p| p.normalize().to_string()),
                "qty_available": qty.normalize().to_string(),
            }));
        }
        Value::Array(out)
    }

    /// Open positions: (symbol, quantity), for tests.
    pub(crate) fn positions(&self) -> Vec<(String, Decimal)> {
        self.positions
            .iter()
            .enumerate()
            .filter(|(_, (q, _))| !q.is_zero())
            .map(|(i, (q, _))| (self.instruments[i].symbol.clone(), *q))
            .collect()
    }

    /// Fills the venue made: (client order id, quantity, notional) per order with fills.
    pub(crate) fn filled(&self) -> Vec<(String, Decimal, Decimal)> {
        self.orders
            .iter()
            .filter(|o| !o.filled_qty.is_zero())
            .map(|o| (o.client_order_id.clone(), o.filled_qty, o.filled_notional))
            .collect()
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let code = u32::from(status.as_u16()) * 100_000;
    (
        status,
        [("content-type", "application/json")],
        json!({"code": code, "message": message}).to_string(),
    )
        .into_response()
}

fn ok(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

impl Shared {
    /// Answers a trading request with `answer` on the locked book (Alpaca only), after the
    /// rate-limit fault and the key check; their error response otherwise.
    fn with_book(&self, headers: &HeaderMap, answer: impl FnOnce(&mut Book) -> Response) -> Response {
        if let Some(r) = self.rest_gate() {
            return r;
        }
        if !self.keys_ok(headers) {
            return error(StatusCode::UNAUTHORIZED, "request is not authorized");
        }
        match &self.book {
            Some(b) => answer(&mut lock(b)),
            None => error(StatusCode::NOT_FOUND, "no trading here"),
        }
    }
}

pub(crate) fn lock(m: &Mutex<Book>) -> std::sync::MutexGuard<'_, Book> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) async fn post_order(State(sh): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    sh.with_book(&headers, |b| {
        let Ok(v) = serde_json::from_str::<Value>(&body) else {
            return error(StatusCode::BAD_REQUEST, "request body format is invalid");
        };
        match b.place(&v, sh.spec.faults.reject_order) {
            Ok(v) => ok(v),
            Err((status, m)) => {
                if status == StatusCode::FORBIDDEN {
                    sh.stats.orders_rejected.fetch_add(1, Ordering::AcqRel);
                }
                error(status, &m)
            }
        }
    })
}

#[derive(serde::Deserialize)]
pub(crate) struct OrdersQuery {
    status: Option<String>,
    limit: Option<usize>,
    nested: Option<bool>,
    client_order_id: Option<String>,
}

pub(crate) async fn get_orders(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<OrdersQuery>,
) -> Response {
    sh.with_book(&headers, |b| {
        let status = q.status.as_deref().unwrap_or("open");
        let nested = q.nested.unwrap_or(false);
        let legs: Vec<usize> = b.orders.iter().flat_map(|o| o.legs.iter().copied()).collect();
        let mut out: Vec<Value> = (0..b.orders.len())
            .rev()
            .filter(|&k| match status {
                "open" => b.open(k),
                "closed" => !b.open(k),
                _ => true,
            })
            .filter(|k| !nested || !legs.contains(k))
            .map(|k| {
                let mut v = b.json(k);
                if !nested {
                    v["legs"] = Value::Null;
                }
                v
            })
            .collect();
        out.truncate(q.limit.unwrap_or(50).clamp(1, 500));
        ok(Value::Array(out))
    })
}

pub(crate) async fn order_by_client_id(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<OrdersQuery>,
) -> Response {
    sh.with_book(&headers, |b| {
        match q.client_order_id.as_ref().and_then(|c| b.by_client.get(c)) {
            Some(&k) => ok(b.json(k)),
            None => error(StatusCode::NOT_FOUND, "order not found"),
        }
    })
}

pub(crate) async fn get_order(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    AxPath(id): AxPath<String>,
) -> Response {
    sh.with_book(&headers, |b| match b.orders.iter().position(|o| o.id == id) {
        Some(k) => ok(b.json(k)),
        None => error(StatusCode::NOT_FOUND, "order not found"),
    })
}

pub(crate) async fn delete_order(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    AxPath(id): AxPath<String>,
) -> Response {
    sh.with_book(&headers, |b| match b.cancel(&id) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err((s, m)) => error(s, &m),
    })
}

pub(crate) async fn get_positions(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    sh.with_book(&headers, |b| ok(b.positions_json()))
}

pub(crate) async fn get_account(State(sh): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    sh.with_book(&headers, |b| {
        let mut equity = b.cash;
        for (i, (qty, _)) in b.positions.iter().enumerate() {
            if let Some(bar) = b.last_bars.iter().find(|x| x.instrument_id.index() == i) {
                equity += *qty * bar.close;
            }
        }
        let (cash, equity) = (b.cash.normalize().to_string(), equity.normalize().to_string());
        ok(json!({
            "id": uuid(0xacc, 1),
            "account_number": "PA0LOOPBACK",
            "status": "ACTIVE",
            "currency": "USD",
            "cash": cash,
            "buying_power": cash,
            "portfolio_value": equity,
            "equity": equity,
            "pattern_day_trader": false,
            "trading_blocked": false,
            "transfers_blocked": false,
            "account_blocked": false,
            "shorting_enabled": true,
            "multiplier": "1",
        }))
    })
}

/// `/stream`: `authenticate`, `listen`, then every trade update, in binary frames.
pub(crate) async fn trade_stream(ws: WebSocketUpgrade, State(sh): State<Arc<Shared>>) -> Response {
    ws.on_upgrade(move |socket| trade_session(socket, sh))
}

async fn trade_session(mut socket: WebSocket, sh: Arc<Shared>) {
    let Some(b) = sh.book.as_ref() else { return };
    let mut rx = lock(b).updates.subscribe();
    let frame = |v: Value| Message::Binary(v.to_string().into_bytes().into());
    let mut authed = false;
    let mut listening = false;
    loop {
        tokio::select! {
            msg = tokio::time::timeout(Duration::from_secs(3600), socket.recv()) => {
                let v = match msg {
                    Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Value>(&t).ok(),
                    Ok(Some(Ok(Message::Binary(b)))) => serde_json::from_slice::<Value>(&b).ok(),
                    Ok(Some(Ok(_))) => continue,
                    _ => return,
                };
                let Some(v) = v else { continue };
                match v["action"].as_str() {
                    Some("authenticate" | "auth") => {
                        let ok = sh.spec.credentials.as_ref().is_none_or(|c| {
                            v.pointer("/data/key_id").and_then(Value::as_str) == Some(c.key_id.as_str())
                                && v.pointer("/data/secret_key").and_then(Value::as_str) == Some(c.secret.as_str())
                        });
                        let status = if ok { "authorized" } else { "unauthorized" };
                        let reply = json!({"stream": "authorization", "data": {"status": status, "action": "authenticate"}});
                        // Counted before the reply, as the data stream does: a client that reads
                        // the refusal finds it counted.
                        if !ok {
                            sh.stats.auth_refused.fetch_add(1, Ordering::AcqRel);
                        }
                        if socket.send(frame(reply)).await.is_err() || !ok {
                            return;
                        }
                        authed = true;
                    }
                    Some("listen") if authed => {
                        let streams = v.pointer("/data/streams").cloned().unwrap_or(json!([]));
                        listening = streams.as_array().is_some_and(|a| a.iter().any(|s| s == "trade_updates"));
                        sh.stats.trade_listeners.fetch_add(u64::from(listening), Ordering::AcqRel);
                        let reply = json!({"stream": "listening", "data": {"streams": streams}});
                        if socket.send(frame(reply)).await.is_err() {
                            return;
                        }
                    }
                    _ => {
                        let reply = json!({"stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}});
                        let _ = socket.send(frame(reply)).await;
                    }
                }
            }
            u = rx.recv() => match u {
                Ok(text) if listening => {
                    if socket.send(Message::Binary(text.into_bytes().into())).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }
}
