//! `kairos paper`: a paper session. The pipeline of a backtest with its two ends swapped: the
//! feed is [`FeedTask`] (journal replay, warm-up, the live stream) pushing through
//! [`Feed::Pushed`], and orders go to a [`JournaledVenue`] around the broker simulator, which
//! fills on live bars with `[broker]`'s policy and costs.
//!
//! Outputs as a backtest's (`fills.csv`, `equity.csv`, `events.jsonl`, `summary.json`, the
//! latter with a `live` section of counters), plus a status line per timestamp on stdout.
//! Ctrl-C (SIGINT) or SIGTERM end the session cleanly: the feed stops, the pipeline drains,
//! outputs are flushed and the journal closed. A restart with the same journal replays it and
//! goes on (see [`super::client`]).

use super::client::{FeedTask, LiveError};
use super::journal::{Journal, JournalError};
use super::orders::AlpacaVenue;
use super::{lock, Credentials, Execution, LiveCounters, VenueKind};
use crate::broker::{BrokerSim, ExecutionVenue, VenueError};
use crate::clock::{Clock, LiveClock};
use crate::config::{Config, ConfigError};
use crate::data::{MarketData, Series};
use crate::output::TimeFormat;
use crate::portfolio::{RunOutput, StatusHook};
use crate::run::RunError;
use crate::strategy::Strategies;
use crate::supervisor::{Feed, RunSetup, Venue};
use crate::types::{
    Bar, ClientOrderId, Instrument, OrderCanceled, OrderEvent, OrderRequest, OrderSubmitted, UnixNanos,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Errors of a paper session.
#[derive(Debug, thiserror::Error)]
pub enum PaperError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Setup(#[from] RunError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Live(#[from] LiveError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Options of `kairos paper` beside the configuration.
#[derive(Clone, Debug, Default)]
pub struct PaperOptions {
    /// End cleanly after this many live timestamps.
    pub max_bars: Option<u64>,
    /// Print a status line per timestamp on stdout.
    pub status: bool,
    /// Record bar-to-order latencies (the benchmark).
    pub record_latency: bool,
    /// `execution = "alpaca"`: take the venue's open orders and positions where they differ
    /// from the journal's (else the start stops with a report of the differences).
    pub adopt_venue_state: bool,
}

/// What a session hands back.
#[derive(Debug)]
pub struct PaperOutput {
    pub run: RunOutput,
    pub counters: LiveCounters,
    pub session: String,
    pub journal: PathBuf,
    /// Per decision after the warm-up: nanoseconds from its timestamp's last bar read from the
    /// socket to its orders handed to the broker (with `record_latency`).
    pub latencies: Vec<i64>,
    /// Per decision after the warm-up: nanoseconds from its timestamp's last bar read from the
    /// socket to its bars and orders committed in the journal: when a remote venue is sent the
    /// orders, and the simulator's fills are released to the portfolio.
    pub committed_latencies: Vec<i64>,
}

/// Bar-to-order latencies as they are measured: (the decision's time, to the broker, to the
/// commit; nanoseconds).
pub type Latencies = Arc<Mutex<Vec<(UnixNanos, i64, i64)>>>;

/// The venue behind the journal: each order is journaled (its deterministic client order id
/// `SESSION-N`) before a remote venue sees it, each event after, with the timestamp and phase it
/// reached the pipeline in; the simulator's orders and events of a step in one transaction,
/// before any of them leaves the broker. When a journal is replayed:
/// - the broker simulator replays too: the orders and events it produces must be the journaled
///   ones (checked, not journaled twice; a difference stops the session);
/// - a remote venue (Alpaca) is not asked again: the journaled events are handed back where they
///   happened, and orders decided in the replay that the journal does not have go to the venue.
pub struct JournaledVenue {
    inner: Box<dyn ExecutionVenue>,
    journal: Arc<Mutex<Journal>>,
    session: String,
    /// Events journaled before this start, checked one by one as a simulator's replay
    /// produces them.
    journaled: Vec<String>,
    checked: usize,
    /// A remote venue's journaled events by (timestamp, phase), and the last journaled
    /// timestamp (calls up to it are the replay).
    replay: HashMap<(UnixNanos, String), Vec<OrderEvent>>,
    replay_until: Option<UnixNanos>,
    /// The highest sequence number journaled before this start: an order above it cannot be
    /// in the journal (no lookup).
    journaled_seq: Option<u64>,
    /// A simulator's events not yet journaled: committed with the step's orders (below).
    pending: Vec<(String, UnixNanos, &'static str, String)>,
    latencies: Option<Latencies>,
}

impl JournaledVenue {
    /// # Errors
    /// The journal cannot be read.
    pub fn new(
        inner: Box<dyn ExecutionVenue>,
        journal: Arc<Mutex<Journal>>,
        session: String,
        latencies: Option<Latencies>,
    ) -> Result<Self, JournalError> {
        let (events, last, journaled_seq) = {
            let mut j = lock(&journal);
            (j.events()?, j.last_ts()?, j.last_order_seq()?)
        };
        let mut replay: HashMap<(UnixNanos, String), Vec<OrderEvent>> = HashMap::new();
        if inner.remote() {
            for e in &events {
                let ev: OrderEvent = serde_json::from_str(&e.event).map_err(|err| JournalError::Mismatch {
                    path: lock(&journal).path().to_path_buf(),
                    message: format!("an order event cannot be read ({err}): {}", e.event),
                })?;
                replay.entry((e.ts, e.phase.clone())).or_default().push(ev);
            }
        }
        Ok(Self {
            replay_until: if inner.remote() { last } else { None },
            inner,
            journal,
            session,
            journaled: events.into_iter().map(|e| e.event).collect(),
            checked: 0,
            replay,
            journaled_seq,
            pending: Vec::new(),
            latencies,
        })
    }

    /// The venue-facing id of an order: session id and sequence number. A bracket's legs add
    /// `-sl` / `-tp`; orders adopted from the venue are `-A{k}`.
    pub fn client_order_id(session: &str, id: ClientOrderId) -> String {
        if let Some(k) = id.adopted_number() {
            return format!("{session}-A{k}");
        }
        let (n, leg) = id.parts();
        format!("{session}-{n}{leg}")
    }

    fn replaying(&self, ts: UnixNanos) -> bool {
        self.replay_until.is_some_and(|u| ts <= u)
    }

    fn replayed(&mut self, ts: UnixNanos, phase: &str, out: &mut Vec<OrderEvent>) {
        if let Some(evs) = self.replay.remove(&(ts, phase.to_string())) {
            out.extend(evs);
        }
    }

    /// Checks a simulator's replayed events against the journal and returns the new ones to
    /// journal: (client order id, timestamp, phase, event).
    fn new_events(
        &mut self,
        events: &[OrderEvent],
        ts: UnixNanos,
        phase: &'static str,
    ) -> Result<Vec<(String, UnixNanos, &'static str, String)>, VenueError> {
        let mut new = Vec::new();
        for ev in events {
            let text = serde_json::to_string(ev).map_err(|e| VenueError(e.to_string()))?;
            if !self.inner.remote() && self.checked < self.journaled.len() {
                if self.journaled[self.checked] != text {
                    return Err(VenueError(format!(
                        "the replay produced order event {text} where the journal has {}: the session is not \
                         reproducible (was the engine or its data changed?)",
                        self.journaled[self.checked]
                    )));
                }
                self.checked += 1;
            } else {
                new.push((Self::client_order_id(&self.session, ev.order_id()), ts, phase, text));
            }
        }
        Ok(new)
    }

    /// Journals a venue's events: a remote venue's committed now, before they reach the
    /// pipeline; a simulator's with the next commit of orders (or at the end).
    fn record(&mut self, events: &[OrderEvent], ts: UnixNanos, phase: &'static str) -> Result<(), VenueError> {
        let new = self.new_events(events, ts, phase)?;
        if self.inner.remote() {
            lock(&self.journal)
                .append_events(&new)
                .map_err(|e| VenueError(e.to_string()))
        } else {
            self.pending.extend(new);
            Ok(())
        }
    }

    /// Commits `orders` with a simulator's events not yet journaled (and the held bars).
    fn commit_pending(&mut self, orders: &[(String, u64, UnixNanos, String)]) -> Result<(), VenueError> {
        let pending = std::mem::take(&mut self.pending);
        lock(&self.journal)
            .append(orders, &pending)
            .map_err(|e| VenueError(e.to_string()))
    }
}

impl ExecutionVenue for JournaledVenue {
    fn submit(
        &mut self,
        orders: Vec<(ClientOrderId, OrderRequest)>,
        ts: UnixNanos,
        bars: &[Bar],
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), VenueError> {
        let read = bars.iter().map(|b| b.ts_init).max();
        let to_broker = read.map(|r| LiveClock.now() - r);
        let stamp = |lat: &Option<Latencies>| {
            if let (Some(lat), Some(read), Some(to_broker)) = (lat, read, to_broker) {
                lock(lat).push((ts, to_broker, LiveClock.now() - read));
            }
        };
        let mut new = Vec::new();
        let mut fresh = Vec::new();
        let mut journal = lock(&self.journal);
        for (id, req) in orders {
            let cid = Self::client_order_id(&self.session, id);
            let text = serde_json::to_string(&req).map_err(|e| VenueError(e.to_string()))?;
            let journaled = if self.journaled_seq.is_some_and(|s| id.0 <= s) {
                journal.order(id.0, &cid).map_err(|e| VenueError(e.to_string()))?
            } else {
                None
            };
            match journaled {
                Some(j) if j == text => {
                    if !self.inner.remote() {
                        fresh.push((id, req));
                    }
                }
                Some(j) => {
                    return Err(VenueError(format!(
                        "order {cid}: the replay decided {text}, the journal has {j}: the session is not reproducible"
                    )))
                }
                None => {
                    new.push((cid, id.0, ts, text));
                    fresh.push((id, req));
                }
            }
        }
        if !self.inner.remote() {
            // The simulator is part of this process: what it does with the orders before they
            // are committed is lost with it in a crash, and replayed from the journal. The
            // orders, the events it answers with and the events of this step's bars are
            // committed in one transaction, before any of them reaches the pipeline.
            drop(journal);
            let start = out.len();
            self.inner.submit(fresh, ts, bars, out)?;
            let events = self.new_events(&out[start..], ts, "submit")?;
            self.pending.extend(events);
            self.commit_pending(&new)?;
            stamp(&self.latencies);
            return Ok(());
        }
        // Committed before the venue sees it.
        journal.append_orders(&new).map_err(|e| VenueError(e.to_string()))?;
        drop(journal);
        stamp(&self.latencies);
        if self.replaying(ts) {
            self.replayed(ts, "submit", out);
            self.replayed(ts, "finish", out);
            if fresh.is_empty() {
                return Ok(());
            }
        }
        let start = out.len();
        let warmup = lock(&self.journal).is_warmup(ts);
        if warmup {
            // Decided on history: a broker cannot fill it at those prices. The strategy's state is
            // built as in a backtest, its orders are not sent.
            for (id, request) in fresh {
                let quantity = request.quantity;
                out.push(OrderEvent::Submitted(OrderSubmitted {
                    order_id: id,
                    ts_event: ts,
                    request,
                }));
                out.push(OrderEvent::Canceled(OrderCanceled {
                    order_id: id,
                    ts_event: ts,
                    reason: "warm-up: decided on history, not sent to the venue".into(),
                    unfilled: quantity,
                }));
            }
        } else {
            self.inner.submit(fresh, ts, bars, out)?;
        }
        self.record(&out[start..], ts, "submit")
    }
    fn on_bars(&mut self, bars: &[Bar], out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        let ts = bars.first().map_or(0, |b| b.ts_event);
        if self.inner.remote() && self.replaying(ts) {
            self.replayed(ts, "bars", out);
            return Ok(());
        }
        let start = out.len();
        self.inner.on_bars(bars, out)?;
        self.record(&out[start..], ts, "bars")
    }
    fn finish(&mut self, ts: UnixNanos, out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        if self.inner.remote() {
            // A venue's events at the end are real (fills that came in): journaled.
            let start = out.len();
            self.inner.finish(ts, out)?;
            return self.record(&out[start..], ts, "finish");
        }
        // The end of a simulated session is not an event of the market: orders still working
        // are canceled in the outputs, not in the journal, so a restart finds them working.
        self.commit_pending(&[])?;
        self.inner.finish(ts, out)
    }
    fn fill_policy(&self) -> &str {
        self.inner.fill_policy()
    }
    fn remote(&self) -> bool {
        self.inner.remote()
    }
    fn borrow_rate(&self) -> crate::types::Decimal {
        self.inner.borrow_rate()
    }
}

/// The session's instruments: the configured symbols and the benchmark (if any), sorted.
///
/// # Errors
/// No `[live]` table, or bad `[data]` options.
pub fn instruments(cfg: &Config) -> Result<Vec<Instrument>, ConfigError> {
    let live = cfg.live.as_ref().ok_or("live: a paper session needs a [live] table")?;
    let opts = cfg.load_options()?;
    let mut symbols = live.symbols.clone();
    if let Some(b) = &opts.benchmark {
        if !symbols.contains(b) {
            symbols.push(b.clone());
        }
    }
    symbols.sort();
    Ok(symbols
        .into_iter()
        .enumerate()
        .map(|(i, symbol)| crate::feeds::instrument(i, symbol, &opts))
        .collect())
}

/// What the session decides with: a journal made under another fingerprint is refused.
fn fingerprint(cfg: &Config) -> String {
    let live = cfg.live.as_ref();
    serde_json::json!({
        "strategy": cfg.strategy,
        "broker": cfg.broker,
        "initial_cash": cfg.portfolio.initial_cash,
        "data": {"benchmark": cfg.data.benchmark, "time_zone": cfg.data.time_zone,
                 "lot_size": cfg.data.lot_size, "tick_size": cfg.data.tick_size},
        "features": cfg.features,
        "model": cfg.model,
        "venue": live.map(|l| l.venue),
        "symbols": live.map(|l| &l.symbols),
        "interval": live.map(|l| &l.interval),
        "warmup_bars": live.map(|l| l.warmup_bars),
    })
    .to_string()
}

/// The journal's path: `live.journal`, or `journal.sqlite` in the output directory.
pub fn journal_path(cfg: &Config) -> PathBuf {
    cfg.live
        .as_ref()
        .and_then(|l| l.journal.clone())
        .unwrap_or_else(|| cfg.output.dir.join("journal.sqlite"))
}

fn status_hook(instruments: &[Instrument], fmt: TimeFormat) -> StatusHook {
    let symbols: Vec<String> = instruments.iter().map(|i| i.symbol.clone()).collect();
    Box::new(move |ts, equity, book| {
        use std::io::Write as _;
        let mut line = format!(
            "{}  equity {}  cash {}  positions",
            fmt.format(ts),
            equity.round_dp(2),
            book.cash().round_dp(2)
        );
        let mut any = false;
        for p in book.open_positions() {
            line.push_str(&format!(" {} {}", symbols[p.instrument_id.index()], p.quantity));
            any = true;
        }
        if !any {
            line.push_str(" none");
        }
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    })
}

/// Runs a session until `--max-bars`, `shutdown` or an error.
///
/// # Errors
/// [`PaperError`]: configuration, journal, venue (refused authentication, REST refusals,
/// giving up reconnecting) or engine errors. Outputs of the timestamps processed are written
/// in every case the pipeline could end.
pub async fn run(
    cfg: &Config,
    strategies: &Strategies,
    opts: PaperOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<PaperOutput, PaperError> {
    let live = cfg
        .live
        .clone()
        .ok_or(ConfigError::Value("live: a paper session needs a [live] table".into()))?;
    // The strategy's parameters are parsed once, before the journal or the venue is touched.
    let prepared = crate::run::prepare(cfg, strategies)?;
    let instruments = instruments(cfg)?;
    let credentials = match live.venue {
        VenueKind::Alpaca => Some(Credentials::alpaca_from_env().ok_or(LiveError::Auth {
            venue: "alpaca",
            message: "no keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment".into(),
        })?),
        VenueKind::Binance => None,
    };
    let path = journal_path(cfg);
    let mut journal = Journal::open(&path, false)?;
    let new_id = format!("k{:x}", LiveClock.now() / 1_000_000);
    let session = journal.bind(&fingerprint(cfg), &new_id)?;
    let journal = Arc::new(Mutex::new(journal));
    let n = instruments.len();
    let fmt = TimeFormat {
        daily: false,
        tz: instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone),
    };
    let data = Arc::new(MarketData {
        instruments: instruments.clone(),
        series: vec![Series::default(); n],
        ..MarketData::default()
    });
    let crate::run::pipeline::Parts {
        strategy,
        model,
        features,
    } = crate::run::pipeline::parts(cfg, &data, &prepared.strategy)?;
    let latencies = opts.record_latency.then(|| Arc::new(Mutex::new(Vec::new())));
    let counters = Arc::new(Mutex::new(LiveCounters::default()));
    let inner: Box<dyn ExecutionVenue> = match live.execution {
        Execution::Sim => Box::new(BrokerSim::new(
            cfg.broker.clone(),
            Arc::new(instruments.clone()),
            cfg.portfolio.initial_cash,
            false,
        )),
        Execution::Alpaca => {
            let creds = credentials.clone().ok_or(LiveError::Auth {
                venue: "alpaca",
                message: "no keys: set APCA_API_KEY_ID and APCA_API_SECRET_KEY in the environment".into(),
            })?;
            let mut v = AlpacaVenue::connect(
                &live,
                creds,
                session.clone(),
                Arc::new(instruments.clone()),
                counters.clone(),
            )
            .await?;
            {
                let mut j = lock(&journal);
                v.restore(&j.orders()?, &j.events()?)?;
            }
            let (adopted, diffs) = v.reconcile(opts.adopt_venue_state).await?;
            for d in &diffs {
                tracing::warn!("adopted from the venue: {d}");
            }
            lock(&journal).append_orders(&adopted)?;
            Box::new(v)
        }
    };
    let venue = JournaledVenue::new(inner, journal.clone(), session.clone(), latencies.clone())?;
    // One timestamp may wait in the channel; the feed reads it only with room in its window, so
    // a stream faster than the pipeline is held back at the socket, not queued without bound.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let window = live.window;
    let task = FeedTask {
        symbols: instruments.iter().map(|i| i.symbol.clone()).collect(),
        load: cfg.load_options()?,
        journal: journal.clone(),
        tx,
        counters: counters.clone(),
        credentials,
        shutdown,
        max_live: opts.max_bars,
        cfg: live,
    };
    let setup = RunSetup {
        data,
        feed: Feed::Pushed(rx),
        venue: Venue::Custom(Box::new(venue)),
        strategy,
        features,
        model,
        initial_cash: cfg.portfolio.initial_cash,
        window,
        out_dir: cfg.output.dir.clone(),
        event_log: cfg.output.event_log,
        progress: false,
        status: opts.status.then(|| status_hook(&instruments, fmt)),
    };
    tracing::info!(%session, journal = %path.display(), "paper session starting");
    let feed = tokio::spawn(task.run());
    let run = crate::supervisor::run(setup).await;
    let feed = match feed.await {
        Ok(r) => r,
        Err(e) => Err(LiveError::Config(format!("the feed task failed: {e}"))),
    };
    // The journal is closed (checkpointed, its WAL folded in) before the session returns:
    // the actors that held it are stopping; wait for the last of them (bounded).
    close_journal(journal).await;
    let run = run.map_err(RunError::from)?;
    feed?;
    let counters = lock(&counters).clone();
    let warmup_end = counters.warmup_timestamps + counters.replayed_timestamps;
    let (latencies, committed_latencies) = latencies.map_or_else(Default::default, |l| {
        let l = lock(&l);
        l.iter().skip(warmup_end as usize).map(|&(_, b, c)| (b, c)).unzip()
    });
    let mut summary = serde_json::to_value(&run.summary).map_err(|e| PaperError::Write {
        path: cfg.output.dir.join("summary.json"),
        source: std::io::Error::other(e),
    })?;
    let benchmarks = report_inputs(cfg, &path, &run.curve, fmt);
    if !benchmarks.is_empty() {
        summary["benchmarks"] = serde_json::to_value(&benchmarks).unwrap_or_default();
    }
    summary["live"] = serde_json::json!({
        "session": session,
        "journal": path.display().to_string(),
        "counters": counters,
    });
    let text = serde_json::to_string_pretty(&summary).unwrap_or_default() + "\n";
    let out = cfg.output.dir.join("summary.json");
    std::fs::write(&out, text).map_err(|source| PaperError::Write { path: out, source })?;
    crate::report::write(&cfg.output.dir, (&cfg.report).into()).map_err(|e| PaperError::Write {
        path: e.path,
        source: std::io::Error::other(e.message),
    })?;
    Ok(PaperOutput {
        run,
        counters,
        session,
        journal: path,
        latencies,
        committed_latencies,
    })
}

/// The report's inputs of a session (`prices.csv`, and `benchmark.csv` when a benchmark is
/// among its symbols) from the journal's recording, and the comparisons for `summary.json`. A
/// finished session is never failed for its report: what cannot be made is logged.
fn report_inputs(
    cfg: &Config,
    journal: &std::path::Path,
    curve: &[(UnixNanos, crate::types::Decimal)],
    fmt: TimeFormat,
) -> Vec<crate::account::BenchmarkComparison> {
    let tmp = cfg.output.dir.join(".recording.csv");
    let made = (|| -> Result<Vec<crate::account::BenchmarkComparison>, String> {
        Journal::open(journal, false)
            .and_then(|mut j| j.export(&tmp))
            .map_err(|e| e.to_string())?;
        let data =
            crate::feeds::load(&tmp, &cfg.load_options().map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
        let bench = if data.instrument_by_symbol(&cfg.data.benchmark).is_some() {
            cfg.data.benchmark.as_str()
        } else {
            ""
        };
        crate::report::write_inputs(&cfg.output.dir, &data, curve, &cfg.report, bench, fmt).map_err(|e| e.to_string())
    })();
    let _ = std::fs::remove_file(&tmp);
    made.unwrap_or_else(|e| {
        tracing::warn!("report.html without a price chart or benchmarks: {e}");
        Vec::new()
    })
}

/// Drops the last handle of the journal once the actors holding the others have stopped
/// (at most 5 s; after that it closes whenever they do).
async fn close_journal(journal: Arc<Mutex<Journal>>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while Arc::strong_count(&journal) > 1 && std::time::Instant::now() < deadline {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(1), std::future::pending::<()>()).await;
    }
    if Arc::strong_count(&journal) > 1 {
        tracing::warn!("the journal is still in use 5 s after the session ended; it closes when released");
    }
}

/// Runs a session on a fresh runtime, ending cleanly on Ctrl-C (SIGINT) or SIGTERM.
///
/// # Errors
/// As [`run`], and when the runtime cannot be built.
pub fn run_blocking(cfg: &Config, strategies: &Strategies, opts: PaperOptions) -> Result<PaperOutput, PaperError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cfg.engine.worker_threads.max(1))
        .enable_all()
        .build()
        .map_err(|source| PaperError::Write {
            path: PathBuf::from("<runtime>"),
            source,
        })?;
    rt.block_on(async {
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received: ending the session (outputs flushed, journal closed)");
            let _ = stop.send(true);
        });
        run(cfg, strategies, opts, shutdown).await
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
