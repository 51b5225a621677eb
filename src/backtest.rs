//! From a configuration to a finished run: load (timed), build the strategy, run the actors
//! (timed), write `summary.json`.

use crate::config::{Config, ConfigError};
use crate::data::MarketData;
use crate::feature::{NoFeatures, TechnicalFeatures};
use crate::feeds::{self, FeedError};
use crate::output::write_summary;
use crate::portfolio::RunOutput;
use crate::supervisor::{run_blocking, EngineError, RunSetup};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Errors of a backtest, by layer.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("configuration: {0}")]
    Invalid(String),
    #[error(transparent)]
    Feed(#[from] FeedError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Loads the configured data.
///
/// # Errors
/// Bad options or any [`FeedError`].
pub fn load_data(cfg: &Config) -> Result<MarketData, BacktestError> {
    let opts = cfg.load_options().map_err(BacktestError::Invalid)?;
    Ok(feeds::load(&cfg.data.path, &opts)?)
}

/// Runs on already loaded data (used by benchmarks and tests to keep loading out).
///
/// # Errors
/// Strategy construction or engine errors.
pub fn run_on(cfg: &Config, data: Arc<MarketData>) -> Result<RunOutput, BacktestError> {
    let strategy =
        crate::strategies::build(&cfg.strategy.name, &cfg.strategy.params).map_err(BacktestError::Invalid)?;
    let source = cfg.model.source().map_err(BacktestError::Invalid)?;
    #[cfg(not(feature = "torch"))]
    let model: Option<crate::model::ModelRuntime> = match source {
        Some(_) => {
            return Err(BacktestError::Invalid(
                "model: this build has no `torch` feature".into(),
            ))
        }
        None => None,
    };
    #[cfg(feature = "torch")]
    let model = match source {
        Some(src) => {
            let names: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
            let fmt = crate::output::TimeFormat {
                daily: data.daily,
                tz: data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone),
            };
            std::fs::create_dir_all(&cfg.output.dir).map_err(|source| BacktestError::Write {
                path: cfg.output.dir.clone(),
                source,
            })?;
            let file =
                std::fs::File::create(cfg.output.dir.join("signals.csv")).map_err(|source| BacktestError::Write {
                    path: cfg.output.dir.join("signals.csv"),
                    source,
                })?;
            let label = move |id: crate::types::InstrumentId, ts: i64| (fmt.format(ts), names[id.index()].clone());
            let thread = crate::model::infer::InferenceThread::spawn(
                src,
                &cfg.model.device,
                cfg.model.threads,
                Some((std::io::BufWriter::new(file), Box::new(label))),
            )
            .map_err(BacktestError::Invalid)?;
            Some(crate::model::ModelRuntime::new(thread, &data.instruments).map_err(BacktestError::Invalid)?)
        }
        None => None,
    };
    let features: Box<dyn crate::feature::FeatureEngine> = if cfg.features.enabled || model.is_some() {
        let bench = data.instrument_by_symbol(&cfg.data.benchmark).map(|i| i.id);
        Box::new(TechnicalFeatures::new(data.instruments.len(), bench))
    } else {
        Box::new(NoFeatures)
    };
    let setup = RunSetup {
        data,
        strategy,
        features,
        model,
        broker: cfg.broker.clone(),
        initial_cash: cfg.portfolio.initial_cash,
        window: cfg.engine.window,
        out_dir: cfg.output.dir.clone(),
        event_log: cfg.output.event_log,
        progress: cfg.engine.progress,
    };
    Ok(run_blocking(setup, cfg.engine.worker_threads)?)
}

/// Loads, runs and writes every output, `summary.json` included.
///
/// # Errors
/// Any [`BacktestError`].
pub fn run(cfg: &Config) -> Result<RunOutput, BacktestError> {
    let t0 = Instant::now();
    let data = load_data(cfg)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    tracing::info!(
        symbols = data.instruments.len(),
        timestamps = data.timestamps.len(),
        bars = data.bar_count(),
        load_seconds,
        "data loaded"
    );
    let report = data.report.clone();
    let t1 = Instant::now();
    let mut out = run_on(cfg, Arc::new(data))?;
    out.summary.run_seconds = t1.elapsed().as_secs_f64();
    out.summary.load_seconds = load_seconds;
    out.summary.data = report;
    write_summary(&cfg.output.dir, &out.summary).map_err(|source| BacktestError::Write {
        path: cfg.output.dir.join("summary.json"),
        source,
    })?;
    tracing::info!(
        final_equity = out.summary.final_equity,
        run_seconds = out.summary.run_seconds,
        "run finished"
    );
    Ok(out)
}
