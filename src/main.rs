//! The `kairos` command line.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use kairos::config::Config;
use kairos::data::synth::{self, Frequency, SynthSpec};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser)]
#[command(name = "kairos", version, about = "Actor-based, deterministic trading engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a backtest from a TOML configuration; prints summary.json.
    Backtest(BacktestArgs),
    /// Data tools.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Benchmark a configuration: engine throughput beside a minimal single-threaded loop.
    Bench(BenchArgs),
    /// Compute the feature library over a dataset (through polars) and write it.
    Features(FeaturesArgs),
    /// Benchmark LSTM inference and training (the Kairos side; scripts/bench_model.sh compares).
    #[cfg(feature = "torch")]
    BenchModel {
        #[arg(long, default_value_t = 1)]
        threads: i32,
        #[arg(long, default_value_t = 10)]
        reps: usize,
    },
    /// Walk-forward: train per test year on the years before, predict out of sample.
    #[cfg(feature = "torch")]
    Walkforward {
        #[arg(long)]
        config: PathBuf,
    },
    /// Train a model (LSTM, attention-LSTM or ridge) from a TOML job file.
    #[cfg(feature = "torch")]
    Train {
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Args)]
struct FeaturesArgs {
    /// A directory of SYMBOL.csv files, or a long .csv/.parquet table.
    #[arg(long)]
    data: PathBuf,
    /// The benchmark symbol (its returns feed the *_spy_* and *_relative_* features).
    #[arg(long, default_value = "SPY")]
    benchmark: String,
    /// Output file: `symbol,date,<features>`, CSV or Parquet by extension.
    #[arg(long)]
    out: PathBuf,
    /// Also write forward-return and alpha labels (h = 5, 10, 20) to this file.
    #[arg(long)]
    labels: Option<PathBuf>,
    #[arg(long, default_value = "America/New_York")]
    time_zone: String,
    /// Skip (and count) bad rows instead of failing.
    #[arg(long)]
    skip_bad_rows: bool,
}

#[derive(Args)]
struct BacktestArgs {
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
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write a seeded synthetic market as SYMBOL.csv files.
    Synth {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 50)]
        symbols: usize,
        /// Number of sessions.
        #[arg(long, default_value_t = 1260)]
        days: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Intraday bars of this many minutes (default: daily bars).
        #[arg(long)]
        minutes: Option<u32>,
        #[arg(long, default_value = "SPY")]
        benchmark: String,
    },
}

#[derive(Args)]
struct BenchArgs {
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

fn load_config(
    path: &std::path::Path,
    data: Option<PathBuf>,
    out: Option<PathBuf>,
    strategy: Option<String>,
    threads: Option<usize>,
) -> Result<Config> {
    let mut cfg = Config::from_file(path)?;
    if let Some(d) = data {
        cfg.data.path = d;
    }
    if let Some(o) = out {
        cfg.output.dir = o;
    }
    if let Some(s) = strategy {
        if s != cfg.strategy.name {
            cfg.strategy.name = s;
            cfg.strategy.params = toml::Table::new();
        }
    }
    if let Some(t) = threads {
        cfg.engine.worker_threads = t;
    }
    cfg.validate().map_err(anyhow::Error::msg)?;
    Ok(cfg)
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    match Cli::parse().command {
        Command::Backtest(a) => {
            let cfg = load_config(&a.config, a.data, a.out, a.strategy, a.threads)?;
            let out = kairos::backtest::run(&cfg)?;
            println!("{}", serde_json::to_string_pretty(&out.summary)?);
            eprintln!("outputs written to {}", cfg.output.dir.display());
        }
        Command::Data {
            command:
                DataCommand::Synth {
                    out,
                    symbols,
                    days,
                    seed,
                    minutes,
                    benchmark,
                },
        } => {
            if symbols == 0 || days == 0 {
                bail!("--symbols and --days must be at least 1");
            }
            let spec = SynthSpec {
                symbols,
                days,
                seed,
                frequency: minutes.map_or(Frequency::Daily, Frequency::Minutes),
                benchmark,
                ..SynthSpec::default()
            };
            synth::write_csv_dir(&spec, &out).with_context(|| format!("writing {}", out.display()))?;
            eprintln!(
                "wrote {} symbols + benchmark x {} sessions to {}",
                symbols,
                days,
                out.display()
            );
        }
        Command::Bench(a) => bench(a)?,
        Command::Features(a) => features(a)?,
        #[cfg(feature = "torch")]
        Command::BenchModel { threads, reps } => {
            for t in kairos::bench::bench_models(threads, reps) {
                println!("{}", serde_json::to_string(&t)?);
            }
        }
        #[cfg(feature = "torch")]
        Command::Walkforward { config } => {
            let text = std::fs::read_to_string(&config).with_context(|| config.display().to_string())?;
            let cfg: kairos::model::walkforward::WalkForwardConfig =
                toml::from_str(&text).with_context(|| config.display().to_string())?;
            let opts = Config::load_options_of(&cfg.data).map_err(anyhow::Error::msg)?;
            let data = Arc::new(kairos::feeds::load(&cfg.data.path, &opts)?);
            let out = kairos::model::walkforward::run(&cfg, &data).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        #[cfg(feature = "torch")]
        Command::Train { config } => {
            let cfg = kairos::model::job::TrainConfig::from_file(&config).map_err(anyhow::Error::msg)?;
            let opts = Config::load_options_of(&cfg.data).map_err(anyhow::Error::msg)?;
            let data = Arc::new(kairos::feeds::load(&cfg.data.path, &opts)?);
            let out = kairos::model::job::run(&cfg, &data).map_err(anyhow::Error::msg)?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            eprintln!("model written to {}", cfg.output.dir.display());
        }
    }
    Ok(())
}

fn bench(a: BenchArgs) -> Result<()> {
    let start_rss = kairos::bench::rss_bytes();
    let tmp = std::env::temp_dir().join(format!("kairos-bench-{}", std::process::id()));
    let mut cfg = load_config(&a.config, Some(a.data), Some(tmp.clone()), None, a.threads)?;
    cfg.engine.progress = false;
    let t0 = Instant::now();
    let data = Arc::new(kairos::backtest::load_data(&cfg)?);
    let load_seconds = t0.elapsed().as_secs_f64();
    let bars = data.bar_count() as f64;
    let cash0 = kairos::types::dec_to_f64(cfg.portfolio.initial_cash);
    let rate = kairos::types::dec_to_f64(cfg.broker.commission_bps) / 1e4;
    let mut best_engine = f64::INFINITY;
    let mut best_base = f64::INFINITY;
    let mut engine_equity = 0.0;
    let mut engine_fills = 0;
    let mut base = None;
    for _ in 0..a.repeat.max(1) {
        let t = Instant::now();
        let out = kairos::backtest::run_on(&cfg, data.clone())?;
        best_engine = best_engine.min(t.elapsed().as_secs_f64());
        engine_equity = out.summary.final_equity;
        engine_fills = out.summary.trades;
        let t = Instant::now();
        let b = match cfg.strategy.name.as_str() {
            "topk" => kairos::bench::baseline_topk(&data, &parse(&cfg)?, cash0, rate),
            "sma_cross" => kairos::bench::baseline_sma_cross(&data, &parse(&cfg)?, cash0, rate),
            other => bail!("no baseline for strategy {other}"),
        };
        best_base = best_base.min(t.elapsed().as_secs_f64());
        base = Some(b);
    }
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
        "peak_rss_mb": kairos::bench::peak_rss_bytes().map(|b| b as f64 / 1048576.0),
        "rss_at_start_mb": start_rss.map(|b| b as f64 / 1048576.0),
        "torch_linked": cfg!(feature = "torch"),
        "engine_final_equity": engine_equity,
        "baseline_final_equity": b.final_equity,
        "engine_fills": engine_fills,
        "baseline_fills": b.fills,
    });
    println!("{report}");
    Ok(())
}

fn features(a: FeaturesArgs) -> Result<()> {
    use kairos::feeds::{BadRowPolicy, LoadOptions};
    let tz: chrono_tz::Tz = a
        .time_zone
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown time zone {}", a.time_zone))?;
    let opts = LoadOptions {
        time_zone: tz,
        policy: if a.skip_bad_rows {
            BadRowPolicy::Skip
        } else {
            BadRowPolicy::Fail
        },
        benchmark: Some(a.benchmark.clone()),
        ..LoadOptions::default()
    };
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

fn parse<P: serde::de::DeserializeOwned>(cfg: &Config) -> Result<P> {
    Ok(toml::Value::Table(cfg.strategy.params.clone()).try_into()?)
}
