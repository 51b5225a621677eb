//! The Parquet catalog that `kairos data import` writes and `data.path` accepts: a validated
//! market stored as exact integers, so loading it parses no text.
//!
//! Layout of a catalog directory:
//! - `catalog.json`: the format tag (`kairos-catalog-1`), whether bars are daily, the time zone
//!   and session close the timestamps were stamped with, and one entry per instrument (symbol,
//!   price and volume decimal scales, number of bars), plus the import's load report;
//! - `bars.parquet`: one row per bar, sorted by instrument then time, with columns
//!   `instrument` (u32, the index into the instruments of `catalog.json`), `ts` (i64, ns since
//!   the epoch, UTC) and `open`, `high`, `low`, `close`, `volume` (i64 mantissas at the
//!   instrument's scales: price `p` is stored as `p * 10^price_scale`).
//!
//! Loading checks every bar again (time order, positive prices, `low <= open, close <= high`,
//! non-negative volume) and refuses a catalog stamped in another time zone or session close
//! than the configuration asks for.

use super::validate::FeedError;
use super::{Compact, LoadOptions};
use crate::data::{LoadReport, MarketData, Series};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

pub const FORMAT: &str = "kairos-catalog-1";
const META: &str = "catalog.json";
const BARS: &str = "bars.parquet";

/// `catalog.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CatalogMeta {
    pub format: String,
    pub daily: bool,
    pub time_zone: String,
    pub session_close: String,
    pub instruments: Vec<CatalogInstrument>,
    pub report: LoadReport,
}

/// One instrument of a catalog.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CatalogInstrument {
    pub symbol: String,
    pub price_scale: u32,
    pub volume_scale: u32,
    pub bars: usize,
}

/// True when `dir` holds a catalog.
pub fn is_catalog(dir: &Path) -> bool {
    dir.join(META).is_file()
}

fn io(file: &Path, e: impl std::fmt::Display) -> FeedError {
    FeedError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    }
}

fn table(file: &Path, e: impl std::fmt::Display) -> FeedError {
    FeedError::Table {
        file: file.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `data` (as loaded with `opts`) as a catalog in `dir`.
///
/// # Errors
/// I/O or Parquet errors, naming the file.
pub fn write(data: &MarketData, opts: &LoadOptions, dir: &Path) -> Result<(), FeedError> {
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let n = data.bar_count();
    let mut instrument = Vec::with_capacity(n);
    let mut ts = Vec::with_capacity(n);
    let (mut open, mut high, mut low, mut close, mut volume) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, s) in data.series.iter().enumerate() {
        instrument.extend(std::iter::repeat_n(i as u32, s.len()));
        ts.extend(s.step.iter().map(|&k| data.timestamps[k as usize]));
        open.extend_from_slice(&s.open);
        high.extend_from_slice(&s.high);
        low.extend_from_slice(&s.low);
        close.extend_from_slice(&s.close);
        volume.extend_from_slice(&s.volume);
    }
    let bars = dir.join(BARS);
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("instrument".into(), instrument),
            Column::new("ts".into(), ts),
            Column::new("open".into(), open),
            Column::new("high".into(), high),
            Column::new("low".into(), low),
            Column::new("close".into(), close),
            Column::new("volume".into(), volume),
        ],
    )
    .map_err(|e| table(&bars, e))?;
    let file = std::fs::File::create(&bars).map_err(|e| io(&bars, e))?;
    ParquetWriter::new(file).finish(&mut df).map_err(|e| table(&bars, e))?;
    let meta = CatalogMeta {
        format: FORMAT.into(),
        daily: data.daily,
        time_zone: opts.time_zone.name().to_string(),
        session_close: opts.session_close.format("%H:%M").to_string(),
        instruments: data
            .instruments
            .iter()
            .zip(&data.series)
            .map(|(i, s)| CatalogInstrument {
                symbol: i.symbol.clone(),
                price_scale: s.price_scale,
                volume_scale: s.volume_scale,
                bars: s.len(),
            })
            .collect(),
        report: data.report.clone(),
    };
    let path = dir.join(META);
    let text = serde_json::to_string_pretty(&meta).map_err(|e| io(&path, e))?;
    std::fs::write(&path, text + "\n").map_err(|e| io(&path, e))
}

fn i64_column<'a>(df: &'a DataFrame, file: &Path, name: &str) -> Result<&'a Int64Chunked, FeedError> {
    df.column(name)
        .map_err(|_| FeedError::MissingColumn {
            file: file.to_path_buf(),
            column: name.into(),
        })?
        .i64()
        .map_err(|e| table(file, e))
}

/// Reads a catalog into per-symbol columns, checking every bar.
pub(super) fn read(dir: &Path, opts: &LoadOptions) -> Result<(BTreeMap<String, Compact>, bool, LoadReport), FeedError> {
    let path = dir.join(META);
    let text = std::fs::read_to_string(&path).map_err(|e| io(&path, e))?;
    let meta: CatalogMeta = serde_json::from_str(&text).map_err(|e| table(&path, e))?;
    if meta.format != FORMAT {
        return Err(table(&path, format!("format {:?}, expected {FORMAT:?}", meta.format)));
    }
    let session_close = opts.session_close.format("%H:%M").to_string();
    if meta.daily && (meta.time_zone != opts.time_zone.name() || meta.session_close != session_close) {
        return Err(table(
            &path,
            format!(
                "daily bars stamped at {} {}, but data.time_zone and data.session_close say {} {}: import again",
                meta.session_close,
                meta.time_zone,
                session_close,
                opts.time_zone.name()
            ),
        ));
    }
    let file = dir.join(BARS);
    let f = std::fs::File::open(&file).map_err(|e| io(&file, e))?;
    let df = ParquetReader::new(f).finish().map_err(|e| table(&file, e))?;
    let inst = df
        .column("instrument")
        .map_err(|_| FeedError::MissingColumn {
            file: file.clone(),
            column: "instrument".into(),
        })?
        .u32()
        .map_err(|e| table(&file, e))?
        .rechunk();
    let cols = ["ts", "open", "high", "low", "close", "volume"]
        .iter()
        .map(|c| i64_column(&df, &file, c).map(|a| a.rechunk()))
        .collect::<Result<Vec<_>, _>>()?;
    let slices = cols
        .iter()
        .map(|c| c.cont_slice().map_err(|e| table(&file, e)))
        .collect::<Result<Vec<_>, _>>()?;
    let inst = inst.cont_slice().map_err(|e| table(&file, e))?;
    let (ts, open, high, low, close, volume) = (slices[0], slices[1], slices[2], slices[3], slices[4], slices[5]);
    let expected: usize = meta.instruments.iter().map(|i| i.bars).sum();
    if expected != df.height() {
        return Err(table(
            &file,
            format!("{} rows, catalog.json lists {expected} bars", df.height()),
        ));
    }
    let bad = |row: usize, field: &'static str, reason: String| FeedError::BadRow {
        file: file.clone(),
        row: format!("row {}", row + 1),
        field,
        reason,
    };
    let mut out = BTreeMap::new();
    let mut start = 0usize;
    for (i, m) in meta.instruments.iter().enumerate() {
        let end = start + m.bars;
        let c = Compact {
            ts: ts[start..end].to_vec(),
            series: Series {
                step: Vec::with_capacity(m.bars),
                open: open[start..end].to_vec(),
                high: high[start..end].to_vec(),
                low: low[start..end].to_vec(),
                close: close[start..end].to_vec(),
                volume: volume[start..end].to_vec(),
                price_scale: m.price_scale,
                volume_scale: m.volume_scale,
            },
        };
        for k in start..end {
            if inst[k] as usize != i {
                return Err(bad(
                    k,
                    "instrument",
                    format!("instrument {} where {} was expected", inst[k], i),
                ));
            }
            if k > start && ts[k] <= ts[k - 1] {
                return Err(bad(k, "ts", "not later than the previous bar of its symbol".into()));
            }
            if open[k] <= 0 || high[k] <= 0 || low[k] <= 0 || close[k] <= 0 {
                return Err(bad(k, "open", "non-positive price".into()));
            }
            if high[k] < low[k] || open[k] < low[k] || open[k] > high[k] || close[k] < low[k] || close[k] > high[k] {
                return Err(bad(k, "high", "prices outside [low, high]".into()));
            }
            if volume[k] < 0 {
                return Err(bad(k, "volume", "negative volume".into()));
            }
        }
        out.insert(m.symbol.clone(), c);
        start = end;
    }
    let mut report = meta.report.clone();
    report.files = 1;
    report.missing_bars = 0;
    Ok((out, meta.daily, report))
}
