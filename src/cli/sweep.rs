//! `kairos sweep`: a grid of parameter sets run in parallel over one loaded market
//! (`sweep.csv`); the inputs it shares with `kairos worker sweep`.

use crate::config::{Config, Overrides};
use crate::strategy::Strategies;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// What a sweep reads, for `kairos sweep` and `kairos worker sweep` alike.
#[derive(clap::Args)]
pub struct SweepFiles {
    #[arg(long)]
    pub config: PathBuf,
    /// The grid: a `[grid]` table of "dotted.key" = [values].
    #[arg(long)]
    pub grid: PathBuf,
    /// Override `data.path`.
    #[arg(long)]
    pub data: Option<PathBuf>,
}

/// `kairos sweep`'s arguments.
#[derive(clap::Args)]
pub struct SweepArgs {
    #[command(flatten)]
    files: SweepFiles,
    /// Where `sweep.csv` (and kept outputs) go (default: `output.dir`).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Cells run at once (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Keep each cell's outputs under `OUT/cells/NNNN/`.
    #[arg(long)]
    keep_outputs: bool,
}

/// `kairos sweep`: loads the market once, runs every cell, writes `sweep.csv`, prints cells/s.
pub fn run(a: SweepArgs, strategies: &Strategies) -> Result<()> {
    let SweepInputs {
        overrides,
        base_cfg,
        base,
        grid,
    } = sweep_inputs(&a.files)?;
    let out = a.out.unwrap_or_else(|| base_cfg.output.dir.clone());
    crate::output::check_output_path(&out, &base_cfg.data.path).map_err(|e| anyhow::anyhow!("--out: {e}"))?;
    // The base configuration's strategy is checked before the market loads; each cell's again
    // with its values (`crate::sweep::run`).
    super::prepare(&base_cfg, strategies, &a.files.config)?;
    let t0 = std::time::Instant::now();
    let data = std::sync::Arc::new(crate::run::load_market(&base_cfg.data)?);
    let load = t0.elapsed().as_secs_f64();
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
    let t1 = std::time::Instant::now();
    let results = crate::sweep::run(
        &base,
        &a.files.config,
        &grid,
        &overrides,
        strategies,
        data,
        &out,
        &crate::sweep::SweepOptions {
            threads,
            keep_outputs: a.keep_outputs,
            progress: base_cfg.engine.progress,
        },
    )?;
    let secs = t1.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "cells": results.len(),
            "threads": threads,
            "load_seconds": load,
            "run_seconds": secs,
            "cells_per_second": results.len() as f64 / secs,
            "sweep_csv": out.join("sweep.csv"),
        })
    );
    Ok(())
}

/// What a sweep (local or a cluster worker) reads: the overrides, the base configuration, its
/// table (cells set keys in it) and the grid.
pub struct SweepInputs {
    pub overrides: Overrides,
    pub base_cfg: Config,
    pub base: toml::Table,
    pub grid: crate::sweep::Grid,
}

/// Reads a sweep's configuration and grid files (`data` overrides `data.path`).
///
/// # Errors
/// A file that cannot be read or parsed, or a configuration that does not validate.
pub fn sweep_inputs(files: &SweepFiles) -> Result<SweepInputs> {
    let SweepFiles { config, grid, data } = files;
    let overrides = Overrides {
        data: data.clone(),
        ..Overrides::default()
    };
    let base_cfg = Config::from_file_with(config, overrides.clone())?;
    let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
    let base: toml::Table = toml::from_str(&text).with_context(|| config.display().to_string())?;
    let grid_text = std::fs::read_to_string(grid).with_context(|| grid.display().to_string())?;
    let grid = crate::sweep::Grid::parse(&grid_text, grid)?;
    Ok(SweepInputs {
        overrides,
        base_cfg,
        base,
        grid,
    })
}
