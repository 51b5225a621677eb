//! Run outputs, written on a dedicated thread (crossbeam channel) so file I/O never blocks the
//! async workers:
//! - `fills.csv`: `date,symbol,side,qty,price,commission`, one row per execution;
//! - `equity.csv`: `date,cash,equity,gross_exposure,net_exposure`, one row per timestamp;
//! - `events.jsonl`: every order event in the order it happened, for audit;
//! - `summary.json`: written at the end by [`write_summary`].
//!
//! Dates are `YYYY-MM-DD` for daily bars and RFC 3339 in the exchange time zone otherwise.
//! Decimals are printed exactly, without trailing zeros.

use crate::portfolio::Summary;
use crate::types::{Decimal, UnixNanos};
use chrono::TimeZone;
use chrono_tz::Tz;
use crossbeam_channel::{bounded, Sender};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
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

/// Exact decimal text without trailing zeros.
pub fn dec(d: Decimal) -> String {
    d.normalize().to_string()
}

enum Record {
    Fill(String),
    Equity(String),
    Event(String),
}

/// The writer thread and its channel.
pub struct OutputSink {
    tx: Option<Sender<Record>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    pub dir: PathBuf,
}

impl OutputSink {
    /// Creates `dir` and the three streaming files; `event_log: false` skips `events.jsonl`.
    ///
    /// # Errors
    /// I/O errors creating the directory or files.
    pub fn open(dir: &Path, event_log: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let mut fills = BufWriter::new(File::create(dir.join("fills.csv"))?);
        let mut equity = BufWriter::new(File::create(dir.join("equity.csv"))?);
        let mut events = if event_log {
            Some(BufWriter::new(File::create(dir.join("events.jsonl"))?))
        } else {
            let _ = std::fs::remove_file(dir.join("events.jsonl"));
            None
        };
        fills.write_all(b"date,symbol,side,qty,price,commission\n")?;
        equity.write_all(b"date,cash,equity,gross_exposure,net_exposure\n")?;
        let (tx, rx) = bounded::<Record>(4096);
        let handle = std::thread::Builder::new()
            .name("kairos-output".into())
            .spawn(move || {
                for rec in rx {
                    match rec {
                        Record::Fill(s) => fills.write_all(s.as_bytes())?,
                        Record::Equity(s) => equity.write_all(s.as_bytes())?,
                        Record::Event(s) => {
                            if let Some(e) = events.as_mut() {
                                e.write_all(s.as_bytes())?;
                            }
                        }
                    }
                }
                fills.flush()?;
                equity.flush()?;
                if let Some(e) = events.as_mut() {
                    e.flush()?;
                }
                Ok(())
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
    pub fn fill(&self, line: String) {
        self.send(Record::Fill(line));
    }
    pub fn equity(&self, line: String) {
        self.send(Record::Equity(line));
    }
    pub fn event(&self, line: String) {
        self.send(Record::Event(line));
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
