//! `kairos backtest`: a backtest from a TOML configuration; prints `summary.json` (or a short
//! table) and writes every output.

use crate::config::{Config, Overrides};
use crate::strategy::Strategies;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// `kairos backtest`'s arguments.
#[derive(Args)]
pub struct BacktestArgs {
    #[arg(long)]
    config: PathBuf,
    /// Override `data.path`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Override `output.dir`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override `strategy.name` (parameters of another strategy are dropped).
    #[arg(long)]
    strategy: Option<String>,
    /// Override `engine.worker_threads`.
    #[arg(long)]
    threads: Option<usize>,
    /// Print a short table of the headline figures and the report's path instead of the
    /// summary's JSON (which stays in `summary.json`).
    #[arg(long)]
    table: bool,
}

/// Runs the backtest.
pub fn run(a: BacktestArgs, strategies: &Strategies) -> Result<()> {
    let overrides = Overrides {
        data: a.data,
        out: a.out,
        strategy: a.strategy,
        threads: a.threads,
    };
    let cfg = Config::from_file_with(&a.config, overrides)?;
    let out = super::prepare(&cfg, strategies, &a.config)?.run()?;
    if a.table {
        print!(
            "{}",
            super::summary_table(&out.summary, &cfg.output.dir.join("report.html"))
        );
    } else {
        println!("{}", serde_json::to_string_pretty(&out.summary)?);
    }
    eprintln!("outputs written to {}", cfg.output.dir.display());
    Ok(())
}
