//! `kairos bench`: a configuration's engine throughput beside a minimal single-threaded loop over
//! the same arrays ([`super::baseline`]), and loading figures.

use super::{baseline, measure};
use crate::config::{Config, Overrides};
use crate::strategies::BuiltIn;
use crate::strategy::Strategies;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// `kairos bench`'s arguments.
#[derive(Args)]
pub struct BenchArgs {
    #[arg(long)]
    config: PathBuf,
    #[arg(long)]
    data: PathBuf,
    /// Timed repetitions of each side (the best is reported).
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    #[arg(long)]
    threads: Option<usize>,
}

/// `kairos bench`: the engine beside a minimal single-threaded loop over the same arrays.
pub fn run(a: BenchArgs, strategies: &Strategies) -> Result<()> {
    let start_rss = measure::rss_bytes();
    let tmp = std::env::temp_dir().join(format!("kairos-bench-{}", std::process::id()));
    let mut cfg = Config::from_file_with(
        &a.config,
        Overrides {
            data: Some(a.data),
            out: Some(tmp.clone()),
            strategy: None,
            threads: a.threads,
        },
    )?;
    cfg.engine.progress = false;
    // The engine runs the strategy as every run does, through the registry; the minimal loop
    // exists for SPEC.md's two built-ins only.
    let mut prepared = crate::run::prepare(&cfg, strategies)?;
    let t0 = Instant::now();
    let data = Arc::new(prepared.load()?);
    let load_seconds = t0.elapsed().as_secs_f64();
    let bars = data.bar_count() as f64;
    let cash0 = crate::types::dec_to_f64(cfg.portfolio.initial_cash);
    let rate = crate::types::dec_to_f64(cfg.broker.commission_bps) / 1e4;
    let strategy = BuiltIn::parse(&cfg.strategy.name, &cfg.strategy.params)
        .context("bench: the minimal loop exists for SPEC.md's sma_cross and topk only")?;
    if matches!(strategy, BuiltIn::Staged(_)) {
        bail!("bench: the minimal loop exists for SPEC.md's sma_cross and topk only");
    }
    let mut best_engine = f64::INFINITY;
    let mut best_base = f64::INFINITY;
    let mut engine_equity = 0.0;
    let mut engine_fills = 0;
    let mut base = None;
    // CPU time (every thread of the process) beside wall time: on a shared machine whose speed
    // drifts, the CPU the engine spends is the steadier measure of its work.
    let (mut cpu_engine, mut cpu_base) = (f64::INFINITY, f64::INFINITY);
    for rep in 0..a.repeat.max(1) {
        // Each run writes into a fresh directory, as `kairos backtest` does (its staging
        // directory): writing over the previous run's files would time the truncation of its
        // 30 MB of outputs, 2-70 ms on this project's machine, which no backtest pays. The
        // previous run's directory goes before the clock starts.
        let _ = std::fs::remove_dir_all(&prepared.cfg.output.dir);
        prepared.cfg.output.dir = tmp.join(format!("run-{rep}"));
        let (t, c) = (Instant::now(), measure::process_cpu_seconds());
        let out = prepared.execute(data.clone())?;
        best_engine = best_engine.min(t.elapsed().as_secs_f64());
        cpu_engine = cpu_engine.min(measure::process_cpu_seconds() - c);
        engine_equity = out.summary.final_equity;
        engine_fills = out.summary.trades;
        let (t, c) = (Instant::now(), measure::process_cpu_seconds());
        let b = match &strategy {
            BuiltIn::TopK(p) => baseline::baseline_topk(&data, p, cash0, rate),
            BuiltIn::SmaCross(p) => baseline::baseline_sma_cross(&data, p, cash0, rate),
            BuiltIn::Staged(_) => bail!("no minimal loop for staged"),
        };
        best_base = best_base.min(t.elapsed().as_secs_f64());
        cpu_base = cpu_base.min(measure::process_cpu_seconds() - c);
        base = Some(b);
    }
    let loading = bench_loading(&cfg, a.repeat.max(1), &tmp)?;
    let _ = std::fs::remove_dir_all(&tmp);
    let b = base.context("no run")?;
    let report = serde_json::json!({
        "strategy": cfg.strategy.name,
        "symbols": data.instruments.len(),
        "timestamps": data.timestamps.len(),
        "bars": bars as u64,
        "worker_threads": cfg.engine.worker_threads,
        "load_seconds": load_seconds,
        "engine_seconds": best_engine,
        "engine_bars_per_second": bars / best_engine,
        "baseline_seconds": best_base,
        "baseline_bars_per_second": bars / best_base,
        "engine_over_baseline_time": best_engine / best_base,
        "engine_cpu_seconds": cpu_engine,
        "baseline_cpu_seconds": cpu_base,
        "engine_over_baseline_cpu": cpu_engine / cpu_base,
        "peak_rss_mb": measure::peak_rss_bytes().map(|b| b as f64 / 1048576.0),
        "rss_at_start_mb": start_rss.map(|b| b as f64 / 1048576.0),
        "torch_linked": cfg!(feature = "torch"),
        "engine_final_equity": engine_equity,
        "baseline_final_equity": b.final_equity,
        "engine_fills": engine_fills,
        "baseline_fills": b.fills,
        "loading": loading,
    });
    println!("{report}");
    Ok(())
}

/// Loading figures for a directory of per-symbol CSV files, best of `repeat` each, in this run:
/// the minimal parser, the validating loader, and the same market through a Parquet catalog.
fn bench_loading(cfg: &Config, repeat: usize, tmp: &std::path::Path) -> Result<serde_json::Value> {
    let path = &cfg.data.path;
    if !path.is_dir() || crate::feeds::catalog::is_catalog(path) {
        return Ok(serde_json::Value::Null);
    }
    let opts = cfg.load_options()?;
    let best = |f: &mut dyn FnMut() -> Result<()>| -> Result<f64> {
        let mut best = f64::INFINITY;
        for _ in 0..repeat {
            let t = Instant::now();
            f()?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let mut rows = 0;
    let minimal = best(&mut || {
        rows = baseline::minimal_parse(path)?.0;
        Ok(())
    })?;
    let mut data = None;
    let csv = best(&mut || {
        data = Some(crate::feeds::load(path, &opts)?);
        Ok(())
    })?;
    let catalog_dir = tmp.join("catalog");
    let data = data.context("no load")?;
    // Part of both loads: the market's bars gathered in time order for replay.
    let tape = best(&mut || {
        let t = crate::data::Tape::build(&data.series, data.timestamps.len());
        std::hint::black_box(t.steps());
        Ok(())
    })?;
    crate::feeds::catalog::write(&data, &opts, &catalog_dir)?;
    let mut same = false;
    let catalog = best(&mut || {
        let c = crate::feeds::load(&catalog_dir, &opts)?;
        same =
            c.series.len() == data.series.len() && c.bar_count() == data.bar_count() && c.timestamps == data.timestamps;
        Ok(())
    })?;
    Ok(serde_json::json!({
        "rows": rows,
        "threads": std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
        "minimal_parser_seconds": minimal,
        "csv_load_seconds": csv,
        "catalog_load_seconds": catalog,
        "tape_build_seconds": tape,
        "csv_over_minimal": csv / minimal,
        "catalog_over_minimal": catalog / minimal,
        "catalog_same_market": same,
    }))
}
