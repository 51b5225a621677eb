//! The command implementations behind `main.rs`'s dispatch, and the benchmark helpers, which
//! belong to the binary rather than the library's API.

pub mod bench;
pub mod worker;

use crate::{BenchArgs, FeaturesArgs, ImportArgs, PaperArgs, PaperCommand, ServeArgs, SynthArgs};
use anyhow::{bail, Context, Result};
use kairos::config::{Config, DataConfig, Overrides};
use kairos::feeds::BadRowPolicy;
use kairos::strategies::BuiltIn;
use std::sync::Arc;
use std::time::Instant;

/// `kairos bench`: the engine beside a minimal single-threaded loop over the same arrays.
pub fn bench(a: BenchArgs) -> Result<()> {
    let start_rss = bench::rss_bytes();
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
    let t0 = Instant::now();
    let data = Arc::new(kairos::backtest::load_data(&cfg)?);
    let load_seconds = t0.elapsed().as_secs_f64();
    let bars = data.bar_count() as f64;
    let cash0 = kairos::types::dec_to_f64(cfg.portfolio.initial_cash);
    let rate = kairos::types::dec_to_f64(cfg.broker.commission_bps) / 1e4;
    let strategy = BuiltIn::parse(&cfg.strategy.name, &cfg.strategy.params)?;
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
        let _ = std::fs::remove_dir_all(&cfg.output.dir);
        cfg.output.dir = tmp.join(format!("run-{rep}"));
        let (t, c) = (Instant::now(), bench::process_cpu_seconds());
        let out = kairos::backtest::run_on(&cfg, data.clone())?;
        best_engine = best_engine.min(t.elapsed().as_secs_f64());
        cpu_engine = cpu_engine.min(bench::process_cpu_seconds() - c);
        engine_equity = out.summary.final_equity;
        engine_fills = out.summary.trades;
        let (t, c) = (Instant::now(), bench::process_cpu_seconds());
        let b = match &strategy {
            BuiltIn::TopK(p) => bench::baseline_topk(&data, p, cash0, rate),
            BuiltIn::SmaCross(p) => bench::baseline_sma_cross(&data, p, cash0, rate),
            BuiltIn::Staged(_) => bail!("no minimal loop for staged"),
        };
        best_base = best_base.min(t.elapsed().as_secs_f64());
        cpu_base = cpu_base.min(bench::process_cpu_seconds() - c);
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
        "peak_rss_mb": bench::peak_rss_bytes().map(|b| b as f64 / 1048576.0),
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

/// `kairos features`: the feature library over a dataset, through polars.
pub fn features(a: FeaturesArgs) -> Result<()> {
    let data_cfg = DataConfig {
        benchmark: a.benchmark.clone(),
        time_zone: a.time_zone.clone(),
        on_bad_row: if a.skip_bad_rows {
            BadRowPolicy::Skip
        } else {
            BadRowPolicy::Fail
        },
        ..DataConfig::new(a.data.clone())
    };
    for out in std::iter::once(&a.out).chain(a.labels.as_ref()) {
        kairos::output::check_output_path(out, &a.data).map_err(anyhow::Error::msg)?;
    }
    let opts = Config::load_options_of(&data_cfg)?;
    let tz = opts.time_zone;
    let data = kairos::feeds::load(&a.data, &opts)?;
    let bench = data.instrument_by_symbol(&a.benchmark).map(|i| i.id);
    if bench.is_none() {
        tracing::warn!(benchmark = %a.benchmark, "benchmark not in the data: its features are missing");
    }
    let fmt = kairos::output::TimeFormat { daily: data.daily, tz };
    let df = kairos::feature::batch::batch_market(&data, bench)?;
    let rows = df.height();
    kairos::output::write_table(df, fmt, &a.out)?;
    eprintln!(
        "wrote {rows} rows x {} features to {}",
        kairos::feature::library::N_FEATURES,
        a.out.display()
    );
    if let Some(path) = a.labels {
        let df = kairos::feature::labels::label_market(&data, bench, &kairos::feature::labels::HORIZONS)?;
        kairos::output::write_table(df, fmt, &path)?;
        eprintln!("wrote labels to {}", path.display());
    }
    Ok(())
}

/// Loading figures for a directory of per-symbol CSV files, best of `repeat` each, in this run:
/// the minimal parser, the validating loader, and the same market through a Parquet catalog.
fn bench_loading(cfg: &Config, repeat: usize, tmp: &std::path::Path) -> Result<serde_json::Value> {
    let path = &cfg.data.path;
    if !path.is_dir() || kairos::feeds::catalog::is_catalog(path) {
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
        rows = bench::minimal_parse(path)?.0;
        Ok(())
    })?;
    let mut data = None;
    let csv = best(&mut || {
        data = Some(kairos::feeds::load(path, &opts)?);
        Ok(())
    })?;
    let catalog_dir = tmp.join("catalog");
    let data = data.context("no load")?;
    // Part of both loads: the market's bars gathered in time order for replay.
    let tape = best(&mut || {
        let t = kairos::data::Tape::build(&data.series, data.timestamps.len());
        std::hint::black_box(t.steps());
        Ok(())
    })?;
    kairos::feeds::catalog::write(&data, &opts, &catalog_dir)?;
    let mut same = false;
    let catalog = best(&mut || {
        let c = kairos::feeds::load(&catalog_dir, &opts)?;
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

/// `kairos data import`: load and validate once, write a Parquet catalog.
pub fn import(a: ImportArgs) -> Result<()> {
    let data_cfg = DataConfig {
        time_zone: a.time_zone,
        session_close: a.session_close,
        benchmark: String::new(),
        on_bad_row: if a.skip_bad_rows {
            BadRowPolicy::Skip
        } else {
            BadRowPolicy::Fail
        },
        ..DataConfig::new(a.data.clone())
    };
    kairos::output::check_output_path(&a.out, &a.data).map_err(anyhow::Error::msg)?;
    let opts = Config::load_options_of(&data_cfg)?;
    let data = kairos::feeds::load(&a.data, &opts)?;
    kairos::feeds::catalog::write(&data, &opts, &a.out)?;
    eprintln!(
        "wrote {} symbols, {} bars to the catalog {}",
        data.instruments.len(),
        data.bar_count(),
        a.out.display()
    );
    Ok(())
}

/// `kairos data synth`: a seeded synthetic market as `SYMBOL.csv` files.
pub fn synth(a: SynthArgs) -> Result<()> {
    use kairos::data::synth::{self, Frequency, SynthSpec};
    let spec = SynthSpec {
        symbols: a.symbols,
        days: a.days,
        seed: a.seed,
        frequency: a.minutes.map_or(Frequency::Daily, Frequency::Minutes),
        benchmark: a.benchmark,
        ..SynthSpec::default()
    };
    if let Err(e) = spec.check() {
        bail!(e);
    }
    synth::write_csv_dir(&spec, &a.out).with_context(|| format!("writing {}", a.out.display()))?;
    eprintln!(
        "wrote {} symbols + benchmark x {} sessions to {}",
        a.symbols,
        a.days,
        a.out.display()
    );
    Ok(())
}

/// `kairos walkforward`: train per test year on the years before, predict out of sample.
#[cfg(feature = "torch")]
pub fn walkforward(config: &std::path::Path, out: Option<std::path::PathBuf>, assemble: bool) -> Result<()> {
    let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
    let mut cfg: kairos::research::walkforward::WalkForwardConfig =
        toml::from_str(&text).with_context(|| config.display().to_string())?;
    if let Some(dir) = out {
        cfg.output.dir = dir;
    }
    let data = Arc::new(kairos::backtest::load_market(&cfg.data)?);
    let out = if assemble {
        kairos::research::walkforward::assemble(&cfg, &data)?
    } else {
        kairos::research::walkforward::run(&cfg, &data)?
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `kairos research`: every stage, then the figures as a short table.
#[cfg(feature = "torch")]
pub fn research(config: &std::path::Path, out: Option<std::path::PathBuf>) -> Result<()> {
    let mut cfg = kairos::research::pipeline::ResearchConfig::from_file(config)?;
    if let Some(dir) = out {
        cfg.output.dir = dir;
    }
    let out = kairos::research::pipeline::run(&cfg)?;
    let wf = &out.walkforward;
    println!(
        "{:<14}{:.4} (t {:.2}); ridge baseline {:.4} (t {:.2})",
        "rank IC",
        wf.overall_model.rank_ic_mean,
        wf.overall_model.rank_ic_t,
        wf.overall_baseline.rank_ic_mean,
        wf.overall_baseline.rank_ic_t
    );
    for y in &wf.years {
        println!(
            "{:<14}{:.4} (ridge {:.4})",
            format!("  {}", y.year),
            y.model.rank_ic_mean,
            y.baseline.rank_ic_mean
        );
    }
    print!("{}", summary_table(&out.model, &out.report));
    for b in &out.model.benchmarks {
        println!(
            "{:<14}{:.2} % (alpha {:.2} %, beta {:.2}, IR {:.2})",
            b.symbol,
            b.total_return * 100.0,
            b.alpha.unwrap_or(f64::NAN) * 100.0,
            b.beta.unwrap_or(f64::NAN),
            b.information_ratio.unwrap_or(f64::NAN)
        );
    }
    println!(
        "{:<14}{:.2} % (Sharpe {})",
        "ridge scores",
        out.baseline.total_return * 100.0,
        out.baseline.sharpe.map_or("-".into(), |s| format!("{s:.2}"))
    );
    Ok(())
}

/// `kairos train`: one training job.
#[cfg(feature = "torch")]
pub fn train(config: &std::path::Path) -> Result<()> {
    let cfg = kairos::research::job::TrainConfig::from_file(config)?;
    let data = Arc::new(kairos::backtest::load_market(&cfg.data)?);
    let out = kairos::research::job::run(&cfg, &data)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    eprintln!("model written to {}", cfg.output.dir.display());
    Ok(())
}

/// `kairos paper`: a paper session, or `paper export`.
/// The headline figures of a run as a short table, and where its report is.
pub fn summary_table(s: &kairos::account::Summary, report: &std::path::Path) -> String {
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

/// `kairos sweep`: loads the market once, runs every cell, writes `sweep.csv`, prints cells/s.
pub fn sweep(a: crate::SweepArgs) -> Result<()> {
    let SweepInputs {
        overrides,
        base_cfg,
        base,
        grid,
    } = sweep_inputs(&a.config, &a.grid, a.data.clone())?;
    let out = a.out.unwrap_or_else(|| base_cfg.output.dir.clone());
    kairos::output::check_output_path(&out, &base_cfg.data.path).map_err(|e| anyhow::anyhow!("--out: {e}"))?;
    let t0 = std::time::Instant::now();
    let data = std::sync::Arc::new(kairos::backtest::load_data(&base_cfg)?);
    let load = t0.elapsed().as_secs_f64();
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get));
    let t1 = std::time::Instant::now();
    let results = kairos::sweep::run(
        &base,
        &a.config,
        &grid,
        &overrides,
        data,
        &out,
        &kairos::sweep::SweepOptions {
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
    pub grid: kairos::sweep::Grid,
}

/// Reads a sweep's configuration and grid files (`data` overrides `data.path`).
///
/// # Errors
/// A file that cannot be read or parsed, or a configuration that does not validate.
pub fn sweep_inputs(
    config: &std::path::Path,
    grid: &std::path::Path,
    data: Option<std::path::PathBuf>,
) -> Result<SweepInputs> {
    let overrides = Overrides {
        data,
        ..Overrides::default()
    };
    let base_cfg = Config::from_file_with(config, overrides.clone())?;
    let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
    let base: toml::Table = toml::from_str(&text).with_context(|| config.display().to_string())?;
    let grid_text = std::fs::read_to_string(grid).with_context(|| grid.display().to_string())?;
    let grid = kairos::sweep::Grid::parse(&grid_text, grid)?;
    Ok(SweepInputs {
        overrides,
        base_cfg,
        base,
        grid,
    })
}

/// `kairos audit`: prints the report (JSON); fails when a decision up to the cut changed.
pub fn audit(a: crate::AuditArgs) -> Result<()> {
    let cfg = Config::from_file_with(
        &a.config,
        Overrides {
            out: a.out,
            data: a.data,
            ..Overrides::default()
        },
    )?;
    kairos::output::check_output_path(&cfg.output.dir, &cfg.data.path)
        .map_err(|e| anyhow::anyhow!("output.dir: {e}"))?;
    let data = std::sync::Arc::new(kairos::backtest::load_data(&cfg)?);
    let cut = kairos::audit::cut_step(&data, a.at.as_deref())?;
    let report = kairos::audit::audit(&cfg, data, cut, a.seed)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    match &report.first_difference {
        None => {
            eprintln!(
                "audit {}: no look-ahead seen: {} decisions ({} order events) up to {} unchanged with {} later bars replaced",
                report.strategy, report.decisions_compared, report.events_compared, report.cut_date, report.bars_replaced
            );
            Ok(())
        }
        Some(d) => bail!(
            "audit {}: look-ahead: at step {} ({}), with only bars after {} changed, the run decided differently:\n  original: {}\n  altered:  {}",
            report.strategy,
            d.step,
            d.date,
            report.cut_date,
            if d.original.is_empty() { "(nothing)" } else { &d.original },
            if d.altered.is_empty() { "(nothing)" } else { &d.altered }
        ),
    }
}

pub fn paper(a: PaperArgs) -> Result<()> {
    if let Some(PaperCommand::Export { journal, out }) = a.command {
        if !journal.exists() {
            bail!("no journal at {}", journal.display());
        }
        let mut j = kairos::live::journal::Journal::open(&journal, false)?;
        let n = j.export(&out)?;
        eprintln!("wrote {n} bars to {}", out.display());
        return Ok(());
    }
    let config = a
        .config
        .context("paper: --config FILE (a configuration with a [live] table)")?;
    let cfg = Config::from_file_with(
        &config,
        Overrides {
            out: a.out,
            ..Overrides::default()
        },
    )?;
    let opts = kairos::live::paper::PaperOptions {
        max_bars: a.max_bars,
        status: !a.quiet,
        record_latency: false,
        adopt_venue_state: a.adopt_venue_state,
    };
    let out = kairos::live::paper::run_blocking(&cfg, opts)?;
    let c = &out.counters;
    eprintln!(
        "session {} ended: {} live timestamps ({} warm-up, {} replayed from the journal), {} fills, final equity {}; \
         outputs in {}, journal {}",
        out.session,
        c.live_timestamps,
        c.warmup_timestamps,
        c.replayed_timestamps,
        out.run.summary.trades,
        out.run.summary.final_equity_exact,
        cfg.output.dir.display(),
        out.journal.display()
    );
    Ok(())
}

/// The smallest step between timestamps, as a known interval.
pub fn infer_interval(data: &kairos::data::MarketData) -> Result<kairos::live::Interval> {
    let step = data
        .timestamps
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .context("the data has fewer than two timestamps")?;
    kairos::live::Interval::of_length(step).with_context(|| {
        format!(
            "cannot tell the data's interval ({} s between bars): give --interval",
            step / 1_000_000_000
        )
    })
}

/// Parses `--fault` values.
pub fn parse_faults(list: &[String]) -> Result<kairos::loopback::Faults> {
    let mut f = kairos::loopback::Faults::default();
    for item in list {
        let (name, value) = item.split_once('=').unwrap_or((item.as_str(), ""));
        let n = || {
            value
                .parse::<usize>()
                .with_context(|| format!("--fault {item}: expected {name}=N"))
        };
        match name {
            "drop-after" => f.drop_after = Some(n()?),
            "malformed-at" => f.malformed_at = Some(n()?),
            "unknown-at" => f.unknown_at = Some(n()?),
            "unsubscribed-at" => f.unsubscribed_at = Some(n()?),
            "duplicate-at" => f.duplicate_at = Some(n()?),
            "out-of-order-at" => f.out_of_order_at = Some(n()?),
            "correction-at" => f.correction_at = Some(n()?),
            "rest-429" => f.rest_429 = n()?,
            "rest-418" => f.rest_418 = n()?,
            "reject-order" => f.reject_order = Some(n()?),
            "rest-delay-ms" => f.rest_delay_ms = n()? as u64,
            "stream-delay-ms" => f.stream_delay_ms = n()? as u64,
            "unclosed" => f.unclosed = true,
            _ => bail!("--fault {item}: unknown fault"),
        }
    }
    Ok(f)
}

/// `kairos serve-market`: a loopback venue over a recorded market.
pub fn serve_market(a: ServeArgs) -> Result<()> {
    let venue: kairos::live::VenueKind = a.venue.parse().map_err(anyhow::Error::msg)?;
    let data_cfg = DataConfig {
        time_zone: a.time_zone.clone(),
        benchmark: String::new(),
        ..DataConfig::new(a.data.clone())
    };
    let opts = Config::load_options_of(&data_cfg)?;
    let data = Arc::new(kairos::feeds::load(&a.data, &opts)?);
    let interval = match &a.interval {
        Some(i) => kairos::live::Interval::parse(i).map_err(anyhow::Error::msg)?,
        None => infer_interval(&data)?,
    };
    let listen: std::net::SocketAddr = a.listen.parse().with_context(|| format!("--listen {}", a.listen))?;
    let mut spec = kairos::loopback::MarketSpec::new(venue, data.clone(), interval, a.history);
    spec.speed = (a.speed > 0.0).then_some(a.speed);
    spec.wait_for_client = !a.no_wait;
    spec.faults = parse_faults(&a.fault)?;
    spec.credentials = kairos::live::Credentials::alpaca_from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = kairos::loopback::Server::start(spec, listen).await?;
        let ws = match venue {
            kairos::live::VenueKind::Binance => server.ws_url(),
            kairos::live::VenueKind::Alpaca => format!("{}/v2/iex", server.ws_url()),
        };
        println!("ws_url = \"{ws}\"\nrest_url = \"{}\"", server.rest_url());
        eprintln!(
            "serving {} symbols x {} timestamps ({} as history) as {} on {}, interval {}, speed {}; Ctrl-C stops",
            data.instruments.len(),
            data.timestamps.len(),
            a.history.min(data.timestamps.len()),
            venue.as_str(),
            server.addr(),
            interval.name,
            if a.speed > 0.0 {
                format!("{}x", a.speed)
            } else {
                "max".into()
            }
        );
        tokio::signal::ctrl_c().await?;
        server.stop().await;
        anyhow::Ok(())
    })
}
