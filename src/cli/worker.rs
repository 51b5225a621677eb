//! `kairos worker sweep|walkforward`: a long-lived process a cluster driver (`python -m
//! kairos_ray`, one per Ray actor) feeds with tasks, so the market is loaded once per worker
//! rather than once per task.
//!
//! Protocol, one JSON object per line: the worker first writes
//! `{"ready": true, "kind": "sweep", "cells": N, "header": "<sweep.csv header>"}` (a walk-forward
//! worker: `"kind": "walkforward", "years": [..]`); then for each request `{"task": K}` on
//! standard input (a cell index, or a test year) it answers `{"task": K, "ok": true, "line":
//! "<the cell's sweep.csv line>"}` (a year: `"dir": "<the year's directory>"`), or `{"task": K,
//! "ok": false, "error": "..."}`. It exits when standard input closes.

use crate::strategy::Strategies;
use anyhow::{Context, Result};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// What a worker serves.
#[derive(clap::Subcommand)]
pub enum WorkerKind {
    /// Grid cells of a sweep: a task is a cell index; the answer its `sweep.csv` line.
    Sweep {
        #[command(flatten)]
        files: super::sweep::SweepFiles,
        /// Scratch directory for the cells' outputs (removed after each cell).
        #[arg(long)]
        out: PathBuf,
    },
    /// Test years of a walk-forward: a task is a year; the answer the directory of its files.
    #[cfg(feature = "torch")]
    Walkforward {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

fn say(v: &serde_json::Value) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{v}")?;
    out.flush()?;
    Ok(())
}

/// Serves tasks until standard input closes.
///
/// # Errors
/// A configuration or market that cannot be loaded (before `ready`), or a closed output.
pub fn run(kind: WorkerKind, strategies: &Strategies) -> Result<()> {
    match kind {
        WorkerKind::Sweep { files, out } => sweep(&files, &out, strategies),
        #[cfg(feature = "torch")]
        WorkerKind::Walkforward { config, out } => walkforward(&config, &out),
    }
}

fn tasks(mut serve: impl FnMut(i64) -> Result<serde_json::Value>) -> Result<()> {
    for line in std::io::stdin().lock().lines() {
        let line = line.context("standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["task"].as_i64())
        {
            Some(task) => match serve(task) {
                Ok(mut v) => {
                    v["task"] = task.into();
                    v["ok"] = true.into();
                    v
                }
                Err(e) => serde_json::json!({"task": task, "ok": false, "error": format!("{e:#}")}),
            },
            None => serde_json::json!({"ok": false, "error": format!("not a task: {line}")}),
        };
        say(&reply)?;
    }
    Ok(())
}

fn sweep(files: &super::sweep::SweepFiles, out: &std::path::Path, strategies: &Strategies) -> Result<()> {
    let config = files.config.as_path();
    let super::sweep::SweepInputs {
        overrides,
        base_cfg,
        base,
        grid,
    } = super::sweep::sweep_inputs(files)?;
    super::prepare(&base_cfg, strategies, config)?;
    let market = Arc::new(crate::run::load_market(&base_cfg.data)?);
    let cells = grid.cells();
    say(&serde_json::json!({
        "ready": true,
        "kind": "sweep",
        "cells": cells.len(),
        "header": crate::sweep::csv_header(&grid),
    }))?;
    tasks(|task| {
        let i = usize::try_from(task)
            .ok()
            .filter(|i| *i < cells.len())
            .with_context(|| format!("no cell {task} (the grid has {})", cells.len()))?;
        let dir = out.join(format!("cell_{i:04}"));
        let cfg = crate::sweep::cell_config(&base, &grid, &cells[i], &overrides, dir, config)?;
        let cell = crate::sweep::prepare_cell(&cfg, strategies, &grid, &cells[i], config)?;
        let r = crate::sweep::run_cell(&cell, market.clone(), &grid, i, false).map_err(anyhow::Error::msg)?;
        Ok(serde_json::json!({"line": crate::sweep::csv_row(&r)}))
    })
}

#[cfg(feature = "torch")]
fn walkforward(config: &std::path::Path, out: &std::path::Path) -> Result<()> {
    use crate::research::walkforward;
    let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
    let mut cfg: walkforward::WalkForwardConfig =
        toml::from_str(&text).with_context(|| config.display().to_string())?;
    cfg.output.dir = std::path::absolute(out)?;
    cfg.train.progress = false;
    let data = Arc::new(crate::run::load_market(&cfg.data)?);
    let years: Vec<i32> = (cfg.walkforward.first_test_year..=cfg.walkforward.last_test_year).collect();
    say(&serde_json::json!({"ready": true, "kind": "walkforward", "years": years}))?;
    tasks(|task| {
        let year = i32::try_from(task)?;
        walkforward::run_year(&cfg, &data, year)?;
        Ok(serde_json::json!({"dir": walkforward::year_dir(&cfg, year)}))
    })
}
