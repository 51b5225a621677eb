//! `kairos walkforward`: train per test year on the years before, predict out of sample.

use anyhow::{Context, Result};
use std::path::PathBuf;
use std::sync::Arc;

/// `kairos walkforward`'s arguments.
#[derive(clap::Args)]
pub struct WalkforwardArgs {
    #[arg(long)]
    config: PathBuf,
    /// Output directory instead of the file's `output.dir`.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only gather the test years' directories already under the output directory (years
    /// run elsewhere, for example by `python -m kairos_ray walkforward`).
    #[arg(long)]
    assemble: bool,
}

/// `kairos walkforward`: train per test year on the years before, predict out of sample.
pub fn run(a: WalkforwardArgs) -> Result<()> {
    let WalkforwardArgs { config, out, assemble } = a;
    let config = config.as_path();
    let text = std::fs::read_to_string(config).with_context(|| config.display().to_string())?;
    let mut cfg: crate::research::walkforward::WalkForwardConfig =
        toml::from_str(&text).with_context(|| config.display().to_string())?;
    if let Some(dir) = out {
        cfg.output.dir = dir;
    }
    let data = Arc::new(crate::run::load_market(&cfg.data)?);
    let out = if assemble {
        crate::research::walkforward::assemble(&cfg, &data)?
    } else {
        crate::research::walkforward::run(&cfg, &data)?
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
