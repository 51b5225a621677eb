//! Paper trading: the live end of the pipeline.
//!
//! The same feature, model, strategy, broker and portfolio actors as a backtest; only the two
//! ends change ([`crate::supervisor::Feed::Pushed`] and a journaled
//! [`crate::broker::ExecutionVenue`]). The parts, each a small synchronous core where it can be:
//!
//! | part | module | does |
//! |---|---|---|
//! | venue protocols | [`protocol`] | Binance kline streams and REST klines; Alpaca bars stream and REST bars: URLs, messages, parsing |
//! | bar assembly | [`assembler`] | one timestamp's bars released together: when every symbol delivered, or `grace_ms` after the stream reached it; duplicates, late bars and missing symbols counted |
//! | journal | [`journal`] | SQLite (bundled, WAL): every released bar, order and order event, committed before it is acted on |
//! | feed task | [`client`] | replay of the journal, warm-up and gap backfill over REST, the WebSocket stream with reconnects (exponential backoff with jitter), `Retry-After` |
//! | orders at Alpaca | [`orders`] | `execution = "alpaca"`: `POST /v2/orders` (brackets included), fills from `trade_updates`, reconciliation at start |
//! | session | [`paper`] | `kairos paper`: wiring, status lines, Ctrl-C, outputs, `summary.json`; `kairos paper export` |
//!
//! ## Time
//! A bar enters the engine stamped at its **close** (Binance: `T + 1 ms`; Alpaca: `t` + the
//! interval) and only once closed; `ts_init` is when its last bar was read from the socket (the
//! live clock, [`crate::clock::LiveClock`]). Decisions are made on released timestamps only, so a
//! decision at `t` sees nothing after `t`: no look-ahead by construction.
//!
//! ## Warm-up, crash and restart
//! The session's first timestamps are the last `warmup_bars` bars of history (REST); they run
//! through the whole pipeline as a backtest over them would, so the first live decision is the
//! one a backtest over the same bars makes. Every released timestamp is journaled, committed
//! with its step's orders before they reach a venue (see [`journal`]); after a crash, the
//! journal's bars are replayed through the same actors (which must decide exactly the
//! journaled orders, or the start stops), then the gap is backfilled over
//! REST and the stream resumes. `kairos paper export` writes the journal's bars as a data set
//! that a backtest reads, with byte-identical orders and fills.

pub mod assembler;
pub mod client;
pub mod journal;
pub mod orders;
pub mod paper;
pub mod protocol;

use crate::types::UnixNanos;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Locks a mutex shared between the feed task and the venue (the journal, the counters); a
/// holder that panicked left data that is still whole (each write is one transaction).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Which venue the live feed talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    Binance,
    Alpaca,
}

impl VenueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VenueKind::Binance => "binance",
            VenueKind::Alpaca => "alpaca",
        }
    }
    /// The venue's real stream endpoint.
    pub fn default_ws_url(self) -> &'static str {
        match self {
            VenueKind::Binance => "wss://stream.binance.com:9443",
            VenueKind::Alpaca => "wss://stream.data.alpaca.markets/v2/iex",
        }
    }
    /// The venue's real REST endpoint for history.
    pub fn default_rest_url(self) -> &'static str {
        match self {
            VenueKind::Binance => "https://api.binance.com",
            VenueKind::Alpaca => "https://data.alpaca.markets",
        }
    }
}

impl std::str::FromStr for VenueKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "binance" => Ok(VenueKind::Binance),
            "alpaca" => Ok(VenueKind::Alpaca),
            _ => Err(format!("unknown venue {s:?}: binance or alpaca")),
        }
    }
}

/// Where orders go in a paper session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Execution {
    /// The broker simulator, filling on live bars with `[broker]`'s policy and costs.
    #[default]
    Sim,
    /// Alpaca's paper trading API (`[live] trading_url`): orders through `POST /v2/orders`,
    /// fills from the `trade_updates` stream (see [`orders`]).
    Alpaca,
}

/// A bar interval (`1s`, `1m`, `5m`, `1h`, `1d`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    /// Its length in nanoseconds.
    pub nanos: i64,
    /// Its name as Binance spells it.
    pub name: &'static str,
}

const INTERVALS: [(&str, i64); 14] = [
    ("1s", 1),
    ("1m", 60),
    ("3m", 180),
    ("5m", 300),
    ("15m", 900),
    ("30m", 1800),
    ("1h", 3600),
    ("2h", 7200),
    ("4h", 14400),
    ("6h", 21600),
    ("8h", 28800),
    ("12h", 43200),
    ("1d", 86400),
    ("1w", 604800),
];

impl Interval {
    /// Parses a Binance interval name.
    ///
    /// # Errors
    /// An unknown name, with the list of known ones.
    pub fn parse(s: &str) -> Result<Self, String> {
        INTERVALS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|&(name, secs)| Interval {
                nanos: secs * 1_000_000_000,
                name,
            })
            .ok_or_else(|| {
                let known: Vec<&str> = INTERVALS.iter().map(|(n, _)| *n).collect();
                format!("unknown interval {s:?}: one of {}", known.join(", "))
            })
    }
    /// The known interval of this length, if any.
    pub fn of_length(nanos: i64) -> Option<Self> {
        INTERVALS
            .iter()
            .find(|(_, secs)| secs * 1_000_000_000 == nanos)
            .map(|&(name, secs)| Interval {
                nanos: secs * 1_000_000_000,
                name,
            })
    }
    /// Its length in milliseconds.
    pub fn millis(self) -> i64 {
        self.nanos / 1_000_000
    }
    /// Alpaca's name for it (`1Min`, `5Min`, `1Hour`, `1Day`), where Alpaca has one.
    pub fn alpaca_timeframe(self) -> Option<String> {
        let s = self.nanos / 1_000_000_000;
        match s {
            60..=3540 if s % 60 == 0 => Some(format!("{}Min", s / 60)),
            3600..=82800 if s % 3600 == 0 => Some(format!("{}Hour", s / 3600)),
            86400 => Some("1Day".into()),
            604800 => Some("1Week".into()),
            _ => None,
        }
    }
}

/// `[live]`: a paper session's feed and journal.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveConfig {
    pub venue: VenueKind,
    /// The symbols traded, as the venue spells them (`BTCUSDT`, `AAPL`).
    pub symbols: Vec<String>,
    #[serde(default = "default_interval")]
    pub interval: String,
    /// The stream's base URL (default: the venue's real endpoint).
    #[serde(default)]
    pub ws_url: Option<String>,
    /// The REST base URL for history (default: the venue's real endpoint).
    #[serde(default)]
    pub rest_url: Option<String>,
    /// Bars of history per symbol run through the pipeline before the first live bar.
    #[serde(default = "default_warmup")]
    pub warmup_bars: usize,
    /// How long after the stream reached a timestamp (its first bar there, or a later one) the
    /// others may still come.
    #[serde(default = "default_grace")]
    pub grace_ms: u64,
    /// The journal (SQLite). Default: `journal.sqlite` in `output.dir`.
    #[serde(default)]
    pub journal: Option<PathBuf>,
    #[serde(default)]
    pub execution: Execution,
    /// Alpaca's data feed (`iex` or `sip`), for the REST history.
    #[serde(default = "default_feed")]
    pub feed: String,
    /// First reconnect delay; doubles per failed attempt up to `max_backoff_ms`, with jitter.
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
    #[serde(default = "default_max_backoff")]
    pub max_backoff_ms: u64,
    /// Consecutive failed connection attempts before the session gives up.
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Timestamps in flight in the pipeline (the live session's `engine.window`): a bar read
    /// while this many are unsettled waits, so a small window keeps bar-to-order latency low
    /// when the venue streams faster than the pipeline (see the README's latency table).
    #[serde(default = "default_live_window")]
    pub window: usize,
    /// Alpaca trading API base (`execution = "alpaca"`; default: the paper endpoint). Its
    /// `trade_updates` stream is `/stream` on the same host (`wss://` for `https://`).
    #[serde(default)]
    pub trading_url: Option<String>,
    /// At the end of a session, how long to wait for market orders the venue has not filled yet.
    #[serde(default = "default_settle")]
    pub settle_ms: u64,
}

fn default_settle() -> u64 {
    2000
}

fn default_live_window() -> usize {
    2
}

fn default_interval() -> String {
    "1m".into()
}
fn default_warmup() -> usize {
    100
}
fn default_grace() -> u64 {
    2_000
}
fn default_feed() -> String {
    "iex".into()
}
fn default_backoff() -> u64 {
    250
}
fn default_max_backoff() -> u64 {
    30_000
}
fn default_attempts() -> u32 {
    20
}

impl LiveConfig {
    /// Checks every value; the message starts with the key.
    ///
    /// # Errors
    /// `live.key: reason`.
    pub fn validate(&self) -> Result<(), String> {
        if self.symbols.is_empty() {
            return Err("live.symbols: at least one symbol".into());
        }
        let mut seen = std::collections::HashSet::new();
        for s in &self.symbols {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
                return Err(format!(
                    "live.symbols: {s:?} is not a symbol (letters, digits, '.', '-', '_')"
                ));
            }
            if !seen.insert(s.to_ascii_uppercase()) {
                return Err(format!("live.symbols: {s:?} is listed twice"));
            }
        }
        let interval = Interval::parse(&self.interval).map_err(|e| format!("live.interval: {e}"))?;
        if self.venue == VenueKind::Alpaca && interval.name != "1m" {
            return Err(format!(
                "live.interval: Alpaca streams minute bars only: use \"1m\", not {:?}",
                self.interval
            ));
        }
        if self.grace_ms == 0 {
            return Err("live.grace_ms: must be at least 1".into());
        }
        if self.backoff_ms == 0 || self.max_backoff_ms < self.backoff_ms {
            return Err("live.backoff_ms: must be at least 1 and at most live.max_backoff_ms".into());
        }
        if self.max_attempts == 0 {
            return Err("live.max_attempts: must be at least 1".into());
        }
        if self.window == 0 {
            return Err("live.window: must be at least 1".into());
        }
        if self.execution == Execution::Alpaca && self.venue != VenueKind::Alpaca {
            return Err("live.execution: \"alpaca\" trades Alpaca's symbols: it needs live.venue = \"alpaca\"".into());
        }
        for (key, url, schemes) in [
            ("live.ws_url", &self.ws_url, ["ws://", "wss://"]),
            ("live.rest_url", &self.rest_url, ["http://", "https://"]),
            ("live.trading_url", &self.trading_url, ["http://", "https://"]),
        ] {
            if let Some(u) = url {
                if !schemes.iter().any(|s| u.starts_with(s)) {
                    return Err(format!("{key}: {u:?} must start with {} or {}", schemes[0], schemes[1]));
                }
            }
        }
        Ok(())
    }

    /// The interval (validated).
    pub fn interval(&self) -> Interval {
        Interval::parse(&self.interval).unwrap_or(Interval {
            nanos: 60_000_000_000,
            name: "1m",
        })
    }
    pub fn ws_url(&self) -> String {
        self.ws_url
            .clone()
            .unwrap_or_else(|| self.venue.default_ws_url().to_string())
            .trim_end_matches('/')
            .to_string()
    }
    /// The trading REST base (Alpaca).
    pub fn trading_url(&self) -> String {
        self.trading_url
            .clone()
            .unwrap_or_else(|| "https://paper-api.alpaca.markets".to_string())
            .trim_end_matches('/')
            .to_string()
    }
    /// The `trade_updates` stream: `/stream` on the trading host.
    pub fn trade_stream_url(&self) -> String {
        let base = self.trading_url();
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base
        };
        format!("{ws}/stream")
    }
    pub fn rest_url(&self) -> String {
        self.rest_url
            .clone()
            .unwrap_or_else(|| self.venue.default_rest_url().to_string())
            .trim_end_matches('/')
            .to_string()
    }
}

/// API keys, from the environment only (`APCA_API_KEY_ID`, `APCA_API_SECRET_KEY`). Never
/// printed: `Debug` shows neither.
#[derive(Clone, Default)]
pub struct Credentials {
    pub key_id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(<redacted>)")
    }
}

impl Credentials {
    /// Alpaca's keys from the environment, if both are set.
    pub fn alpaca_from_env() -> Option<Self> {
        let key_id = std::env::var("APCA_API_KEY_ID").ok()?;
        let secret = std::env::var("APCA_API_SECRET_KEY").ok()?;
        Some(Self { key_id, secret })
    }
}

/// One bar as the venue sent it, stamped at its close, prices and volume as decimal text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueBar {
    pub symbol: String,
    /// The bar's close.
    pub ts: UnixNanos,
    pub open: String,
    pub high: String,
    pub low: String,
    pub close: String,
    pub volume: String,
}

/// What the feed counted over a session (also in `summary.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LiveCounters {
    /// Timestamps released to the pipeline: warm-up, journal replay, live (backfill included).
    pub warmup_timestamps: u64,
    pub replayed_timestamps: u64,
    pub live_timestamps: u64,
    pub bars: u64,
    /// Symbol-timestamps released without that symbol's bar.
    pub missing_bars: u64,
    /// Bars received again after they were taken (same symbol and time): dropped.
    pub duplicate_bars: u64,
    /// Bars that came after their timestamp was released: dropped, logged.
    pub late_bars: u64,
    /// Bars of symbols not subscribed: dropped.
    pub unsubscribed_bars: u64,
    /// Bars that failed validation (non-positive price, high < low, ...): dropped, logged.
    pub invalid_bars: u64,
    /// Klines pushed before they closed (`x: false`): ignored.
    pub unclosed_klines: u64,
    /// Corrected bars (Alpaca `u`): journaled, never acted on.
    pub corrections: u64,
    pub malformed_messages: u64,
    pub unknown_messages: u64,
    pub reconnects: u64,
    /// Pings from the venue answered with a pong.
    pub pings_answered: u64,
    /// Bars taken from REST after a reconnect or restart.
    pub backfilled_bars: u64,
    /// REST answers 429 / 418 that were waited out.
    pub rate_limited: u64,
    /// Alpaca trading: orders the venue refused, trade updates applied, updates about orders
    /// that are not the session's (ignored), reconnects of the `trade_updates` stream.
    pub orders_rejected: u64,
    pub trade_updates: u64,
    pub foreign_updates: u64,
    pub trade_stream_reconnects: u64,
}
