//! The `kairos` command line: parses arguments and dispatches to the library (the command
//! implementations are in `cli`).

mod cli;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use kairos::config::{Config, Overrides};
use std::path::PathBuf;

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
    Backtest(BacktestArgs),
    /// Data tools.
    Data {
        #[command(subcommand)]
        command: DataCommand,
    },
    /// Benchmark a configuration: engine throughput beside a minimal single-threaded loop.
    Bench(BenchArgs),
    /// Paper trading: the configured strategy on live bars (`[live]`), orders to the broker
    /// simulator or Alpaca's paper API; `paper export` writes a session's bars as a data set.
    Paper(PaperArgs),
    /// No look-ahead, checked: rerun the backtest with every bar after a cut replaced and report
    /// whether any decision up to the cut changed (exit status 1 when one did).
    Audit(AuditArgs),
    /// Run a grid of parameter sets in parallel over one loaded market: `sweep.csv`.
    Sweep(SweepArgs),
    /// Write `report.html` (metrics, charts, monthly returns, fills) from a run's outputs.
    Report {
        /// The run's output directory (summary.json, equity.csv, fills.csv), or a sweep's
        /// (sweep.csv).
        #[arg(long)]
        run: PathBuf,
        /// The equity chart on a log scale.
        #[arg(long)]
        log_scale: bool,
        /// The rolling Sharpe's window in timestamps (default: half a year of them).
        #[arg(long, default_value_t = 0)]
        rolling_window: usize,
        /// A sweep's heat map metric (a column of sweep.csv).
        #[arg(long, default_value = "sharpe")]
        metric: String,
    },
    /// Serve a recorded market over a venue's real protocol (WebSocket stream and REST history)
    /// on loopback, in real time or faster: a venue for paper sessions without keys.
    ServeMarket(ServeArgs),
    /// Benchmark bar-to-order latency of a paper session against the loopback venue.
    BenchLive(BenchLiveArgs),
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
        /// Output directory instead of the file's `output.dir`.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Only gather the test years' directories already under the output directory (years
        /// run elsewhere, for example by `python -m kairos_ray walkforward`).
        #[arg(long)]
        assemble: bool,
    },
    /// A long-lived worker for a cluster driver (`python -m kairos_ray`): loads the market once,
    /// then takes tasks as JSON lines on standard input and answers each on standard output.
    #[command(subcommand)]
    Worker(WorkerKind),
    /// The research workflow in one command: features, walk-forward training, out-of-sample
    /// scores, a backtest over the test years (and one on the ridge baseline's scores), report.
    #[cfg(feature = "torch")]
    Research {
        #[arg(long)]
        config: PathBuf,
        /// Output directory instead of the file's `output.dir`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Train a model (LSTM, attention-LSTM or ridge) from a TOML job file.
    #[cfg(feature = "torch")]
    Train {
        #[arg(long)]
        config: PathBuf,
    },
}

/// What a worker serves.
#[derive(clap::Subcommand)]
pub enum WorkerKind {
    /// Grid cells of a sweep: a task is a cell index; the answer its `sweep.csv` line.
    Sweep {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        grid: PathBuf,
        #[arg(long)]
        data: Option<PathBuf>,
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

#[derive(Args)]
pub struct FeaturesArgs {
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
    /// Print a short table of the headline figures and the report's path instead of the
    /// summary's JSON (which stays in `summary.json`).
    #[arg(long)]
    table: bool,
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct PaperArgs {
    #[command(subcommand)]
    command: Option<PaperCommand>,
    /// The configuration, with a `[live]` table.
    #[arg(long)]
    config: Option<PathBuf>,
    /// End the session cleanly after this many live timestamps.
    #[arg(long)]
    max_bars: Option<u64>,
    /// Override `output.dir`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// No status line per timestamp.
    #[arg(long)]
    quiet: bool,
    /// `execution = "alpaca"`: when the venue's open orders or positions differ from the
    /// journal's at start, take the venue's (else the start stops with a report).
    #[arg(long)]
    adopt_venue_state: bool,
}

#[derive(clap::Args)]
pub struct SweepArgs {
    #[arg(long)]
    config: PathBuf,
    /// The grid: a `[grid]` table of "dotted.key" = [values].
    #[arg(long)]
    grid: PathBuf,
    /// Override `data.path`.
    #[arg(long)]
    data: Option<PathBuf>,
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

#[derive(clap::Args)]
pub struct AuditArgs {
    #[arg(long)]
    config: PathBuf,
    /// The cut date (YYYY-MM-DD): bars after its last timestamp are replaced (default: the
    /// middle of the market).
    #[arg(long)]
    at: Option<String>,
    /// Seed of the replacement factors.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Override `data.path`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Override `output.dir` (the two runs go to `DIR/audit/`).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum PaperCommand {
    /// Write the bars of a session's journal as a long CSV table that `data.path` reads.
    Export {
        #[arg(long)]
        journal: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    #[arg(long)]
    venue: String,
    /// A directory of SYMBOL.csv files, or a long .csv/.parquet table.
    #[arg(long)]
    data: PathBuf,
    /// Intervals per second of real time (1: real time; 0: as fast as clients read).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: String,
    /// Timestamps served as history (REST) before streaming starts.
    #[arg(long, default_value_t = 100)]
    history: usize,
    /// The bar interval (default: the smallest step of the data).
    #[arg(long)]
    interval: Option<String>,
    /// The data's time zone (for timestamps without an offset).
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    /// Start streaming at once instead of at the first subscription.
    #[arg(long)]
    no_wait: bool,
    /// Inject a fault: drop-after=N, malformed-at=K, unknown-at=K, unsubscribed-at=K,
    /// duplicate-at=K, out-of-order-at=K, correction-at=K, unclosed, rest-429=N, rest-418=N,
    /// reject-order=N (Alpaca: the Nth order placed is refused), rest-delay-ms=N (every
    /// market-data REST answer N ms late), stream-delay-ms=N (each stream starts N ms late).
    #[arg(long)]
    fault: Vec<String>,
}

#[derive(Args)]
pub struct BenchLiveArgs {
    #[arg(long, default_value_t = 50)]
    symbols: usize,
    #[arg(long, default_value_t = 10_000)]
    timestamps: usize,
    /// Also run with an LSTM (trained here on the synthetic market first).
    #[arg(long)]
    lstm: bool,
    /// Timestamps streamed per second; 0: at full speed (as fast as the session reads).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// `[live] window` of the session: timestamps in flight.
    #[arg(long, default_value_t = 2)]
    window: usize,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Validate a dataset once and write it as a Parquet catalog (see `feeds::catalog`) that
    /// `data.path` accepts and that loads faster than text.
    Import(ImportArgs),
    /// Write a seeded synthetic market as SYMBOL.csv files.
    Synth(SynthArgs),
}

#[derive(Args)]
pub struct SynthArgs {
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
}

#[derive(Args)]
pub struct ImportArgs {
    /// A directory of SYMBOL.csv files, or a long .csv/.parquet table.
    #[arg(long)]
    data: PathBuf,
    /// The catalog directory to write.
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value = "America/New_York")]
    time_zone: String,
    /// `HH:MM`, the time daily bars are stamped at.
    #[arg(long, default_value = "16:00")]
    session_close: String,
    /// Skip (and count) bad rows instead of failing.
    #[arg(long)]
    skip_bad_rows: bool,
}

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

/// An ordinary error (bad input, bad configuration, I/O) prints one line, `error: ...` with its
/// causes, and exits with status 1, whatever RUST_BACKTRACE says; `--verbose` prints the debug
/// form with the backtrace. A bug (a panic) keeps Rust's own report.
fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let verbose = cli.verbose;
    match run(cli.command) {
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

fn run(command: Command) -> Result<()> {
    match command {
        Command::Backtest(a) => {
            let overrides = Overrides {
                data: a.data,
                out: a.out,
                strategy: a.strategy,
                threads: a.threads,
            };
            let cfg = Config::from_file_with(&a.config, overrides)?;
            let out = kairos::backtest::run(&cfg)?;
            if a.table {
                print!(
                    "{}",
                    cli::summary_table(&out.summary, &cfg.output.dir.join("report.html"))
                );
            } else {
                println!("{}", serde_json::to_string_pretty(&out.summary)?);
            }
            eprintln!("outputs written to {}", cfg.output.dir.display());
        }
        Command::Data {
            command: DataCommand::Import(a),
        } => cli::import(a)?,
        Command::Data {
            command: DataCommand::Synth(a),
        } => cli::synth(a)?,
        Command::Bench(a) => cli::bench(a)?,
        Command::Paper(a) => cli::paper(a)?,
        Command::Audit(a) => cli::audit(a)?,
        Command::Sweep(a) => cli::sweep(a)?,
        Command::Report {
            run,
            log_scale,
            rolling_window,
            metric,
        } => {
            let opts = kairos::report::Options {
                log_scale,
                rolling_window,
            };
            let path = kairos::report::write_dir(&run, opts, &metric)?;
            println!("{}", path.display());
        }
        Command::ServeMarket(a) => cli::serve_market(a)?,
        Command::BenchLive(a) => cli::bench::bench_live(a)?,
        Command::Features(a) => cli::features(a)?,
        #[cfg(feature = "torch")]
        Command::BenchModel { threads, reps } => {
            for t in cli::bench::bench_models(threads, reps) {
                println!("{}", serde_json::to_string(&t)?);
            }
        }
        #[cfg(feature = "torch")]
        Command::Walkforward { config, out, assemble } => cli::walkforward(&config, out, assemble)?,
        Command::Worker(kind) => cli::worker::run(kind)?,
        #[cfg(feature = "torch")]
        Command::Train { config } => cli::train(&config)?,
        #[cfg(feature = "torch")]
        Command::Research { config, out } => cli::research(&config, out)?,
    }
    Ok(())
}
