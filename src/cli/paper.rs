//! `kairos paper`: the configured strategy on live bars (`[live]`), orders to the broker
//! simulator or Alpaca's paper API; `paper export` writes a session's bars as a data set.

use crate::config::{Config, Overrides};
use crate::strategy::Strategies;
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `kairos paper`'s arguments.
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

/// Runs a paper session with `strategies` (its summary on standard error), or `paper export`.
pub fn run(a: PaperArgs, strategies: &Strategies) -> Result<()> {
    if let Some(PaperCommand::Export { journal, out }) = a.command {
        if !journal.exists() {
            bail!("no journal at {}", journal.display());
        }
        let mut j = crate::live::journal::Journal::open(&journal, false)?;
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
    let opts = crate::live::paper::PaperOptions {
        max_bars: a.max_bars,
        status: !a.quiet,
        record_latency: false,
        adopt_venue_state: a.adopt_venue_state,
    };
    let out = crate::live::paper::run_blocking(&cfg, strategies, opts)?;
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
