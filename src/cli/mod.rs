//! The `kairos` command line, for the `kairos` binary and for a user's own: every subcommand
//! with the strategies of a registry.
//!
//! ```no_run
//! use kairos::strategy::Strategies;
//!
//! fn main() -> std::process::ExitCode {
//!     // The built-ins plus a user's own: `[strategy] name = "mine"` in any configuration.
//!     let strategies = Strategies::builtin();
//!     kairos::cli::main_with(strategies)
//! }
//! ```
//!
//! One file per command, its arguments and its body together; this file only parses and
//! dispatches. Commands that run a strategy (backtest, bench, bench-live, paper, audit, sweep,
//! research, worker) take the registry; the others do not need one. The command line is the
//! application layer: its errors are `anyhow` errors, printed as one line (see [`main_with`]).

mod audit;
mod backtest;
mod baseline;
mod bench;
mod bench_live;
#[cfg(feature = "torch")]
mod bench_model;
mod data;
mod features;
mod measure;
mod new;
mod paper;
mod report;
#[cfg(feature = "torch")]
mod research;
mod serve_market;
mod sweep;
#[cfg(feature = "torch")]
mod train;
#[cfg(feature = "torch")]
mod walkforward;
mod worker;

use crate::config::{Config, ConfigError};
use crate::run::{Prepared, RunError};
use crate::strategy::Strategies;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::Path;

#[derive(Parser)]
#[command(name = "kairos", version, about = "Actor-based, deterministic trading engine")]
struct Cli {
    /// On an error, also print its chain of causes and, with RUST_BACKTRACE=1, a backtrace.
    #[arg(long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a backtest from a TOML configuration; prints summary.json.
    Backtest(backtest::BacktestArgs),
    /// Data tools.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Benchmark a configuration: engine throughput beside a minimal single-threaded loop.
    Bench(bench::BenchArgs),
    /// Paper trading: the configured strategy on live bars (`[live]`), orders to the broker
    /// simulator or Alpaca's paper API; `paper export` writes a session's bars as a data set.
    Paper(paper::PaperArgs),
    /// No look-ahead, checked: rerun the backtest with every bar after a cut replaced and report
    /// whether any decision up to the cut changed (exit status 1 when one did).
    Audit(audit::AuditArgs),
    /// Run a grid of parameter sets in parallel over one loaded market: `sweep.csv`.
    Sweep(sweep::SweepArgs),
    /// Write `report.html` (metrics, charts, monthly returns, fills) from a run's outputs.
    Report(report::ReportArgs),
    /// Serve a recorded market over a venue's real protocol (WebSocket stream and REST history)
    /// on loopback, in real time or faster: a venue for paper sessions without keys.
    ServeMarket(serve_market::ServeArgs),
    /// Benchmark bar-to-order latency of a paper session against the loopback venue.
    BenchLive(bench_live::BenchLiveArgs),
    /// Compute the feature library over a dataset (through polars) and write it.
    Features(features::FeaturesArgs),
    /// Benchmark LSTM inference and training (the Kairos side; scripts/bench_model.sh compares).
    #[cfg(feature = "torch")]
    BenchModel(bench_model::BenchModelArgs),
    /// Walk-forward: train per test year on the years before, predict out of sample.
    #[cfg(feature = "torch")]
    Walkforward(walkforward::WalkforwardArgs),
    /// A long-lived worker for a cluster driver (`python -m kairos_ray`): loads the market once,
    /// then takes tasks as JSON lines on standard input and answers each on standard output.
    #[command(subcommand)]
    Worker(worker::WorkerKind),
    /// The research workflow in one command: features, walk-forward training, out-of-sample
    /// scores, a backtest over the test years (and one on the ridge baseline's scores), report.
    #[cfg(feature = "torch")]
    Research(research::ResearchArgs),
    /// Train a model (LSTM, attention-LSTM or ridge) from a TOML job file.
    #[cfg(feature = "torch")]
    Train(train::TrainArgs),
    /// Scaffold a crate of your own strategies outside this repository: Cargo.toml, a strategy
    /// with its parameters, configurations for a backtest and a paper session, a test.
    New(new::NewArgs),
}

/// Parses the process's arguments and runs the command with `strategies`; the exit status to
/// return from `main`.
///
/// An ordinary error (bad input, bad configuration, I/O) prints one line, `error: ...` with its
/// causes, and exits with status 1, whatever RUST_BACKTRACE says; `--verbose` prints the debug
/// form with the backtrace. A bug (a panic) keeps Rust's own report.
pub fn main_with(strategies: Strategies) -> std::process::ExitCode {
    // A second call (a test, a host program) keeps the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .try_init();
    let cli = Cli::parse();
    let verbose = cli.verbose;
    match dispatch(cli.command, &strategies) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if verbose {
                eprintln!("error: {e:?}");
            } else {
                eprintln!("error: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn dispatch(command: Command, strategies: &Strategies) -> Result<()> {
    match command {
        Command::Backtest(a) => backtest::run(a, strategies),
        Command::Data { command } => data::run(command),
        Command::Bench(a) => bench::run(a, strategies),
        Command::Paper(a) => paper::run(a, strategies),
        Command::Audit(a) => audit::run(a, strategies),
        Command::Sweep(a) => sweep::run(a, strategies),
        Command::Report(a) => report::run(a),
        Command::ServeMarket(a) => serve_market::run(a),
        Command::BenchLive(a) => bench_live::run(a, strategies),
        Command::Features(a) => features::run(a),
        #[cfg(feature = "torch")]
        Command::BenchModel(a) => bench_model::run(a),
        #[cfg(feature = "torch")]
        Command::Walkforward(a) => walkforward::run(a),
        Command::Worker(kind) => worker::run(kind, strategies),
        #[cfg(feature = "torch")]
        Command::Research(a) => research::run(a, strategies),
        #[cfg(feature = "torch")]
        Command::Train(a) => train::run(a),
        Command::New(a) => new::run(a),
    }
}

/// `cfg` (read from `path`) prepared with `strategies`: a bad strategy name or parameter is an
/// error naming the file and the key, before any data is loaded.
fn prepare(cfg: &Config, strategies: &Strategies, path: &Path) -> Result<Prepared> {
    crate::run::prepare(cfg, strategies).map_err(|e| match e {
        RunError::Strategy(s) => RunError::Config(ConfigError::Value(s.0).in_file(path)).into(),
        RunError::Config(c) => RunError::Config(c.in_file(path)).into(),
        other => other.into(),
    })
}

/// The headline figures of a run as a short table, and where its report is.
fn summary_table(s: &crate::account::Summary, report: &Path) -> String {
    let pct = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2} %", v * 100.0));
    let num = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let rows = [
        ("strategy", s.strategy.clone()),
        ("final equity", s.final_equity_exact.round_dp(2).to_string()),
        ("total return", pct(Some(s.total_return))),
        ("CAGR", pct(s.cagr)),
        ("Sharpe", num(s.sharpe)),
        ("max drawdown", pct(Some(s.max_drawdown))),
        ("fills", s.trades.to_string()),
        ("costs", s.costs.round_dp(2).to_string()),
        ("report", report.display().to_string()),
    ];
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(&format!("{k:<14}{v}\n"));
    }
    out
}
