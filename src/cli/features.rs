//! `kairos features`: the feature library over a dataset (through polars), and its labels.

use crate::config::{Config, DataConfig};
use crate::feeds::BadRowPolicy;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// `kairos features`'s arguments.
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

/// `kairos features`: the feature library over a dataset, through polars.
pub fn run(a: FeaturesArgs) -> Result<()> {
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
        crate::output::check_output_path(out, &a.data).map_err(anyhow::Error::msg)?;
    }
    let opts = Config::load_options_of(&data_cfg)?;
    let tz = opts.time_zone;
    let data = crate::feeds::load(&a.data, &opts)?;
    let bench = data.instrument_by_symbol(&a.benchmark).map(|i| i.id);
    if bench.is_none() {
        tracing::warn!(benchmark = %a.benchmark, "benchmark not in the data: its features are missing");
    }
    let fmt = crate::output::TimeFormat { daily: data.daily, tz };
    let df = crate::feature::batch::batch_market(&data, bench)?;
    let rows = df.height();
    crate::output::write_table(df, fmt, &a.out)?;
    eprintln!(
        "wrote {rows} rows x {} features to {}",
        crate::feature::library::N_FEATURES,
        a.out.display()
    );
    if let Some(path) = a.labels {
        let df = crate::feature::labels::label_market(&data, bench, &crate::feature::labels::HORIZONS)?;
        crate::output::write_table(df, fmt, &path)?;
        eprintln!("wrote labels to {}", path.display());
    }
    Ok(())
}
