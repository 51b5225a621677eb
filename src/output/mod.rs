//! Run outputs, formatted and written on a dedicated thread (crossbeam channel) so neither
//! formatting nor file I/O is on the actors' path:
//! - `fills.csv`: `date,symbol,side,qty,price,commission`, one row per execution;
//! - `equity.csv`: `date,cash,equity,gross_exposure,net_exposure`, one row per timestamp;
//! - `events.jsonl`: every order event in the order it happened, for audit;
//! - `summary.json`: written at the end by [`write_summary`].
//!
//! Dates are `YYYY-MM-DD` for daily bars and RFC 3339 in the exchange time zone otherwise.
//! Decimals are printed exactly, without trailing zeros.
//!
//! Lines are formatted straight into a per-file buffer that is written out in 64 KiB chunks
//! (a backtest), and whenever no record has come for 100 ms (paper trading: the files follow
//! the run within a fraction of a second of each timestamp, not a buffer later).

use crate::account::Summary;
use crate::events::{ExecutionReport, Phase};
use crate::types::{Decimal, OrderEvent, OrderType, TimeInForce, UnixNanos};
use chrono::TimeZone;
use chrono_tz::Tz;
use crossbeam_channel::{bounded, RecvTimeoutError, Sender};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How timestamps are printed.
#[derive(Clone, Copy, Debug)]
pub struct TimeFormat {
    pub daily: bool,
    pub tz: Tz,
}

impl TimeFormat {
    pub fn format(&self, ts: UnixNanos) -> String {
        let dt = self.tz.timestamp_nanos(ts);
        if self.daily {
            dt.format("%Y-%m-%d").to_string()
        } else {
            dt.to_rfc3339()
        }
    }
}

/// A CSV field as RFC 4180 wants it: quoted (with inner quotes doubled) when it holds a comma,
/// a quote or a line break.
pub fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        std::borrow::Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// Refuses an output path that would overwrite or mix with its input: one that is, or
/// contains, `input`, or one inside an input directory.
///
/// # Errors
/// A message naming both paths.
pub fn check_output_path(out: &Path, input: &Path) -> Result<(), String> {
    if out.as_os_str().is_empty() {
        return Err("must not be empty".into());
    }
    let (o, i) = (absolute(out), absolute(input));
    if i.starts_with(&o) {
        return Err(format!(
            "{} is, or contains, the data path {}: outputs would overwrite inputs",
            out.display(),
            input.display()
        ));
    }
    if input.is_dir() && o.starts_with(&i) {
        return Err(format!(
            "{} is inside the data directory {}: outputs would mix with inputs",
            out.display(),
            input.display()
        ));
    }
    Ok(())
}

/// `p` made absolute: its longest existing ancestor resolved, the rest appended.
fn absolute(p: &Path) -> PathBuf {
    let mut base = p.to_path_buf();
    let mut rest = Vec::new();
    while !base.exists() {
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                base = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let start = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        &base
    };
    let mut full = std::fs::canonicalize(start).unwrap_or_else(|_| base.clone());
    full.extend(rest.iter().rev());
    full
}

enum Record {
    /// Every event of one execution report: lines of `events.jsonl`, and rows of `fills.csv`.
    Report(Arc<ExecutionReport>),
    Equity {
        ts: UnixNanos,
        cash: Decimal,
        equity: Decimal,
        gross: Decimal,
        net: Decimal,
    },
}

/// One line of `events.jsonl`: its shape, as serde writes it.
#[derive(serde::Serialize)]
#[cfg_attr(not(test), allow(dead_code))]
struct LogLine<'a> {
    step: u64,
    phase: &'static str,
    date: &'a str,
    event: &'a OrderEvent,
}

/// A line being built byte by byte: every line the writer prints skips the formatting machinery
/// (decimals and integers by hand; the general formatter was a fifth of the writer's time).
struct Line<'a>(&'a mut Vec<u8>);

impl Line<'_> {
    fn s(&mut self, s: &str) -> &mut Self {
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn int(&mut self, v: impl itoa::Integer) -> &mut Self {
        self.0.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        self
    }
    /// A decimal, normalized.
    fn num(&mut self, d: Decimal) -> &mut Self {
        crate::types::decimal_text::push_normalized(self.0, d);
        self
    }
    /// A decimal as a JSON string (normalized).
    fn dec(&mut self, d: Decimal) -> &mut Self {
        self.s("\"").num(d).s("\"")
    }
}

/// One line of `events.jsonl`, written field by field: the same bytes as serde_json gives for
/// [`LogLine`] with its decimals normalized (a test holds them equal for every kind of event),
/// without its per-string escaping scan on the numbers and fixed names that make up almost every
/// line. Decimals are printed without trailing zeros, as in the CSV files, so that a price is
/// written the same whether the bar came as `94.4` from a venue or as `94.40` from a file.
/// (The writer formats a report's shared start once: [`write_event_prefix`], then
/// [`write_event_body`] for each of its events; this whole line is what the tests compare.)
#[cfg(test)]
fn write_event_line(out: &mut Vec<u8>, step: u64, phase: &str, date: &str, ev: &OrderEvent) -> std::io::Result<()> {
    write_event_prefix(out, step, phase, date)?;
    write_event_body(out, ev)
}

/// The start of every line of one execution report: step, phase and date.
fn write_event_prefix(out: &mut Vec<u8>, step: u64, phase: &str, date: &str) -> std::io::Result<()> {
    Line(out)
        .s("{\"step\":")
        .int(step)
        .s(",\"phase\":\"")
        .s(phase)
        .s("\",\"date\":");
    serde_json::to_writer(out, date).map_err(std::io::Error::other)
}

/// The rest of a line of `events.jsonl`: the event, and the line's end.
fn write_event_body(out: &mut Vec<u8>, ev: &OrderEvent) -> std::io::Result<()> {
    let text = |out: &mut Vec<u8>, s: &str| serde_json::to_writer(out, s).map_err(std::io::Error::other);
    match ev {
        OrderEvent::Submitted(e) => {
            let r = &e.request;
            Line(out)
                .s(",\"event\":{\"event\":\"submitted\",\"order_id\":")
                .int(e.order_id.0)
                .s(",\"ts_event\":")
                .int(e.ts_event)
                .s(",\"request\":{\"instrument_id\":")
                .int(r.instrument_id.0)
                .s(",\"side\":\"")
                .s(r.side.as_str())
                .s("\",\"quantity\":")
                .dec(r.quantity)
                .s(",\"order_type\":");
            let mut line = Line(out);
            match r.order_type {
                OrderType::Market => line.s("{\"type\":\"market\"}"),
                OrderType::Limit { limit } => line.s("{\"type\":\"limit\",\"limit\":").dec(limit).s("}"),
                OrderType::Stop { trigger } => line.s("{\"type\":\"stop\",\"trigger\":").dec(trigger).s("}"),
                OrderType::StopLimit { trigger, limit } => line
                    .s("{\"type\":\"stop_limit\",\"trigger\":")
                    .dec(trigger)
                    .s(",\"limit\":")
                    .dec(limit)
                    .s("}"),
            };
            let tif = match r.time_in_force {
                TimeInForce::Day => "day",
                TimeInForce::Gtc => "gtc",
            };
            line.s(",\"time_in_force\":\"").s(tif).s("\"");
            if let Some(b) = &r.bracket {
                line.s(",\"bracket\":{\"take_profit\":")
                    .dec(b.take_profit)
                    .s(",\"stop_loss\":")
                    .dec(b.stop_loss);
                if let Some(l) = b.stop_loss_limit {
                    line.s(",\"stop_loss_limit\":").dec(l);
                }
                line.s("}");
            }
            if let Some(f) = r.equity_fraction {
                line.s(",\"equity_fraction\":").dec(f);
            }
            line.s("}}}");
        }
        OrderEvent::Accepted(e) => {
            Line(out)
                .s(",\"event\":{\"event\":\"accepted\",\"order_id\":")
                .int(e.order_id.0)
                .s(",\"ts_event\":")
                .int(e.ts_event)
                .s("}}");
        }
        OrderEvent::Rejected(e) => {
            Line(out)
                .s(",\"event\":{\"event\":\"rejected\",\"order_id\":")
                .int(e.order_id.0)
                .s(",\"ts_event\":")
                .int(e.ts_event)
                .s(",\"reason\":");
            text(out, &e.reason)?;
            Line(out).s("}}");
        }
        OrderEvent::Filled(f) => {
            Line(out)
                .s(",\"event\":{\"event\":\"filled\",\"order_id\":")
                .int(f.order_id.0)
                .s(",\"instrument_id\":")
                .int(f.instrument_id.0)
                .s(",\"side\":\"")
                .s(f.side.as_str())
                .s("\",\"quantity\":")
                .dec(f.quantity)
                .s(",\"price\":")
                .dec(f.price)
                .s(",\"commission\":")
                .dec(f.commission)
                .s(",\"slippage\":")
                .dec(f.slippage)
                .s(",\"leaves_quantity\":")
                .dec(f.leaves_quantity)
                .s(",\"ts_event\":")
                .int(f.ts_event)
                .s("}}");
        }
        OrderEvent::Canceled(e) => {
            Line(out)
                .s(",\"event\":{\"event\":\"canceled\",\"order_id\":")
                .int(e.order_id.0)
                .s(",\"ts_event\":")
                .int(e.ts_event)
                .s(",\"reason\":");
            text(out, &e.reason)?;
            Line(out).s(",\"unfilled\":").dec(e.unfilled).s("}}");
        }
    }
    Line(out).s("\n");
    Ok(())
}

/// Lines are built in a file's buffer and written in chunks of this size...
const CHUNK: usize = 1 << 16;
/// ...or when no record came for this long (paper trading: the files follow the run).
const IDLE: std::time::Duration = std::time::Duration::from_millis(100);

/// An output file written in chunks: lines are formatted straight into `buf`, which goes to
/// the file once it holds [`CHUNK`] bytes or when the writer is idle.
struct Chunked {
    file: File,
    buf: Vec<u8>,
}

impl Chunked {
    fn create(path: &Path) -> std::io::Result<Self> {
        Ok(Self {
            file: File::create(path)?,
            buf: Vec::with_capacity(CHUNK + 4096),
        })
    }

    /// After each line: writes the buffer out once it is full.
    fn line_done(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.file.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// The files and what the writer needs to format them.
struct Writer {
    fills: Chunked,
    equity: Chunked,
    events: Option<Chunked>,
    fmt: TimeFormat,
    symbols: Arc<Vec<String>>,
    /// The last formatted timestamp (formatting is the costly part of a line).
    date: (UnixNanos, String),
    /// The start shared by the lines of the report being written.
    prefix: Vec<u8>,
}

impl Writer {
    fn date(&mut self, ts: UnixNanos) -> &str {
        if self.date.0 != ts || self.date.1.is_empty() {
            self.date = (ts, self.fmt.format(ts));
        }
        &self.date.1
    }

    fn write(&mut self, rec: Record) -> std::io::Result<()> {
        match rec {
            Record::Report(report) => {
                let phase = match report.phase {
                    Phase::Intrabar => "intrabar",
                    Phase::Close => "close",
                    Phase::Final => "final",
                };
                let ts = report.market.ts_event;
                self.date(ts);
                // The report's lines share their start: formatted once.
                self.prefix.clear();
                if self.events.is_some() && !report.events.is_empty() {
                    write_event_prefix(&mut self.prefix, report.step, phase, &self.date.1)?;
                }
                for ev in &report.events {
                    if let Some(out) = self.events.as_mut() {
                        out.buf.extend_from_slice(&self.prefix);
                        write_event_body(&mut out.buf, ev)?;
                        out.line_done()?;
                    }
                    if let OrderEvent::Filled(f) = ev {
                        let line = &mut self.fills.buf;
                        if f.ts_event == ts {
                            Line(line).s(&self.date.1);
                        } else {
                            Line(line).s(&self.fmt.format(f.ts_event));
                        }
                        Line(line)
                            .s(",")
                            .s(&csv_field(&self.symbols[f.instrument_id.index()]))
                            .s(",")
                            .s(f.side.as_str())
                            .s(",")
                            .num(f.quantity)
                            .s(",")
                            .num(f.price)
                            .s(",")
                            .num(f.commission)
                            .s("\n");
                        self.fills.line_done()?;
                    }
                }
            }
            Record::Equity {
                ts,
                cash,
                equity,
                gross,
                net,
            } => {
                self.date(ts);
                Line(&mut self.equity.buf)
                    .s(&self.date.1)
                    .s(",")
                    .num(cash)
                    .s(",")
                    .num(equity)
                    .s(",")
                    .num(gross)
                    .s(",")
                    .num(net)
                    .s("\n");
                self.equity.line_done()?;
            }
        }
        Ok(())
    }

    /// Writes every buffered line to its file.
    fn write_out(&mut self) -> std::io::Result<()> {
        self.fills.write_out()?;
        self.equity.write_out()?;
        if let Some(e) = self.events.as_mut() {
            e.write_out()?;
        }
        Ok(())
    }
}

/// The writer thread and its channel: the actors hand over reports and marks, and every line is
/// formatted and written here, off the actors' path.
pub struct OutputSink {
    tx: Option<Sender<Record>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    pub dir: PathBuf,
}

impl OutputSink {
    /// Creates `dir` and the three streaming files; `event_log: false` skips `events.jsonl`.
    /// `symbols[i]` names instrument `i` in `fills.csv`; `fmt` prints the dates.
    ///
    /// # Errors
    /// I/O errors creating the directory or files.
    pub fn open(dir: &Path, event_log: bool, fmt: TimeFormat, symbols: Arc<Vec<String>>) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut fills = Chunked::create(&dir.join("fills.csv"))?;
        let mut equity = Chunked::create(&dir.join("equity.csv"))?;
        let events = if event_log {
            Some(Chunked::create(&dir.join("events.jsonl"))?)
        } else {
            let _ = std::fs::remove_file(dir.join("events.jsonl"));
            None
        };
        fills.buf.extend_from_slice(b"date,symbol,side,qty,price,commission\n");
        equity
            .buf
            .extend_from_slice(b"date,cash,equity,gross_exposure,net_exposure\n");
        let mut writer = Writer {
            fills,
            equity,
            events,
            fmt,
            symbols,
            date: (0, String::new()),
            prefix: Vec::with_capacity(64),
        };
        let (tx, rx) = bounded::<Record>(4096);
        let handle = std::thread::Builder::new()
            .name("kairos-output".into())
            .spawn(move || {
                loop {
                    match rx.recv_timeout(IDLE) {
                        Ok(rec) => writer.write(rec)?,
                        // Nothing came for a while: what is buffered goes to the files.
                        Err(RecvTimeoutError::Timeout) => writer.write_out()?,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                writer.write_out()
            })?;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
            dir: dir.to_path_buf(),
        })
    }

    fn send(&self, r: Record) {
        if let Some(tx) = &self.tx {
            // A closed channel means the writer failed; `close` reports its error.
            let _ = tx.send(r);
        }
    }

    /// The events of one report (nothing is sent for a report without events).
    pub fn report(&self, report: &Arc<ExecutionReport>) {
        if !report.events.is_empty() {
            self.send(Record::Report(report.clone()));
        }
    }

    /// One row of `equity.csv`.
    pub fn equity(&self, ts: UnixNanos, cash: Decimal, equity: Decimal, gross: Decimal, net: Decimal) {
        self.send(Record::Equity {
            ts,
            cash,
            equity,
            gross,
            net,
        });
    }

    /// Flushes and joins the writer.
    ///
    /// # Errors
    /// The first I/O error the writer met.
    pub fn close(&mut self) -> std::io::Result<()> {
        self.tx.take();
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(std::io::Error::other("output writer thread panicked")),
            None => Ok(()),
        }
    }
}

impl Drop for OutputSink {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Writes `summary.json` (pretty, with a trailing newline).
///
/// # Errors
/// I/O or serialization errors.
pub fn write_summary(dir: &Path, summary: &Summary) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("summary.json"), text + "\n")
}

/// Replaces the `ts` column of `df` by a formatted `date` column (second position, after
/// `symbol`) and writes it as CSV (missing values as empty fields) or Parquet, by extension.
///
/// # Errors
/// Polars or I/O errors.
pub fn write_table(
    mut df: polars::prelude::DataFrame,
    fmt: TimeFormat,
    path: &Path,
) -> polars::prelude::PolarsResult<()> {
    use polars::prelude::*;
    let ts = df.column("ts")?.i64()?.clone();
    let dates: Vec<Option<String>> = (0..ts.len()).map(|i| ts.get(i).map(|t| fmt.format(t))).collect();
    df.drop_in_place("ts")?;
    df.insert_column(1, Column::new("date".into(), dates))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = File::create(path)?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") | Some("pq") => {
            ParquetWriter::new(file).finish(&mut df)?;
        }
        _ => CsvWriter::new(file).include_header(true).finish(&mut df)?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::*;
    use rust_decimal_macros::dec;

    /// A sink that receives nothing for a while writes what it holds: an open run's files
    /// show its rows (paper trading), not only when a buffer fills or the run ends.
    #[test]
    fn an_idle_sink_writes_what_it_holds() {
        let dir = tempfile::tempdir().expect("temp dir");
        let fmt = TimeFormat {
            daily: true,
            tz: chrono_tz::UTC,
        };
        let mut sink = OutputSink::open(dir.path(), true, fmt, Arc::new(vec!["AAA".into()])).expect("open");
        sink.equity(86_400_000_000_000, dec!(100.50), dec!(101), dec!(0.5), dec!(-0.5));
        let path = dir.path().join("equity.csv");
        let want = "date,cash,equity,gross_exposure,net_exposure\n1970-01-02,100.5,101,0.5,-0.5\n";
        // Bounded: the writer waits 100 ms idle; give it up to 10 s on a loaded machine.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut seen = String::new();
        while std::time::Instant::now() < deadline {
            seen = std::fs::read_to_string(&path).unwrap_or_default();
            if seen == want {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert_eq!(seen, want, "the row reached the file while the sink was still open");
        sink.close().expect("close");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), want);
    }

    /// `Line` prints every decimal as `Display` prints it normalized (signs, zero, integers,
    /// values below one, trailing zeros, every scale, 96-bit mantissas), and integers as
    /// `Display` does.
    #[test]
    fn line_prints_what_display_prints() {
        let cases = crate::types::decimal_text::sample_decimals(11);
        let printed = |f: &dyn Fn(&mut Line<'_>)| {
            let mut buf = Vec::new();
            f(&mut Line(&mut buf));
            String::from_utf8(buf).expect("ASCII")
        };
        for d in cases {
            assert_eq!(
                printed(&|l| {
                    l.num(d);
                }),
                d.normalize().to_string(),
                "{d:?}"
            );
            assert_eq!(
                printed(&|l| {
                    l.dec(d);
                }),
                format!("\"{}\"", d.normalize()),
                "{d:?}"
            );
        }
        for v in [0u64, 7, 10, 1_641_220_260_000_000_000, u64::MAX] {
            assert_eq!(
                printed(&|l| {
                    l.int(v);
                }),
                v.to_string()
            );
        }
        assert_eq!(
            printed(&|l| {
                l.int(-5i64);
            }),
            "-5"
        );
    }

    #[test]
    fn hand_written_event_lines_equal_serde_for_every_kind() {
        let req = |order_type, time_in_force| OrderRequest {
            instrument_id: InstrumentId(7),
            side: Side::Sell,
            quantity: dec!(12.50),
            order_type,
            time_in_force,
            bracket: None,
            equity_fraction: None,
        };
        let id = ClientOrderId(42);
        let ts = 1_641_220_260_000_000_000;
        let mut events = Vec::new();
        for (ot, tif) in [
            (OrderType::Market, TimeInForce::Gtc),
            (OrderType::Limit { limit: dec!(9.5) }, TimeInForce::Day),
            (OrderType::Stop { trigger: dec!(10.00) }, TimeInForce::Gtc),
            (
                OrderType::StopLimit {
                    trigger: dec!(10),
                    limit: dec!(10.25),
                },
                TimeInForce::Day,
            ),
        ] {
            events.push(OrderEvent::Submitted(OrderSubmitted {
                order_id: id,
                ts_event: ts,
                request: req(ot, tif),
            }));
        }
        events.push(OrderEvent::Submitted(OrderSubmitted {
            order_id: id,
            ts_event: ts,
            request: OrderRequest::equity_fraction(InstrumentId(2), dec!(0.250)),
        }));
        for stop_loss_limit in [None, Some(dec!(8.50))] {
            events.push(OrderEvent::Submitted(OrderSubmitted {
                order_id: id,
                ts_event: ts,
                request: req(OrderType::Market, TimeInForce::Gtc).with_bracket(Bracket {
                    take_profit: dec!(12.00),
                    stop_loss: dec!(9.0),
                    stop_loss_limit,
                }),
            }));
        }
        events.push(OrderEvent::Accepted(OrderAccepted {
            order_id: id.with_leg(Leg::StopLoss),
            ts_event: ts,
        }));
        events.push(OrderEvent::Rejected(OrderRejected {
            order_id: id,
            ts_event: ts,
            reason: "cash \"short\"\n by 1.5\\x".into(),
        }));
        events.push(OrderEvent::Filled(Fill {
            order_id: id,
            instrument_id: InstrumentId(3),
            side: Side::Buy,
            quantity: dec!(100),
            price: dec!(17.870),
            commission: dec!(0.0050),
            slippage: dec!(0),
            leaves_quantity: dec!(-0),
            ts_event: -5,
        }));
        events.push(OrderEvent::Canceled(OrderCanceled {
            order_id: id,
            ts_event: ts,
            reason: "end of data".into(),
            unfilled: dec!(3.000),
        }));
        // serde's side with every decimal normalized.
        let normalized = |ev: &OrderEvent| {
            let mut ev = ev.clone();
            match &mut ev {
                OrderEvent::Submitted(e) => {
                    let r = &mut e.request;
                    r.quantity = r.quantity.normalize();
                    r.order_type = match r.order_type {
                        OrderType::Market => OrderType::Market,
                        OrderType::Limit { limit } => OrderType::Limit {
                            limit: limit.normalize(),
                        },
                        OrderType::Stop { trigger } => OrderType::Stop {
                            trigger: trigger.normalize(),
                        },
                        OrderType::StopLimit { trigger, limit } => OrderType::StopLimit {
                            trigger: trigger.normalize(),
                            limit: limit.normalize(),
                        },
                    };
                    r.equity_fraction = r.equity_fraction.map(|f| f.normalize());
                    if let Some(b) = &mut r.bracket {
                        b.take_profit = b.take_profit.normalize();
                        b.stop_loss = b.stop_loss.normalize();
                        b.stop_loss_limit = b.stop_loss_limit.map(|l| l.normalize());
                    }
                }
                OrderEvent::Filled(f) => {
                    for d in [
                        &mut f.quantity,
                        &mut f.price,
                        &mut f.commission,
                        &mut f.slippage,
                        &mut f.leaves_quantity,
                    ] {
                        *d = d.normalize();
                    }
                }
                OrderEvent::Canceled(c) => c.unfilled = c.unfilled.normalize(),
                OrderEvent::Accepted(_) | OrderEvent::Rejected(_) => {}
            }
            ev
        };
        let mut fill_line = Vec::new();
        write_event_line(&mut fill_line, 9, "close", "d", &events[9]).expect("write");
        let fill_line = String::from_utf8(fill_line).expect("utf8");
        assert!(
            fill_line.contains("\"price\":\"17.87\",\"commission\":\"0.005\""),
            "{fill_line}"
        );
        for ev in &events {
            for (phase, date) in [("close", "2022-01-03"), ("intrabar", "2022-01-03T09:31:00-05:00")] {
                let mut ours = Vec::new();
                write_event_line(&mut ours, 9, phase, date, ev).expect("write");
                let ev = normalized(ev);
                let line = LogLine {
                    step: 9,
                    phase,
                    date,
                    event: &ev,
                };
                let serde = serde_json::to_string(&line).expect("serde") + "\n";
                assert_eq!(String::from_utf8(ours).expect("utf8"), serde);
            }
        }
    }
}
