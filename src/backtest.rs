//! From a configuration to a finished run: load (timed), build the strategy, run the actors
//! (timed), write `summary.json`.

use crate::config::{Config, ConfigError};
use crate::data::MarketData;
use crate::feature::{NoFeatures, TechnicalFeatures};
use crate::feeds::{self, FeedError};
use crate::output::write_summary;
use crate::portfolio::RunOutput;
use crate::supervisor::{run_blocking, EngineError, Feed, RunSetup, Venue};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Errors of a backtest, by layer.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The configuration is wrong: the user fixes a key.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data cannot be loaded: the user fixes a file.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The strategy cannot be built from its parameters.
    #[error(transparent)]
    Strategy(#[from] crate::strategies::StrategyError),
    /// The model cannot be loaded or run.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
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
    let opts = cfg.load_options()?;
    Ok(feeds::load(&cfg.data.path, &opts)?)
}

/// Runs on already loaded data (used by benchmarks and tests to keep loading out).
///
/// # Errors
/// Strategy construction, model loading or engine errors.
pub fn run_on(cfg: &Config, data: Arc<MarketData>) -> Result<RunOutput, BacktestError> {
    let strategy = crate::strategies::build(&cfg.strategy.name, &cfg.strategy.params)?;
    let model = load_model(cfg, &data)?;
    let features: Box<dyn crate::feature::FeatureEngine> = if cfg.features.enabled || model.is_some() {
        let bench = data.instrument_by_symbol(&cfg.data.benchmark).map(|i| i.id);
        Box::new(TechnicalFeatures::new(data.instruments.len(), bench))
    } else {
        Box::new(NoFeatures)
    };
    let setup = RunSetup {
        data,
        feed: Feed::Replay,
        venue: Venue::Sim(cfg.broker.clone()),
        strategy,
        features,
        model,
        initial_cash: cfg.portfolio.initial_cash,
        window: cfg.engine.window,
        out_dir: cfg.output.dir.clone(),
        event_log: cfg.output.event_log,
        progress: cfg.engine.progress,
    };
    Ok(run_blocking(setup, cfg.engine.worker_threads)?)
}

/// The configured model, started on its thread, writing `signals.csv` into the output
/// directory; `None` without a model.
#[cfg(not(feature = "torch"))]
fn load_model(cfg: &Config, _data: &MarketData) -> Result<Option<crate::model::ModelRuntime>, BacktestError> {
    match cfg.model.source()? {
        Some(_) => Err(BacktestError::Model(crate::model::ModelError::Load(
            "model: this build has no `torch` feature".into(),
        ))),
        None => Ok(None),
    }
}

/// The configured model, started on its thread, writing `signals.csv` into the output
/// directory; `None` without a model.
#[cfg(feature = "torch")]
fn load_model(cfg: &Config, data: &MarketData) -> Result<Option<crate::model::ModelRuntime>, BacktestError> {
    let Some(src) = cfg.model.source()? else {
        return Ok(None);
    };
    let names: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
    let fmt = crate::output::TimeFormat {
        daily: data.daily,
        tz: data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone),
    };
    let write_err = |path: PathBuf| move |source| BacktestError::Write { path, source };
    std::fs::create_dir_all(&cfg.output.dir).map_err(write_err(cfg.output.dir.clone()))?;
    let path = cfg.output.dir.join("signals.csv");
    let file = std::fs::File::create(&path).map_err(write_err(path.clone()))?;
    let label = move |id: crate::types::InstrumentId, ts: i64| (fmt.format(ts), names[id.index()].clone());
    let thread = crate::model::infer::InferenceThread::spawn(
        src,
        &cfg.model.device,
        cfg.model.threads,
        Some((std::io::BufWriter::new(file), Box::new(label))),
    )?;
    // Every input must be a feature the feature stage computes.
    crate::feature::library::feature_indices(&thread.input.features)
        .map_err(|e| crate::model::ModelError::MissingFeature(e.0))?;
    Ok(Some(crate::model::ModelRuntime::new(thread, &data.instruments)))
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
