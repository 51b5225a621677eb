//! `kairos data import|synth`: a validated Parquet catalog from CSV or Parquet files, and a
//! seeded synthetic market.

use crate::config::{Config, DataConfig};
use crate::feeds::BadRowPolicy;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `kairos data`'s subcommands.
#[derive(Subcommand)]
pub enum DataCommand {
    /// Validate a dataset once and write it as a Parquet catalog (see `feeds::catalog`) that
    /// `data.path` accepts and that loads faster than text.
    Import(ImportArgs),
    /// Write a seeded synthetic market as SYMBOL.csv files.
    Synth(SynthArgs),
}

/// Runs a `kairos data` subcommand.
pub fn run(command: DataCommand) -> Result<()> {
    match command {
        DataCommand::Import(a) => import(a),
        DataCommand::Synth(a) => synth(a),
    }
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

/// `kairos data import`: load and validate once, write a Parquet catalog.
fn import(a: ImportArgs) -> Result<()> {
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
    crate::output::check_output_path(&a.out, &a.data).map_err(anyhow::Error::msg)?;
    let opts = Config::load_options_of(&data_cfg)?;
    let data = crate::feeds::load(&a.data, &opts)?;
    crate::feeds::catalog::write(&data, &opts, &a.out)?;
    eprintln!(
        "wrote {} symbols, {} bars to the catalog {}",
        data.instruments.len(),
        data.bar_count(),
        a.out.display()
    );
    Ok(())
}

/// `kairos data synth`: a seeded synthetic market as `SYMBOL.csv` files.
fn synth(a: SynthArgs) -> Result<()> {
    use crate::data::synth::{self, Frequency, SynthSpec};
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
