//! Backtests of the built-in strategies: shorthands for [`crate::run`] with
//! [`Strategies::builtin`]. A run with a user's own strategies goes through [`crate::run`] with
//! their registry (or `kairos::cli::main_with`).

use crate::config::Config;
use crate::data::MarketData;
use crate::portfolio::RunOutput;
use crate::run::{self, Prepared};
use crate::strategy::{PreparedStrategy, Strategies, StrategyError};
use std::sync::{Arc, Mutex};

pub use crate::run::{load_market, RunError as BacktestError};

/// Loads the configured data.
///
/// # Errors
/// Bad options or any [`crate::feeds::FeedError`].
pub fn load_data(cfg: &Config) -> Result<MarketData, BacktestError> {
    load_market(&cfg.data)
}

/// Runs on already loaded data (used by benchmarks and tests to keep loading out): the actors'
/// outputs only, no summary file, no report.
///
/// # Errors
/// Strategy construction, model loading or engine errors.
pub fn run_on(cfg: &Config, data: Arc<MarketData>) -> Result<RunOutput, BacktestError> {
    run::prepare(cfg, &Strategies::builtin())?.execute(data)
}

/// Runs on already loaded data with a strategy object of the caller's; `cfg.strategy` is not
/// read. (A strategy that should run in every mode is registered instead: [`Strategies`].)
///
/// # Errors
/// Model loading or engine errors.
pub fn run_with(
    cfg: &Config,
    data: Arc<MarketData>,
    strategy: Box<dyn crate::strategy::Strategy>,
) -> Result<RunOutput, BacktestError> {
    Prepared::with_strategy(cfg, once(strategy))?.execute(data)
}

/// A strategy object as a prepared strategy that builds once.
fn once(strategy: Box<dyn crate::strategy::Strategy>) -> PreparedStrategy {
    let name = strategy.name().to_string();
    let cell = Mutex::new(Some(strategy));
    PreparedStrategy::from_fn(&name, move |_| {
        cell.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .ok_or_else(|| StrategyError::new("this strategy object runs once; register a factory to run it again"))
    })
}

/// Loads, runs and writes every output, `summary.json` included (see [`Prepared::run`]).
///
/// # Errors
/// Any [`BacktestError`].
pub fn run(cfg: &Config) -> Result<RunOutput, BacktestError> {
    run::backtest(cfg, &Strategies::builtin())
}

/// [`run`] on an already loaded market (`load_seconds` goes into the summary).
///
/// # Errors
/// Any [`BacktestError`].
pub fn run_loaded(cfg: &Config, data: Arc<MarketData>, load_seconds: f64) -> Result<RunOutput, BacktestError> {
    run::prepare(cfg, &Strategies::builtin())?.run_loaded(data, load_seconds)
}
