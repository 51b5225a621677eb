//! A byte-level reader for plain CSV files (comma-separated, no quoting), the layout every
//! engine's exporter writes: it hands each data line's fields to the same validation as the
//! polars path, without building a table first. Files that quote fields go through polars.

use super::validate::{FeedError, RawRow, RowFault};
use std::path::Path;

/// Column positions of the fields a loader needs.
pub struct Layout {
    pub width: usize,
    pub symbol: Option<usize>,
    pub time: usize,
    pub ohlcv: [usize; 5],
}

/// Where each field is, by (case-insensitive, trimmed) header name.
fn layout(file: &Path, header: &str, with_symbol: bool) -> Result<Layout, FeedError> {
    let names: Vec<String> = header.split(',').map(|h| h.trim().to_ascii_lowercase()).collect();
    let find = |wanted: &[&str]| -> Result<usize, FeedError> {
        names
            .iter()
            .position(|n| wanted.contains(&n.as_str()))
            .ok_or_else(|| FeedError::MissingColumn {
                file: file.to_path_buf(),
                column: wanted[0].to_string(),
            })
    };
    let symbol = if with_symbol {
        Some(find(&["symbol", "ticker"])?)
    } else {
        None
    };
    let time = find(&super::tables::TIME_NAMES)?;
    Ok(Layout {
        width: names.len(),
        symbol,
        time,
        ohlcv: [
            find(&["open"])?,
            find(&["high"])?,
            find(&["low"])?,
            find(&["close"])?,
            find(&["volume"])?,
        ],
    })
}

/// The text of `bytes`, or an error naming the line of the first invalid UTF-8 byte.
fn text<'a>(file: &Path, bytes: &'a [u8]) -> Result<&'a str, FeedError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        FeedError::BadRow {
            file: file.to_path_buf(),
            row: format!("line {line}"),
            field: "*",
            reason: "invalid UTF-8".into(),
        }
    })
}

/// Reads a plain CSV file and calls `row(line_number, symbol, raw)` for every data line, in
/// order; a line with more fields than the header comes as a [`RowFault`] (the caller applies
/// the bad-row policy), one with fewer has its missing trailing fields empty. Returns `Ok(None)`
/// when the file quotes fields (the caller reads it through polars).
///
/// # Errors
/// I/O, an empty file, a missing column, invalid UTF-8, a line with the wrong number of fields,
/// and whatever `row` returns.
pub fn for_each_row(
    file: &Path,
    with_symbol: bool,
    mut row: impl FnMut(usize, Option<&str>, Result<&RawRow<'_>, RowFault>) -> Result<(), FeedError>,
) -> Result<Option<()>, FeedError> {
    let bytes = std::fs::read(file).map_err(|e| FeedError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    if bytes.is_empty() {
        return Err(FeedError::EmptyFile {
            file: file.to_path_buf(),
        });
    }
    if bytes.contains(&b'"') {
        return Ok(None);
    }
    let text = text(file, &bytes)?;
    let mut lines = text.split('\n').enumerate();
    let header = lines.next().map(|(_, h)| h.trim_end_matches('\r')).unwrap_or_default();
    let l = layout(file, header, with_symbol)?;
    let mut fields: Vec<&str> = Vec::with_capacity(l.width);
    let mut any = false;
    for (i, line) in lines {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        any = true;
        fields.clear();
        fields.extend(line.split(','));
        if fields.len() > l.width {
            let fault = RowFault::new(
                "*",
                "wrong number of fields",
                format!("{} fields, the header has {}", fields.len(), l.width),
            );
            row(i + 1, None, Err(fault))?;
            continue;
        }
        let get = |k: usize| fields.get(k).copied().filter(|s| !s.is_empty());
        let raw = RawRow {
            time: get(l.time),
            open: get(l.ohlcv[0]),
            high: get(l.ohlcv[1]),
            low: get(l.ohlcv[2]),
            close: get(l.ohlcv[3]),
            volume: get(l.ohlcv[4]),
        };
        row(i + 1, l.symbol.and_then(|k| fields.get(k).copied()), Ok(&raw))?;
    }
    if !any {
        return Err(FeedError::EmptyFile {
            file: file.to_path_buf(),
        });
    }
    Ok(Some(()))
}
