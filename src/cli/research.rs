//! `kairos research`: the research workflow in one command (features, walk-forward training,
//! out-of-sample scores, a backtest over the test years and one on the ridge baseline's scores,
//! the report), then its figures as a short table.

use crate::strategy::Strategies;
use anyhow::Result;
use std::path::PathBuf;

/// `kairos research`'s arguments.
#[derive(clap::Args)]
pub struct ResearchArgs {
    #[arg(long)]
    config: PathBuf,
    /// Output directory instead of the file's `output.dir`.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// `kairos research`: every stage, then the figures as a short table.
pub fn run(a: ResearchArgs, strategies: &Strategies) -> Result<()> {
    let ResearchArgs { config, out } = a;
    let mut cfg = crate::research::pipeline::ResearchConfig::from_file(&config)?;
    if let Some(dir) = out {
        cfg.output.dir = dir;
    }
    let out = crate::research::pipeline::run(&cfg, strategies)?;
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
    print!("{}", super::summary_table(&out.model, &out.report));
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
