//! `kairos audit`: no look-ahead, checked for any strategy, as a command.
//!
//! The configured backtest runs twice on the same loaded market: once as it is, once with every
//! bar after a cut timestamp replaced (each price of each bar multiplied by its own seeded random
//! factor between 0.7 and 1.3, volumes too; bars stay valid: high >= open, close >= low). A
//! decision at or before the cut may only depend on bars up to it, so every order event up to the
//! cut (the orders decided, their acceptance and their fills, `events.jsonl` lines of steps up to
//! the cut) must be the same in both runs. The report names the first one that is not.
//!
//! It works on a user's own strategy as on the built-in ones (a user's registry, or
//! [`audit_with`]'s [`PreparedStrategy`]: each is built for the market each run sees), and on
//! model-driven strategies (the model scores the altered bars in the second run).

use crate::config::{Config, ConfigError};
use crate::data::synth::Rng;
use crate::data::MarketData;
use crate::run::{self, Prepared, RunError};
use crate::strategy::{PreparedStrategy, Strategies};
use crate::types::UnixNanos;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;

/// The first order event up to the cut that differs between the two runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Difference {
    pub step: u64,
    pub date: String,
    /// The `events.jsonl` line of the run on the market as it is (empty: none there).
    pub original: String,
    /// The line of the run on the altered market (empty: none there).
    pub altered: String,
}

/// What the audit found.
#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub strategy: String,
    /// The cut: its step and date; every bar after it was replaced.
    pub cut_step: u64,
    pub cut_date: String,
    pub seed: u64,
    pub bars_replaced: usize,
    /// Orders decided up to the cut (in the run on the market as it is).
    pub decisions_compared: usize,
    /// Order events up to the cut, compared line by line.
    pub events_compared: usize,
    /// True when no decision up to the cut changed: no look-ahead seen.
    pub unchanged: bool,
    pub first_difference: Option<Difference>,
    /// Where the two runs' outputs are.
    pub original_dir: PathBuf,
    pub altered_dir: PathBuf,
}

/// The market with every bar after step `cut` replaced (see the module documentation), and how
/// many bars were.
pub fn alter_after(data: &MarketData, cut: usize, seed: u64) -> (MarketData, usize) {
    let mut out = data.clone();
    let mut rng = Rng::new(seed);
    let mut n = 0;
    for s in &mut out.series {
        for k in 0..s.len() {
            if (s.step[k] as usize) <= cut {
                continue;
            }
            let f = 700 + (rng.next_u64() % 601) as i64;
            let scale = |m: i64| ((i128::from(m) * i128::from(f) + 500) / 1000).max(1) as i64;
            s.open[k] = scale(s.open[k]);
            s.high[k] = scale(s.high[k]);
            s.low[k] = scale(s.low[k]);
            s.close[k] = scale(s.close[k]);
            let g = 700 + (rng.next_u64() % 601) as i64;
            s.volume[k] = ((i128::from(s.volume[k]) * i128::from(g)) / 1000) as i64;
            n += 1;
        }
    }
    (out, n)
}

/// The step of the last timestamp on or before `at` (a date, `YYYY-MM-DD`, in the market's
/// time zone); without `at`, the middle of the market.
///
/// # Errors
/// A date that does not parse, or leaves no bar before or after it.
pub fn cut_step(data: &MarketData, at: Option<&str>) -> Result<usize, ConfigError> {
    let n = data.timestamps.len();
    if n < 2 {
        return Err(ConfigError::Value(
            "audit: the market needs at least two timestamps".into(),
        ));
    }
    let Some(at) = at else {
        return Ok(n / 2 - 1);
    };
    let date = chrono::NaiveDate::parse_from_str(at, "%Y-%m-%d")
        .map_err(|e| ConfigError::Value(format!("--at {at:?}: expected YYYY-MM-DD ({e})")))?;
    let tz = data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone);
    use chrono::TimeZone;
    let k = data
        .timestamps
        .iter()
        .rposition(|&ts| tz.timestamp_nanos(ts).date_naive() <= date)
        .ok_or_else(|| ConfigError::Value(format!("--at {at}: the market starts after it")))?;
    if k + 1 >= n {
        return Err(ConfigError::Value(format!(
            "--at {at}: no bar after it to replace (the market ends there)"
        )));
    }
    Ok(k)
}

/// Audits the configured strategy of `strategies` (the built-ins, or a user's own registry).
/// See [`audit_prepared`].
///
/// # Errors
/// As [`audit_prepared`], and a bad configuration or strategy parameters.
pub fn audit(
    cfg: &Config,
    strategies: &Strategies,
    data: Arc<MarketData>,
    cut: usize,
    seed: u64,
) -> Result<AuditReport, RunError> {
    audit_prepared(&run::prepare(cfg, strategies)?, data, cut, seed)
}

/// Audits a strategy of the caller's own, built for each run's market by `strategy`.
///
/// # Errors
/// As [`audit_prepared`].
pub fn audit_with(
    cfg: &Config,
    data: Arc<MarketData>,
    cut: usize,
    seed: u64,
    strategy: PreparedStrategy,
) -> Result<AuditReport, RunError> {
    audit_prepared(&Prepared::with_strategy(cfg, strategy)?, data, cut, seed)
}

/// Audits a prepared run: its strategy is built once per run with the market that run sees;
/// outputs go to `output.dir/audit/{original,altered}`.
///
/// # Errors
/// Strategy construction, model loading, engine or output errors.
pub fn audit_prepared(
    prepared: &Prepared,
    data: Arc<MarketData>,
    cut: usize,
    seed: u64,
) -> Result<AuditReport, RunError> {
    let cfg = &prepared.cfg;
    let (altered, bars_replaced) = alter_after(&data, cut, seed);
    let altered = Arc::new(altered);
    let root = cfg.output.dir.join("audit");
    let mut dirs = Vec::new();
    for (label, market) in [("original", data.clone()), ("altered", altered)] {
        let mut p = prepared.clone();
        p.cfg.output.dir = root.join(label);
        p.cfg.output.event_log = true;
        p.cfg.engine.progress = false;
        std::fs::create_dir_all(&p.cfg.output.dir).map_err(|source| RunError::Write {
            path: p.cfg.output.dir.clone(),
            source,
        })?;
        p.execute(market)?;
        dirs.push(p.cfg.output.dir);
    }
    let read = |d: &PathBuf| -> Result<Vec<String>, RunError> {
        let p = d.join("events.jsonl");
        let text = std::fs::read_to_string(&p).map_err(|source| RunError::Write { path: p, source })?;
        Ok(text
            .lines()
            .filter(|l| step_of(l).is_some_and(|s| s <= cut as u64))
            .map(str::to_string)
            .collect())
    };
    let (a, b) = (read(&dirs[0])?, read(&dirs[1])?);
    let first = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)).map(|i| {
        let line = a.get(i).or(b.get(i)).cloned().unwrap_or_default();
        Difference {
            step: step_of(&line).unwrap_or(0),
            date: date_of(&line),
            original: a.get(i).cloned().unwrap_or_default(),
            altered: b.get(i).cloned().unwrap_or_default(),
        }
    });
    let fmt = crate::output::TimeFormat {
        daily: data.daily,
        tz: data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone),
    };
    Ok(AuditReport {
        strategy: prepared.strategy.name().to_string(),
        cut_step: cut as u64,
        cut_date: fmt.format(data.timestamps[cut] as UnixNanos),
        seed,
        bars_replaced,
        decisions_compared: a.iter().filter(|l| l.contains("\"event\":\"submitted\"")).count(),
        events_compared: a.len(),
        unchanged: first.is_none(),
        first_difference: first,
        original_dir: dirs[0].clone(),
        altered_dir: dirs[1].clone(),
    })
}

/// The step of an `events.jsonl` line.
fn step_of(line: &str) -> Option<u64> {
    let rest = line.strip_prefix("{\"step\":")?;
    let end = rest.find(',')?;
    rest[..end].parse().ok()
}

fn date_of(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v["date"].as_str().map(str::to_string))
        .unwrap_or_default()
}
