//! A run assembled in one place, whatever its mode:
//!
//! 1. **prepare** ([`prepare`]): the configuration checked and the strategy's parameters parsed
//!    by the [`Strategies`] registry, once, before any data is loaded;
//! 2. **load** ([`load_market`]): the `[data]` section's market, its benchmark checked and its
//!    point-in-time universe applied;
//! 3. **execute** ([`Prepared::execute`]): the pipeline's middle ([`pipeline`]: the strategy,
//!    the model, the feature stage, the same in every mode) between the replay feed and the
//!    broker simulator, on the actors;
//! 4. **finish** ([`Prepared::run_loaded`]): outputs written into a staging directory, the
//!    warm-up trimmed (`output.start`), `summary.json` and `report.html`, then published.
//!
//! A paper session (`crate::live::paper`) takes steps 1 and 3's pipeline with its own feed and
//! venue; a sweep, an audit, a research run and a cluster worker take prepared runs. No caller
//! assembles a [`crate::supervisor::RunSetup`] by hand.

mod finish;
mod market;
pub mod pipeline;
mod staging;

pub use market::load_market;

use crate::config::{Config, ConfigError};
use crate::data::MarketData;
use crate::feeds::FeedError;
use crate::portfolio::RunOutput;
use crate::strategy::{PreparedStrategy, Strategies, StrategyError};
use crate::supervisor::{run_blocking, EngineError, Feed, RunSetup, Venue};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// Errors of a run, by layer.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is wrong: the user fixes a key.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data cannot be loaded: the user fixes a file.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The strategy cannot be built from its parameters.
    #[error(transparent)]
    Strategy(#[from] StrategyError),
    /// The model cannot be loaded or run.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// A configuration checked and its strategy prepared: ready to run on any market.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub cfg: Config,
    pub strategy: PreparedStrategy,
}

/// Checks `cfg` and parses its strategy's parameters with `strategies` (once: the result runs
/// as often as needed).
///
/// # Errors
/// A bad value (`section.key: ...`), an unknown strategy or bad parameters, naming the key.
pub fn prepare(cfg: &Config, strategies: &Strategies) -> Result<Prepared, RunError> {
    cfg.validate()?;
    let strategy = strategies.prepare(&cfg.strategy.name, &cfg.strategy.params)?;
    Ok(Prepared {
        cfg: cfg.clone(),
        strategy,
    })
}

/// A whole backtest: prepare, load, run, write every output (see [`Prepared::run`]).
///
/// # Errors
/// Any [`RunError`].
pub fn backtest(cfg: &Config, strategies: &Strategies) -> Result<RunOutput, RunError> {
    prepare(cfg, strategies)?.run()
}

impl Prepared {
    /// A strategy of the caller's own on `cfg` (`cfg.strategy` is not read).
    ///
    /// # Errors
    /// A bad value in `cfg`.
    pub fn with_strategy(cfg: &Config, strategy: PreparedStrategy) -> Result<Self, RunError> {
        cfg.validate()?;
        Ok(Self {
            cfg: cfg.clone(),
            strategy,
        })
    }

    /// Loads the configured market.
    ///
    /// # Errors
    /// Bad options or any [`FeedError`].
    pub fn load(&self) -> Result<MarketData, RunError> {
        load_market(&self.cfg.data)
    }

    /// Runs on already loaded data (benchmarks, sweeps, audits): the actors' outputs go to
    /// `output.dir` as they are written; no `summary.json`, no report.
    ///
    /// # Errors
    /// Strategy construction, model loading or engine errors.
    pub fn execute(&self, data: Arc<MarketData>) -> Result<RunOutput, RunError> {
        let cfg = &self.cfg;
        let parts = pipeline::parts(cfg, &data, &self.strategy)?;
        let setup = RunSetup {
            data,
            feed: Feed::Replay,
            venue: Venue::Sim(cfg.broker.clone()),
            strategy: parts.strategy,
            features: parts.features,
            model: parts.model,
            initial_cash: cfg.portfolio.initial_cash,
            window: cfg.engine.window,
            out_dir: cfg.output.dir.clone(),
            event_log: cfg.output.event_log,
            progress: cfg.engine.progress,
            status: None,
        };
        Ok(run_blocking(setup, cfg.engine.worker_threads)?)
    }

    /// Loads, runs and writes every output, `summary.json` and `report.html` included.
    ///
    /// The run writes into a fresh directory beside `output.dir` and moves its files into
    /// place only when it succeeds, so a failed run leaves the previous outputs as they were.
    /// An output directory that is, or contains, the data path is refused.
    ///
    /// # Errors
    /// Any [`RunError`].
    pub fn run(&self) -> Result<RunOutput, RunError> {
        finish::check_output(&self.cfg)?;
        let t0 = Instant::now();
        let data = self.load()?;
        let load_seconds = t0.elapsed().as_secs_f64();
        tracing::info!(
            symbols = data.instruments.len(),
            timestamps = data.timestamps.len(),
            bars = data.bar_count(),
            load_seconds,
            "data loaded"
        );
        self.run_loaded(Arc::new(data), load_seconds)
    }

    /// [`Prepared::run`] on an already loaded market (`load_seconds` goes into the summary).
    ///
    /// # Errors
    /// Any [`RunError`].
    pub fn run_loaded(&self, data: Arc<MarketData>, load_seconds: f64) -> Result<RunOutput, RunError> {
        finish::run_loaded(self, data, load_seconds)
    }
}
