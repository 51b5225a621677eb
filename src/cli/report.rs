//! `kairos report`: `report.html` (metrics, charts, monthly returns, fills) from a run's outputs,
//! or a sweep's heat map.

use anyhow::Result;
use std::path::PathBuf;

/// `kairos report`'s arguments.
#[derive(clap::Args)]
pub struct ReportArgs {
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
}

/// Writes the report and prints its path.
pub fn run(a: ReportArgs) -> Result<()> {
    let opts = crate::report::Options {
        log_scale: a.log_scale,
        rolling_window: a.rolling_window,
    };
    let path = crate::report::write_dir(&a.run, opts, &a.metric)?;
    println!("{}", path.display());
    Ok(())
}
