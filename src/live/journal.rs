//! The session journal: SQLite through rusqlite (the library bundled, so nothing is needed on
//! the machine), in WAL mode with `synchronous = NORMAL`: a committed transaction survives the
//! process being killed (`kill -9`); `synchronous = FULL` (config `journal_sync = "full"`) also
//! survives a power loss, at an fsync per commit. SQLite because it is one well-kept file, with
//! transactions, readable by any tool (`sqlite3 journal.sqlite`).
//!
//! What is journaled, each committed before anything it decides leaves the process (an order
//! to a venue, a fill to the portfolio and the outputs):
//! - every released timestamp and its bars (`timestamps`: one row, the bars as `SYMBOL,open,high,
//!   low,close,volume` lines), held from its release and committed by the journal's next
//!   transaction, normally with the step's orders (one commit a step, in the broker: the
//!   pipeline decides while nothing is written, and the orders go nowhere before the bars they
//!   were decided on are committed with them); bars held when the process dies were acted on
//!   by nothing outside it, and come back over REST on restart; corrections (`corrections`),
//!   which are never acted on;
//! - every order (`orders`: the deterministic client order id `SESSION-N`, the request), before
//!   the venue sees it; every order event (`order_events`), in order, with the timestamp and the
//!   phase (`submit`: at the close it was decided; `bars`: with the next bars; `finish`: at the
//!   session's end) it reached the pipeline in, so that a remote venue's events are replayed
//!   where they happened. A remote venue's events are committed as they come, before the
//!   pipeline sees them. The broker simulator is part of the process: a step's orders, the
//!   events it answers them with and the events of that step's bars are committed in one
//!   transaction before any of them reaches the portfolio, the outputs or the strategy (what
//!   the simulator did before the commit is lost with the process in a crash, and replayed).

use super::VenueBar;
use crate::types::UnixNanos;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// A journal error, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Sql { path: PathBuf, source: rusqlite::Error },
    #[error("journal {path}: {message}")]
    Mismatch { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Where a journaled timestamp came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepKind {
    Warmup,
    Live,
}

impl StepKind {
    fn as_str(self) -> &'static str {
        match self {
            StepKind::Warmup => "warmup",
            StepKind::Live => "live",
        }
    }
}

/// One journaled timestamp.
#[derive(Clone, Debug, PartialEq)]
pub struct JournaledStep {
    pub step: u64,
    pub ts: UnixNanos,
    pub received: UnixNanos,
    pub kind: StepKind,
    pub bars: Vec<VenueBar>,
}

/// One journaled order event: the timestamp and phase it reached the pipeline in, its JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct JournaledEvent {
    pub ts: UnixNanos,
    pub phase: String,
    pub event: String,
}

/// The bars of one timestamp as the journal keeps them: a `SYMBOL,open,high,low,close,volume`
/// line each, the values as the venue's text was read (decimals as `Display` prints them).
#[derive(Clone, Default)]
pub struct StepText {
    text: String,
    /// A symbol with a comma or a line break: refused by [`Journal::append_step`].
    bad_symbol: Option<String>,
}

impl StepText {
    pub fn with_capacity(bars: usize) -> Self {
        Self {
            text: String::with_capacity(bars * 48),
            bad_symbol: None,
        }
    }

    fn symbol(&mut self, symbol: &str) {
        if symbol.contains([',', '\n']) && self.bad_symbol.is_none() {
            self.bad_symbol = Some(symbol.to_string());
        }
        self.text.push_str(symbol);
    }

    /// A bar as the venue sent it.
    pub fn push_text(&mut self, b: &VenueBar) {
        self.symbol(&b.symbol);
        for v in [&b.open, &b.high, &b.low, &b.close, &b.volume] {
            self.text.push(',');
            self.text.push_str(v);
        }
        self.text.push('\n');
    }

    /// A bar as the validation read it.
    pub fn push_bar(&mut self, symbol: &str, b: &crate::types::Bar) {
        self.symbol(symbol);
        for v in [b.open, b.high, b.low, b.close, b.volume] {
            self.text.push(',');
            crate::types::decimal_text::push_decimal(&mut self.text, v);
        }
        self.text.push('\n');
    }

    /// The text of bars as the venue sent them.
    pub fn of(bars: &[VenueBar]) -> Self {
        let mut t = Self::with_capacity(bars.len());
        for b in bars {
            t.push_text(b);
        }
        t
    }
}

/// Maps a database error to a [`JournalError`] naming the file.
fn sql_error(path: &Path) -> impl Fn(rusqlite::Error) -> JournalError + Copy + '_ {
    move |source| JournalError::Sql {
        path: path.to_path_buf(),
        source,
    }
}

pub struct Journal {
    conn: Connection,
    path: PathBuf,
    /// Released timestamps not yet committed: written first by the next transaction.
    held: Vec<HeldStep>,
    /// The last timestamp journaled (held or committed): each one journaled is later.
    last_ts: Option<UnixNanos>,
    /// The warm-up timestamps journaled (held or committed).
    warmup: std::collections::HashSet<UnixNanos>,
    /// Orders journaled so far: the next order's place in `orders.n`.
    orders: u64,
    _checkpointer: Checkpointer,
}

/// A released timestamp waiting for the journal's next transaction.
struct HeldStep {
    step: u64,
    ts: UnixNanos,
    received: UnixNanos,
    kind: StepKind,
    text: String,
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Err(e) = self.commit_steps() {
            tracing::warn!(error = %e, "the last timestamps could not be journaled");
        }
    }
}

/// Checkpoints the WAL (copies its pages into the database file, with an fsync of each) from a
/// connection of its own, never on the hot path: when the WAL holds more than
/// [`Checkpointer::WAL_BYTES`] (looked at every [`Checkpointer::LOOK_EVERY`]), at least every
/// [`Checkpointer::AT_LEAST_EVERY`], and once more when the journal closes. A commit is durable
/// (against a killed process) once in the WAL, checkpointed or not. Passive checkpoints never
/// block the journal's writer, but their fsyncs slow its writes while they run (at a timestamp
/// every few milliseconds, a checkpoint every second put the 99th percentile of bar-to-order
/// latency at about 1.5x its value without), so they run by size, as SQLite's own
/// auto-checkpoint does, rather than by the clock. At a live bar interval (a minute or more) a
/// session reaches the size after weeks; the WAL is cut back to [`Journal::WAL_KEPT`] after each.
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// When the checkpointer runs (see [`Checkpointer`]).
#[derive(Clone, Copy, Debug)]
struct CheckpointPolicy {
    look_every: std::time::Duration,
    at_least_every: std::time::Duration,
    wal_bytes: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            look_every: Checkpointer::LOOK_EVERY,
            at_least_every: Checkpointer::AT_LEAST_EVERY,
            wal_bytes: Checkpointer::WAL_BYTES,
        }
    }
}

/// How long a journal connection waits for a lock another connection holds (a reader such as
/// `kairos paper export` or `sqlite3` on a live journal, the checkpoint thread) before the
/// statement fails: without it a commit that met any other connection's lock failed at once
/// and ended the session.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

impl Checkpointer {
    const LOOK_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
    const AT_LEAST_EVERY: std::time::Duration = std::time::Duration::from_secs(600);
    const WAL_BYTES: u64 = 256 << 20;

    fn start(path: &Path, policy: CheckpointPolicy) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_WAIT)?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("journal-checkpoint".into())
            .spawn(move || {
                let checkpoint = |mode: &str| {
                    if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
                        tracing::warn!(error = %e, "journal checkpoint failed (the WAL keeps the data)");
                    }
                };
                let mut last = std::time::Instant::now();
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(policy.look_every) {
                    // The WAL's length: what was written since it was last cut back (to at most
                    // `WAL_KEPT`, below `WAL_BYTES`) after a checkpoint.
                    let big = std::fs::metadata(&wal).is_ok_and(|m| m.len() > policy.wal_bytes);
                    if big || last.elapsed() >= policy.at_least_every {
                        checkpoint("PASSIVE");
                        last = std::time::Instant::now();
                    }
                }
                checkpoint("PASSIVE");
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The tables. Each commit on the hot path appends to three B-trees only (a step's row, its
/// orders, their events): one page each, most of the time. So `timestamps` has no index on
/// `ts` (the journal holds the order of timestamps itself: each one journaled is later than the
/// last, and the warm-up ones are kept in memory), and `orders` is keyed by the order's
/// sequence number alone (its client order id is a function of it and the session; `n` keeps
/// the order in which orders were journaled). Before schema 2, these two tables had three more
/// indexes, and a step wrote eight or nine 4 KiB pages to the WAL instead of three or four.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS timestamps(
    step INTEGER PRIMARY KEY, ts INTEGER NOT NULL, received INTEGER NOT NULL, kind TEXT NOT NULL,
    bars TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS corrections(
    id INTEGER PRIMARY KEY AUTOINCREMENT, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
    open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL, volume TEXT NOT NULL,
    received INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orders(
    seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, client_order_id TEXT NOT NULL, ts INTEGER NOT NULL,
    request TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS order_events(
    id INTEGER PRIMARY KEY, order_id TEXT NOT NULL, event TEXT NOT NULL, -- rows are never deleted: ids grow
    ts INTEGER NOT NULL, phase TEXT NOT NULL);
";

/// The layout this version writes and reads (`meta.schema`).
const SCHEMA_VERSION: &str = "2";

impl Journal {
    /// The WAL's length left after a checkpoint (SQLite reuses the file rather than growing it).
    pub const WAL_KEPT: i64 = 64 << 20;

    /// Opens (or creates) a journal.
    ///
    /// # Errors
    /// The file cannot be opened or is not a journal.
    pub fn open(path: &Path, full_sync: bool) -> Result<Self, JournalError> {
        Self::open_with(path, full_sync, CheckpointPolicy::default())
    }

    fn open_with(path: &Path, full_sync: bool, policy: CheckpointPolicy) -> Result<Self, JournalError> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Write {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let sql = sql_error(path);
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(BUSY_WAIT).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        // Checkpoints (copying the WAL into the database, with an fsync) are not run by the
        // commits on the hot path, where each took milliseconds, but by a thread of their own.
        conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(sql)?;
        // When the writer starts the WAL again after a checkpoint, it cuts the file back to this.
        conn.pragma_update(None, "journal_size_limit", Self::WAL_KEPT)
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", if full_sync { "FULL" } else { "NORMAL" })
            .map_err(sql)?;
        let has_meta: bool = conn
            .query_row("SELECT COUNT(*) > 0 FROM sqlite_master WHERE name = 'meta'", [], |r| {
                r.get(0)
            })
            .map_err(sql)?;
        let schema: Option<String> = if has_meta {
            conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0))
                .optional()
                .map_err(sql)?
        } else {
            None
        };
        match schema.as_deref() {
            Some(SCHEMA_VERSION) => {}
            None if !has_meta => {
                let tx = conn.unchecked_transaction().map_err(sql)?;
                tx.execute_batch(SCHEMA).map_err(sql)?;
                tx.execute("INSERT INTO meta VALUES ('schema', ?1)", [SCHEMA_VERSION])
                    .map_err(sql)?;
                tx.commit().map_err(sql)?;
            }
            other => {
                return Err(JournalError::Mismatch {
                    path: path.to_path_buf(),
                    message: format!(
                        "its layout is schema {} (an earlier Kairos), this version reads schema {SCHEMA_VERSION}; \
                         finish or export it with the version that wrote it, or start a new journal",
                        other.unwrap_or("1")
                    ),
                })
            }
        }
        let last_ts: Option<UnixNanos> = conn
            .query_row("SELECT ts FROM timestamps ORDER BY step DESC LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(sql)?;
        let warmup = conn
            .prepare("SELECT ts FROM timestamps WHERE kind = 'warmup'")
            .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>())
            .map_err(sql)?;
        let orders: i64 = conn
            .query_row("SELECT COUNT(*) FROM orders", [], |r| r.get(0))
            .map_err(sql)?;
        let checkpointer = Checkpointer::start(path, policy).map_err(sql)?;
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            held: Vec::new(),
            last_ts,
            warmup,
            orders: orders as u64,
            _checkpointer: checkpointer,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        sql_error(&self.path)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, JournalError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.sql())
    }

    /// Binds the journal to a session: a new journal takes `fingerprint` (what the session
    /// decides with: strategy, symbols, costs, ...) and `new_id`; an existing one must have
    /// the same fingerprint. Returns the session id.
    ///
    /// # Errors
    /// A journal of another configuration: continuing it would not reproduce its decisions.
    pub fn bind(&mut self, fingerprint: &str, new_id: &str) -> Result<String, JournalError> {
        match (self.meta("fingerprint")?, self.meta("session")?) {
            (Some(f), Some(id)) => {
                if f != fingerprint {
                    return Err(JournalError::Mismatch {
                        path: self.path.clone(),
                        message: format!(
                            "it belongs to a session with another configuration; use a new journal, or the \
                             configuration it was made with:\n  journal: {f}\n  now:     {fingerprint}"
                        ),
                    });
                }
                Ok(id)
            }
            _ => {
                let sql = sql_error(&self.path);
                let tx = self.conn.transaction().map_err(sql)?;
                tx.execute("INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?1)", [fingerprint])
                    .map_err(sql)?;
                tx.execute("INSERT OR REPLACE INTO meta VALUES ('session', ?1)", [new_id])
                    .map_err(sql)?;
                tx.commit().map_err(sql)?;
                Ok(new_id.to_string())
            }
        }
    }

    /// Every journaled timestamp with its bars, in step order.
    ///
    /// # Errors
    /// A database error.
    pub fn steps(&mut self) -> Result<Vec<JournaledStep>, JournalError> {
        self.commit_steps()?;
        let mut st = self
            .conn
            .prepare("SELECT step, ts, received, kind, bars FROM timestamps ORDER BY step")
            .map_err(self.sql())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)? as u64,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let (step, ts, received, kind, text) = row.map_err(self.sql())?;
            let bars = text
                .lines()
                .map(|line| {
                    let f: Vec<&str> = line.split(',').collect();
                    match f.as_slice() {
                        [symbol, open, high, low, close, volume] => Ok(VenueBar {
                            symbol: (*symbol).to_string(),
                            ts,
                            open: (*open).to_string(),
                            high: (*high).to_string(),
                            low: (*low).to_string(),
                            close: (*close).to_string(),
                            volume: (*volume).to_string(),
                        }),
                        _ => Err(JournalError::Mismatch {
                            path: self.path.clone(),
                            message: format!(
                                "step {step}: a bar line {line:?} is not symbol,open,high,low,close,volume"
                            ),
                        }),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            out.push(JournaledStep {
                step,
                ts,
                received,
                kind: if kind == "warmup" {
                    StepKind::Warmup
                } else {
                    StepKind::Live
                },
                bars,
            });
        }
        Ok(out)
    }

    /// Journals one released timestamp. It is held until the journal's next transaction, which
    /// writes it first: the step's orders (the broker's, as the step reaches it) or any other
    /// write, or [`Journal::commit_steps`]; every read of the journal commits it first too. So a
    /// step's bars are committed with its orders, in one commit a step, before the orders reach
    /// a venue or anything the bars decided leaves the process; bars held when the process dies
    /// were never acted on outside it, and come back from the venue's history on restart.
    ///
    /// # Errors
    /// A symbol the line format cannot hold; a timestamp not later than the last journaled.
    pub fn append_step(
        &mut self,
        step: u64,
        ts: UnixNanos,
        received: UnixNanos,
        kind: StepKind,
        bars: StepText,
    ) -> Result<(), JournalError> {
        if let Some(symbol) = &bars.bad_symbol {
            return Err(JournalError::Mismatch {
                path: self.path.clone(),
                message: format!("symbol {symbol:?} cannot be journaled"),
            });
        }
        if let Some(last) = self.last_ts.filter(|&last| ts <= last) {
            return Err(JournalError::Mismatch {
                path: self.path.clone(),
                message: format!("timestamp {ts} (step {step}) journaled after timestamp {last}"),
            });
        }
        self.last_ts = Some(ts);
        if kind == StepKind::Warmup {
            self.warmup.insert(ts);
        }
        self.held.push(HeldStep {
            step,
            ts,
            received,
            kind,
            text: bars.text,
        });
        Ok(())
    }

    /// Commits the held timestamps (one transaction).
    ///
    /// # Errors
    /// A database error.
    pub fn commit_steps(&mut self) -> Result<(), JournalError> {
        if self.held.is_empty() {
            return Ok(());
        }
        self.transaction(|_| Ok(()))
    }

    /// One transaction: the held timestamps first, then what `write` writes; the held
    /// timestamps are let go once it is committed.
    fn transaction(
        &mut self,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<(), rusqlite::Error>,
    ) -> Result<(), JournalError> {
        let sql = sql_error(&self.path);
        let tx = self.conn.transaction().map_err(sql)?;
        if !self.held.is_empty() {
            let mut st = tx
                .prepare_cached("INSERT INTO timestamps VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(sql)?;
            for h in &self.held {
                st.execute(params![h.step as i64, h.ts, h.received, h.kind.as_str(), h.text])
                    .map_err(sql)?;
            }
        }
        write(&tx).map_err(sql)?;
        tx.commit().map_err(sql)?;
        self.held.clear();
        Ok(())
    }

    /// Journals a corrected bar.
    ///
    /// # Errors
    /// A database error.
    pub fn append_correction(&mut self, b: &VenueBar, received: UnixNanos) -> Result<(), JournalError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO corrections(symbol, ts, open, high, low, close, volume, received) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![b.symbol, b.ts, b.open, b.high, b.low, b.close, b.volume, received],
            )
            .map(|_| ())
        })
    }

    /// Corrections journaled.
    ///
    /// # Errors
    /// A database error.
    pub fn corrections(&mut self) -> Result<u64, JournalError> {
        self.commit_steps()?;
        self.count("corrections")
    }

    fn count(&self, table: &str) -> Result<u64, JournalError> {
        self.conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.sql())
    }

    /// The journaled request of the order of sequence number `seq` and client order id
    /// `client_order_id`, if it was journaled.
    ///
    /// # Errors
    /// A database error; an order of that sequence journaled under another id.
    pub fn order(&mut self, seq: u64, client_order_id: &str) -> Result<Option<String>, JournalError> {
        self.commit_steps()?;
        let row: Option<(String, String)> = self
            .conn
            .query_row(
                "SELECT client_order_id, request FROM orders WHERE seq = ?1",
                [seq as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sql())?;
        match row {
            Some((id, _)) if id != client_order_id => Err(JournalError::Mismatch {
                path: self.path.clone(),
                message: format!("order {seq} is journaled as {id}, not {client_order_id}"),
            }),
            row => Ok(row.map(|(_, request)| request)),
        }
    }

    /// Journals orders (one transaction).
    ///
    /// # Errors
    /// A database error (a sequence number journaled twice among them).
    pub fn append_orders(&mut self, orders: &[(String, u64, UnixNanos, String)]) -> Result<(), JournalError> {
        self.append(orders, &[])
    }

    /// Journals the held timestamps, orders, then order events, in one transaction.
    ///
    /// # Errors
    /// A database error (a sequence number journaled twice among them).
    pub fn append(
        &mut self,
        orders: &[(String, u64, UnixNanos, String)],
        events: &[(String, UnixNanos, &str, String)],
    ) -> Result<(), JournalError> {
        if orders.is_empty() && events.is_empty() && self.held.is_empty() {
            return Ok(());
        }
        let n = self.orders;
        self.transaction(|tx| {
            if !orders.is_empty() {
                let mut st = tx.prepare_cached(
                    "INSERT INTO orders(seq, n, client_order_id, ts, request) VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                for (k, (id, seq, ts, req)) in orders.iter().enumerate() {
                    st.execute(params![*seq as i64, (n + k as u64) as i64, id, ts, req])?;
                }
            }
            if !events.is_empty() {
                let mut st =
                    tx.prepare_cached("INSERT INTO order_events(order_id, event, ts, phase) VALUES (?1, ?2, ?3, ?4)")?;
                for (id, ts, phase, ev) in events {
                    st.execute(params![id, ev, ts, phase])?;
                }
            }
            Ok(())
        })?;
        self.orders += orders.len() as u64;
        Ok(())
    }

    /// The highest sequence number of a journaled order (`None`: no order journaled).
    ///
    /// # Errors
    /// A database error.
    pub fn last_order_seq(&mut self) -> Result<Option<u64>, JournalError> {
        self.commit_steps()?;
        self.conn
            .query_row("SELECT MAX(seq) FROM orders", [], |r| r.get::<_, Option<i64>>(0))
            .map(|v| v.map(|s| s as u64))
            .map_err(self.sql())
    }

    /// Orders journaled.
    ///
    /// # Errors
    /// A database error.
    pub fn order_count(&mut self) -> Result<u64, JournalError> {
        self.commit_steps()?;
        self.count("orders")
    }

    /// The journaled order events, in order.
    ///
    /// # Errors
    /// A database error.
    pub fn events(&mut self) -> Result<Vec<JournaledEvent>, JournalError> {
        self.commit_steps()?;
        let mut st = self
            .conn
            .prepare("SELECT ts, phase, event FROM order_events ORDER BY id")
            .map_err(self.sql())?;
        let rows = st
            .query_map([], |r| {
                Ok(JournaledEvent {
                    ts: r.get(0)?,
                    phase: r.get(1)?,
                    event: r.get(2)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Whether `ts` is a journaled warm-up timestamp (history, not live).
    pub fn is_warmup(&self, ts: UnixNanos) -> bool {
        self.warmup.contains(&ts)
    }

    /// The last journaled timestamp, if any.
    ///
    /// # Errors
    /// A database error.
    pub fn last_ts(&mut self) -> Result<Option<UnixNanos>, JournalError> {
        self.commit_steps()?;
        Ok(self.last_ts)
    }

    /// Every journaled order: (client order id, sequence, decision time, request), in order.
    ///
    /// # Errors
    /// A database error.
    pub fn orders(&mut self) -> Result<Vec<(String, u64, UnixNanos, String)>, JournalError> {
        self.commit_steps()?;
        let mut st = self
            .conn
            .prepare("SELECT client_order_id, seq, ts, request FROM orders ORDER BY n")
            .map_err(self.sql())?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? as u64, r.get(2)?, r.get(3)?))
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Journals order events (one transaction): (order's client id, timestamp, phase, event).
    ///
    /// # Errors
    /// A database error.
    pub fn append_events(&mut self, events: &[(String, UnixNanos, &str, String)]) -> Result<(), JournalError> {
        self.append(&[], events)
    }

    /// Writes every journaled bar as a long CSV table (`symbol,timestamp,open,high,low,close,volume`,
    /// the time the bar's close in RFC 3339 UTC) that `data.path` reads. Returns the bars written.
    ///
    /// # Errors
    /// A database or write error.
    pub fn export(&mut self, out: &Path) -> Result<usize, JournalError> {
        self.commit_steps()?;
        use std::io::Write as _;
        let write = |source| JournalError::Write {
            path: out.to_path_buf(),
            source,
        };
        if let Some(dir) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(write)?;
        }
        let mut w = std::io::BufWriter::new(std::fs::File::create(out).map_err(write)?);
        writeln!(w, "symbol,timestamp,open,high,low,close,volume").map_err(write)?;
        let mut n = 0;
        for s in self.steps()? {
            for b in &s.bars {
                writeln!(
                    w,
                    "{},{},{},{},{},{},{}",
                    b.symbol,
                    super::protocol::rfc3339(b.ts),
                    b.open,
                    b.high,
                    b.low,
                    b.close,
                    b.volume
                )
                .map_err(write)?;
                n += 1;
            }
        }
        w.flush().map_err(write)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vb(symbol: &str, ts: i64) -> VenueBar {
        VenueBar {
            symbol: symbol.into(),
            ts,
            open: "1.5".into(),
            high: "2".into(),
            low: "1".into(),
            close: "1.25".into(),
            volume: "10".into(),
        }
    }

    #[test]
    fn steps_round_trip_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            let mut j = Journal::open(&path, false).unwrap();
            assert_eq!(j.bind("cfg", "S1").unwrap(), "S1");
            j.append_step(0, 60, 61, StepKind::Warmup, StepText::of(&[vb("A", 60), vb("B", 60)]))
                .unwrap();
            j.append_step(1, 120, 121, StepKind::Live, StepText::of(&[vb("B", 120)]))
                .unwrap();
            // Held until the next transaction, which writes them first, with the orders.
            let other = Connection::open(&path).unwrap();
            let committed = || -> i64 {
                other
                    .query_row("SELECT COUNT(*) FROM timestamps", [], |r| r.get(0))
                    .unwrap()
            };
            assert_eq!(committed(), 0, "a released step is held, not committed on its own");
            j.append_orders(&[("S1-1".into(), 1, 120, "{}".into())]).unwrap();
            assert_eq!(committed(), 2, "the held steps are committed with the orders");
            assert!(
                j.append_orders(&[("S1-1".into(), 1, 120, "{}".into())]).is_err(),
                "an order's sequence number is journaled once"
            );
            // A step held when the journal closes is committed then.
            j.append_step(2, 180, 181, StepKind::Live, StepText::of(&[vb("A", 180)]))
                .unwrap();
            assert_eq!(committed(), 2);
        }
        {
            let mut j = Journal::open(&path, false).unwrap();
            assert_eq!(j.steps().unwrap().len(), 3, "committed at close");
            // A read commits what is held first.
            j.append_step(3, 240, 241, StepKind::Live, StepText::of(&[vb("A", 240)]))
                .unwrap();
            assert_eq!(j.last_ts().unwrap(), Some(240));
        }
        let mut j = Journal::open(&path, false).unwrap();
        assert_eq!(j.bind("cfg", "S2").unwrap(), "S1", "the session id is the journal's");
        assert!(j.bind("other", "S3").is_err(), "another configuration is refused");
        let steps = j.steps().unwrap();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[0].bars, vec![vb("A", 60), vb("B", 60)]);
        assert_eq!((steps[1].kind, steps[1].received), (StepKind::Live, 121));
        assert_eq!(j.order(1, "S1-1").unwrap().as_deref(), Some("{}"));
        assert_eq!(j.order(2, "S1-2").unwrap(), None);
        assert!(j.order(1, "S9-1").is_err(), "an order journaled under another id");
        assert_eq!(j.order_count().unwrap(), 1);
        let csv = dir.path().join("bars.csv");
        assert_eq!(j.export(&csv).unwrap(), 5);
        let text = std::fs::read_to_string(csv).unwrap();
        assert!(
            text.starts_with(
                "symbol,timestamp,open,high,low,close,volume\nA,1970-01-01T00:00:00.000000060Z,1.5,2,1,1.25,10\n"
            ),
            "{text}"
        );
    }

    /// The checkpointer runs when the WAL outgrows its size (not before) and folds the WAL into
    /// the database file.
    #[test]
    fn the_wal_is_checkpointed_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let wal = dir.path().join("j.sqlite-wal");
        let policy = CheckpointPolicy {
            look_every: std::time::Duration::from_millis(5),
            at_least_every: std::time::Duration::from_secs(3600),
            wal_bytes: 2 << 20,
        };
        let mut j = Journal::open_with(&path, false, policy).unwrap();
        j.bind("cfg", "S1").unwrap();
        let db_len = || std::fs::metadata(&path).unwrap().len();
        let empty = db_len();
        let bars: Vec<VenueBar> = (0..50).map(|i| vb(&format!("S{i:03}"), 60)).collect();
        let text = StepText::of(&bars);
        // Below the size: nothing is checkpointed (the database file keeps its length).
        let mut step = 0;
        while std::fs::metadata(&wal).unwrap().len() < 1 << 20 {
            j.append_step(step, 60 * (step as i64 + 1), 0, StepKind::Live, text.clone())
                .unwrap();
            j.commit_steps().unwrap();
            step += 1;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(db_len(), empty, "checkpointed below the WAL's size");
        // Above it: checkpointed within a bounded wait.
        while std::fs::metadata(&wal).unwrap().len() <= 2 << 20 {
            j.append_step(step, 60 * (step as i64 + 1), 0, StepKind::Live, text.clone())
                .unwrap();
            j.commit_steps().unwrap();
            step += 1;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while db_len() == empty {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint after the WAL outgrew its size"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(j.steps().unwrap().len() as u64, step, "every step is still there");
    }

    /// Orders and events of one call land in one transaction, orders first, events in order.
    #[test]
    fn orders_and_events_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.sqlite"), false).unwrap();
        j.bind("cfg", "S1").unwrap();
        assert_eq!(j.last_order_seq().unwrap(), None);
        j.append(
            &[
                ("S1-1".into(), 1, 60, "{\"a\":1}".into()),
                ("S1-2".into(), 2, 60, "{}".into()),
            ],
            &[
                ("S1-1".into(), 60, "bars", "e1".into()),
                ("S1-2".into(), 60, "submit", "e2".into()),
            ],
        )
        .unwrap();
        j.append_events(&[("S1-1".into(), 120, "bars", "e3".into())]).unwrap();
        assert_eq!(j.last_order_seq().unwrap(), Some(2));
        let events: Vec<_> = j
            .events()
            .unwrap()
            .into_iter()
            .map(|e| (e.ts, e.phase, e.event))
            .collect();
        assert_eq!(
            events,
            vec![
                (60, "bars".to_string(), "e1".to_string()),
                (60, "submit".to_string(), "e2".to_string()),
                (120, "bars".to_string(), "e3".to_string())
            ]
        );
        // A failing transaction (an order journaled twice) leaves nothing of itself.
        assert!(j
            .append(
                &[("S1-1".into(), 1, 180, "{}".into())],
                &[("S1-1".into(), 180, "submit", "e4".into())]
            )
            .is_err());
        assert_eq!(j.events().unwrap().len(), 3);
        assert_eq!(j.last_order_seq().unwrap(), Some(2));
    }

    /// Orders come back in the order they were journaled, whatever their sequence numbers
    /// (exit legs and adopted orders carry high bits), after reopening too.
    #[test]
    fn orders_keep_the_order_they_were_journaled_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let leg = 1u64 << 40 | 1;
        {
            let mut j = Journal::open(&path, false).unwrap();
            j.bind("cfg", "S1").unwrap();
            j.append_orders(&[
                ("S1-1".into(), 1, 60, "a".into()),
                ("S1-1-tp".into(), leg, 60, "b".into()),
            ])
            .unwrap();
        }
        let mut j = Journal::open(&path, false).unwrap();
        j.append_orders(&[("S1-2".into(), 2, 120, "c".into())]).unwrap();
        let ids: Vec<_> = j.orders().unwrap().into_iter().map(|o| (o.0, o.1)).collect();
        assert_eq!(
            ids,
            vec![("S1-1".into(), 1), ("S1-1-tp".into(), leg), ("S1-2".into(), 2)]
        );
        assert_eq!(j.order(leg, "S1-1-tp").unwrap().as_deref(), Some("b"));
    }

    /// Timestamps are journaled in time order (a repeated or earlier one is refused, held or
    /// committed, and after reopening); warm-up ones are known as such.
    #[test]
    fn timestamps_are_journaled_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        {
            let mut j = Journal::open(&path, false).unwrap();
            j.append_step(0, 60, 0, StepKind::Warmup, StepText::of(&[vb("A", 60)]))
                .unwrap();
            assert!(j.is_warmup(60), "a held warm-up step is known");
            let e = j
                .append_step(1, 60, 0, StepKind::Live, StepText::of(&[vb("A", 60)]))
                .unwrap_err()
                .to_string();
            assert!(e.contains("timestamp 60 (step 1) journaled after timestamp 60"), "{e}");
            j.append_step(1, 120, 0, StepKind::Live, StepText::of(&[vb("A", 120)]))
                .unwrap();
            assert!(!j.is_warmup(120));
        }
        let mut j = Journal::open(&path, false).unwrap();
        assert!(j.is_warmup(60) && !j.is_warmup(120) && !j.is_warmup(180));
        assert_eq!(j.last_ts().unwrap(), Some(120));
        assert!(j
            .append_step(2, 90, 0, StepKind::Live, StepText::of(&[vb("A", 90)]))
            .is_err());
        assert_eq!(j.steps().unwrap().len(), 2, "the refused step is not journaled");
    }

    /// A journal of the earlier layout (schema 1) is refused with a clear message, not misread.
    #[test]
    fn an_earlier_layout_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
                 INSERT INTO meta VALUES ('fingerprint', 'cfg'), ('session', 'S1');
                 CREATE TABLE orders(client_order_id TEXT PRIMARY KEY, seq INTEGER NOT NULL UNIQUE,
                     ts INTEGER NOT NULL, request TEXT NOT NULL);",
            )
            .unwrap();
        let e = Journal::open(&path, false).err().expect("refused").to_string();
        assert!(e.contains("schema 1") && e.contains("start a new journal"), "{e}");
    }

    /// A step with orders and their events writes a few pages to the WAL, not one per index:
    /// at 50 bars and two orders a step, under 5 pages (4 KiB each) a commit on average.
    #[test]
    fn a_step_writes_few_pages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let wal = dir.path().join("j.sqlite-wal");
        let mut j = Journal::open(&path, false).unwrap();
        j.bind("cfg", "S1").unwrap();
        let bars: Vec<VenueBar> = (0..50).map(|i| vb(&format!("S{i:03}"), 60)).collect();
        let text = StepText::of(&bars);
        let steps = 400u64;
        let before = std::fs::metadata(&wal).unwrap().len();
        for step in 0..steps {
            let ts = 60 * (step as i64 + 1);
            j.append_step(step, ts, 0, StepKind::Live, text.clone()).unwrap();
            let orders: Vec<_> = (0..2)
                .map(|k| {
                    let seq = 2 * step + k + 1;
                    (
                        format!("S1-{seq}"),
                        seq,
                        ts,
                        format!("{{\"side\":\"buy\",\"quantity\":\"{seq}\"}}"),
                    )
                })
                .collect();
            let events: Vec<_> = orders
                .iter()
                .map(|o| (o.0.clone(), ts, "submit", format!("{{\"filled\":\"{}\"}}", o.0)))
                .collect();
            j.append(&orders, &events).unwrap();
        }
        let frames = (std::fs::metadata(&wal).unwrap().len() - before) / (4096 + 24);
        let per_step = frames as f64 / steps as f64;
        assert!(per_step < 5.0, "{per_step:.2} WAL pages a step");
    }
}
