//! Scores read from a file (`[model] scores = FILE`) instead of computed by a model: a strategy
//! that ranks by a model's scores can rank by any research's predictions, for example the
//! out-of-sample predictions `kairos walkforward` writes (`oos_predictions.csv`).
//!
//! The file is a CSV with the columns `date,symbol,score` (other columns are ignored; the score
//! column may also be called `prediction`, or `model` as in `oos_predictions.csv`, whose `label`
//! column, the realized future, is never read). Point in time: a score dated `d` is handed to the
//! strategy at the close of the market's bar of date `d` (on an intraday market, its last bar
//! of that date: the session's close), never earlier, and only then. Rows of symbols the market
//! does not have, and of dates it does not have, are counted and logged, not used.

use crate::data::MarketData;
use crate::feeds::FeedError;
use crate::types::InstrumentId;
use chrono::{NaiveDate, TimeZone};
use std::collections::HashMap;
use std::path::Path;

/// Scores by replay step.
#[derive(Clone, Debug, Default)]
pub struct FileScores {
    by_step: HashMap<u64, Vec<(InstrumentId, f64)>>,
    /// Rows not used: symbol not in the market, date not in the market.
    pub unknown_symbol: usize,
    pub unknown_date: usize,
}

impl FileScores {
    /// Reads the file against the market's symbols and dates.
    ///
    /// # Errors
    /// The file cannot be read, lacks a column, or a row has a bad date, an empty symbol, a score
    /// that is not a finite number, or repeats a (date, symbol) (named by line and field).
    pub fn load(path: &Path, data: &MarketData) -> Result<Self, FeedError> {
        let text = std::fs::read_to_string(path).map_err(|e| FeedError::Io {
            file: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').map(str::trim).collect();
        let col = |names: &[&str]| {
            header
                .iter()
                .position(|h| names.contains(h))
                .ok_or_else(|| FeedError::MissingColumn {
                    file: path.to_path_buf(),
                    column: names[0].to_string(),
                })
        };
        let (dc, sc, vc) = (
            col(&["date"])?,
            col(&["symbol"])?,
            col(&["score", "prediction", "model"])?,
        );
        // The last step of each date: a date's score is used at its close.
        let tz = data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone);
        let mut step_of: HashMap<NaiveDate, u64> = HashMap::new();
        for (k, &ts) in data.timestamps.iter().enumerate() {
            step_of.insert(tz.timestamp_nanos(ts).date_naive(), k as u64);
        }
        let ids: HashMap<&str, InstrumentId> = data.instruments.iter().map(|i| (i.symbol.as_str(), i.id)).collect();
        let mut out = FileScores::default();
        let mut seen = std::collections::HashSet::new();
        for (n, line) in lines.enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let bad = |field: &'static str, reason: String| FeedError::BadRow {
                file: path.to_path_buf(),
                row: format!("line {}", n + 2),
                field,
                reason,
            };
            let d = f.get(dc).copied().unwrap_or("");
            let date = NaiveDate::parse_from_str(d.get(..10).unwrap_or(d), "%Y-%m-%d")
                .map_err(|_| bad("date", format!("{d:?} is not a date (YYYY-MM-DD)")))?;
            let symbol = f.get(sc).copied().unwrap_or("");
            if symbol.is_empty() {
                return Err(bad("symbol", "empty".into()));
            }
            let v = f.get(vc).copied().unwrap_or("");
            let score: f64 = v
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite())
                .ok_or_else(|| bad("score", format!("{v:?} is not a finite number")))?;
            if !seen.insert((date, symbol.to_string())) {
                return Err(bad("date", format!("a second score for {symbol} on {date}")));
            }
            let Some(&id) = ids.get(symbol) else {
                out.unknown_symbol += 1;
                continue;
            };
            let Some(&step) = step_of.get(&date) else {
                out.unknown_date += 1;
                continue;
            };
            out.by_step.entry(step).or_default().push((id, score));
        }
        for v in out.by_step.values_mut() {
            v.sort_by_key(|(id, _)| *id);
        }
        if out.unknown_symbol + out.unknown_date > 0 {
            tracing::warn!(
                file = %path.display(),
                unknown_symbol = out.unknown_symbol,
                unknown_date = out.unknown_date,
                "score rows not used: symbols or dates the market does not have"
            );
        }
        Ok(out)
    }

    /// The scores handed to the strategy at `step`.
    pub fn at(&self, step: u64) -> Vec<(InstrumentId, f64)> {
        self.by_step.get(&step).cloned().unwrap_or_default()
    }
}
