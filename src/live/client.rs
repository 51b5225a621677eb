//! The live feed task: the source behind [`crate::supervisor::Feed::Pushed`] in a paper session.
//!
//! 1. **Replay**: the journal's timestamps are pushed first, as they were (a restart after a
//!    crash rebuilds the same state through the same actors).
//! 2. **Warm-up** (first start only, before the stream is connected): the last `warmup_bars`
//!    bars per symbol over REST, run through the pipeline like any timestamps.
//! 3. **Connect** the venue's stream (Alpaca: wait for `connected`, authenticate, subscribe),
//!    then **backfill** over REST everything after the last released timestamp (the bars
//!    published while this client was not connected). The stream's own bars are read only after
//!    that, and the assembler drops any bar already taken (deduplication by symbol and time).
//! 4. **Stream**: closed bars into the [`Assembler`]; each released timestamp is journaled, then
//!    pushed. Pings are answered. A dropped connection reconnects with exponential backoff and
//!    jitter, then backfills the gap (3-4). HTTP 429 and 418 wait as `Retry-After` asks.
//!
//! Every bad message (malformed JSON, an unknown type, a bar of a symbol not subscribed, an
//! invalid bar, a kline not closed) is counted and logged, and the session goes on; refused
//! authentication and a REST request the venue refuses end it with an error.

use super::assembler::{Assembler, Offer, Ready, Via};
use super::journal::{Journal, JournalError, StepKind, StepText};
use super::protocol::{self, AlpacaBarsQuery, StreamItem};
use super::{lock, Credentials, LiveConfig, LiveCounters, VenueBar, VenueKind};
use crate::clock::{Clock, LiveClock};
use crate::feeds::validate::{check_values, RawRow, RowRef};
use crate::feeds::LoadOptions;
use crate::messages::PushedBars;
use crate::types::{Bar, InstrumentId, UnixNanos};
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

/// Why a live session stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{venue} refused authentication: {message} (check APCA_API_KEY_ID / APCA_API_SECRET_KEY)")]
    Auth { venue: &'static str, message: String },
    #[error("{venue} refused a request ({status}): {body} [GET {url}]")]
    Rest {
        venue: &'static str,
        status: u16,
        body: String,
        url: String,
    },
    #[error("gave up after {attempts} failed connection attempts; the last: {last}")]
    GaveUp { attempts: u32, last: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("the journal holds {what} that this session cannot read: {message}")]
    BadJournal { what: &'static str, message: String },
    #[error("the pipeline stopped")]
    PipelineGone,
    #[error("{0}")]
    Config(String),
}

/// A failure inside one connection: retried, or fatal.
enum Fault {
    Retry(String),
    Fatal(LiveError),
}

impl From<LiveError> for Fault {
    fn from(e: LiveError) -> Self {
        Fault::Fatal(e)
    }
}

enum Ended {
    MaxBars,
    Shutdown,
}

/// Everything the feed task needs.
pub struct FeedTask {
    pub cfg: LiveConfig,
    /// The instruments' symbols, in instrument order.
    pub symbols: Vec<String>,
    pub load: LoadOptions,
    pub journal: Arc<Mutex<Journal>>,
    pub tx: mpsc::Sender<PushedBars>,
    pub counters: Arc<Mutex<LiveCounters>>,
    pub credentials: Option<Credentials>,
    /// `true` ends the session cleanly.
    pub shutdown: watch::Receiver<bool>,
    /// End after this many live timestamps.
    pub max_live: Option<u64>,
}

struct State {
    task: FeedTask,
    index: HashMap<String, u32>,
    assembler: Assembler,
    http: reqwest::Client,
    step: u64,
    live: u64,
    /// The newest timestamp of the warm-up history: released timestamps up to it are warm-up.
    warmup_end: Option<UnixNanos>,
    rng: crate::data::synth::Rng,
    interval: super::Interval,
    warned_symbols: std::collections::HashSet<String>,
}

#[allow(clippy::disallowed_methods)] // the live clock's own waits: backoff and Retry-After
async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => false,
        () = stopped(shutdown) => true,
    }
}

/// Resolves once `shutdown` is true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl FeedTask {
    /// Runs until the session ends (max bars, shutdown) or fails; the pushed channel closes
    /// when it returns, which ends the pipeline.
    ///
    /// # Errors
    /// [`LiveError`].
    pub async fn run(self) -> Result<(), LiveError> {
        let n = self.symbols.len();
        let index = self
            .symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as u32))
            .collect();
        let grace = i64::try_from(self.cfg.grace_ms).unwrap_or(i64::MAX / 2_000_000) * 1_000_000;
        let interval = self.cfg.interval();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| LiveError::Config(format!("cannot build the HTTP client: {e}")))?;
        let mut st = State {
            index,
            assembler: Assembler::new(n, grace),
            http,
            step: 0,
            live: 0,
            warmup_end: None,
            rng: crate::data::synth::Rng::new(LiveClock.now() as u64),
            interval,
            warned_symbols: Default::default(),
            task: self,
        };
        if st.replay_journal().await? {
            return Ok(());
        }
        st.stream_loop().await
    }
}

impl State {
    fn counters(&self) -> std::sync::MutexGuard<'_, LiveCounters> {
        lock(&self.task.counters)
    }

    /// A venue bar, validated as the loader validates a row, as an engine bar.
    fn to_bar(&self, vb: &VenueBar, received: UnixNanos) -> Result<Bar, String> {
        let Some(&id) = self.index.get(&vb.symbol) else {
            return Err(format!("symbol {} is not subscribed", vb.symbol));
        };
        let raw = RawRow {
            time: None,
            open: Some(&vb.open),
            high: Some(&vb.high),
            low: Some(&vb.low),
            close: Some(&vb.close),
            volume: Some(&vb.volume),
        };
        // The loader's own checks of a row's prices and volume.
        let row = check_values(vb.ts, &raw, RowRef::line(0)).map_err(|f| {
            format!(
                "{} at {}: field {}: {}",
                vb.symbol,
                protocol::rfc3339(vb.ts),
                f.field,
                f.detail
            )
        })?;
        Ok(Bar {
            instrument_id: InstrumentId(id),
            open: row.open,
            high: row.high,
            low: row.low,
            close: row.close,
            volume: row.volume,
            ts_event: vb.ts,
            ts_init: received,
            seq: 0,
        })
    }

    /// Pushes the journal's timestamps. Returns true when the session already had all its
    /// live timestamps.
    async fn replay_journal(&mut self) -> Result<bool, LiveError> {
        let steps = lock(&self.task.journal).steps()?;
        if steps.is_empty() {
            return Ok(false);
        }
        tracing::info!(timestamps = steps.len(), "replaying the journal");
        for s in steps {
            if s.step != self.step {
                return Err(LiveError::BadJournal {
                    what: "timestamps",
                    message: format!("step {} follows step {}", s.step, self.step.wrapping_sub(1)),
                });
            }
            let bars = s
                .bars
                .iter()
                .map(|vb| self.to_bar(vb, s.received))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| LiveError::BadJournal { what: "a bar", message })?;
            self.assembler.restore(s.ts, &bars);
            if s.kind == StepKind::Warmup {
                self.warmup_end = Some(s.ts);
            } else {
                self.live += 1;
            }
            self.counters().replayed_timestamps += 1;
            let last = s.kind == StepKind::Live && self.task.max_live == Some(self.live);
            self.push(s.ts, s.received, bars, last).await?;
            if last {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn push(
        &mut self,
        ts: UnixNanos,
        received: UnixNanos,
        mut bars: Vec<Bar>,
        last: bool,
    ) -> Result<(), LiveError> {
        for b in &mut bars {
            b.ts_init = received;
        }
        self.step += 1;
        let before = LiveClock.now();
        self.task
            .tx
            .send(PushedBars {
                ts_event: ts,
                ts_init: received,
                bars,
                last,
            })
            .await
            .map_err(|_| LiveError::PipelineGone)?;
        // Waiting for room in the pipeline is time the venue's bars were not read.
        self.assembler.pause(LiveClock.now() - before);
        Ok(())
    }

    /// Journals, then pushes, every timestamp the assembler releases at `now`.
    async fn release(&mut self, now: UnixNanos) -> Result<Option<Ended>, LiveError> {
        for Ready {
            ts,
            bars,
            received,
            missing,
        } in self.assembler.release(now)
        {
            let kind = if self.warmup_end.is_some_and(|w| ts <= w) {
                StepKind::Warmup
            } else {
                StepKind::Live
            };
            let mut text = StepText::with_capacity(bars.len());
            for b in &bars {
                text.push_bar(&self.task.symbols[b.instrument_id.index()], b);
            }
            lock(&self.task.journal).append_step(self.step, ts, received, kind, text)?;
            {
                let mut c = self.counters();
                c.bars += bars.len() as u64;
                c.missing_bars += missing as u64;
                match kind {
                    StepKind::Warmup => c.warmup_timestamps += 1,
                    StepKind::Live => c.live_timestamps += 1,
                }
            }
            if missing > 0 {
                tracing::info!(time = %protocol::rfc3339(ts), missing, "timestamp released without every symbol");
            }
            if kind == StepKind::Live {
                self.live += 1;
            }
            let last = kind == StepKind::Live && self.task.max_live == Some(self.live);
            self.push(ts, received, bars, last).await?;
            if last {
                return Ok(Some(Ended::MaxBars));
            }
        }
        Ok(None)
    }

    /// Offers one bar; counts and logs what is not taken. True when taken.
    fn offer(&mut self, vb: &VenueBar, now: UnixNanos, via: Via) -> bool {
        if !self.index.contains_key(&vb.symbol) {
            self.counters().unsubscribed_bars += 1;
            if self.warned_symbols.insert(vb.symbol.clone()) {
                tracing::warn!(symbol = %vb.symbol, "bar of a symbol not subscribed: dropped (counted)");
            }
            return false;
        }
        let bar = match self.to_bar(vb, now) {
            Ok(b) => b,
            Err(e) => {
                self.counters().invalid_bars += 1;
                tracing::warn!("invalid bar dropped (counted): {e}");
                return false;
            }
        };
        match self.assembler.offer(bar, now, via) {
            Offer::Taken => return true,
            Offer::Duplicate => {
                self.counters().duplicate_bars += 1;
                tracing::debug!(symbol = %vb.symbol, time = %protocol::rfc3339(vb.ts), "duplicate bar dropped");
            }
            Offer::Late => {
                self.counters().late_bars += 1;
                tracing::warn!(
                    symbol = %vb.symbol,
                    time = %protocol::rfc3339(vb.ts),
                    "bar came after its timestamp was released: dropped (the decision was made without it)"
                );
            }
        }
        false
    }

    async fn stream_loop(&mut self) -> Result<(), LiveError> {
        let mut failures = 0u32;
        let mut warm = self.step > 0;
        loop {
            if *self.task.shutdown.borrow() {
                return Ok(());
            }
            let before = self.step;
            let attempt = async {
                if !warm {
                    if let Some(e) = self.backfill(true).await? {
                        return Ok(e);
                    }
                    warm = true;
                }
                self.connection().await
            };
            let fault = match attempt.await {
                Ok(_) => return Ok(()),
                Err(Fault::Fatal(e)) => return Err(e),
                Err(Fault::Retry(why)) => why,
            };
            if self.step > before {
                failures = 0;
            }
            failures += 1;
            if failures > self.task.cfg.max_attempts {
                return Err(LiveError::GaveUp {
                    attempts: failures - 1,
                    last: fault,
                });
            }
            self.counters().reconnects += 1;
            let base = self.task.cfg.backoff_ms.saturating_mul(1 << (failures - 1).min(20));
            let delay = base.min(self.task.cfg.max_backoff_ms);
            // Equal jitter: half fixed, half random, so reconnecting clients spread out.
            let wait = delay / 2 + (self.rng.uniform() * (delay / 2) as f64) as u64;
            tracing::warn!(attempt = failures, wait_ms = wait, "stream lost: {fault}; reconnecting");
            if sleep_or_shutdown(Duration::from_millis(wait), &mut self.task.shutdown).await {
                return Ok(());
            }
        }
    }

    /// One connection: connect, backfill, stream until it ends.
    async fn connection(&mut self) -> Result<Ended, Fault> {
        let cfg = &self.task.cfg;
        let url = match cfg.venue {
            VenueKind::Binance => protocol::binance_stream_url(&cfg.ws_url(), &self.task.symbols, self.interval),
            VenueKind::Alpaca => cfg.ws_url(),
        };
        let (ws, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url.as_str()))
            .await
            .map_err(|_| Fault::Retry(format!("connecting to {url} timed out")))?
            .map_err(|e| Fault::Retry(format!("cannot connect to {url}: {e}")))?;
        let (mut write, mut read) = ws.split();
        if cfg.venue == VenueKind::Alpaca {
            self.alpaca_handshake(&mut write, &mut read).await?;
        }
        tracing::info!(%url, "stream connected");
        if let Some(e) = self.backfill(false).await? {
            return Ok(e);
        }
        let mut shutdown = self.task.shutdown.clone();
        loop {
            let deadline = self.assembler.deadline();
            let wake = async {
                match deadline {
                    Some(d) => {
                        let wait = u64::try_from(d.saturating_sub(LiveClock.now())).unwrap_or(0);
                        #[allow(clippy::disallowed_methods)]
                        tokio::time::sleep(Duration::from_nanos(wait)).await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                msg = read.next() => {
                    let text = match msg {
                        None => return Err(Fault::Retry("the venue closed the stream".into())),
                        Some(Err(e)) => return Err(Fault::Retry(format!("stream error: {e}"))),
                        Some(Ok(Message::Text(t))) => t.to_string(),
                        Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                        Some(Ok(Message::Ping(p))) => {
                            write.send(Message::Pong(p)).await.map_err(|e| Fault::Retry(format!("cannot answer a ping: {e}")))?;
                            self.counters().pings_answered += 1;
                            continue;
                        }
                        Some(Ok(Message::Close(f))) => {
                            return Err(Fault::Retry(format!("the venue closed the stream: {}", f.map(|f| f.reason.to_string()).unwrap_or_default())))
                        }
                        Some(Ok(_)) => continue,
                    };
                    self.frame(&text)?;
                }
                () = wake => {}
                () = stopped(&mut shutdown) => {
                    let _ = write.send(Message::Close(None)).await;
                    return Ok(Ended::Shutdown);
                }
            }
            if let Some(e) = self.release(LiveClock.now()).await? {
                let _ = write.send(Message::Close(None)).await;
                return Ok(e);
            }
        }
    }

    /// One stream frame.
    fn frame(&mut self, text: &str) -> Result<(), Fault> {
        let now = LiveClock.now();
        let items = match self.task.cfg.venue {
            VenueKind::Binance => protocol::parse_binance_frame(text),
            VenueKind::Alpaca => protocol::parse_alpaca_frame(text, self.interval),
        };
        let items = match items {
            Ok(i) => i,
            Err(e) => {
                self.counters().malformed_messages += 1;
                let shown: String = text.chars().take(120).collect();
                tracing::warn!("malformed message from the venue, ignored (counted): {e}: {shown:?}");
                return Ok(());
            }
        };
        for item in items {
            match item {
                StreamItem::Bar(vb) => {
                    self.offer(&vb, now, Via::Stream);
                }
                StreamItem::Correction(vb) => {
                    self.counters().corrections += 1;
                    lock(&self.task.journal)
                        .append_correction(&vb, now)
                        .map_err(LiveError::from)?;
                    tracing::info!(symbol = %vb.symbol, time = %protocol::rfc3339(vb.ts), "corrected bar journaled, not acted on");
                }
                StreamItem::Unclosed => self.counters().unclosed_klines += 1,
                StreamItem::Control(m) => tracing::debug!("venue: {m}"),
                StreamItem::Error { code, msg } => {
                    if self.task.cfg.venue == VenueKind::Alpaca && matches!(code, 401..=405) {
                        return Err(Fault::Fatal(LiveError::Auth {
                            venue: "alpaca",
                            message: format!("{code} {msg}"),
                        }));
                    }
                    return Err(Fault::Retry(format!("the venue reported error {code}: {msg}")));
                }
                StreamItem::Unknown(kind) => {
                    self.counters().unknown_messages += 1;
                    tracing::warn!("message of unknown type {kind:?} from the venue, ignored (counted)");
                }
            }
        }
        Ok(())
    }

    async fn alpaca_handshake<W, R>(&mut self, write: &mut W, read: &mut R) -> Result<(), Fault>
    where
        W: futures_util::Sink<Message> + Unpin,
        W::Error: std::fmt::Display,
        R: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
    {
        let interval = self.interval;
        let mut next = async |want: &str| -> Result<(), Fault> {
            let msg = tokio::time::timeout(Duration::from_secs(10), read.next())
                .await
                .map_err(|_| Fault::Retry(format!("no {want:?} from the venue within 10 s")))?;
            let text = match msg {
                Some(Ok(Message::Text(t))) => t.to_string(),
                Some(Ok(Message::Binary(b))) => String::from_utf8_lossy(&b).into_owned(),
                Some(Ok(other)) => return Err(Fault::Retry(format!("expected {want:?}, got {other:?}"))),
                Some(Err(e)) => return Err(Fault::Retry(format!("stream error: {e}"))),
                None => return Err(Fault::Retry(format!("the venue closed the stream before {want:?}"))),
            };
            let items = protocol::parse_alpaca_frame(&text, interval)
                .map_err(|e| Fault::Retry(format!("malformed handshake message: {e}")))?;
            for item in items {
                match item {
                    StreamItem::Error { code, msg } if matches!(code, 401..=405) => {
                        return Err(Fault::Fatal(LiveError::Auth {
                            venue: "alpaca",
                            message: format!("{code} {msg}"),
                        }))
                    }
                    StreamItem::Error { code, msg } => {
                        return Err(Fault::Retry(format!("the venue reported error {code}: {msg}")))
                    }
                    StreamItem::Control(m) if want == "subscription" || m == want => return Ok(()),
                    _ => {}
                }
            }
            Err(Fault::Retry(format!("expected {want:?}, got {text}")))
        };
        next("connected").await?;
        let creds = self.task.credentials.clone().ok_or_else(|| {
            Fault::Fatal(LiveError::Auth {
                venue: "alpaca",
                message: "no keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY".into(),
            })
        })?;
        let send = |m: String| Message::Text(m.into());
        write
            .send(send(protocol::alpaca_auth(&creds.key_id, &creds.secret)))
            .await
            .map_err(|e| Fault::Retry(format!("cannot send auth: {e}")))?;
        next("authenticated").await?;
        write
            .send(send(protocol::alpaca_subscribe(&self.task.symbols)))
            .await
            .map_err(|e| Fault::Retry(format!("cannot subscribe: {e}")))?;
        next("subscription").await
    }

    /// A REST GET, waiting out 429 and 418 as `Retry-After` asks; other refusals are fatal.
    async fn get(&mut self, url: &str) -> Result<String, Fault> {
        let venue = self.task.cfg.venue.as_str();
        for _ in 0..10 {
            let mut req = self.http.get(url);
            if let (VenueKind::Alpaca, Some(c)) = (self.task.cfg.venue, &self.task.credentials) {
                req = req
                    .header("APCA-API-KEY-ID", &c.key_id)
                    .header("APCA-API-SECRET-KEY", &c.secret);
            }
            let resp = req.send().await.map_err(|e| Fault::Retry(format!("GET {url}: {e}")))?;
            let status = resp.status().as_u16();
            if status == 429 || status == 418 {
                let wait = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(if status == 418 { 60 } else { 1 })
                    .min(600);
                self.counters().rate_limited += 1;
                tracing::warn!(status, wait_s = wait, "{venue} rate limit: waiting as Retry-After asks");
                if sleep_or_shutdown(Duration::from_secs(wait), &mut self.task.shutdown).await {
                    return Err(Fault::Retry("shutdown".into()));
                }
                continue;
            }
            let body = resp.text().await.map_err(|e| Fault::Retry(format!("GET {url}: {e}")))?;
            return match status {
                200 => Ok(body),
                401 | 403 => Err(Fault::Fatal(LiveError::Auth {
                    venue: if venue == "alpaca" { "alpaca" } else { "binance" },
                    message: format!("{status} {body}"),
                })),
                400..=499 => Err(Fault::Fatal(LiveError::Rest {
                    venue: if venue == "alpaca" { "alpaca" } else { "binance" },
                    status,
                    body: body.chars().take(300).collect(),
                    url: url.to_string(),
                })),
                _ => Err(Fault::Retry(format!("GET {url}: HTTP {status}"))),
            };
        }
        Err(Fault::Retry(format!("GET {url}: still rate limited after 10 waits")))
    }

    /// Warm-up (`first`: the last `warmup_bars` bars per symbol, before the stream is
    /// connected) or gap backfill (everything after the last released timestamp, once the
    /// stream is connected) over REST.
    async fn backfill(&mut self, first: bool) -> Result<Option<Ended>, Fault> {
        if !first && self.assembler.last_released().is_none() {
            return Ok(None);
        }
        let bars = match self.task.cfg.venue {
            VenueKind::Binance => self.binance_history(first).await?,
            VenueKind::Alpaca => self.alpaca_history(first).await?,
        };
        let now = LiveClock.now();
        if first {
            self.warmup_end = bars.iter().map(|b| b.ts).max();
            tracing::info!(bars = bars.len(), "warm-up history received");
        }
        let mut taken = 0u64;
        for vb in &bars {
            // Bars that have not closed yet by the live clock will come on the stream.
            if vb.ts > now {
                continue;
            }
            if self.offer(vb, now, Via::History) {
                taken += 1;
            }
        }
        if !first {
            self.counters().backfilled_bars += taken;
            if taken > 0 {
                tracing::info!(bars = taken, "gap backfilled over REST");
            }
        }
        Ok(self.release(now).await?)
    }

    async fn binance_history(&mut self, first: bool) -> Result<Vec<VenueBar>, Fault> {
        let base = self.task.cfg.rest_url();
        let symbols = self.task.symbols.clone();
        let warmup = self.task.cfg.warmup_bars;
        let mut out = Vec::new();
        for s in &symbols {
            if first {
                if warmup == 0 {
                    continue;
                }
                // The latest kline is usually still open: ask one more, keep the closed ones.
                let url = protocol::binance_klines_url(&base, s, self.interval, None, (warmup + 1).min(1000));
                let text = self.get(&url).await?;
                let mut k = protocol::parse_binance_klines(s, &text).map_err(|e| self.bad_reply(&url, e))?;
                let now = LiveClock.now();
                k.retain(|(_, b)| b.ts <= now);
                let skip = k.len().saturating_sub(warmup);
                out.extend(k.into_iter().skip(skip).map(|(_, b)| b));
                continue;
            }
            let Some(last) = self.assembler.last_released() else {
                continue;
            };
            // Klines opening at or after the last released close.
            let mut start = last / 1_000_000;
            loop {
                let url = protocol::binance_klines_url(&base, s, self.interval, Some(start), 1000);
                let text = self.get(&url).await?;
                let k = protocol::parse_binance_klines(s, &text).map_err(|e| self.bad_reply(&url, e))?;
                let full = k.len() == 1000;
                let next = k.last().map(|(open, _)| open + 1);
                out.extend(k.into_iter().map(|(_, b)| b));
                match next {
                    Some(n) if full => start = n,
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    async fn alpaca_history(&mut self, first: bool) -> Result<Vec<VenueBar>, Fault> {
        let base = self.task.cfg.rest_url();
        let symbols = self.task.symbols.clone();
        let feed = self.task.cfg.feed.clone();
        let timeframe = self.interval.alpaca_timeframe().unwrap_or_else(|| "1Min".into());
        let mut out = Vec::new();
        if first {
            let warmup = self.task.cfg.warmup_bars;
            if warmup == 0 {
                return Ok(out);
            }
            // The latest `warmup` bars of each symbol, newest first.
            for s in &symbols {
                let q = AlpacaBarsQuery {
                    symbols: std::slice::from_ref(s),
                    timeframe: &timeframe,
                    start: Some(946_684_800_000_000_000),
                    limit: warmup,
                    feed: &feed,
                    page_token: None,
                    desc: true,
                };
                let url = protocol::alpaca_bars_url(&base, &q);
                let text = self.get(&url).await?;
                let (mut bars, _) =
                    protocol::parse_alpaca_bars(&text, self.interval).map_err(|e| self.bad_reply(&url, e))?;
                bars.truncate(warmup);
                bars.reverse();
                out.extend(bars);
            }
            return Ok(out);
        }
        let Some(last) = self.assembler.last_released() else {
            return Ok(out);
        };
        let mut token: Option<String> = None;
        loop {
            let q = AlpacaBarsQuery {
                symbols: &symbols,
                timeframe: &timeframe,
                start: Some(last),
                limit: 10_000,
                feed: &feed,
                page_token: token.as_deref(),
                desc: false,
            };
            let url = protocol::alpaca_bars_url(&base, &q);
            let text = self.get(&url).await?;
            let (bars, next) =
                protocol::parse_alpaca_bars(&text, self.interval).map_err(|e| self.bad_reply(&url, e))?;
            out.extend(bars);
            match next {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => break,
            }
        }
        out.sort_by_key(|b| b.ts);
        Ok(out)
    }

    fn bad_reply(&self, url: &str, e: String) -> Fault {
        self.counters().malformed_messages += 1;
        Fault::Retry(format!("malformed reply to GET {url}: {e}"))
    }
}
