//! Historical feeds: load bars from disk into a validated [`MarketData`].
//!
//! Two layouts, both read through polars:
//! - a directory of per-symbol CSV files, `SYMBOL.csv` with `date,open,high,low,close,volume`
//!   (the layout of `shared/bench/gen_data.py` and of `kairos data synth`);
//! - one long table, CSV or Parquet, with `symbol,date,open,high,low,close,volume`.
//!
//! The time column may be named `date`, `timestamp` or `datetime`. A plain date
//! (`YYYY-MM-DD`) is a daily bar stamped at the session close in the exchange time zone;
//! anything else is an intraday timestamp (RFC 3339, or `YYYY-MM-DD HH:MM[:SS[.f]]` in the
//! exchange time zone), taken as the bar's close.
//!
//! Every row is validated (see [`validate`]); a bad row is an error naming file, row and field,
//! or, under [`BadRowPolicy::Skip`], dropped and counted in the [`LoadReport`]. File-level faults
//! (missing file, missing column, empty file) are always errors. No input panics.

pub mod catalog;
mod csv_fast;
mod tables;
pub mod validate;

use crate::data::{LoadReport, MarketData, Series};
use crate::types::{Decimal, Instrument, InstrumentId, UnixNanos};
use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub use validate::{BadRowPolicy, FeedError};
use validate::{SymbolRows, ValidatedRow};

/// How to read and validate historical data.
#[derive(Clone, Debug)]
pub struct LoadOptions {
    /// Exchange time zone of the instruments.
    pub time_zone: Tz,
    /// Session close: the time at which a daily bar is stamped.
    pub session_close: NaiveTime,
    pub policy: BadRowPolicy,
    /// Symbol loaded as a reference series, never traded.
    pub benchmark: Option<String>,
    pub lot_size: Decimal,
    pub tick_size: Decimal,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            time_zone: chrono_tz::America::New_York,
            session_close: NaiveTime::from_hms_opt(16, 0, 0).unwrap_or_default(),
            policy: BadRowPolicy::Fail,
            benchmark: Some("SPY".into()),
            lot_size: Decimal::ONE,
            tick_size: Decimal::new(1, 2),
        }
    }
}

/// Instrument `i` of a market: its symbol, with the options' time zone, lot and tick sizes;
/// tradable unless it is the benchmark.
pub fn instrument(i: usize, symbol: String, opts: &LoadOptions) -> Instrument {
    Instrument {
        id: InstrumentId(i as u32),
        tradable: opts.benchmark.as_deref() != Some(symbol.as_str()),
        symbol,
        time_zone: opts.time_zone,
        lot_size: opts.lot_size,
        tick_size: opts.tick_size,
    }
}

/// Which layout a path holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// A directory written by `kairos data import` (see [`catalog`]).
    Catalog,
    CsvDirectory,
    LongCsv,
    LongParquet,
}

/// Detects the layout: a directory, or a file by its extension.
///
/// # Errors
/// A path that does not exist or has an unknown extension.
pub fn detect_layout(path: &Path) -> Result<Layout, FeedError> {
    if path.is_dir() && catalog::is_catalog(path) {
        return Ok(Layout::Catalog);
    }
    if path.is_dir() {
        return Ok(Layout::CsvDirectory);
    }
    if !path.exists() {
        return Err(FeedError::Io {
            file: path.to_path_buf(),
            message: "no such file or directory".into(),
        });
    }
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
    {
        Some(e) if e == "csv" => Ok(Layout::LongCsv),
        Some(e) if e == "parquet" || e == "pq" => Ok(Layout::LongParquet),
        _ => Err(FeedError::Io {
            file: path.to_path_buf(),
            message: "expected a directory of SYMBOL.csv files, a .csv or a .parquet file".into(),
        }),
    }
}

/// Loads and validates a market from `path`.
///
/// # Errors
/// [`FeedError`] naming the file (and row and field for a bad row under the `fail` policy).
pub fn load(path: &Path, opts: &LoadOptions) -> Result<MarketData, FeedError> {
    let (symbols, all_dates, report) = read_symbols(path, opts)?;
    Ok(assemble(symbols, all_dates, opts, report))
}

/// Reference series taken from another file: `symbols` of `path`, never traded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub path: std::path::PathBuf,
    pub symbols: Vec<String>,
}

/// Loads `path` as [`load`] does, then adds each reference's symbols from its own file (read and
/// validated the same way), keeping only their bars at the main data's timestamps: a reference
/// never adds a timestamp. Bars left out that way are counted in the load report
/// (`reference_bars_outside`). Reference symbols are never traded.
///
/// # Errors
/// Any [`FeedError`]; a reference symbol its file lacks, or one the main data already has.
pub fn load_with_references(path: &Path, opts: &LoadOptions, refs: &[Reference]) -> Result<MarketData, FeedError> {
    if refs.is_empty() {
        return load(path, opts);
    }
    let (mut symbols, all_dates, mut report) = read_symbols(path, opts)?;
    let calendar: std::collections::HashSet<UnixNanos> = symbols.values().flat_map(|c| c.ts.iter().copied()).collect();
    let mut reference_only = Vec::new();
    for r in refs {
        let (mut theirs, dates, their_report) = read_symbols(&r.path, opts)?;
        if dates != all_dates {
            return Err(FeedError::NoData {
                path: r.path.clone(),
                reason: "a reference must have the same bar kind (daily or intraday) as the data".into(),
            });
        }
        merge_report(&mut report, their_report);
        report.files += 1;
        for s in &r.symbols {
            let c = theirs.remove(s).ok_or_else(|| FeedError::NoData {
                path: r.path.clone(),
                reason: format!("reference symbol {s:?} is not in this file"),
            })?;
            if symbols.contains_key(s) {
                return Err(FeedError::NoData {
                    path: r.path.clone(),
                    reason: format!("reference symbol {s:?} is also in {}", path.display()),
                });
            }
            let mut kept = Compact {
                ts: Vec::with_capacity(c.ts.len()),
                series: crate::data::Series {
                    price_scale: c.series.price_scale,
                    volume_scale: c.series.volume_scale,
                    ..Default::default()
                },
            };
            for (k, ts) in c.ts.iter().enumerate() {
                if calendar.contains(ts) {
                    kept.ts.push(*ts);
                    kept.series.open.push(c.series.open[k]);
                    kept.series.high.push(c.series.high[k]);
                    kept.series.low.push(c.series.low[k]);
                    kept.series.close.push(c.series.close[k]);
                    kept.series.volume.push(c.series.volume[k]);
                } else {
                    report.reference_bars_outside += 1;
                }
            }
            if !kept.ts.is_empty() {
                symbols.insert(s.clone(), kept);
                reference_only.push(s.clone());
            }
        }
    }
    let mut data = assemble(symbols, all_dates, opts, report);
    for i in &mut data.instruments {
        if reference_only.contains(&i.symbol) {
            i.tradable = false;
        }
    }
    Ok(data)
}

/// Reads and validates every symbol of `path`: compacted series, whether every time was a date,
/// and the load report.
fn read_symbols(path: &Path, opts: &LoadOptions) -> Result<(BTreeMap<String, Compact>, bool, LoadReport), FeedError> {
    let mut report = LoadReport::default();
    // Each symbol is compacted to i64 columns as soon as its rows are read, so peak memory is
    // the column store plus one file's rows per thread.
    let mut symbols: BTreeMap<String, Compact> = BTreeMap::new();
    let mut all_dates = true;
    match detect_layout(path)? {
        Layout::Catalog => {
            let (s, daily, r) = catalog::read(path, opts)?;
            symbols = s;
            all_dates = daily;
            report = r;
        }
        Layout::CsvDirectory => {
            let files = csv_files(path)?;
            if files.is_empty() {
                return Err(FeedError::NoData {
                    path: path.to_path_buf(),
                    reason: "the directory holds no .csv file".into(),
                });
            }
            // Files are read and validated in parallel, each with its own context; results are
            // merged in symbol order, so the first error and the report are the same whatever
            // the number of threads.
            let loaded = read_files_parallel(&files, opts);
            for ((symbol, _), result) in files.into_iter().zip(loaded) {
                let (compact, file_report, dates) = result?;
                merge_report(&mut report, file_report);
                all_dates &= dates;
                symbols.insert(symbol, compact);
                report.files += 1;
            }
        }
        layout => {
            let mut ctx = validate::Context::new(opts);
            let mut rows: BTreeMap<String, SymbolRows> = BTreeMap::new();
            tables::read_long(path, layout == Layout::LongParquet, &mut ctx, &mut report, &mut rows)?;
            for (symbol, r) in rows {
                symbols.insert(symbol, compact(r, &ctx, path, &mut report)?);
            }
            report.files = 1;
            all_dates = ctx.all_dates;
        }
    }
    symbols.retain(|_, c| !c.ts.is_empty());
    if symbols.is_empty() {
        return Err(FeedError::NoData {
            path: path.to_path_buf(),
            reason: "no valid bar".into(),
        });
    }
    Ok((symbols, all_dates, report))
}

/// What one file gives: its compacted bars, its report, and whether every time was a date.
type FileResult = Result<(Compact, LoadReport, bool), FeedError>;

/// Reads the per-symbol files on up to `available_parallelism` threads; results in file order.
/// A thread stops at its first error (a later file of that thread cannot come first).
fn read_files_parallel(files: &[(String, PathBuf)], opts: &LoadOptions) -> Vec<FileResult> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, files.len().max(1));
    // One context per thread: its cache of date conversions serves every file of the thread.
    let read_one = |file: &Path, ctx: &mut validate::Context<'_>| -> FileResult {
        ctx.all_dates = true;
        let mut report = LoadReport::default();
        let rows = tables::read_symbol_csv(file, ctx, &mut report)?;
        let compact = compact(rows, ctx, file, &mut report)?;
        Ok((compact, report, ctx.all_dates))
    };
    let mut slots: Vec<Option<FileResult>> = (0..files.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let read_one = &read_one;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    let mut ctx = validate::Context::new(opts);
                    for k in (t..files.len()).step_by(threads) {
                        let r = read_one(&files[k].1, &mut ctx);
                        let failed = r.is_err();
                        out.push((k, r));
                        if failed {
                            break;
                        }
                    }
                    out
                })
            })
            .collect();
        for h in handles {
            // A reader thread cannot panic on any input; if it did, its files stay unread and
            // are reported below.
            if let Ok(done) = h.join() {
                for (k, r) in done {
                    slots[k] = Some(r);
                }
            }
        }
    });
    let mut out = Vec::with_capacity(files.len());
    for (k, slot) in slots.into_iter().enumerate() {
        match slot {
            Some(r) => out.push(r),
            None => {
                // Unread because an earlier file of the same thread failed (that error comes
                // first in file order), or because its reader stopped.
                out.push(Err(FeedError::Io {
                    file: files[k].1.clone(),
                    message: "not read".into(),
                }));
            }
        }
    }
    out
}

fn merge_report(into: &mut LoadReport, r: LoadReport) {
    into.rows_read += r.rows_read;
    for (k, v) in r.rows_skipped {
        *into.rows_skipped.entry(k).or_default() += v;
    }
    for e in r.skipped_examples {
        if into.skipped_examples.len() < 20 {
            into.skipped_examples.push(e);
        }
    }
}

/// `(symbol, path)` of every `.csv` file in `dir`, sorted by symbol.
fn csv_files(dir: &Path) -> Result<Vec<(String, PathBuf)>, FeedError> {
    let io = |e: std::io::Error| FeedError::Io {
        file: dir.to_path_buf(),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        let is_csv = p
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.eq_ignore_ascii_case("csv"));
        if p.is_file() && is_csv == Some(true) {
            if let Some(stem) = p.file_stem().and_then(|s| s.to_str()) {
                out.push((stem.to_string(), p.clone()));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// True when `d` is exact at `scale` decimals in an `i64` mantissa.
fn fits(d: Decimal, scale: u32) -> bool {
    d.scale() <= scale
        && scale - d.scale() <= 38
        && d.mantissa()
            .unsigned_abs()
            .checked_mul(10u128.pow(scale - d.scale()))
            .is_some_and(|m| m <= i64::MAX as u128)
}

/// The scale a column is stored at: the finest its values need when they all fit (then `true`);
/// otherwise the scale that keeps the most rows exact (the finest among equals), and `false`.
fn column_scale<'a>(rows: &'a [ValidatedRow], values: impl Fn(&'a ValidatedRow) -> [Decimal; 4] + Copy) -> (u32, bool) {
    let needed = rows.iter().flat_map(values).map(|d| d.scale()).max().unwrap_or(0);
    if rows.iter().flat_map(values).all(|d| fits(d, needed)) {
        return (needed, true);
    }
    let best = (0..=needed)
        .max_by_key(|&s| rows.iter().filter(|r| values(r).iter().all(|d| fits(*d, s))).count())
        .unwrap_or(0);
    (best, false)
}

/// `d` as a mantissa at `scale` (exact: the caller checked it fits).
fn mantissa(d: Decimal, scale: u32) -> i64 {
    let m = d.mantissa() * 10i128.pow(scale - d.scale());
    i64::try_from(m).unwrap_or(i64::MAX)
}

/// One symbol's bars as mantissas, with their timestamps (before calendar alignment).
pub(crate) struct Compact {
    pub(crate) ts: Vec<UnixNanos>,
    pub(crate) series: Series,
}

/// Stores a symbol's rows as exact `i64` mantissas at one price and one volume scale. A row
/// whose values cannot all be stored exactly beside the others (more significant digits than
/// 64 bits hold at the scale the symbol needs) is refused under the bad-row policy, naming
/// the row and the field; nothing is rounded or capped.
fn compact(
    rows: SymbolRows,
    ctx: &validate::Context<'_>,
    file: &Path,
    report: &mut LoadReport,
) -> Result<Compact, FeedError> {
    let mut rows: Vec<ValidatedRow> = rows.rows;
    let (price_scale, prices_fit) = column_scale(&rows, |r| [r.open, r.high, r.low, r.close]);
    let (volume_scale, volumes_fit) = column_scale(&rows, |r| [r.volume; 4]);
    if !(prices_fit && volumes_fit) {
        let mut kept = Vec::with_capacity(rows.len());
        for r in rows {
            let bad = [("open", r.open), ("high", r.high), ("low", r.low), ("close", r.close)]
                .into_iter()
                .map(|(f, v)| (f, v, price_scale))
                .chain(std::iter::once(("volume", r.volume, volume_scale)))
                .find(|(_, v, scale)| !fits(*v, *scale));
            match bad {
                None => kept.push(r),
                Some((field, v, scale)) => {
                    let fault = validate::RowFault::new(
                        field,
                        "not storable exactly",
                        format!(
                            "{v} cannot be stored exactly beside this symbol's other values (64-bit mantissas at {scale} decimals, the scale most of its rows need)"
                        ),
                    );
                    validate::reject(ctx, fault, file, r.row.to_string(), report)?;
                }
            }
        }
        rows = kept;
    }
    let n = rows.len();
    let mut s = Series {
        price_scale,
        volume_scale,
        step: Vec::with_capacity(n),
        open: Vec::with_capacity(n),
        high: Vec::with_capacity(n),
        low: Vec::with_capacity(n),
        close: Vec::with_capacity(n),
        volume: Vec::with_capacity(n),
    };
    let mut ts = Vec::with_capacity(n);
    for r in &rows {
        ts.push(r.ts);
        s.open.push(mantissa(r.open, price_scale));
        s.high.push(mantissa(r.high, price_scale));
        s.low.push(mantissa(r.low, price_scale));
        s.close.push(mantissa(r.close, price_scale));
        s.volume.push(mantissa(r.volume, volume_scale));
    }
    Ok(Compact { ts, series: s })
}

/// Builds the column store: instruments in symbol order, one common calendar.
fn assemble(
    symbols: BTreeMap<String, Compact>,
    all_dates: bool,
    opts: &LoadOptions,
    mut report: LoadReport,
) -> MarketData {
    let mut timestamps: Vec<UnixNanos> = symbols.values().flat_map(|c| c.ts.iter().copied()).collect();
    timestamps.sort_unstable();
    timestamps.dedup();
    timestamps.shrink_to_fit();
    let mut instruments = Vec::with_capacity(symbols.len());
    let mut series = Vec::with_capacity(symbols.len());
    for (i, (symbol, c)) in symbols.into_iter().enumerate() {
        let mut s = c.series;
        // Every timestamp is in the calendar by construction; both are sorted, so one merge
        // walk maps them to steps.
        let mut k = 0usize;
        for ts in &c.ts {
            while timestamps[k] < *ts {
                k += 1;
            }
            s.step.push(k as u32);
        }
        if let (Some(first), Some(last)) = (s.step.first(), s.step.last()) {
            // Gaps inside the symbol's span, and the calendar's timestamps after its last bar.
            report.missing_bars += (last - first + 1) as usize - s.len();
            report.missing_bars += timestamps.len() - 1 - *last as usize;
        }
        instruments.push(instrument(i, symbol, opts));
        series.push(s);
    }
    report.rows_kept = series.iter().map(Series::len).sum();
    let data = MarketData {
        instruments,
        series,
        timestamps,
        daily: all_dates,
        report,
        universe: None,
        tape: Default::default(),
    };
    // The time-ordered copy for replay, built here so that loading pays for it.
    data.tape();
    data
}
