//! `kairos walkforward --config FILE`: for each test year, train on the data up to the year
//! before (its last `val_months` months as validation), predict the test year. Writes the
//! out-of-sample predictions of the whole span (`oos_predictions.csv`) and per-year RMSE,
//! directional accuracy and rank IC (mean, t) of the model and of the ridge baseline
//! (`walkforward.json`); each year's artifact is kept in `year_YYYY/`.

use super::eval::{evaluate, Evaluation, Scored};
use super::job::{self, ModelSettings, Prediction, SplitSettings, TrainConfig, TrainOutput};
use super::train::TrainSettings;
use super::ResearchError;
use crate::config::DataConfig;
use crate::data::MarketData;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

/// `[walkforward]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkSettings {
    pub first_test_year: i32,
    pub last_test_year: i32,
    #[serde(default = "six")]
    pub val_months: u32,
}

fn six() -> u32 {
    6
}

/// The walk-forward job file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalkForwardConfig {
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelSettings,
    #[serde(default)]
    pub train: TrainSettings,
    pub walkforward: WalkSettings,
    pub output: TrainOutput,
}

/// One test year.
#[derive(Clone, Debug, Serialize)]
pub struct YearResult {
    pub year: i32,
    pub model: Evaluation,
    pub baseline: Evaluation,
}

/// The whole walk-forward.
#[derive(Clone, Debug, Serialize)]
pub struct WalkForward {
    pub years: Vec<YearResult>,
    pub overall_model: Evaluation,
    pub overall_baseline: Evaluation,
}

fn scored(p: &[Prediction]) -> Vec<Scored> {
    p.iter()
        .map(|p| Scored {
            ts: p.ts,
            symbol: p.symbol,
            pred: p.pred,
            label: p.label,
        })
        .collect()
}

/// Runs every year and writes the outputs.
///
/// # Errors
/// Bad settings, training or I/O errors.
pub fn run(cfg: &WalkForwardConfig, data: &Arc<MarketData>) -> Result<WalkForward, ResearchError> {
    run_observed(cfg, data, &mut |_| {})
}

/// [`run`], calling `on_year` after each test year (progress).
///
/// # Errors
/// Bad settings, training or I/O errors.
pub fn run_observed(
    cfg: &WalkForwardConfig,
    data: &Arc<MarketData>,
    on_year: &mut dyn FnMut(&YearResult),
) -> Result<WalkForward, ResearchError> {
    let w = &cfg.walkforward;
    if w.first_test_year > w.last_test_year || w.val_months == 0 || w.val_months > 11 {
        return Err(ResearchError::Config(
            "walkforward: need first_test_year <= last_test_year and 1 <= val_months <= 11".into(),
        ));
    }
    std::fs::create_dir_all(&cfg.output.dir).map_err(ResearchError::write(&cfg.output.dir))?;
    let tz: chrono_tz::Tz = cfg
        .data
        .time_zone
        .parse()
        .map_err(|_| ResearchError::Config("data.time_zone: unknown".into()))?;
    let fmt = crate::output::TimeFormat { daily: data.daily, tz };
    let mut years = Vec::new();
    let (mut all_model, mut all_base) = (Vec::new(), Vec::new());
    let mut csv = String::from("symbol,date,year,model,baseline,label\n");
    for year in w.first_test_year..=w.last_test_year {
        let job = TrainConfig {
            data: cfg.data.clone(),
            model: cfg.model.clone(),
            train: cfg.train.clone(),
            split: SplitSettings {
                val_start: format!("{}-{:02}-01", year - 1, 13 - w.val_months),
                test_start: format!("{year}-01-01"),
                test_end: Some(format!("{}-01-01", year + 1)),
            },
            output: TrainOutput {
                dir: cfg.output.dir.join(format!("year_{year}")),
            },
        };
        job.validate()?;
        let out = job::run(&job, data)?;
        tracing::info!(
            year,
            ic = out.test.rank_ic_mean,
            baseline_ic = out.baseline_test.rank_ic_mean,
            "walk-forward year"
        );
        // Labeled and not-yet-labeled windows, by symbol and time; the latter with an empty
        // label (scores a backtest uses; never evaluated).
        let mut rows: Vec<(&Prediction, &Prediction)> = out
            .test_predictions
            .iter()
            .zip(&out.baseline_test_predictions)
            .chain(
                out.unlabeled_predictions
                    .iter()
                    .zip(&out.baseline_unlabeled_predictions),
            )
            .collect();
        rows.sort_by_key(|(m, _)| (m.symbol, m.ts));
        for (m, b) in rows {
            let label = if m.label.is_nan() {
                String::new()
            } else {
                m.label.to_string()
            };
            let _ = writeln!(
                csv,
                "{},{},{year},{},{},{label}",
                data.instruments[m.symbol].symbol,
                fmt.format(m.ts),
                m.pred,
                b.pred,
            );
        }
        all_model.extend(scored(&out.test_predictions));
        all_base.extend(scored(&out.baseline_test_predictions));
        years.push(YearResult {
            year,
            model: out.test,
            baseline: out.baseline_test,
        });
        if let Some(y) = years.last() {
            on_year(y);
        }
    }
    let result = WalkForward {
        years,
        overall_model: evaluate(&all_model),
        overall_baseline: evaluate(&all_base),
    };
    let dir: PathBuf = cfg.output.dir.clone();
    let oos = dir.join("oos_predictions.csv");
    std::fs::write(&oos, csv).map_err(ResearchError::write(&oos))?;
    let json = serde_json::to_string_pretty(&result).map_err(|e| ResearchError::Model(e.to_string()))?;
    let wf = dir.join("walkforward.json");
    std::fs::write(&wf, json + "\n").map_err(ResearchError::write(&wf))?;
    Ok(result)
}
