//! `kairos train`: one training job (LSTM, attention-LSTM or ridge) from a TOML job file.

use anyhow::Result;
use std::path::PathBuf;
use std::sync::Arc;

/// `kairos train`'s arguments.
#[derive(clap::Args)]
pub struct TrainArgs {
    #[arg(long)]
    config: PathBuf,
}

/// `kairos train`: one training job.
pub fn run(a: TrainArgs) -> Result<()> {
    let config = a.config.as_path();
    let cfg = crate::research::job::TrainConfig::from_file(config)?;
    let data = Arc::new(crate::run::load_market(&cfg.data)?);
    let out = crate::research::job::run(&cfg, &data)?;
    println!("{}", serde_json::to_string_pretty(&out)?);
    eprintln!("model written to {}", cfg.output.dir.display());
    Ok(())
}
