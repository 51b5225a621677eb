//! A byte-level reader for plain CSV files (comma-separated, no quoting), the layout every
//! engine's exporter writes: it hands each data line's fields to the same validation as the
//! polars path, without building a table first. Files that quote fields go through polars.

use super::validate::{FeedError, RawRow, RowFault};
use std::path::Path;

/// Column positions of the fields a loader needs.
pub struct Layout {
    pub width: usize,
    /// The time column's name (one of `TIME_NAMES`).
    pub time_field: &'static str,
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
    let times: Vec<&str> = names
        .iter()
        .filter(|n| super::tables::TIME_NAMES.contains(&n.as_str()))
        .map(String::as_str)
        .collect();
    if times.len() > 1 {
        return Err(FeedError::Table {
            file: file.to_path_buf(),
            message: format!("more than one time column ({}): keep one", times.join(", ")),
        });
    }
    let time = find(&super::tables::TIME_NAMES)?;
    let time_field = super::tables::TIME_NAMES
        .iter()
        .find(|n| **n == names[time])
        .copied()
        .unwrap_or("date");
    Ok(Layout {
        width: names.len(),
        time_field,
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
fn text(file: &Path, bytes: Vec<u8>) -> Result<String, FeedError> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        FeedError::BadRow {
            file: file.to_path_buf(),
            row: format!("line {line}"),
            field: "*",
            reason: "invalid UTF-8".into(),
        }
    })
}

/// A plain CSV file, read and checked (UTF-8, header, columns), ready to hand out its rows.
pub struct PlainCsv {
    text: String,
    layout: Layout,
    file: std::path::PathBuf,
}

/// Reads a CSV file: `Ok(None)` when it quotes fields (the caller reads it through polars, after
/// its quotes were checked to balance).
///
/// # Errors
/// I/O, an empty file, a missing column or more than one time column, invalid UTF-8, an
/// unbalanced quote.
pub fn open(file: &Path, with_symbol: bool) -> Result<Option<PlainCsv>, FeedError> {
    let bytes = std::fs::read(file).map_err(|e| FeedError::Io {
        file: file.to_path_buf(),
        message: e.to_string(),
    })?;
    if bytes.is_empty() {
        return Err(FeedError::EmptyFile {
            file: file.to_path_buf(),
        });
    }
    let quoted = bytes.contains(&b'"');
    let text = text(file, bytes)?;
    if quoted {
        unbalanced_quote(file, &text)?;
        return Ok(None);
    }
    let header = text.split('\n').next().unwrap_or_default().trim_end_matches('\r');
    let layout = layout(file, header, with_symbol)?;
    Ok(Some(PlainCsv {
        text,
        layout,
        file: file.to_path_buf(),
    }))
}

impl PlainCsv {
    /// The time column's name, for messages.
    pub fn time_field(&self) -> &'static str {
        self.layout.time_field
    }

    /// Calls `row(line_number, symbol, raw)` for every data line, in order; a line with more
    /// fields than the header comes as a [`RowFault`] (the caller applies the bad-row policy),
    /// one with fewer has its missing trailing fields empty; blank lines are skipped.
    ///
    /// # Errors
    /// A file without a data line, and whatever `row` returns.
    pub fn for_each_row(
        &self,
        mut row: impl FnMut(usize, Option<&str>, Result<&RawRow<'_>, RowFault>) -> Result<(), FeedError>,
    ) -> Result<(), FeedError> {
        let l = &self.layout;
        let mut fields: Vec<&str> = Vec::with_capacity(l.width);
        let mut any = false;
        for (i, line) in self.text.split('\n').enumerate().skip(1) {
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
                file: self.file.clone(),
            });
        }
        Ok(())
    }
}

/// An opening quote never closed: an error naming its line (polars' own message has none).
fn unbalanced_quote(file: &Path, text: &str) -> Result<(), FeedError> {
    // The line of the quote left open: each line with an odd number of quotes flips the state.
    let mut open_at = None;
    for (i, line) in text.split('\n').enumerate() {
        if line.bytes().filter(|&b| b == b'"').count() % 2 == 1 {
            open_at = match open_at {
                Some(_) => None,
                None => Some(i + 1),
            };
        }
    }
    match open_at {
        Some(line) => Err(FeedError::BadRow {
            file: file.to_path_buf(),
            row: format!("line {line}"),
            field: "*",
            reason: "a quote opened here is never closed".into(),
        }),
        None => Ok(()),
    }
}
