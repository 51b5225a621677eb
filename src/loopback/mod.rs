//! Loopback venues: servers that speak a venue's real protocol over a recorded market, for the
//! tests and for users (`kairos serve-market`). Binance: the combined kline stream
//! (`/stream?streams=...`, pings every `ping_every`) and `GET /api/v3/klines`. Alpaca: the
//! market-data stream (`/v2/{feed}`: `connected`, `auth`, `subscribe`, `b` bars in arrays) and
//! `GET /v2/stocks/bars` with pages, and the paper trading API with its `trade_updates`
//! stream (`loopback/trading.rs`).
//!
//! The first `history` timestamps of the market are history: REST serves them from the start.
//! The rest is published one timestamp at a time, `interval / speed` apart (or as fast as the
//! clients read, without a speed), from the first subscription on (or at once). Every connection
//! streams what is published while it is connected; REST serves what has been published. A
//! client that drops misses bars and must backfill them over REST, as with the real venue.
//!
//! [`Faults`] injects what real venues do wrong or what goes wrong on the way; each one is
//! counted in [`ServerStats`].

mod trading;

use crate::data::MarketData;
use crate::live::{Credentials, Interval, VenueKind};
use crate::types::decimal_text::push_decimal;
use crate::types::{Decimal, UnixNanos};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path as AxPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};

/// Faults to inject. Timestamps are counted from the start of the market (history included).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// Drop the first connection abruptly (no close frame) after it streamed this many
    /// timestamps.
    pub drop_after: Option<usize>,
    /// Send a frame that is not JSON before this timestamp's bars.
    pub malformed_at: Option<usize>,
    /// Send a message of an unknown type before this timestamp's bars.
    pub unknown_at: Option<usize>,
    /// Send a bar of a symbol the client did not subscribe to, at this timestamp.
    pub unsubscribed_at: Option<usize>,
    /// Send this timestamp's bars twice.
    pub duplicate_at: Option<usize>,
    /// After this timestamp's bars, send the previous timestamp's first bar again (an old bar
    /// out of order).
    pub out_of_order_at: Option<usize>,
    /// Alpaca: send a corrected bar (`u`) of the previous timestamp with this one.
    pub correction_at: Option<usize>,
    /// Binance: push every kline once open (`x: false`, another close) before it closes.
    pub unclosed: bool,
    /// Answer the first N REST requests with HTTP 429 and `Retry-After: 1`.
    pub rest_429: usize,
    /// Then answer the next N with HTTP 418 (banned for ignoring 429s) and `Retry-After: 1`.
    pub rest_418: usize,
    /// A slow REST API: answer every market-data request this many milliseconds late (what it
    /// serves is what is published when it answers).
    pub rest_delay_ms: u64,
    /// A stream behind the REST API: each connection sends nothing for this many milliseconds
    /// after it is made, then what was published meanwhile, in order.
    pub stream_delay_ms: u64,
    /// Leave this symbol's bar out of this timestamp (a symbol that is late for good).
    pub missing_at: Option<(usize, String)>,
    /// Alpaca trading: refuse the Nth order placed (1-based) with 403 "insufficient buying
    /// power".
    pub reject_order: Option<usize>,
}

/// What the server did.
#[derive(Debug, Default)]
pub struct ServerStats {
    pub connections: AtomicU64,
    pub pongs: AtomicU64,
    pub rest_requests: AtomicU64,
    pub rest_429: AtomicU64,
    pub auth_refused: AtomicU64,
    pub dropped: AtomicU64,
    pub frames: AtomicU64,
    pub orders_rejected: AtomicU64,
    /// Connections listening to `trade_updates`.
    pub trade_listeners: AtomicU64,
    /// Market-data connections that have subscribed to a symbol (each counted once, when it
    /// starts receiving what is published; never decreased): a test that steps the market
    /// ([`MarketSpec::manual`]) waits for one before it publishes.
    pub subscribers: AtomicU64,
}

/// A loopback venue's settings.
#[derive(Clone)]
pub struct MarketSpec {
    pub venue: VenueKind,
    pub data: Arc<MarketData>,
    pub interval: Interval,
    /// Timestamps that are history when the server starts.
    pub history: usize,
    /// Publish `speed` intervals per second of real time; `None`: as fast as clients read.
    pub speed: Option<f64>,
    /// Publish from the first subscription on (else at once).
    pub wait_for_client: bool,
    pub faults: Faults,
    /// Alpaca: the keys clients must present (`None`: any keys).
    pub credentials: Option<Credentials>,
    pub ping_every: Duration,
    /// Publish a timestamp only when [`Server::advance`] allows it (tests that step the
    /// market themselves).
    pub manual: bool,
    /// Alpaca trading: the paper account's starting cash.
    pub trading_cash: Decimal,
}

impl MarketSpec {
    /// A spec with no faults, 20 s pings, waiting for a client.
    pub fn new(venue: VenueKind, data: Arc<MarketData>, interval: Interval, history: usize) -> Self {
        Self {
            venue,
            data,
            interval,
            history,
            speed: None,
            wait_for_client: true,
            faults: Faults::default(),
            credentials: None,
            ping_every: Duration::from_secs(20),
            manual: false,
            trading_cash: Decimal::from(100_000),
        }
    }
}

struct Shared {
    spec: MarketSpec,
    /// Timestamps published so far (history included): REST serves `timestamps[..published]`.
    published: AtomicUsize,
    tx: broadcast::Sender<usize>,
    start: Notify,
    started: AtomicBool,
    dropped_once: AtomicBool,
    stats: Arc<ServerStats>,
    /// Per symbol: its series index.
    symbols: HashMap<String, usize>,
    /// Alpaca: the paper trading account.
    book: Option<std::sync::Mutex<trading::Book>>,
    /// Manual stepping: one permit per timestamp to publish.
    steps: tokio::sync::Semaphore,
}

/// A running loopback venue; stopped on [`Server::stop`] or drop.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<watch::Sender<bool>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Binds `listen` (port 0 for any free port) and starts serving.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn start(spec: MarketSpec, listen: SocketAddr) -> std::io::Result<Self> {
        let n = spec.data.timestamps.len();
        let history = spec.history.min(n);
        let (tx, _) = broadcast::channel(n.max(1));
        let symbols = spec
            .data
            .instruments
            .iter()
            .enumerate()
            .map(|(i, ins)| (ins.symbol.clone(), i))
            .collect();
        let book = (spec.venue == VenueKind::Alpaca).then(|| {
            std::sync::Mutex::new(trading::Book::new(
                Arc::new(spec.data.instruments.clone()),
                spec.trading_cash,
                spec.data.daily,
            ))
        });
        let shared = Arc::new(Shared {
            book,
            steps: tokio::sync::Semaphore::new(0),
            published: AtomicUsize::new(history),
            tx,
            start: Notify::new(),
            started: AtomicBool::new(!spec.wait_for_client || spec.manual),
            dropped_once: AtomicBool::new(false),
            stats: Arc::new(ServerStats::default()),
            symbols,
            spec,
        });
        let app = match shared.spec.venue {
            VenueKind::Binance => Router::new()
                .route("/stream", get(binance_ws))
                .route("/api/v3/klines", get(binance_klines)),
            VenueKind::Alpaca => Router::new()
                .route("/v2/{feed}", get(alpaca_ws))
                .route("/v2/stocks/bars", get(alpaca_bars))
                .route(
                    "/v2/orders",
                    axum::routing::post(trading::post_order).get(trading::get_orders),
                )
                .route("/v2/orders:by_client_order_id", get(trading::order_by_client_id))
                .route("/v2/orders/{id}", get(trading::get_order).delete(trading::delete_order))
                .route("/v2/positions", get(trading::get_positions))
                .route("/v2/account", get(trading::get_account))
                .route("/stream", get(trading::trade_stream)),
        }
        .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let mut stopped2 = stopped.clone();
        let serve = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        });
        let publisher = {
            let shared = shared.clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = publish(shared) => {}
                    _ = stopped2.wait_for(|s| *s) => {}
                }
            })
        };
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            tasks: vec![serve, publisher],
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `ws://ADDR` (Binance: the stream base; Alpaca: add `/v2/iex`).
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.addr)
    }
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.addr)
    }
    /// Timestamps published so far, history included.
    pub fn published(&self) -> usize {
        self.shared.published.load(Ordering::Acquire)
    }
    pub fn stats(&self) -> &ServerStats {
        &self.shared.stats
    }
    /// Manual stepping: allow `n` more timestamps to be published.
    pub fn advance(&self, n: usize) {
        self.shared.steps.add_permits(n);
    }
    /// Alpaca trading: the account's open positions (symbol, signed quantity).
    pub fn positions(&self) -> Vec<(String, Decimal)> {
        self.shared
            .book
            .as_ref()
            .map_or_else(Vec::new, |b| trading::lock(b).positions())
    }
    /// Alpaca trading: per order with fills, its client order id, filled quantity and notional.
    pub fn filled(&self) -> Vec<(String, Decimal, Decimal)> {
        self.shared
            .book
            .as_ref()
            .map_or_else(Vec::new, |b| trading::lock(b).filled())
    }
    /// Alpaca trading: the bodies of every `POST /v2/orders`, in order.
    pub fn order_bodies(&self) -> Vec<serde_json::Value> {
        self.shared
            .book
            .as_ref()
            .map_or_else(Vec::new, |b| trading::lock(b).bodies.clone())
    }

    /// Stops serving and waits for the server's tasks (at most 5 s).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
        for t in std::mem::take(&mut self.tasks) {
            t.abort();
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(true);
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[allow(clippy::disallowed_methods)] // the venue's own pace
async fn publish(shared: Arc<Shared>) {
    if !shared.started.load(Ordering::Acquire) {
        shared.start.notified().await;
    }
    let n = shared.spec.data.timestamps.len();
    let pause = shared
        .spec
        .speed
        .filter(|s| *s > 0.0)
        .map(|s| Duration::from_nanos((shared.spec.interval.nanos as f64 / s).max(0.0) as u64));
    for k in shared.published.load(Ordering::Acquire)..n {
        if shared.spec.manual {
            match shared.steps.acquire().await {
                Ok(p) => p.forget(),
                Err(_) => return,
            }
        } else if let Some(p) = pause {
            tokio::time::sleep(p).await;
        }
        if let Some(b) = &shared.book {
            // Orders are matched on the bar before anyone sees it.
            let bars = shared.bars_at(k);
            trading::lock(b).on_bars(shared.ts(k), bars);
        }
        shared.published.store(k + 1, Ordering::Release);
        let _ = shared.tx.send(k);
        if pause.is_none() {
            tokio::task::yield_now().await;
        }
    }
}

impl Shared {
    fn begin(&self) {
        if !self.started.swap(true, Ordering::AcqRel) {
            self.start.notify_one();
        }
    }

    /// The bar of series `i` at timestamp index `k`, if it has one (a bar left out by
    /// [`Faults::missing_at`] does not exist, for the stream and for REST).
    fn bar(&self, i: usize, k: usize) -> Option<[Decimal; 5]> {
        if self.missing(i, k) {
            return None;
        }
        let d = &self.spec.data;
        let s = &d.series[i];
        let pos = s.step.binary_search(&(k as u32)).ok()?;
        let b = d.bar(i, pos, 0, 0, 0);
        Some([b.open, b.high, b.low, b.close, b.volume])
    }

    /// Every bar of timestamp `k`, as the engine's bars (trading matches on them).
    fn bars_at(&self, k: usize) -> Vec<crate::types::Bar> {
        let d = &self.spec.data;
        let ts = self.ts(k);
        (0..d.series.len())
            .filter(|&i| !self.missing(i, k))
            .filter_map(|i| {
                let pos = d.series[i].step.binary_search(&(k as u32)).ok()?;
                Some(d.bar(i, pos, ts, ts, 0))
            })
            .collect()
    }

    /// Alpaca's key headers, when the venue checks keys.
    fn keys_ok(&self, headers: &HeaderMap) -> bool {
        let Some(c) = &self.spec.credentials else {
            return true;
        };
        let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        let ok = h("APCA-API-KEY-ID").as_deref() == Some(c.key_id.as_str())
            && h("APCA-API-SECRET-KEY").as_deref() == Some(c.secret.as_str());
        if !ok {
            self.stats.auth_refused.fetch_add(1, Ordering::AcqRel);
        }
        ok
    }

    fn ts(&self, k: usize) -> UnixNanos {
        self.spec.data.timestamps[k]
    }

    fn symbol(&self, i: usize) -> &str {
        &self.spec.data.instruments[i].symbol
    }

    fn missing(&self, i: usize, k: usize) -> bool {
        self.spec
            .faults
            .missing_at
            .as_ref()
            .is_some_and(|(mk, s)| *mk == k && s == self.symbol(i))
    }

    /// Waits out [`Faults::rest_delay_ms`].
    async fn rest_delay(&self) {
        let ms = self.spec.faults.rest_delay_ms;
        if ms > 0 {
            #[allow(clippy::disallowed_methods)] // a venue's own pace, never a backtest's
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    fn rest_gate(&self) -> Option<Response> {
        let n = self.stats.rest_requests.fetch_add(1, Ordering::AcqRel) as usize;
        let f = &self.spec.faults;
        if n < f.rest_429 + f.rest_418 {
            self.stats.rest_429.fetch_add(1, Ordering::AcqRel);
            let mut h = HeaderMap::new();
            h.insert("retry-after", "1".parse().ok()?);
            let status = if n < f.rest_429 {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::IM_A_TEAPOT
            };
            return Some((status, h, r#"{"code":-1003,"msg":"Too many requests."}"#).into_response());
        }
        None
    }
}

// ---------------------------------------------------------------------------------- Binance

fn binance_kline(sh: &Shared, i: usize, k: usize, closed: bool) -> Option<String> {
    let [o, h, l, c, v] = sh.bar(i, k)?;
    let close_ms = sh.ts(k) / 1_000_000;
    let open_ms = close_ms - sh.spec.interval.millis();
    let sym = sh.symbol(i);
    // An open kline is a repaint: another close, the range around it.
    let (c, h, l) = if closed { (c, h, l) } else { (o, h.max(o), l.min(o)) };
    Some(kline_text(
        sym,
        sh.spec.interval.name,
        open_ms,
        close_ms,
        [o, h, l, c, v],
        closed,
    ))
}

/// A combined-stream kline frame (`{"stream":"btcusdt@kline_1m","data":{"e":"kline",..}}`),
/// written piece by piece: the formatter was most of the venue's time at full speed.
fn kline_text(sym: &str, iv: &str, open_ms: i64, close_ms: i64, ohlcv: [Decimal; 5], closed: bool) -> String {
    let [o, h, l, c, v] = ohlcv;
    let mut n = itoa::Buffer::new();
    let mut s = String::with_capacity(340);
    s.push_str("{\"stream\":\"");
    s.push_str(&sym.to_ascii_lowercase());
    s.push_str("@kline_");
    s.push_str(iv);
    s.push_str("\",\"data\":{\"e\":\"kline\",\"E\":");
    s.push_str(n.format(close_ms));
    s.push_str(",\"s\":\"");
    s.push_str(sym);
    s.push_str("\",\"k\":{\"t\":");
    s.push_str(n.format(open_ms));
    s.push_str(",\"T\":");
    s.push_str(n.format(close_ms - 1));
    s.push_str(",\"s\":\"");
    s.push_str(sym);
    s.push_str("\",\"i\":\"");
    s.push_str(iv);
    s.push_str("\",\"f\":0,\"L\":0");
    for (name, value) in [("o", o), ("c", c), ("h", h), ("l", l), ("v", v)] {
        s.push_str(",\"");
        s.push_str(name);
        s.push_str("\":\"");
        push_decimal(&mut s, value);
        s.push('"');
    }
    s.push_str(",\"n\":1,\"x\":");
    s.push_str(if closed { "true" } else { "false" });
    s.push_str(",\"q\":\"0\",\"V\":\"0\",\"Q\":\"0\",\"B\":\"0\"}}}");
    s
}

impl Shared {
    /// The series of a kline stream name (`btcusdt@kline_1m`) of this venue's interval.
    fn kline_stream(&self, name: &str) -> Option<usize> {
        let (sym, kind) = name.split_once('@')?;
        if kind != format!("kline_{}", self.spec.interval.name) {
            return None;
        }
        self.symbols.get(&sym.to_ascii_uppercase()).copied()
    }
}

async fn binance_ws(
    ws: WebSocketUpgrade,
    Query(q): Query<HashMap<String, String>>,
    State(sh): State<Arc<Shared>>,
) -> Response {
    let wanted: Vec<usize> = q
        .get("streams")
        .map(|s| s.split('/').filter_map(|st| sh.kline_stream(st)).collect())
        .unwrap_or_default();
    ws.on_upgrade(move |socket| async move {
        stream(socket, sh, wanted, Wire::BinanceJson).await;
    })
}

#[derive(serde::Deserialize)]
struct KlineQuery {
    symbol: String,
    interval: String,
    #[serde(rename = "startTime")]
    start_time: Option<i64>,
    #[serde(rename = "endTime")]
    end_time: Option<i64>,
    limit: Option<usize>,
}

async fn binance_klines(
    State(sh): State<Arc<Shared>>,
    q: Result<Query<KlineQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    sh.rest_delay().await;
    if let Some(r) = sh.rest_gate() {
        return r;
    }
    let bad =
        |code: i32, msg: &str| (StatusCode::BAD_REQUEST, format!(r#"{{"code":{code},"msg":"{msg}"}}"#)).into_response();
    let Ok(Query(q)) = q else {
        return bad(-1102, "Mandatory parameter was not sent, was empty/null, or malformed.");
    };
    let Some(&i) = sh.symbols.get(&q.symbol) else {
        return bad(-1121, "Invalid symbol.");
    };
    if q.interval != sh.spec.interval.name {
        return bad(-1120, "Invalid interval.");
    }
    let limit = q.limit.unwrap_or(500).clamp(1, 1000);
    let published = sh.published.load(Ordering::Acquire);
    let iv = sh.spec.interval.millis();
    let rows: Vec<(i64, String)> = (0..published)
        .filter_map(|k| {
            let [o, h, l, c, v] = sh.bar(i, k)?;
            let close_ms = sh.ts(k) / 1_000_000;
            let open = close_ms - iv;
            if q.start_time.is_some_and(|s| open < s) || q.end_time.is_some_and(|e| open > e) {
                return None;
            }
            Some((
                open,
                format!(
                    r#"[{open},"{o}","{h}","{l}","{c}","{v}",{},"0",1,"0","0","0"]"#,
                    close_ms - 1
                ),
            ))
        })
        .collect();
    let picked: Vec<String> = if q.start_time.is_some() {
        rows.into_iter().take(limit).map(|r| r.1).collect()
    } else {
        let skip = rows.len().saturating_sub(limit);
        rows.into_iter().skip(skip).map(|r| r.1).collect()
    };
    (
        [("content-type", "application/json")],
        format!("[{}]", picked.join(",")),
    )
        .into_response()
}

// ----------------------------------------------------------------------------------- Alpaca

/// A bar as Alpaca writes it: on the stream with its type and symbol (`kind`: `b` or `u`), in a
/// REST reply without them (`kind`: `None`, the symbol is the key of its list).
fn alpaca_bar(sh: &Shared, i: usize, k: usize, kind: Option<&str>) -> Option<String> {
    let [o, h, l, c, v] = sh.bar(i, k)?;
    let t = crate::live::protocol::rfc3339(sh.ts(k) - sh.spec.interval.nanos);
    let head = kind.map_or(String::new(), |kind| format!(r#""T":"{kind}","S":"{}","#, sh.symbol(i)));
    Some(format!(
        r#"{{{head}"o":{},"h":{},"l":{},"c":{},"v":{},"t":"{t}","n":1,"vw":{}}}"#,
        o.normalize(),
        h.normalize(),
        l.normalize(),
        c.normalize(),
        v.normalize(),
        c.normalize()
    ))
}

async fn alpaca_ws(
    ws: WebSocketUpgrade,
    AxPath(_feed): AxPath<String>,
    headers: HeaderMap,
    State(sh): State<Arc<Shared>>,
) -> Response {
    // Alpaca answers in MessagePack to clients that ask for it (the official SDK does).
    let wire = if headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("msgpack"))
    {
        Wire::AlpacaMsgpack
    } else {
        Wire::AlpacaJson
    };
    ws.on_upgrade(move |mut socket| async move {
        sh.stats.connections.fetch_add(1, Ordering::AcqRel);
        let send = async |s: &mut WebSocket, t: String| s.send(wire.frame(t)).await.is_ok();
        if !send(&mut socket, r#"[{"T":"success","msg":"connected"}]"#.into()).await {
            return;
        }
        // Authenticate, then subscribe.
        let mut wanted = Vec::new();
        let mut authed = false;
        while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_secs(10), socket.recv()).await {
            let v = match msg {
                Message::Text(t) => serde_json::from_str::<serde_json::Value>(&t).ok(),
                Message::Binary(b) => msgpack_to_json(&b),
                _ => continue,
            };
            let Some(v) = v else {
                let _ = send(
                    &mut socket,
                    r#"[{"T":"error","code":400,"msg":"invalid syntax"}]"#.into(),
                )
                .await;
                continue;
            };
            match v.get("action").and_then(|a| a.as_str()) {
                Some("auth") => {
                    let ok = sh.spec.credentials.as_ref().is_none_or(|c| {
                        v["key"].as_str() == Some(c.key_id.as_str()) && v["secret"].as_str() == Some(c.secret.as_str())
                    });
                    if ok {
                        authed = true;
                        let _ = send(&mut socket, r#"[{"T":"success","msg":"authenticated"}]"#.into()).await;
                    } else {
                        sh.stats.auth_refused.fetch_add(1, Ordering::AcqRel);
                        let _ = send(&mut socket, r#"[{"T":"error","code":402,"msg":"auth failed"}]"#.into()).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                }
                Some("subscribe") if authed => {
                    let names: Vec<String> = v["bars"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
                        .unwrap_or_default();
                    wanted = names.iter().filter_map(|s| sh.symbols.get(s).copied()).collect();
                    let reply = serde_json::json!([{"T": "subscription", "trades": [], "quotes": [],
                        "bars": names, "updatedBars": v["updatedBars"], "dailyBars": [], "statuses": [], "lulds": [],
                        "corrections": [], "cancelErrors": []}]);
                    let _ = send(&mut socket, reply.to_string()).await;
                    break;
                }
                Some(_) => {
                    let _ = send(
                        &mut socket,
                        r#"[{"T":"error","code":401,"msg":"not authenticated"}]"#.into(),
                    )
                    .await;
                }
                None => {}
            }
        }
        if !authed {
            return;
        }
        stream(socket, sh, wanted, wire).await;
    })
}

#[derive(serde::Deserialize)]
struct BarsQuery {
    symbols: String,
    timeframe: String,
    start: Option<String>,
    end: Option<String>,
    limit: Option<usize>,
    page_token: Option<String>,
    sort: Option<String>,
}

async fn alpaca_bars(
    State(sh): State<Arc<Shared>>,
    headers: HeaderMap,
    q: Result<Query<BarsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    sh.rest_delay().await;
    if let Some(r) = sh.rest_gate() {
        return r;
    }
    if !sh.keys_ok(&headers) {
        return (StatusCode::FORBIDDEN, r#"{"message":"forbidden."}"#).into_response();
    }
    let bad = |msg: &str| (StatusCode::BAD_REQUEST, format!(r#"{{"message":"{msg}"}}"#)).into_response();
    let Ok(Query(q)) = q else {
        return bad("invalid query");
    };
    if Some(q.timeframe.clone()) != sh.spec.interval.alpaca_timeframe() {
        return bad("invalid timeframe");
    }
    let parse = |s: &Option<String>| s.as_deref().map(crate::live::protocol::parse_rfc3339);
    let (start, end) = (parse(&q.start), parse(&q.end));
    if matches!(start, Some(None)) || matches!(end, Some(None)) {
        return bad("invalid start or end");
    }
    let (start, end) = (start.flatten(), end.flatten());
    let desc = q.sort.as_deref() == Some("desc");
    let limit = q.limit.unwrap_or(1000).clamp(1, 10_000);
    let offset: usize = q.page_token.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
    let published = sh.published.load(Ordering::Acquire);
    let iv = sh.spec.interval.nanos;
    let mut names: Vec<&str> = q.symbols.split(',').filter(|s| !s.is_empty()).collect();
    names.sort_unstable();
    // Bars ordered by symbol, then time (Alpaca's order), from the offset.
    let mut all: Vec<(String, usize)> = Vec::new();
    for name in names {
        let Some(&i) = sh.symbols.get(name) else { continue };
        let mut ks: Vec<usize> = (0..published)
            .filter(|&k| {
                let t = sh.ts(k) - iv;
                sh.bar(i, k).is_some() && start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)
            })
            .collect();
        if desc {
            ks.reverse();
        }
        all.extend(ks.into_iter().map(|k| (name.to_string(), k)));
    }
    let page: Vec<&(String, usize)> = all.iter().skip(offset).take(limit).collect();
    let next = (offset + page.len() < all.len()).then(|| (offset + page.len()).to_string());
    let mut by_symbol: Vec<(String, Vec<String>)> = Vec::new();
    for (name, k) in page {
        let i = sh.symbols[name];
        let Some(b) = alpaca_bar(&sh, i, *k, None) else {
            continue;
        };
        match by_symbol.last_mut() {
            Some((n, v)) if n == name => v.push(b),
            _ => by_symbol.push((name.clone(), vec![b])),
        }
    }
    let bars: Vec<String> = by_symbol
        .iter()
        .map(|(n, v)| format!(r#""{n}":[{}]"#, v.join(",")))
        .collect();
    let token = next.map_or("null".to_string(), |t| format!("\"{t}\""));
    (
        [("content-type", "application/json")],
        format!(r#"{{"bars":{{{}}},"next_page_token":{token}}}"#, bars.join(",")),
    )
        .into_response()
}

// ------------------------------------------------------------------------------- streaming

/// How a connection's frames are written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    BinanceJson,
    AlpacaJson,
    AlpacaMsgpack,
}

impl Wire {
    fn alpaca(self) -> bool {
        self != Wire::BinanceJson
    }
    /// A frame of JSON text, as this connection wants it. A text that is not JSON (the
    /// malformed-message fault) goes out as it is.
    fn frame(self, text: String) -> Message {
        if self == Wire::AlpacaMsgpack {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                let mut buf = Vec::new();
                if rmpv::encode::write_value(&mut buf, &json_to_msgpack(&v, None)).is_ok() {
                    return Message::Binary(buf.into());
                }
            }
            return Message::Binary(text.into_bytes().into());
        }
        Message::Text(text.into())
    }
}

/// JSON to MessagePack as Alpaca writes it: an RFC 3339 `t` is a timestamp (extension -1).
fn json_to_msgpack(v: &serde_json::Value, key: Option<&str>) -> rmpv::Value {
    use serde_json::Value as J;
    match v {
        J::Null => rmpv::Value::Nil,
        J::Bool(b) => rmpv::Value::Boolean(*b),
        J::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => rmpv::Value::from(i),
            (None, Some(f)) => rmpv::Value::F64(f),
            _ => rmpv::Value::Nil,
        },
        J::String(s) => match (key, crate::live::protocol::parse_rfc3339(s)) {
            (Some("t"), Some(ns)) => {
                let (secs, nanos) = (ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000) as u32);
                let mut b = nanos.to_be_bytes().to_vec();
                b.extend_from_slice(&secs.to_be_bytes());
                rmpv::Value::Ext(-1, b)
            }
            _ => rmpv::Value::from(s.as_str()),
        },
        J::Array(a) => rmpv::Value::Array(a.iter().map(|x| json_to_msgpack(x, None)).collect()),
        J::Object(m) => rmpv::Value::Map(
            m.iter()
                .map(|(k, x)| (rmpv::Value::from(k.as_str()), json_to_msgpack(x, Some(k))))
                .collect(),
        ),
    }
}

/// A client's MessagePack message (maps, arrays, strings, numbers) as JSON.
fn msgpack_to_json(bytes: &[u8]) -> Option<serde_json::Value> {
    fn conv(v: &rmpv::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match v {
            rmpv::Value::Nil => J::Null,
            rmpv::Value::Boolean(b) => J::Bool(*b),
            rmpv::Value::Integer(i) => i.as_i64().map_or(J::Null, J::from),
            rmpv::Value::F32(f) => J::from(f64::from(*f)),
            rmpv::Value::F64(f) => J::from(*f),
            rmpv::Value::String(s) => J::from(s.as_str().unwrap_or_default()),
            rmpv::Value::Array(a) => J::Array(a.iter().map(conv).collect()),
            rmpv::Value::Map(m) => J::Object(
                m.iter()
                    .filter_map(|(k, x)| Some((k.as_str()?.to_string(), conv(x))))
                    .collect(),
            ),
            _ => J::Null,
        }
    }
    let v = rmpv::decode::read_value(&mut &bytes[..]).ok()?;
    Some(conv(&v))
}

/// Streams published timestamps to one connection until it closes; pings it. Binance clients
/// may subscribe and unsubscribe on the open connection.
async fn stream(mut socket: WebSocket, sh: Arc<Shared>, mut wanted: Vec<usize>, wire: Wire) {
    let alpaca = wire.alpaca().then_some(());
    // Counted once it receives what is published: a test that waits for a count before it
    // steps the market misses no timestamp.
    let mut rx = sh.tx.subscribe();
    if alpaca.is_none() {
        sh.stats.connections.fetch_add(1, Ordering::AcqRel);
    }
    // Counted in `subscribers` once it wants a symbol (it receives what is published from then on).
    let mut counted = false;
    let mut count = |wanted: &[usize]| {
        if !counted && !wanted.is_empty() {
            counted = true;
            sh.stats.subscribers.fetch_add(1, Ordering::AcqRel);
        }
    };
    count(&wanted);
    if !wanted.is_empty() {
        sh.begin();
    }
    if sh.spec.faults.stream_delay_ms > 0 {
        #[allow(clippy::disallowed_methods)] // a venue's own pace, never a backtest's
        tokio::time::sleep(Duration::from_millis(sh.spec.faults.stream_delay_ms)).await;
    }
    let first_conn = !sh.dropped_once.load(Ordering::Acquire);
    let mut sent = 0usize;
    // The first ping goes out at once, then one every `ping_every`.
    let mut ping = tokio::time::interval(sh.spec.ping_every);
    loop {
        tokio::select! {
            k = rx.recv() => {
                let k = match k {
                    Ok(k) => k,
                    Err(broadcast::error::RecvError::Lagged(_)) | Err(broadcast::error::RecvError::Closed) => return,
                };
                let frames = frames_for(&sh, &wanted, k, alpaca.is_some());
                for f in frames {
                    sh.stats.frames.fetch_add(1, Ordering::AcqRel);
                    if socket.send(wire.frame(f)).await.is_err() {
                        return;
                    }
                }
                sent += 1;
                if first_conn && sh.spec.faults.drop_after == Some(sent) && !sh.dropped_once.swap(true, Ordering::AcqRel) {
                    sh.stats.dropped.fetch_add(1, Ordering::AcqRel);
                    // Abruptly: no close frame.
                    drop(socket);
                    return;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Vec::new().into())).await.is_err() {
                    return;
                }
            }
            msg = socket.recv() => match msg {
                Some(Ok(Message::Pong(_))) => { sh.stats.pongs.fetch_add(1, Ordering::AcqRel); }
                Some(Ok(Message::Text(t))) if alpaca.is_none() => {
                    // SUBSCRIBE / UNSUBSCRIBE {"method", "params": [streams], "id"}.
                    if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) {
                        let streams: Vec<usize> = v["params"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|x| x.as_str().and_then(|n| sh.kline_stream(n))).collect())
                            .unwrap_or_default();
                        match v["method"].as_str() {
                            Some("SUBSCRIBE") => {
                                wanted.extend(streams.iter().filter(|i| !wanted.contains(i)).copied().collect::<Vec<_>>());
                                wanted.sort_unstable();
                                count(&wanted);
                                sh.begin();
                            }
                            Some("UNSUBSCRIBE") => wanted.retain(|i| !streams.contains(i)),
                            _ => {}
                        }
                        let reply = serde_json::json!({"result": null, "id": v["id"]});
                        let _ = socket.send(Message::Text(reply.to_string().into())).await;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            }
        }
    }
}

/// The frames of timestamp `k` for one connection, faults included.
fn frames_for(sh: &Shared, wanted: &[usize], k: usize, alpaca: bool) -> Vec<String> {
    let f = &sh.spec.faults;
    let mut out = Vec::new();
    if f.malformed_at == Some(k) {
        out.push(if alpaca {
            r#"[{"T":"b","S":"#.to_string()
        } else {
            r#"{"stream":"x","data":{"e":"kli"#.to_string()
        });
    }
    if f.unknown_at == Some(k) {
        out.push(if alpaca {
            r#"[{"T":"zz","msg":"new kind"}]"#.to_string()
        } else {
            r#"{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":1}}"#.to_string()
        });
    }
    let bars: Vec<usize> = wanted.iter().copied().filter(|&i| !sh.missing(i, k)).collect();
    let emit = |out: &mut Vec<String>, k: usize, only_first: bool| {
        let ids: &[usize] = if only_first { &bars[..bars.len().min(1)] } else { &bars };
        if alpaca {
            let items: Vec<String> = ids.iter().filter_map(|&i| alpaca_bar(sh, i, k, Some("b"))).collect();
            if !items.is_empty() {
                out.push(format!("[{}]", items.join(",")));
            }
        } else {
            for &i in ids {
                if f.unclosed && !only_first {
                    out.extend(binance_kline(sh, i, k, false));
                }
                out.extend(binance_kline(sh, i, k, true));
            }
        }
    };
    emit(&mut out, k, false);
    if f.duplicate_at == Some(k) {
        emit(&mut out, k, false);
    }
    if f.out_of_order_at == Some(k) && k > 0 {
        emit(&mut out, k - 1, true);
    }
    if f.unsubscribed_at == Some(k) {
        // A symbol of the market the client did not ask for, or an invented one.
        let other = (0..sh.spec.data.instruments.len()).find(|i| !wanted.contains(i));
        out.push(match (alpaca, other) {
            (true, _) => format!(
                r#"[{{"T":"b","S":"ZZZZ","o":1,"h":1,"l":1,"c":1,"v":1,"t":"{}","n":1,"vw":1}}]"#,
                crate::live::protocol::rfc3339(sh.ts(k) - sh.spec.interval.nanos)
            ),
            (false, Some(i)) => binance_kline(sh, i, k, true).unwrap_or_default(),
            (false, None) => binance_kline(sh, 0, k, true)
                .unwrap_or_default()
                .replace(&format!("\"{}\"", sh.symbol(0)), "\"ZZZZUSDT\""),
        });
    }
    if alpaca && f.correction_at == Some(k) && k > 0 {
        if let Some(&i) = bars.first() {
            out.extend(alpaca_bar(sh, i, k - 1, Some("u")).map(|b| format!("[{b}]")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    /// The kline frame written by hand is the text the formatter wrote.
    #[test]
    fn kline_text_is_the_formatted_frame() {
        for (sym, iv, closed, [o, h, l, c, v]) in [
            (
                "BTCUSDT",
                "1m",
                true,
                [
                    dec!(46216.93),
                    dec!(46271.08),
                    dec!(46208.37),
                    dec!(46250.00),
                    dec!(40.57574),
                ],
            ),
            (
                "S007",
                "5m",
                false,
                [dec!(94.40), dec!(95), dec!(93.1), dec!(0.0001), dec!(0)],
            ),
        ] {
            let (open_ms, close_ms) = (1_641_220_200_000i64, 1_641_220_260_000i64);
            let formatted = format!(
                r#"{{"stream":"{}@kline_{iv}","data":{{"e":"kline","E":{close_ms},"s":"{sym}","k":{{"t":{open_ms},"T":{},"s":"{sym}","i":"{iv}","f":0,"L":0,"o":"{o}","c":"{c}","h":"{h}","l":"{l}","v":"{v}","n":1,"x":{closed},"q":"0","V":"0","Q":"0","B":"0"}}}}}}"#,
                sym.to_ascii_lowercase(),
                close_ms - 1,
            );
            assert_eq!(
                kline_text(sym, iv, open_ms, close_ms, [o, h, l, c, v], closed),
                formatted
            );
        }
    }
}
