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

use crate::WorkerKind;
use anyhow::{Context, Result};
use std::io::{BufRead, Write};
use std::sync::Arc;

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
pub fn run(kind: WorkerKind) -> Result<()> {
    match kind {
        WorkerKind::Sweep {
            config,
            grid,
            data,
            out,
        } => sweep(&config, &grid, data, &out),
        #[cfg(feature = "torch")]
        WorkerKind::Walkforward { config, out } => walkforward(&config, &out),
    }
}

fn tasks(mut serve: impl FnMut(i64) -> Result<serde_json::Value, String>) -> Result<()> {
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
                Err(e) => serde_json::json!({"task": task, "ok": false, "error": e}),
            },
            None => serde_json::json!({"ok": false, "error": format!("not a task: {line}")}),
        };
        say(&reply)?;
    }
    Ok(())
}

fn sweep(
    config: &std::path::Path,
    grid_path: &std::path::Path,
    data: Option<std::path::PathBuf>,
    out: &std::path::Path,
) -> Result<()> {
    let super::SweepInputs {
        overrides,
        base_cfg,
        base,
        grid,
    } = super::sweep_inputs(config, grid_path, data)?;
    let market = Arc::new(kairos::backtest::load_data(&base_cfg)?);
    let cells = grid.cells();
    say(&serde_json::json!({
        "ready": true,
        "kind": "sweep",
        "cells": cells.len(),
        "header": kairos::sweep::csv_header(&grid),
    }))?;
    tasks(|task| {
        let i = usize::try_from(task)
            .ok()
            .filter(|i| *i < cells.len())
            .ok_or_else(|| format!("no cell {task} (the grid has {})", cells.len()))?;
        let dir = out.join(format!("cell_{i:04}"));
        let cfg =
            kairos::sweep::cell_config(&base, &grid, &cells[i], &overrides, dir, config).map_err(|e| e.to_string())?;
        let r = kairos::sweep::run_cell(&cfg, market.clone(), &grid, i, false)?;
        Ok(serde_json::json!({"line": kairos::sweep::csv_row(&r)}))
    })
}

#[cfg(feature = "torch")]
fn walkforward(config: &std::path::Path, out: &std::path::Path) -> Result<()> {
    use kairos::research::walkforward;
    let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
    let mut cfg: walkforward::WalkForwardConfig =
        toml::from_str(&text).with_context(|| config.display().to_string())?;
    cfg.output.dir = std::path::absolute(out)?;
    cfg.train.progress = false;
    let data = Arc::new(kairos::backtest::load_market(&cfg.data)?);
    let years: Vec<i32> = (cfg.walkforward.first_test_year..=cfg.walkforward.last_test_year).collect();
    say(&serde_json::json!({"ready": true, "kind": "walkforward", "years": years}))?;
    tasks(|task| {
        let year = i32::try_from(task).map_err(|e| e.to_string())?;
        walkforward::run_year(&cfg, &data, year).map_err(|e| e.to_string())?;
        Ok(serde_json::json!({"dir": walkforward::year_dir(&cfg, year)}))
    })
}
