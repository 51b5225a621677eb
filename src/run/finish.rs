//! The end of a backtest: the run in a staging directory, the warm-up before `output.start`
//! trimmed, `summary.json`, the report's inputs and `report.html` written, then published.

use super::staging::Staging;
use super::{Prepared, RunError};
use crate::config::{Config, ConfigError};
use crate::data::MarketData;
use crate::output::write_summary;
use crate::portfolio::RunOutput;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// An output directory that is, or contains, the data path is refused.
pub(super) fn check_output(cfg: &Config) -> Result<(), RunError> {
    crate::output::check_output_path(&cfg.output.dir, &cfg.data.path)
        .map_err(|e| ConfigError::Value(format!("output.dir: {e}")).into())
}

/// See [`Prepared::run_loaded`].
pub(super) fn run_loaded(run: &Prepared, data: Arc<MarketData>, load_seconds: f64) -> Result<RunOutput, RunError> {
    let cfg = &run.cfg;
    check_output(cfg)?;
    let report = data.report.clone();
    let start = match &cfg.output.start {
        Some(d) => Some(start_of(d, &data, cfg)?),
        None => None,
    };
    let staging = Staging::new(&cfg.output.dir)?;
    let mut staged = run.clone();
    staged.cfg.output.dir = staging.dir.clone();
    let t1 = Instant::now();
    let tradable = data.instruments.iter().filter(|i| i.tradable).count();
    let warnings = run.strategy.warnings(tradable, data.timestamps.len());
    for w in &warnings {
        tracing::warn!("{w}");
    }
    crate::report::check(&cfg.report, &cfg.data.benchmark, &data).map_err(ConfigError::Value)?;
    let mut out = staged.execute(data.clone())?;
    let fmt = crate::output::TimeFormat {
        daily: data.daily,
        tz: cfg.load_options()?.time_zone,
    };
    if let Some(start) = start {
        trim(&mut out, start, &staging.dir, fmt)?;
    }
    out.summary.warnings.extend(warnings);
    out.summary.run_seconds = t1.elapsed().as_secs_f64();
    out.summary.load_seconds = load_seconds;
    out.summary.data = report;
    out.summary.benchmarks =
        crate::report::write_inputs(&staging.dir, &data, &out.curve, &cfg.report, &cfg.data.benchmark, fmt).map_err(
            |e| RunError::Write {
                path: e.path,
                source: std::io::Error::other(e.message),
            },
        )?;
    write_summary(&staging.dir, &out.summary).map_err(|source| RunError::Write {
        path: cfg.output.dir.join("summary.json"),
        source,
    })?;
    crate::report::write(&staging.dir, (&cfg.report).into()).map_err(|e| RunError::Write {
        path: cfg.output.dir.join("report.html"),
        source: std::io::Error::other(e.message),
    })?;
    staging.publish()?;
    tracing::info!(
        final_equity = out.summary.final_equity,
        run_seconds = out.summary.run_seconds,
        "run finished"
    );
    Ok(out)
}

/// The first timestamp on or after `output.start` (a date in the exchange time zone).
fn start_of(date: &str, data: &MarketData, cfg: &Config) -> Result<crate::types::UnixNanos, RunError> {
    use chrono::TimeZone;
    let bad = |m: String| RunError::Config(ConfigError::Value(format!("output.start: {m}")));
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| bad(format!("expected YYYY-MM-DD, got {date:?}")))?;
    let tz = cfg.load_options()?.time_zone;
    let midnight = tz
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| bad(format!("{date} does not exist in {tz}")))?;
    data.timestamps
        .iter()
        .copied()
        .find(|t| *t >= midnight)
        .ok_or_else(|| bad(format!("{date} is after the data's last timestamp")))
}

/// Starts a run's figures at `start`: the timestamps before it were warm-up, during which the
/// strategy must not have traded (checked). The summary is computed again over the curve from
/// `start` on (its first return is the first timestamp's against the initial cash), and
/// `equity.csv` keeps those rows.
fn trim(
    out: &mut RunOutput,
    start: crate::types::UnixNanos,
    dir: &Path,
    fmt: crate::output::TimeFormat,
) -> Result<(), RunError> {
    let io = |path: PathBuf| move |source| RunError::Write { path, source };
    let fills = dir.join("fills.csv");
    let text = std::fs::read_to_string(&fills).map_err(io(fills.clone()))?;
    let first_allowed = fmt.format(start);
    if let Some(first) = text.lines().nth(1) {
        let date = first.split(',').next().unwrap_or("");
        if date < first_allowed.as_str() {
            return Err(ConfigError::Value(format!(
                "output.start: the strategy traded on {date}, before {first_allowed}: figures from a later date would hide it"
            ))
            .into());
        }
    }
    let dropped = out.curve.iter().take_while(|(t, _)| *t < start).count();
    let curve = out.curve.split_off(dropped);
    let name = out.summary.strategy.clone();
    let (bars, policy) = (out.summary.bars, out.summary.fill_policy.clone());
    out.summary = crate::account::summarize(&name, &curve, &out.book, bars, &policy);
    out.curve = curve;
    let eq = dir.join("equity.csv");
    let text = std::fs::read_to_string(&eq).map_err(io(eq.clone()))?;
    let mut kept = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if i == 0 || i > dropped {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(&eq, kept).map_err(io(eq.clone()))?;
    tracing::info!(from = %first_allowed, warm_up = dropped, "figures start at output.start");
    Ok(())
}
