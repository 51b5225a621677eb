//! A point-in-time universe: index membership spans (`data.universe = FILE`).
//!
//! The file is a CSV with the columns `ticker,start_date,end_date` (the layout of
//! `shared/data/sp500_membership_spans.csv`): one row per span, a symbol may have several, an
//! empty `end_date` means still a member. A symbol is a member on every date `d` with
//! `start_date <= d <= end_date` (both inclusive), in the market's time zone; a symbol absent
//! from the file is never a member. Reference series (the benchmark) are not traded and are not
//! affected.
//!
//! What membership does: a strategy sees it through
//! [`crate::strategy::StrategyContext::in_universe`] (the built-in strategies select only
//! members), and the strategy host drops, with a log line naming symbol and date, any order
//! that would open or add to a position in a symbol outside the universe on its decision date.
//! Orders that reduce or close a position go through: held names may always be sold.

use super::MarketData;
use crate::feeds::FeedError;
use chrono::{NaiveDate, TimeZone};
use std::collections::HashMap;
use std::path::Path;

/// Membership spans by symbol.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Universe {
    spans: HashMap<String, Vec<(NaiveDate, Option<NaiveDate>)>>,
}

impl Universe {
    /// Reads a spans file.
    ///
    /// # Errors
    /// The file cannot be read, lacks a column, or a row's date is not `YYYY-MM-DD` or ends
    /// before it starts (named by line and field).
    pub fn load(path: &Path) -> Result<Self, FeedError> {
        let text = std::fs::read_to_string(path).map_err(|e| FeedError::Io {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Self::parse(&text, path)
    }

    /// Parses the text of a spans file (`path` names it in errors).
    ///
    /// # Errors
    /// As [`Universe::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self, FeedError> {
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').map(str::trim).collect();
        let col = |name: &str| {
            header
                .iter()
                .position(|h| *h == name)
                .ok_or_else(|| FeedError::MissingColumn {
                    file: path.to_path_buf(),
                    column: name.into(),
                })
        };
        let (t, s, e) = (col("ticker")?, col("start_date")?, col("end_date")?);
        let mut spans: HashMap<String, Vec<(NaiveDate, Option<NaiveDate>)>> = HashMap::new();
        for (i, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = |field: &'static str, reason: String| FeedError::BadRow {
                file: path.to_path_buf(),
                row: format!("line {}", i + 2),
                field,
                reason,
            };
            let ticker = f.get(t).copied().unwrap_or("");
            if ticker.is_empty() {
                return Err(bad("ticker", "empty".into()));
            }
            let date = |k: usize, field: &'static str| -> Result<Option<NaiveDate>, FeedError> {
                match f.get(k).copied().unwrap_or("") {
                    "" => Ok(None),
                    d => NaiveDate::parse_from_str(d, "%Y-%m-%d")
                        .map(Some)
                        .map_err(|_| bad(field, format!("{d:?} is not a date (YYYY-MM-DD)"))),
                }
            };
            let start = date(s, "start_date")?.ok_or_else(|| bad("start_date", "empty".into()))?;
            let end = date(e, "end_date")?;
            if end.is_some_and(|end| end < start) {
                return Err(bad(
                    "end_date",
                    format!("{} is before start_date {start}", end.unwrap_or(start)),
                ));
            }
            spans.entry(ticker.to_string()).or_default().push((start, end));
        }
        Ok(Self { spans })
    }

    /// Whether `symbol` is a member on `date`.
    pub fn contains(&self, symbol: &str, date: NaiveDate) -> bool {
        self.spans
            .get(symbol)
            .is_some_and(|v| v.iter().any(|(s, e)| *s <= date && e.is_none_or(|e| date <= e)))
    }

    /// Membership of every instrument of `data` at every timestamp (reference series: always).
    pub fn mask(&self, data: &MarketData) -> UniverseMask {
        let dates: Vec<NaiveDate> = data
            .timestamps
            .iter()
            .map(|&ts| {
                let tz = data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone);
                tz.timestamp_nanos(ts).date_naive()
            })
            .collect();
        let members = data
            .instruments
            .iter()
            .map(|ins| {
                dates
                    .iter()
                    .map(|&d| !ins.tradable || self.contains(&ins.symbol, d))
                    .collect()
            })
            .collect();
        UniverseMask { members }
    }
}

/// Membership per instrument and step.
#[derive(Clone, Debug, PartialEq)]
pub struct UniverseMask {
    members: Vec<Vec<bool>>,
}

impl UniverseMask {
    /// Whether instrument `i` is a member at step `step` (steps past the market: not).
    pub fn contains(&self, i: usize, step: u64) -> bool {
        self.members
            .get(i)
            .and_then(|m| m.get(step as usize))
            .copied()
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_inclusive_several_per_symbol_and_open_ended() {
        let u = Universe::parse(
            "ticker,start_date,end_date\nAAL,1996-01-02,1997-01-15\nAAL,2015-03-23,\nA,2000-06-05,2000-06-05\n",
            Path::new("u.csv"),
        )
        .expect("parse");
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        assert!(u.contains("AAL", d("1996-01-02")) && u.contains("AAL", d("1997-01-15")));
        assert!(!u.contains("AAL", d("1997-01-16")) && !u.contains("AAL", d("2015-03-22")));
        assert!(u.contains("AAL", d("2030-01-01")));
        assert!(u.contains("A", d("2000-06-05")) && !u.contains("A", d("2000-06-06")));
        assert!(!u.contains("ZZZ", d("2000-06-05")));
    }

    #[test]
    fn bad_rows_are_named_by_line_and_field() {
        let err = |text: &str| Universe::parse(text, Path::new("u.csv")).expect_err("bad").to_string();
        assert_eq!(
            err("ticker,start_date,end_date\nA,2000-01-01,\nB,01/02/2000,\n"),
            "u.csv: line 3, field `start_date`: \"01/02/2000\" is not a date (YYYY-MM-DD)"
        );
        assert_eq!(
            err("ticker,start_date,end_date\nA,2000-01-02,2000-01-01\n"),
            "u.csv: line 2, field `end_date`: 2000-01-01 is before start_date 2000-01-02"
        );
        assert_eq!(
            err("ticker,start\nA,2000-01-01\n"),
            "u.csv: missing column `start_date`"
        );
    }
}
