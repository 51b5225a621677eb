//! Alpaca's paper trading API as an [`ExecutionVenue`]: the other end a paper session's orders
//! can go to (`[live] execution = "alpaca"`).
//!
//! - **Orders**: `POST /v2/orders` with the deterministic `client_order_id` (`SESSION-N`),
//!   market, limit, stop and stop-limit, `day` and `gtc`, and bracket orders
//!   (`order_class = "bracket"` with `take_profit.limit_price` and `stop_loss.stop_price`
//!   `limit_price`); the legs the venue creates are tracked as the entry's `-tp` and `-sl`
//!   orders. A refusal (403, 422) is the order's `rejected` event with the venue's message; a
//!   reused client order id (a retry whose first reply was lost) is looked up instead, so an
//!   order is never placed twice. 401 (keys refused) and a venue that cannot be reached after
//!   retries stop the session.
//! - **Fills** come from the `trade_updates` stream (binary frames, JSON inside), read by a task
//!   of its own from before the first order on; they reach the pipeline with the next bars (the
//!   broker's `Intrabar` phase), as the simulator's fills do. An update is applied by the order's
//!   cumulative `filled_qty`, so a repeated or late update never counts twice, and a gap (the
//!   stream reconnected) is closed by asking the venue for each working order.
//! - **Costs**: the venue's fill prices; no commission (Alpaca charges none), no slippage added.
//! - **Reconciliation** at start ([`AlpacaVenue::reconcile`]): the journal's orders are brought
//!   up to date by client order id (what happened while the session was down), then the open
//!   orders and positions the journal implies are compared with `GET /v2/orders?status=open`
//!   and `GET /v2/positions`. A difference stops the start with a report of each, unless the
//!   session adopts the venue's state: positions are set by fills at the venue's average entry
//!   price (`A1`, `A2`, ...), unknown open orders are tracked as the session's.
//! - **End**: market orders still unfilled are waited for (`settle_ms`); working limit and stop
//!   orders stay working at the venue (and in the journal) for the next session.
//!
//! Keys come from [`Credentials`] (the environment) and go only into request headers and the
//! stream's `authenticate` message.

use super::client::LiveError;
use super::journal::JournaledEvent;
use super::protocol::parse_rfc3339;
use super::{lock, Credentials, LiveConfig, LiveCounters};
use crate::broker::{ExecutionVenue, VenueError};
use crate::types::{
    Bar, Bracket, ClientOrderId, Decimal, Fill, Instrument, InstrumentId, Leg, OrderAccepted, OrderCanceled,
    OrderEvent, OrderRejected, OrderRequest, OrderSubmitted, OrderType, Side, TimeInForce, UnixNanos,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// What the stream task hands over.
enum Update {
    /// A `trade_updates` message's `data`.
    Trade(Value),
    /// The stream reconnected: updates may have been missed.
    Reconnected,
    /// The stream cannot go on (keys refused).
    Failed(String),
}

/// One of the session's orders as the venue side knows it.
#[derive(Clone, Debug)]
struct Tracked {
    /// The client order id the venue knows (legs: the venue's own).
    client_id: Option<String>,
    request: OrderRequest,
    venue_id: Option<String>,
    filled: Decimal,
    notional: Decimal,
    /// Its `submitted` event has reached the pipeline.
    submitted: bool,
    /// The venue acknowledged it (`accepted` reached the pipeline).
    known: bool,
    terminal: bool,
}

impl Tracked {
    fn new(client_id: Option<String>, request: OrderRequest) -> Self {
        Self {
            client_id,
            request,
            venue_id: None,
            filled: Decimal::ZERO,
            notional: Decimal::ZERO,
            submitted: false,
            known: false,
            terminal: false,
        }
    }
}

/// The Alpaca paper trading venue (see the module documentation).
pub struct AlpacaVenue {
    rt: tokio::runtime::Handle,
    http: reqwest::Client,
    base: String,
    creds: Credentials,
    session: String,
    instruments: Arc<Vec<Instrument>>,
    orders: BTreeMap<ClientOrderId, Tracked>,
    by_venue: HashMap<String, ClientOrderId>,
    /// Per instrument: the position the session's fills make, and the last fill price.
    positions: Vec<(Decimal, Option<Decimal>)>,
    /// (In a mutex only so that the venue is `Sync`: one reader.)
    updates: Mutex<mpsc::Receiver<Update>>,
    /// Events found at start (catch-up, adoption), handed over with the first live bars.
    pending: Vec<OrderEvent>,
    counters: Arc<Mutex<LiveCounters>>,
    settle: Duration,
    stop: Option<watch::Sender<bool>>,
    stream: Option<tokio::task::JoinHandle<()>>,
    last_ts: UnixNanos,
}

fn dec(v: &Value) -> Option<Decimal> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The JSON body of `POST /v2/orders` for one order.
pub fn order_body(client_order_id: &str, symbol: &str, r: &OrderRequest) -> Value {
    let d = |x: Decimal| Value::String(x.normalize().to_string());
    let mut b = json!({
        "symbol": symbol,
        "qty": d(r.quantity),
        "side": if r.side == Side::Buy { "buy" } else { "sell" },
        "time_in_force": if r.time_in_force == TimeInForce::Day { "day" } else { "gtc" },
        "client_order_id": client_order_id,
    });
    let (kind, limit, stop) = match r.order_type {
        OrderType::Market => ("market", None, None),
        OrderType::Limit { limit } => ("limit", Some(limit), None),
        OrderType::Stop { trigger } => ("stop", None, Some(trigger)),
        OrderType::StopLimit { trigger, limit } => ("stop_limit", Some(limit), Some(trigger)),
    };
    b["type"] = json!(kind);
    if let Some(l) = limit {
        b["limit_price"] = d(l);
    }
    if let Some(s) = stop {
        b["stop_price"] = d(s);
    }
    if let Some(br) = r.bracket {
        b["order_class"] = json!("bracket");
        b["take_profit"] = json!({"limit_price": d(br.take_profit)});
        let mut sl = json!({"stop_price": d(br.stop_loss)});
        if let Some(l) = br.stop_loss_limit {
            sl["limit_price"] = d(l);
        }
        b["stop_loss"] = sl;
    }
    b
}

/// An order request read back from the venue's order JSON.
fn request_of(o: &Value, instruments: &[Instrument]) -> Option<OrderRequest> {
    let inst = instruments.iter().find(|i| i.symbol == text(&o["symbol"]))?;
    let side = match text(&o["side"]) {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => return None,
    };
    let limit = dec(&o["limit_price"]);
    let stop = dec(&o["stop_price"]);
    let order_type = match text(&o["type"]) {
        "market" => OrderType::Market,
        "limit" => OrderType::Limit { limit: limit? },
        "stop" => OrderType::Stop { trigger: stop? },
        "stop_limit" => OrderType::StopLimit {
            trigger: stop?,
            limit: limit?,
        },
        _ => return None,
    };
    Some(OrderRequest {
        instrument_id: inst.id,
        side,
        quantity: dec(&o["qty"])?,
        order_type,
        time_in_force: if text(&o["time_in_force"]) == "day" {
            TimeInForce::Day
        } else {
            TimeInForce::Gtc
        },
        bracket: None,
        equity_fraction: None,
    })
}

/// Reads the `trade_updates` stream until `stop`, reconnecting; `ready` learns how the first
/// connection went.
#[allow(clippy::disallowed_methods)] // the backoff between reconnects is the live clock's
async fn stream_task(
    url: String,
    creds: Credentials,
    tx: mpsc::Sender<Update>,
    ready: tokio::sync::oneshot::Sender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ready = Some(ready);
    let mut failures = 0u32;
    loop {
        let res: Result<(), String> = async {
            let (ws, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url.as_str()))
                .await
                .map_err(|_| format!("{url}: no connection within 10 s"))?
                .map_err(|e| format!("{url}: {e}"))?;
            let (mut write, mut read) = ws.split();
            let mut next = async || -> Result<Value, String> {
                loop {
                    let msg = tokio::time::timeout(Duration::from_secs(10), read.next())
                        .await
                        .map_err(|_| "no answer from the trade stream within 10 s".to_string())?;
                    match msg {
                        Some(Ok(Message::Binary(b))) => return serde_json::from_slice(&b).map_err(|e| e.to_string()),
                        Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).map_err(|e| e.to_string()),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.to_string()),
                        None => return Err("the trade stream closed".into()),
                    }
                }
            };
            let auth = json!({"action": "authenticate", "data": {"key_id": creds.key_id, "secret_key": creds.secret}});
            write
                .send(Message::Text(auth.to_string().into()))
                .await
                .map_err(|e| e.to_string())?;
            let reply = next().await?;
            if reply.pointer("/data/status").and_then(Value::as_str) != Some("authorized") {
                return Err(format!(
                    "unauthorized: {}",
                    reply.pointer("/data").cloned().unwrap_or_default()
                ));
            }
            let listen = json!({"action": "listen", "data": {"streams": ["trade_updates"]}});
            write
                .send(Message::Text(listen.to_string().into()))
                .await
                .map_err(|e| e.to_string())?;
            let reply = next().await?;
            if reply["stream"] != "listening" {
                return Err(format!("expected \"listening\", got {reply}"));
            }
            match ready.take() {
                Some(r) => {
                    let _ = r.send(Ok(()));
                }
                None => {
                    let _ = tx.send(Update::Reconnected);
                }
            }
            failures = 0;
            loop {
                tokio::select! {
                    msg = read.next() => match msg {
                        Some(Ok(Message::Binary(b))) => forward(&tx, serde_json::from_slice(&b).ok()),
                        Some(Ok(Message::Text(t))) => forward(&tx, serde_json::from_str(&t).ok()),
                        Some(Ok(Message::Ping(p))) => {
                            write.send(Message::Pong(p)).await.map_err(|e| e.to_string())?;
                        }
                        Some(Ok(Message::Close(_))) | None => return Err("the trade stream closed".into()),
                        Some(Ok(_)) => {}
                        Some(Err(e)) => return Err(e.to_string()),
                    },
                    () = stopped(&mut stop) => {
                        let _ = write.send(Message::Close(None)).await;
                        return Ok(());
                    }
                }
            }
        }
        .await;
        // The end of the stream: to the start if it is still waiting, else to the venue.
        let give_up =
            |e: String, ready: &mut Option<tokio::sync::oneshot::Sender<Result<(), String>>>| match ready.take() {
                Some(r) => {
                    let _ = r.send(Err(e));
                }
                None => {
                    let _ = tx.send(Update::Failed(e));
                }
            };
        match res {
            Ok(()) => return,
            Err(e) if e.starts_with("unauthorized") => return give_up(e, &mut ready),
            Err(e) => {
                failures += 1;
                if failures > 20 {
                    return give_up(
                        format!("the trade stream failed {failures} times; the last: {e}"),
                        &mut ready,
                    );
                }
                tracing::warn!("alpaca trade stream: {e}; reconnecting");
                let wait = Duration::from_millis((100u64 << failures.min(6)).min(5000));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stopped(&mut stop) => return,
                }
            }
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone: then never).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let ok = stop.wait_for(|s| *s).await.is_ok();
    if !ok {
        std::future::pending::<()>().await;
    }
}

/// Runs `f` to completion from a synchronous call inside the runtime (a worker thread is
/// handed over while it blocks).
fn block<T>(rt: &tokio::runtime::Handle, f: impl std::future::Future<Output = T>) -> T {
    tokio::task::block_in_place(|| rt.block_on(f))
}

fn forward(tx: &mpsc::Sender<Update>, v: Option<Value>) {
    match v {
        Some(v) if v["stream"] == "trade_updates" => {
            let _ = tx.send(Update::Trade(v["data"].clone()));
        }
        Some(v) => tracing::debug!("alpaca trade stream: {v}"),
        None => tracing::warn!("alpaca trade stream: a message that is not JSON, ignored"),
    }
}

impl AlpacaVenue {
    /// Connects the `trade_updates` stream (authenticated and listening before this returns, so
    /// no update of the session's orders is missed).
    ///
    /// # Errors
    /// Keys refused, the venue unreachable, or a runtime that cannot block in place.
    pub async fn connect(
        cfg: &LiveConfig,
        creds: Credentials,
        session: String,
        instruments: Arc<Vec<Instrument>>,
        counters: Arc<Mutex<LiveCounters>>,
    ) -> Result<Self, LiveError> {
        let rt = tokio::runtime::Handle::current();
        if rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::MultiThread {
            return Err(LiveError::Config(
                "live.execution = \"alpaca\" needs the multi-threaded runtime (its calls block in place)".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| LiveError::Config(format!("HTTP client: {e}")))?;
        let (tx, updates) = mpsc::channel();
        let (ready_tx, ready) = tokio::sync::oneshot::channel();
        let (stop, stopped) = watch::channel(false);
        let stream = tokio::spawn(stream_task(
            cfg.trade_stream_url(),
            creds.clone(),
            tx,
            ready_tx,
            stopped,
        ));
        let first = tokio::time::timeout(Duration::from_secs(30), ready).await;
        match first {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) if e.starts_with("unauthorized") => {
                return Err(LiveError::Auth {
                    venue: "alpaca",
                    message: format!("trade stream: {e}"),
                })
            }
            Ok(Ok(Err(e))) => return Err(LiveError::Config(format!("alpaca trade stream: {e}"))),
            _ => {
                return Err(LiveError::Config(
                    "alpaca trade stream: not listening within 30 s".into(),
                ))
            }
        }
        tracing::info!(url = %cfg.trade_stream_url(), "alpaca trade stream listening");
        let n = instruments.len();
        Ok(Self {
            rt,
            http,
            base: cfg.trading_url(),
            creds,
            session,
            instruments,
            orders: BTreeMap::new(),
            by_venue: HashMap::new(),
            positions: vec![(Decimal::ZERO, None); n],
            updates: Mutex::new(updates),
            pending: Vec::new(),
            counters,
            settle: Duration::from_millis(cfg.settle_ms),
            stop: Some(stop),
            stream: Some(stream),
            last_ts: 0,
        })
    }

    /// One REST call: (status, body). Connection failures and 5xx are retried (3 tries), 429
    /// waits as `Retry-After` asks.
    #[allow(clippy::disallowed_methods)] // waits between retries are the live clock's
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), VenueError> {
        let url = format!("{}{path}", self.base);
        let mut last = String::new();
        for attempt in 0..6u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
            }
            let mut req = self
                .http
                .request(method.clone(), &url)
                .header("APCA-API-KEY-ID", &self.creds.key_id)
                .header("APCA-API-SECRET-KEY", &self.creds.secret);
            if let Some(b) = body {
                req = req.json(b);
            }
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{method} {url}: {e}");
                    continue;
                }
            };
            let status = resp.status().as_u16();
            if status == 429 {
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1)
                    .min(60);
                lock(&self.counters).rate_limited += 1;
                tokio::time::sleep(Duration::from_secs(wait)).await;
                last = format!("{method} {url}: 429");
                continue;
            }
            let text = resp.text().await.unwrap_or_default();
            if status >= 500 {
                last = format!("{method} {url}: {status} {text}");
                continue;
            }
            if status == 401 {
                return Err(VenueError(format!(
                    "alpaca refused the keys ({status}) on {method} {url} (check APCA_API_KEY_ID / APCA_API_SECRET_KEY)"
                )));
            }
            let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
            return Ok((status, v));
        }
        Err(VenueError(format!("alpaca cannot be reached: {last}")))
    }

    /// The client order id the venue sees for one of the session's orders.
    fn client_id(&self, id: ClientOrderId) -> String {
        super::paper::JournaledVenue::client_order_id(&self.session, id)
    }

    fn symbol(&self, i: InstrumentId) -> &str {
        &self.instruments[i.index()].symbol
    }

    /// Learns the venue's ids of an order and of its legs from its JSON.
    fn register(&mut self, id: ClientOrderId, o: &Value) {
        let vid = text(&o["id"]).to_string();
        if !vid.is_empty() {
            self.by_venue.insert(vid.clone(), id);
            if let Some(t) = self.orders.get_mut(&id) {
                t.venue_id = Some(vid);
            }
        }
        let Some(legs) = o["legs"].as_array() else { return };
        for leg in legs {
            let kind = if text(&leg["type"]) == "limit" {
                Leg::TakeProfit
            } else {
                Leg::StopLoss
            };
            let lid = id.with_leg(kind);
            if !self.orders.contains_key(&lid) {
                if let Some(req) = request_of(leg, &self.instruments) {
                    self.orders.insert(lid, Tracked::new(None, req));
                }
            }
            if let Some(t) = self.orders.get_mut(&lid) {
                t.client_id = Some(text(&leg["client_order_id"]).to_string());
            }
            self.register(lid, leg);
        }
    }

    fn fill_event(
        &mut self,
        id: ClientOrderId,
        qty: Decimal,
        price: Decimal,
        leaves: Decimal,
        ts: UnixNanos,
    ) -> OrderEvent {
        let t = &self.orders[&id];
        let (instrument_id, side) = (t.request.instrument_id, t.request.side);
        let p = &mut self.positions[instrument_id.index()];
        p.0 += side.sign() * qty;
        p.1 = Some(price);
        OrderEvent::Filled(Fill {
            order_id: id,
            instrument_id,
            side,
            quantity: qty,
            price,
            commission: Decimal::ZERO,
            slippage: Decimal::ZERO,
            leaves_quantity: leaves,
            ts_event: ts,
        })
    }

    /// Applies one trade update (or an order's JSON read back, as the update its status
    /// implies): the events it adds, by the order's cumulative fill.
    fn apply(&mut self, update: &Value, out: &mut Vec<OrderEvent>) {
        let o = &update["order"];
        let vid = text(&o["id"]);
        let cid = text(&o["client_order_id"]);
        let id = self.by_venue.get(vid).copied().or_else(|| {
            self.orders
                .iter()
                .find(|(_, t)| t.client_id.as_deref() == Some(cid))
                .map(|(id, _)| *id)
        });
        let Some(id) = id else {
            lock(&self.counters).foreign_updates += 1;
            return;
        };
        lock(&self.counters).trade_updates += 1;
        if self.orders.get(&id).is_some_and(|t| t.venue_id.is_none()) || o["legs"].is_array() {
            self.register(id, o);
        }
        let ts = parse_rfc3339(text(&update["timestamp"])).unwrap_or(self.last_ts);
        let event = text(&update["event"]);
        let Some(t) = self.orders.get(&id).cloned() else { return };
        if t.terminal {
            return;
        }
        let ends = matches!(event, "canceled" | "expired" | "rejected");
        if id.leg().is_some() && !t.submitted && ends && dec(&o["filled_qty"]).is_none_or(|f| f.is_zero()) {
            // A leg that never worked (its entry did not fill): nothing happened to it.
            if let Some(t) = self.orders.get_mut(&id) {
                t.terminal = true;
            }
            return;
        }
        if matches!(event, "held" | "pending_new") || (text(&o["status"]) == "held") {
            return;
        }
        if !t.submitted {
            out.push(OrderEvent::Submitted(OrderSubmitted {
                order_id: id,
                ts_event: ts,
                request: t.request.clone(),
            }));
        }
        if event == "rejected" && !t.known {
            out.push(OrderEvent::Rejected(OrderRejected {
                order_id: id,
                ts_event: ts,
                reason: "alpaca rejected the order".into(),
            }));
            if let Some(t) = self.orders.get_mut(&id) {
                t.submitted = true;
                t.terminal = true;
            }
            return;
        }
        if !t.known {
            out.push(OrderEvent::Accepted(OrderAccepted {
                order_id: id,
                ts_event: ts,
            }));
        }
        let qty = t.request.quantity;
        let filled = dec(&o["filled_qty"]).unwrap_or(Decimal::ZERO);
        let mut done = false;
        let (mut new_filled, mut new_notional) = (t.filled, t.notional);
        if filled > t.filled {
            let diff = filled - t.filled;
            let this = (dec(&update["qty"]) == Some(diff))
                .then(|| dec(&update["price"]))
                .flatten();
            let price = this.or_else(|| dec(&o["filled_avg_price"]).map(|avg| (avg * filled - t.notional) / diff));
            if let Some(price) = price {
                out.push(self.fill_event(id, diff, price, qty - filled, ts));
                new_filled = filled;
                new_notional += diff * price;
                done = filled >= qty;
            }
        }
        if ends && !done {
            out.push(OrderEvent::Canceled(OrderCanceled {
                order_id: id,
                ts_event: ts,
                reason: format!("alpaca: {event}"),
                unfilled: qty - new_filled,
            }));
            done = true;
        }
        if let Some(t) = self.orders.get_mut(&id) {
            t.submitted = true;
            t.known = true;
            t.filled = new_filled;
            t.notional = new_notional;
            t.terminal = done;
        }
    }

    /// Asks the venue for every order that is not finished and applies what it says.
    async fn sync(&mut self, out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        let open: Vec<ClientOrderId> = self
            .orders
            .iter()
            .filter(|(_, t)| !t.terminal)
            .map(|(id, _)| *id)
            .collect();
        for id in open {
            let Some(t) = self.orders.get(&id).cloned() else {
                continue;
            };
            if t.terminal {
                continue;
            }
            let path = match (&t.venue_id, &t.client_id, id.leg()) {
                (Some(v), _, _) => format!("/v2/orders/{v}"),
                (None, Some(c), None) => format!("/v2/orders:by_client_order_id?client_order_id={c}"),
                (None, _, Some((entry, _))) => {
                    // A leg is found through its entry.
                    let Some(c) = self.orders.get(&entry).and_then(|e| e.client_id.clone()) else {
                        continue;
                    };
                    let (status, o) = self
                        .call(
                            reqwest::Method::GET,
                            &format!("/v2/orders:by_client_order_id?client_order_id={c}"),
                            None,
                        )
                        .await?;
                    if status == 200 {
                        self.register(entry, &o);
                    }
                    match self.orders.get(&id).and_then(|t| t.venue_id.clone()) {
                        Some(v) => format!("/v2/orders/{v}"),
                        None => continue,
                    }
                }
                (None, None, None) => continue,
            };
            let (status, o) = self.call(reqwest::Method::GET, &path, None).await?;
            match status {
                200 => {
                    let event = match text(&o["status"]) {
                        "filled" => "fill",
                        "partially_filled" => "partial_fill",
                        s => s,
                    }
                    .to_string();
                    let update = json!({"event": event, "timestamp": o["updated_at"], "order": o});
                    self.apply(&update, out);
                }
                404 if !t.known && id.leg().is_none() => {
                    // Journaled, never acknowledged, unknown to the venue: it never got there
                    // (the session stopped first). It is not sent now: its moment has passed.
                    if !t.submitted {
                        out.push(OrderEvent::Submitted(OrderSubmitted {
                            order_id: id,
                            ts_event: self.last_ts,
                            request: t.request.clone(),
                        }));
                    }
                    out.push(OrderEvent::Canceled(OrderCanceled {
                        order_id: id,
                        ts_event: self.last_ts,
                        reason: "never reached the venue: the session stopped before it was sent".into(),
                        unfilled: t.request.quantity,
                    }));
                    if let Some(t) = self.orders.get_mut(&id) {
                        t.submitted = true;
                        t.terminal = true;
                    }
                }
                s => {
                    return Err(VenueError(format!(
                        "alpaca: cannot read order {} back ({s}): {o}",
                        t.client_id.as_deref().unwrap_or("?")
                    )))
                }
            }
        }
        Ok(())
    }

    /// Takes what the stream delivered so far.
    async fn drain(&mut self, out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        loop {
            let next = lock(&self.updates).try_recv();
            match next {
                Ok(Update::Trade(v)) => self.apply(&v, out),
                Ok(Update::Reconnected) => {
                    lock(&self.counters).trade_stream_reconnects += 1;
                    self.sync(out).await?;
                }
                Ok(Update::Failed(e)) => return Err(VenueError(format!("alpaca trade stream: {e}"))),
                Err(_) => return Ok(()),
            }
        }
    }

    /// What the journal says happened before this start: the session's orders (client order
    /// id, sequence, request) and their events.
    ///
    /// # Errors
    /// A journaled order or event that cannot be read.
    pub fn restore(
        &mut self,
        orders: &[(String, u64, UnixNanos, String)],
        events: &[JournaledEvent],
    ) -> Result<(), LiveError> {
        let bad = |what: &'static str, e: serde_json::Error| LiveError::BadJournal {
            what,
            message: e.to_string(),
        };
        for (cid, seq, _, req) in orders {
            let request: OrderRequest = serde_json::from_str(req).map_err(|e| bad("an order", e))?;
            self.orders
                .insert(ClientOrderId(*seq), Tracked::new(Some(cid.clone()), request));
        }
        for je in events {
            let ev: OrderEvent = serde_json::from_str(&je.event).map_err(|e| bad("an order event", e))?;
            let id = ev.order_id();
            if let OrderEvent::Submitted(s) = &ev {
                self.orders
                    .entry(id)
                    .or_insert_with(|| Tracked::new(None, s.request.clone()))
                    .submitted = true;
                continue;
            }
            let filled = match &ev {
                OrderEvent::Filled(f) => {
                    let p = &mut self.positions[f.instrument_id.index()];
                    p.0 += f.signed_quantity();
                    p.1 = Some(f.price);
                    Some((f.quantity, f.price, f.leaves_quantity))
                }
                _ => None,
            };
            let Some(t) = self.orders.get_mut(&id) else { continue };
            match ev {
                OrderEvent::Accepted(_) => t.known = true,
                OrderEvent::Filled(_) => {
                    if let Some((q, p, leaves)) = filled {
                        t.filled += q;
                        t.notional += q * p;
                        t.known = true;
                        t.terminal = leaves.is_zero();
                    }
                }
                OrderEvent::Rejected(_) | OrderEvent::Canceled(_) => t.terminal = true,
                OrderEvent::Submitted(_) => {}
            }
        }
        Ok(())
    }

    /// Brings the journal's orders up to date with the venue, then compares open orders and
    /// positions. Returns the orders adopted from the venue (to journal: their venue client
    /// ids, sequence, request) and the differences found (adopted, or the start's error).
    ///
    /// # Errors
    /// A difference without `adopt` (the report lists each), or the venue unreachable.
    pub async fn reconcile(
        &mut self,
        adopt: bool,
    ) -> Result<(Vec<(String, u64, UnixNanos, String)>, Vec<String>), LiveError> {
        let venue = |e: VenueError| LiveError::Config(e.0);
        let mut out = Vec::new();
        self.sync(&mut out).await.map_err(venue)?;
        let mut diffs = Vec::new();
        let mut adopted = Vec::new();
        // Positions.
        let (status, positions) = self
            .call(reqwest::Method::GET, "/v2/positions", None)
            .await
            .map_err(venue)?;
        if status != 200 {
            return Err(LiveError::Config(format!(
                "alpaca: GET /v2/positions answered {status}: {positions}"
            )));
        }
        let mut at_venue: HashMap<String, (Decimal, Option<Decimal>)> = HashMap::new();
        for p in positions.as_array().into_iter().flatten() {
            let mut q = dec(&p["qty"]).unwrap_or(Decimal::ZERO);
            if text(&p["side"]) == "short" && q > Decimal::ZERO {
                q = -q;
            }
            at_venue.insert(text(&p["symbol"]).to_string(), (q, dec(&p["avg_entry_price"])));
        }
        let mut next_adopted = self
            .orders
            .keys()
            .filter_map(|id| id.adopted_number())
            .max()
            .unwrap_or(0)
            + 1;
        for (i, inst) in self.instruments.clone().iter().enumerate() {
            let mine = self.positions[i].0;
            let (theirs, avg) = at_venue.remove(&inst.symbol).unwrap_or((Decimal::ZERO, None));
            if mine == theirs {
                continue;
            }
            diffs.push(format!(
                "position {}: the journal has {}, the venue {}",
                inst.symbol,
                mine.normalize(),
                theirs.normalize()
            ));
            if adopt {
                let Some(price) = avg.filter(|_| !theirs.is_zero()).or(self.positions[i].1) else {
                    return Err(LiveError::Config(format!(
                        "cannot adopt the venue's position in {}: no price to adopt it at",
                        inst.symbol
                    )));
                };
                let diff = theirs - mine;
                let side = if diff > Decimal::ZERO { Side::Buy } else { Side::Sell };
                let id = ClientOrderId::adopted(next_adopted);
                next_adopted += 1;
                let request = OrderRequest::market(inst.id, side, diff.abs());
                let mut t = Tracked::new(None, request.clone());
                t.submitted = true;
                t.known = true;
                t.terminal = true;
                t.filled = diff.abs();
                self.orders.insert(id, t);
                out.push(OrderEvent::Submitted(OrderSubmitted {
                    order_id: id,
                    ts_event: self.last_ts,
                    request,
                }));
                out.push(OrderEvent::Accepted(OrderAccepted {
                    order_id: id,
                    ts_event: self.last_ts,
                }));
                out.push(self.fill_event(id, diff.abs(), price, Decimal::ZERO, self.last_ts));
            }
        }
        for (symbol, (q, _)) in at_venue {
            diffs.push(format!(
                "position {symbol}: {} at the venue, a symbol this session does not trade",
                q.normalize()
            ));
        }
        // Open orders.
        let (status, open) = self
            .call(
                reqwest::Method::GET,
                "/v2/orders?status=open&limit=500&nested=false",
                None,
            )
            .await
            .map_err(venue)?;
        if status != 200 {
            return Err(LiveError::Config(format!(
                "alpaca: GET /v2/orders answered {status}: {open}"
            )));
        }
        let mut seen = Vec::new();
        for o in open.as_array().into_iter().flatten() {
            let vid = text(&o["id"]).to_string();
            if let Some(id) = self.by_venue.get(&vid) {
                seen.push(*id);
                continue;
            }
            if text(&o["status"]) == "held" {
                continue;
            }
            diffs.push(format!(
                "open order {} at the venue, unknown to the journal: {} {} {} {}",
                text(&o["client_order_id"]),
                text(&o["side"]),
                text(&o["qty"]),
                text(&o["symbol"]),
                text(&o["type"])
            ));
            if adopt {
                let Some(request) = request_of(o, &self.instruments) else {
                    return Err(LiveError::Config(format!(
                        "cannot adopt the venue's order {}: its symbol or type is not this session's",
                        text(&o["client_order_id"])
                    )));
                };
                let id = ClientOrderId::adopted(next_adopted);
                next_adopted += 1;
                let cid = text(&o["client_order_id"]).to_string();
                self.orders.insert(id, Tracked::new(Some(cid.clone()), request.clone()));
                adopted.push((
                    cid,
                    id.0,
                    self.last_ts,
                    serde_json::to_string(&request).unwrap_or_default(),
                ));
                let update = json!({"event": "new", "timestamp": o["updated_at"], "order": o});
                self.apply(&update, &mut out);
                seen.push(id);
            }
        }
        for (id, t) in &self.orders {
            if !t.terminal && t.known && !seen.contains(id) {
                diffs.push(format!(
                    "order {} is working in the journal, not open at the venue",
                    t.client_id.as_deref().unwrap_or("?")
                ));
            }
        }
        if !diffs.is_empty() && !adopt {
            return Err(LiveError::Config(format!(
                "the venue's state differs from the journal's ({} differences); start with --adopt-venue-state to \
                 take the venue's:\n  {}",
                diffs.len(),
                diffs.join("\n  ")
            )));
        }
        self.pending = out;
        Ok((adopted, diffs))
    }

    /// Market orders placed and not finished.
    fn unsettled(&self) -> usize {
        self.orders
            .values()
            .filter(|t| !t.terminal && t.known && t.request.order_type == OrderType::Market)
            .count()
    }
}

impl ExecutionVenue for AlpacaVenue {
    fn submit(
        &mut self,
        orders: Vec<(ClientOrderId, OrderRequest)>,
        ts: UnixNanos,
        _bars: &[Bar],
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), VenueError> {
        self.last_ts = ts;
        for (id, request) in orders {
            if request.equity_fraction.is_some() {
                out.push(OrderEvent::Submitted(OrderSubmitted {
                    order_id: id,
                    ts_event: ts,
                    request,
                }));
                out.push(OrderEvent::Rejected(OrderRejected {
                    order_id: id,
                    ts_event: ts,
                    reason: "alpaca: orders sized at execution (equity fraction) are the simulator's; size it at the decision".into(),
                }));
                continue;
            }
            let cid = self.client_id(id);
            let body = order_body(&cid, self.symbol(request.instrument_id), &request);
            let mut t = Tracked::new(Some(cid.clone()), request.clone());
            t.submitted = true;
            self.orders.insert(id, t);
            out.push(OrderEvent::Submitted(OrderSubmitted {
                order_id: id,
                ts_event: ts,
                request,
            }));
            let (status, reply) = block(&self.rt, self.call(reqwest::Method::POST, "/v2/orders", Some(&body)))?;
            let message = reply["message"]
                .as_str()
                .map_or_else(|| reply.to_string(), str::to_string);
            let reply = if status == 422 && message.contains("client_order_id must be unique") {
                // A retry whose first attempt got there: the order is the one already placed.
                let (s, o) = block(
                    &self.rt,
                    self.call(
                        reqwest::Method::GET,
                        &format!("/v2/orders:by_client_order_id?client_order_id={cid}"),
                        None,
                    ),
                )?;
                if s != 200 {
                    return Err(VenueError(format!(
                        "alpaca: order {cid} is placed but cannot be read ({s})"
                    )));
                }
                o
            } else if (200..300).contains(&status) {
                reply
            } else {
                lock(&self.counters).orders_rejected += 1;
                tracing::warn!(order = %cid, status, %message, "alpaca refused the order");
                out.push(OrderEvent::Rejected(OrderRejected {
                    order_id: id,
                    ts_event: ts,
                    reason: format!("alpaca {status}: {message}"),
                }));
                if let Some(t) = self.orders.get_mut(&id) {
                    t.terminal = true;
                }
                continue;
            };
            self.register(id, &reply);
            out.push(OrderEvent::Accepted(OrderAccepted {
                order_id: id,
                ts_event: ts,
            }));
            if let Some(t) = self.orders.get_mut(&id) {
                t.known = true;
            }
        }
        Ok(())
    }

    fn on_bars(&mut self, bars: &[Bar], out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        if let Some(b) = bars.first() {
            self.last_ts = b.ts_event;
        }
        out.append(&mut self.pending);
        let rt = self.rt.clone();
        block(&rt, self.drain(out))
    }

    #[allow(clippy::disallowed_methods)] // waiting for the venue's fills: the live clock's
    fn finish(&mut self, ts: UnixNanos, out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        self.last_ts = ts;
        out.append(&mut self.pending);
        let deadline = std::time::Instant::now() + self.settle;
        let rt = self.rt.clone();
        loop {
            block(&rt, self.drain(out))?;
            if self.unsettled() == 0 || std::time::Instant::now() >= deadline {
                break;
            }
            block(&rt, tokio::time::sleep(Duration::from_millis(10)));
        }
        let left = self.unsettled();
        if left > 0 {
            tracing::warn!(
                orders = left,
                "market orders not filled by the venue when the session ended; they stay at the venue"
            );
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
        Ok(())
    }

    fn fill_policy(&self) -> &str {
        "alpaca"
    }

    fn remote(&self) -> bool {
        true
    }
}

impl Drop for AlpacaVenue {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
        if let Some(t) = self.stream.take() {
            t.abort();
        }
    }
}

/// The bracket of an order read back (tests).
pub fn bracket_of(o: &Value) -> Option<Bracket> {
    Some(Bracket {
        take_profit: dec(o.pointer("/take_profit/limit_price")?)?,
        stop_loss: dec(o.pointer("/stop_loss/stop_price")?)?,
        stop_loss_limit: o.pointer("/stop_loss/limit_price").and_then(dec),
    })
}
