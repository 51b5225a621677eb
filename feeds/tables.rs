//! Reading tables through polars. Every column is read as text (CSV) or cast to text
//! (Parquet), so that validation sees exactly what the file holds and can name row and field.

use super::validate::{Context, FeedError, RawRow, RowRef, SymbolRows};
use crate::data::LoadReport;
use polars::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

pub(super) const TIME_NAMES: [&str; 3] = ["date", "timestamp", "datetime"];

fn table_err(file: &Path, e: impl std::fmt::Display) -> FeedError {
    FeedError::Table {
        file: file.to_path_buf(),
        message: e.to_string(),
    }
}

/// Reads a CSV file with every column as text (no inference, nothing coerced).
fn read_csv_text(file: &Path) -> Result<DataFrame, FeedError> {
    let meta = std::fs::metadata(file).map_err(|e| FeedError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    if meta.len() == 0 {
        return Err(FeedError::EmptyFile {
            file: file.to_path_buf(),
        });
    }
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(file.to_path_buf()))
        .and_then(|r| r.finish())
        .map_err(|e| ragged_line(file).unwrap_or_else(|| table_err(file, e)))
}

/// On a read error, finds the first line whose number of fields differs from the header's, so
/// the message can name it (polars' own message has no row).
fn ragged_line(file: &Path) -> Option<FeedError> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut lines = text.lines();
    let width = lines.next()?.split(',').count();
    lines.enumerate().find_map(|(i, l)| {
        let n = l.split(',').count();
        (n != width && !l.trim().is_empty()).then(|| FeedError::BadRow {
            file: file.to_path_buf(),
            row: format!("line {}", i + 2),
            field: "*",
            reason: format!("{n} fields, the header has {width}"),
        })
    })
}

/// The columns a long table needs, each by its accepted names.
const WANTED: [&[&str]; 7] = [
    &["symbol", "ticker"],
    &TIME_NAMES,
    &["open"],
    &["high"],
    &["low"],
    &["close"],
    &["volume"],
];

/// Whether this build reads a Parquet column of type `dt` (polars without the decimal,
/// categorical and small-integer features cannot; reading them would abort).
fn parquet_type_supported(dt: &ArrowDataType) -> bool {
    matches!(
        dt,
        ArrowDataType::Int32
            | ArrowDataType::Int64
            | ArrowDataType::UInt32
            | ArrowDataType::UInt64
            | ArrowDataType::Float32
            | ArrowDataType::Float64
            | ArrowDataType::Utf8
            | ArrowDataType::LargeUtf8
            | ArrowDataType::Utf8View
            | ArrowDataType::Date32
            | ArrowDataType::Timestamp(_, _)
    )
}

/// Reads the needed columns of a Parquet table as text. Every column type is checked against
/// the file's schema first, so an unsupported one (decimals, dictionaries, 8- and 16-bit
/// integers, ...) is refused with its name and type instead of reaching polars. Floats become
/// their shortest round-trip text at their own width (a float32 17.87 stays 17.87); zoned
/// timestamps become RFC 3339 instants in UTC, naive ones local text.
fn read_parquet_text(file: &Path) -> Result<DataFrame, FeedError> {
    let f = std::fs::File::open(file).map_err(|e| FeedError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut reader = ParquetReader::new(f);
    let schema = reader.schema().map_err(|e| table_err(file, e))?;
    let mut names = Vec::new();
    for field in schema.iter_values() {
        let name = field.name.as_str();
        let wanted = WANTED
            .iter()
            .any(|alts| alts.iter().any(|n| name.trim().eq_ignore_ascii_case(n)));
        if !wanted {
            continue;
        }
        if !parquet_type_supported(&field.dtype) {
            return Err(FeedError::Table {
                file: file.to_path_buf(),
                message: format!(
                    "column `{name}` is of Parquet type {:?}, which is not read: store numbers as 32/64-bit integers, floats or text, times as dates, timestamps or text",
                    field.dtype
                ),
            });
        }
        names.push(name.to_string());
    }
    let df = reader
        .with_columns(Some(names))
        .finish()
        .map_err(|e| table_err(file, e))?;
    let mut cols = Vec::with_capacity(df.width());
    for c in df.columns() {
        let c = match c.dtype() {
            DataType::String => c.clone(),
            DataType::Float64 => float_to_text(c, false).map_err(|e| table_err(file, e))?,
            DataType::Float32 => float_to_text(c, true).map_err(|e| table_err(file, e))?,
            DataType::Datetime(unit, Some(_)) => zoned_to_text(c, *unit).map_err(|e| table_err(file, e))?,
            _ => c.cast(&DataType::String).map_err(|e| table_err(file, e))?,
        };
        cols.push(c);
    }
    DataFrame::new(df.height(), cols).map_err(|e| table_err(file, e))
}

/// A zoned timestamp column as RFC 3339 instants in UTC (its physical values are UTC).
fn zoned_to_text(c: &Column, unit: TimeUnit) -> PolarsResult<Column> {
    let ints = c.cast(&DataType::Int64)?;
    let ca = ints.i64()?;
    let per_second: i64 = match unit {
        TimeUnit::Nanoseconds => 1_000_000_000,
        TimeUnit::Microseconds => 1_000_000,
        TimeUnit::Milliseconds => 1_000,
    };
    let out: StringChunked = (0..ca.len())
        .map(|i| {
            ca.get(i).map(|v| {
                let nanos = (v.rem_euclid(per_second)) * (1_000_000_000 / per_second);
                chrono::DateTime::from_timestamp(v.div_euclid(per_second), nanos as u32)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                    .unwrap_or_else(|| format!("out-of-range timestamp {v}"))
            })
        })
        .collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

fn float_to_text(c: &Column, single: bool) -> PolarsResult<Column> {
    let f = c.cast(&DataType::Float64)?;
    let ca = f.f64()?;
    let out: StringChunked = (0..ca.len())
        .map(|i| ca.get(i))
        .map(|v| {
            v.map(|x| {
                if x.is_nan() {
                    "NaN".to_string()
                } else if single {
                    // The value a float32 carries, not its float64 widening (17.8700008...).
                    format!("{}", x as f32)
                } else {
                    format!("{x}")
                }
            })
        })
        .collect();
    Ok(out.with_name(c.name().clone()).into_column())
}

/// The text columns a loader needs, found by (case-insensitive) name.
struct Columns<'a> {
    symbol: Option<&'a StringChunked>,
    time: &'a StringChunked,
    open: &'a StringChunked,
    high: &'a StringChunked,
    low: &'a StringChunked,
    close: &'a StringChunked,
    volume: &'a StringChunked,
}

fn find<'a>(df: &'a DataFrame, file: &Path, names: &[&str]) -> Result<&'a StringChunked, FeedError> {
    let col = df
        .columns()
        .iter()
        .find(|c| names.iter().any(|n| c.name().as_str().trim().eq_ignore_ascii_case(n)))
        .ok_or_else(|| FeedError::MissingColumn {
            file: file.to_path_buf(),
            column: names[0].to_string(),
        })?;
    col.str().map_err(|e| table_err(file, e))
}

/// The one time column's name as messages give it; more than one is ambiguous.
fn time_field_of(df: &DataFrame, file: &Path) -> Result<&'static str, FeedError> {
    let found: Vec<&'static str> = df
        .columns()
        .iter()
        .filter_map(|c| {
            TIME_NAMES
                .iter()
                .find(|n| c.name().as_str().trim().eq_ignore_ascii_case(n))
                .copied()
        })
        .collect();
    if found.len() > 1 {
        return Err(FeedError::Table {
            file: file.to_path_buf(),
            message: format!("more than one time column ({}): keep one", found.join(", ")),
        });
    }
    Ok(found.first().copied().unwrap_or("date"))
}

impl<'a> Columns<'a> {
    fn of(df: &'a DataFrame, file: &Path, with_symbol: bool) -> Result<Self, FeedError> {
        let symbol = if with_symbol {
            Some(find(df, file, &["symbol", "ticker"])?)
        } else {
            None
        };
        let cols = Self {
            symbol,
            time: find(df, file, &TIME_NAMES)?,
            open: find(df, file, &["open"])?,
            high: find(df, file, &["high"])?,
            low: find(df, file, &["low"])?,
            close: find(df, file, &["close"])?,
            volume: find(df, file, &["volume"])?,
        };
        if df.height() == 0 {
            return Err(FeedError::EmptyFile {
                file: file.to_path_buf(),
            });
        }
        Ok(cols)
    }

    fn raw(&self, i: usize) -> RawRow<'a> {
        RawRow {
            time: self.time.get(i),
            open: self.open.get(i),
            high: self.high.get(i),
            low: self.low.get(i),
            close: self.close.get(i),
            volume: self.volume.get(i),
        }
    }
}

/// How a data row is named in messages: CSV line numbers count the header as line 1.
fn row_label(parquet: bool, i: usize) -> String {
    if parquet {
        format!("row {}", i + 1)
    } else {
        format!("line {}", i + 2)
    }
}

/// Reads `SYMBOL.csv` of the per-symbol layout: plain files byte by byte
/// ([`super::csv_fast`]), files with quoted fields through polars.
pub fn read_symbol_csv(file: &Path, ctx: &mut Context<'_>, report: &mut LoadReport) -> Result<SymbolRows, FeedError> {
    let mut rows = SymbolRows::default();
    if let Some(csv) = super::csv_fast::open(file, false)? {
        ctx.time_field = csv.time_field();
        csv.for_each_row(|line, _, raw| match raw {
            Ok(raw) => rows.push(ctx, raw, file, RowRef::line(line), report),
            Err(fault) => {
                report.rows_read += 1;
                super::validate::reject(ctx, fault, file, format!("line {line}"), report)
            }
        })?;
        return Ok(rows);
    }
    let df = read_csv_text(file)?;
    ctx.time_field = time_field_of(&df, file)?;
    let cols = Columns::of(&df, file, false)?;
    let mut rows = SymbolRows::default();
    rows.rows.reserve(df.height());
    for i in 0..df.height() {
        rows.push(ctx, &cols.raw(i), file, RowRef::line(i + 2), report)?;
    }
    Ok(rows)
}

/// Reads a long table (`symbol,date,open,high,low,close,volume`) into per-symbol rows.
pub fn read_long(
    file: &Path,
    parquet: bool,
    ctx: &mut Context<'_>,
    report: &mut LoadReport,
    out: &mut BTreeMap<String, SymbolRows>,
) -> Result<(), FeedError> {
    if !parquet {
        if let Some(csv) = super::csv_fast::open(file, true)? {
            ctx.time_field = csv.time_field();
            csv.for_each_row(|line, symbol, raw| {
                let label = || format!("line {line}");
                let raw = match raw {
                    Ok(raw) => raw,
                    Err(fault) => {
                        report.rows_read += 1;
                        return super::validate::reject(ctx, fault, file, label(), report);
                    }
                };
                match symbol.map(str::trim).filter(|s| !s.is_empty()) {
                    Some(symbol) => {
                        let rows = match out.get_mut(symbol) {
                            Some(r) => r,
                            None => out.entry(symbol.to_string()).or_default(),
                        };
                        rows.push(ctx, raw, file, RowRef::line(line), report)
                    }
                    None => no_symbol(ctx, report, file, label()),
                }
            })?;
            return Ok(());
        }
    }
    let df = if parquet {
        read_parquet_text(file)?
    } else {
        read_csv_text(file)?
    };
    ctx.time_field = time_field_of(&df, file)?;
    let cols = Columns::of(&df, file, true)?;
    let symbols = cols.symbol.ok_or_else(|| FeedError::MissingColumn {
        file: file.to_path_buf(),
        column: "symbol".into(),
    })?;
    for i in 0..df.height() {
        let Some(symbol) = symbols.get(i).map(str::trim).filter(|s| !s.is_empty()) else {
            no_symbol(ctx, report, file, row_label(parquet, i))?;
            continue;
        };
        let rows = match out.get_mut(symbol) {
            Some(r) => r,
            None => out.entry(symbol.to_string()).or_default(),
        };
        let at = if parquet {
            RowRef::row(i + 1)
        } else {
            RowRef::line(i + 2)
        };
        rows.push(ctx, &cols.raw(i), file, at, report)?;
    }
    Ok(())
}

/// A row without a symbol cannot be placed: it goes through the bad-row policy.
fn no_symbol(ctx: &Context<'_>, report: &mut LoadReport, file: &Path, row: String) -> Result<(), FeedError> {
    report.rows_read += 1;
    let err = FeedError::BadRow {
        file: file.to_path_buf(),
        row,
        field: "symbol",
        reason: "empty".into(),
    };
    match ctx.opts.policy {
        super::BadRowPolicy::Fail => Err(err),
        super::BadRowPolicy::Skip => {
            *report.rows_skipped.entry("empty field".into()).or_default() += 1;
            if report.skipped_examples.len() < 20 {
                report.skipped_examples.push(err.to_string());
            }
            Ok(())
        }
    }
}
