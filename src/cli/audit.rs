//! `kairos audit`: no look-ahead, checked: the backtest again with every bar after a cut replaced;
//! fails (exit status 1) when a decision up to the cut changed.

use crate::config::{Config, Overrides};
use crate::strategy::Strategies;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// `kairos audit`'s arguments.
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

/// `kairos audit`: prints the report (JSON); fails when a decision up to the cut changed.
pub fn run(a: AuditArgs, strategies: &Strategies) -> Result<()> {
    let cfg = Config::from_file_with(
        &a.config,
        Overrides {
            out: a.out,
            data: a.data,
            ..Overrides::default()
        },
    )?;
    crate::output::check_output_path(&cfg.output.dir, &cfg.data.path)
        .map_err(|e| anyhow::anyhow!("output.dir: {e}"))?;
    let prepared = super::prepare(&cfg, strategies, &a.config)?;
    let data = std::sync::Arc::new(prepared.load()?);
    let cut = crate::audit::cut_step(&data, a.at.as_deref())?;
    let report = crate::audit::audit_prepared(&prepared, data, cut, a.seed)?;
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
