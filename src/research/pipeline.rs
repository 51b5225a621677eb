//! `kairos research --config FILE`: the whole research workflow in one command.
//!
//! 1. **Data**: the configured market (with its `[[data.reference]]` benchmarks and the
//!    point-in-time universe), loaded once for every stage.
//! 2. **Walk-forward** ([`super::walkforward`]): for each test year, the features, a model
//!    trained on the years before it (validation: its last `val_months` months; an embargo of
//!    the label horizon before validation and before the test year), and the year's
//!    out-of-sample scores, the ridge baseline's beside them (`walkforward/`).
//! 3. **Backtests**: the configured strategy ranking by the model's out-of-sample scores
//!    (`[model] scores`, point in time), with the configured costs, figures over the test years
//!    only (`output.start` = the first test year: the bars before it only warm features and
//!    strategy state up; the run fails if the strategy trades before it); then the same strategy
//!    on the ridge baseline's scores (`baseline/`).
//! 4. **Report**: `report.html` with the backtest's page and the model's section (IC per year
//!    and over time, the model beside the baseline, permutation importance).
//!
//! A progress bar per stage on a terminal (none when stderr is not one).

use super::job::{ModelSettings, TrainOutput};
use super::train::TrainSettings;
use super::walkforward::{self, WalkForward, WalkForwardConfig, WalkSettings};
use super::ResearchError;
use crate::broker::BrokerConfig;
use crate::config::{
    Config, DataConfig, EngineConfig, FeaturesConfig, ModelConfig, OutputConfig, PortfolioConfig, StrategyConfig,
};
use crate::report::ReportConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The research job file: the walk-forward's sections and the backtest's.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResearchConfig {
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelSettings,
    #[serde(default)]
    pub train: TrainSettings,
    pub walkforward: WalkSettings,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub broker: BrokerConfig,
    pub portfolio: PortfolioConfig,
    pub strategy: StrategyConfig,
    #[serde(default)]
    pub report: ReportConfig,
    pub output: TrainOutput,
}

/// What a research run produced.
#[derive(Clone, Debug, Serialize)]
pub struct ResearchOutput {
    pub walkforward: WalkForward,
    pub model: crate::account::Summary,
    pub baseline: crate::account::Summary,
    pub report: PathBuf,
}

impl ResearchConfig {
    /// Reads and parses a job file.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, naming it.
    pub fn from_file(path: &Path) -> Result<Self, ResearchError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ResearchError::Config(format!("{}: {e}", path.display())))?;
        toml::from_str(&text).map_err(|e| ResearchError::Config(format!("{}: {e}", path.display())))
    }

    /// The walk-forward job of this file, writing into `output.dir/walkforward`.
    pub fn walkforward(&self) -> WalkForwardConfig {
        WalkForwardConfig {
            data: self.data.clone(),
            model: self.model.clone(),
            train: TrainSettings {
                progress: false,
                ..self.train.clone()
            },
            walkforward: self.walkforward.clone(),
            output: TrainOutput {
                dir: self.output.dir.join("walkforward"),
            },
        }
    }

    /// The backtest of the strategy on `scores`, writing into `dir`, its figures from the
    /// first test year.
    ///
    /// # Errors
    /// A strategy or settings the backtest refuses.
    pub fn backtest(&self, scores: PathBuf, dir: PathBuf) -> Result<Config, ResearchError> {
        let cfg = Config {
            data: self.data.clone(),
            engine: EngineConfig {
                progress: false,
                ..self.engine.clone()
            },
            broker: self.broker.clone(),
            portfolio: self.portfolio.clone(),
            strategy: self.strategy.clone(),
            output: OutputConfig {
                dir,
                start: Some(format!("{}-01-01", self.walkforward.first_test_year)),
                ..OutputConfig::default()
            },
            features: FeaturesConfig::default(),
            model: ModelConfig {
                scores: Some(scores),
                ..ModelConfig::default()
            },
            live: None,
            report: self.report.clone(),
        };
        cfg.validate().map_err(|e| ResearchError::Config(e.to_string()))?;
        Ok(cfg)
    }
}

/// One bar per stage, stacked under each other (nothing drawn when stderr is not a terminal).
fn bar(bars: &indicatif::MultiProgress, len: u64, stage: &str) -> indicatif::ProgressBar {
    let pb = bars.add(indicatif::ProgressBar::new(len));
    if let Ok(style) = indicatif::ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_prefix(stage.to_string());
    pb
}

/// Writes `date,symbol,score` of the baseline column of `oos_predictions.csv`.
fn baseline_scores(oos: &Path, out: &Path) -> Result<(), ResearchError> {
    let text = std::fs::read_to_string(oos).map_err(|e| ResearchError::Data(format!("{}: {e}", oos.display())))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .ok_or_else(|| ResearchError::Data(format!("{}: no {n} column", oos.display())))
    };
    let (s, d, b) = (col("symbol")?, col("date")?, col("baseline")?);
    let mut csv = String::from("date,symbol,score\n");
    for l in lines {
        // Symbols are plain here (the walk-forward writes them unquoted, and they hold no comma).
        let f: Vec<&str> = l.split(',').collect();
        if let (Some(sym), Some(date), Some(score)) = (f.get(s), f.get(d), f.get(b)) {
            csv.push_str(&format!("{date},{sym},{score}\n"));
        }
    }
    std::fs::write(out, csv).map_err(ResearchError::write(out))
}

/// Runs every stage and writes every output under `output.dir`.
///
/// # Errors
/// Any stage's error, naming the stage's file or key.
pub fn run(cfg: &ResearchConfig, strategies: &crate::strategy::Strategies) -> Result<ResearchOutput, ResearchError> {
    let years = (cfg.walkforward.last_test_year - cfg.walkforward.first_test_year + 1).max(0) as u64;
    let out = &cfg.output.dir;
    crate::output::check_output_path(out, &cfg.data.path)
        .map_err(|e| ResearchError::Config(format!("output.dir: {e}")))?;
    // Fail on a bad strategy before hours of training: its parameters are parsed (and checked)
    // once, here; both backtests run the prepared strategy.
    let prepared = crate::run::prepare(&cfg.backtest(PathBuf::from("scores.csv"), out.clone())?, strategies)
        .map_err(|e| ResearchError::Config(e.to_string()))?;
    let bars = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::MultiProgress::new()
    } else {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden())
    };
    let pb = bar(&bars, 1, "data");
    let t0 = std::time::Instant::now();
    let data = Arc::new(crate::run::load_market(&cfg.data).map_err(|e| ResearchError::Data(e.to_string()))?);
    let load_seconds = t0.elapsed().as_secs_f64();
    pb.inc(1);
    pb.finish_with_message(format!(
        "{} symbols x {} timestamps",
        data.instruments.len(),
        data.timestamps.len()
    ));
    let pb = bar(&bars, years, "walk-forward");
    let wf_cfg = cfg.walkforward();
    let wf = walkforward::run_observed(&wf_cfg, &data, &mut |y| {
        pb.inc(1);
        pb.set_message(format!(
            "{}: IC {:.4} (ridge {:.4})",
            y.year, y.model.rank_ic_mean, y.baseline.rank_ic_mean
        ));
    })?;
    pb.finish();
    let pb = bar(&bars, 2, "backtests");
    let oos = wf_cfg.output.dir.join("oos_predictions.csv");
    let base_scores = wf_cfg.output.dir.join("baseline_predictions.csv");
    baseline_scores(&oos, &base_scores)?;
    let backtest = |scores: PathBuf, dir: PathBuf| -> Result<crate::account::Summary, ResearchError> {
        let run = crate::run::Prepared {
            cfg: cfg.backtest(scores, dir)?,
            strategy: prepared.strategy.clone(),
        };
        let r = run
            .run_loaded(data.clone(), load_seconds)
            .map_err(|e| ResearchError::Data(e.to_string()))?;
        Ok(r.summary)
    };
    pb.set_message("model scores");
    let model = backtest(oos, out.clone())?;
    pb.inc(1);
    pb.set_message("ridge baseline scores");
    let baseline = backtest(base_scores, out.join("baseline"))?;
    pb.inc(1);
    pb.finish();
    let pb = bar(&bars, 1, "report");
    let report = crate::report::write(out, (&cfg.report).into()).map_err(|e| ResearchError::Write {
        path: e.path,
        message: e.message,
    })?;
    pb.inc(1);
    pb.finish();
    Ok(ResearchOutput {
        walkforward: wf,
        model,
        baseline,
        report,
    })
}
