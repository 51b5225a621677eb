//! `kairos sweep`: a grid of parameter sets run in parallel over one loaded market.
//!
//! A grid file names configuration keys by their dotted path and lists values for each:
//!
//! ```toml
//! [grid]
//! "strategy.params.k" = [5, 10, 20]
//! "strategy.params.band" = [10, 20]
//! "broker.commission_bps" = [0, 5]
//! ```
//!
//! The cells are the Cartesian product, keys in name order, the last key varying fastest. Each
//! cell is the configuration file with those keys set, validated like any configuration, run as
//! a backtest on the market loaded once (a run per thread, `engine.worker_threads = 1`, threads
//! taking cells in turn). A cell's result depends only on its configuration and the market, so
//! it equals the same configuration run alone (tested). `sweep.csv` has one row per cell, in
//! cell order: the parameters, then the summary's figures; each cell's outputs are kept under
//! `cells/NNNN/` on request.

use crate::config::{Config, ConfigError, Overrides};
use crate::data::MarketData;
use crate::run::{self, Prepared, RunError};
use crate::strategy::Strategies;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A parsed grid: each key (dotted path) with its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub axes: Vec<(String, Vec<toml::Value>)>,
}

impl Grid {
    /// Parses a grid file's text (`path` names it in errors).
    ///
    /// # Errors
    /// No `[grid]` table, a key whose value is not a non-empty list.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let bad = |m: String| ConfigError::Parse {
            path: path.to_path_buf(),
            message: m,
        };
        let t: toml::Table = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let grid = t
            .get("grid")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| bad("a [grid] table of \"dotted.key\" = [values] is needed".into()))?;
        let mut axes = Vec::new();
        for (k, v) in grid {
            let values = v
                .as_array()
                .filter(|a| !a.is_empty())
                .ok_or_else(|| bad(format!("grid.{k:?}: a non-empty list of values")))?;
            axes.push((k.clone(), values.clone()));
        }
        if axes.is_empty() {
            return Err(bad("the [grid] table is empty".into()));
        }
        Ok(Self { axes })
    }

    /// The cells: one value per axis, the last axis varying fastest.
    pub fn cells(&self) -> Vec<Vec<toml::Value>> {
        let mut out: Vec<Vec<toml::Value>> = vec![Vec::new()];
        for (_, values) in &self.axes {
            out = out
                .into_iter()
                .flat_map(|prefix| {
                    values.iter().map(move |v| {
                        let mut c = prefix.clone();
                        c.push(v.clone());
                        c
                    })
                })
                .collect();
        }
        out
    }
}

/// Sets `value` at the dotted `key` of a configuration table, creating tables on the way.
fn set(table: &mut toml::Table, key: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    let (last, path) = parts.split_last().ok_or("an empty key")?;
    let mut t = table;
    for p in path {
        let entry = t
            .entry((*p).to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        t = entry
            .as_table_mut()
            .ok_or_else(|| format!("{key}: {p} is not a table"))?;
    }
    t.insert((*last).to_string(), value);
    Ok(())
}

/// One cell's configuration: the base file's table with the cell's values, the overrides, the
/// cell's output directory.
///
/// # Errors
/// A key that cannot be set, or a configuration that does not validate (naming the cell).
pub fn cell_config(
    base: &toml::Table,
    grid: &Grid,
    cell: &[toml::Value],
    overrides: &Overrides,
    out: PathBuf,
    path: &Path,
) -> Result<Config, ConfigError> {
    let mut t = base.clone();
    for ((k, _), v) in grid.axes.iter().zip(cell) {
        set(&mut t, k, v.clone()).map_err(|m| ConfigError::Value(format!("grid: {m}")))?;
    }
    let mut cfg: Config = toml::Value::Table(t)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Parse {
            path: path.to_path_buf(),
            message: format!("with grid cell {}: {e}", describe(grid, cell)),
        })?;
    cfg.apply(overrides.clone());
    cfg.output.dir = out;
    cfg.engine.worker_threads = 1;
    cfg.engine.progress = false;
    cfg.validate()
        .map_err(|e| ConfigError::Value(format!("grid cell {}: {e}", describe(grid, cell))))?;
    Ok(cfg)
}

/// `key=value, ...` of a cell.
pub fn describe(grid: &Grid, cell: &[toml::Value]) -> String {
    grid.axes
        .iter()
        .zip(cell)
        .map(|((k, _), v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One cell's result.
#[derive(Clone, Debug)]
pub struct CellResult {
    pub index: usize,
    pub values: Vec<toml::Value>,
    pub summary: crate::account::Summary,
}

/// Options of a sweep.
#[derive(Clone, Debug)]
pub struct SweepOptions {
    /// Threads running cells (each cell one thread).
    pub threads: usize,
    /// Keep each cell's outputs under `out/cells/NNNN/`.
    pub keep_outputs: bool,
    pub progress: bool,
}

/// Runs every cell over `data` (loaded once) and writes `out/sweep.csv`; returns the results in
/// cell order.
///
/// # Errors
/// A cell's configuration or run fails (the sweep stops with that cell's error), or the file
/// cannot be written.
#[allow(clippy::too_many_arguments)]
pub fn run(
    base: &toml::Table,
    path: &Path,
    grid: &Grid,
    overrides: &Overrides,
    strategies: &Strategies,
    data: Arc<MarketData>,
    out: &Path,
    opts: &SweepOptions,
) -> Result<Vec<CellResult>, RunError> {
    let cells = grid.cells();
    // Every cell's configuration and strategy parameters are checked before anything runs.
    let configs: Vec<Prepared> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let cfg = cell_config(
                base,
                grid,
                c,
                overrides,
                out.join("cells").join(format!("{i:04}")),
                path,
            )?;
            prepare_cell(&cfg, strategies, grid, c, path)
        })
        .collect::<Result<_, _>>()?;
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<CellResult, String>>>> = Mutex::new(vec![None; cells.len()]);
    let pb = if opts.progress {
        indicatif::ProgressBar::new(cells.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    std::thread::scope(|s| {
        for _ in 0..opts.threads.clamp(1, cells.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(cfg) = configs.get(i) else { break };
                let r = run_cell(cfg, data.clone(), grid, i, opts.keep_outputs);
                pb.inc(1);
                results.lock().unwrap_or_else(std::sync::PoisonError::into_inner)[i] = Some(r);
            });
        }
    });
    pb.finish_and_clear();
    if !opts.keep_outputs {
        let _ = std::fs::remove_dir(out.join("cells"));
    }
    let results: Vec<CellResult> = results
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a cell did not run".into())))
        .collect::<Result<_, _>>()
        .map_err(|m| RunError::Config(ConfigError::Value(m)))?;
    write_csv(&out.join("sweep.csv"), grid, &results).map_err(|source| RunError::Write {
        path: out.join("sweep.csv"),
        source,
    })?;
    crate::report::write_sweep(out, "sharpe").map_err(|e| RunError::Write {
        path: e.path,
        source: std::io::Error::other(e.message),
    })?;
    Ok(results)
}

/// A cell's configuration prepared with `strategies` (its strategy's parameters parsed), an
/// error naming the cell and the file.
///
/// # Errors
/// Bad strategy parameters in this cell.
pub fn prepare_cell(
    cfg: &Config,
    strategies: &Strategies,
    grid: &Grid,
    cell: &[toml::Value],
    path: &Path,
) -> Result<Prepared, RunError> {
    run::prepare(cfg, strategies).map_err(|e| {
        RunError::Config(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("with grid cell {}: {e}", describe(grid, cell)),
        })
    })
}

/// Runs cell `i` (prepared from [`cell_config`] by [`prepare_cell`]) on the loaded market; its
/// outputs are removed afterwards unless `keep`.
///
/// # Errors
/// The run's error, as a message naming the cell.
pub fn run_cell(
    cell: &Prepared,
    data: Arc<MarketData>,
    grid: &Grid,
    i: usize,
    keep: bool,
) -> Result<CellResult, String> {
    let cfg = &cell.cfg;
    let cells = grid.cells();
    let values = cells.get(i).cloned().unwrap_or_default();
    let r = cell
        .execute(data)
        .map(|o| CellResult {
            index: i,
            values: values.clone(),
            summary: o.summary,
        })
        .map_err(|e| format!("grid cell {i} ({}): {e}", describe(grid, &values)));
    if !keep {
        let _ = std::fs::remove_dir_all(&cfg.output.dir);
    }
    r
}

/// `sweep.csv`'s header line (without the line break).
pub fn csv_header(grid: &Grid) -> String {
    let keys: Vec<&str> = grid.axes.iter().map(|(k, _)| k.as_str()).collect();
    format!(
        "cell,{},final_equity,total_return,cagr,sharpe,sortino,max_drawdown,trades,turnover,costs",
        keys.join(",")
    )
}

/// A cell's `sweep.csv` line (without the line break).
pub fn csv_row(r: &CellResult) -> String {
    let opt = |x: Option<f64>| x.map_or_else(String::new, |v| v.to_string());
    let values: Vec<String> = r
        .values
        .iter()
        .map(|v| match v {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect();
    let s = &r.summary;
    format!(
        "{},{},{},{},{},{},{},{},{},{},{}",
        r.index,
        values.join(","),
        s.final_equity_exact.normalize(),
        s.total_return,
        opt(s.cagr),
        opt(s.sharpe),
        opt(s.sortino),
        s.max_drawdown,
        s.trades,
        s.turnover,
        s.costs.normalize()
    )
}

fn write_csv(path: &Path, grid: &Grid, results: &[CellResult]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "{}", csv_header(grid))?;
    for r in results {
        writeln!(f, "{}", csv_row(r))?;
    }
    f.flush()
}
