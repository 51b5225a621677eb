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
#[derive(Clone, Debug, Serialize, Deserialize)]
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

/// Runs every year and writes the outputs.
///
/// # Errors
/// Bad settings, training or I/O errors.
pub fn run(cfg: &WalkForwardConfig, data: &Arc<MarketData>) -> Result<WalkForward, ResearchError> {
    run_observed(cfg, data, &mut |_| {})
}

/// [`run`], calling `on_year` after each test year (progress).
///
/// Each year is [`run_year`] (the year's directory: its artifact, `predictions.csv` and
/// `year.json`), then [`assemble`] gathers the years' files: a walk-forward whose years ran
/// elsewhere (on a cluster, `python -m kairos_ray walkforward`) is assembled by the same code.
///
/// # Errors
/// Bad settings, training or I/O errors.
pub fn run_observed(
    cfg: &WalkForwardConfig,
    data: &Arc<MarketData>,
    on_year: &mut dyn FnMut(&YearResult),
) -> Result<WalkForward, ResearchError> {
    validate(cfg)?;
    for year in cfg.walkforward.first_test_year..=cfg.walkforward.last_test_year {
        let y = run_year(cfg, data, year)?;
        on_year(&y);
    }
    assemble(cfg, data)
}

fn validate(cfg: &WalkForwardConfig) -> Result<chrono_tz::Tz, ResearchError> {
    let w = &cfg.walkforward;
    if w.first_test_year > w.last_test_year || w.val_months == 0 || w.val_months > 11 {
        return Err(ResearchError::Config(
            "walkforward: need first_test_year <= last_test_year and 1 <= val_months <= 11".into(),
        ));
    }
    cfg.data
        .time_zone
        .parse()
        .map_err(|_| ResearchError::Config("data.time_zone: unknown".into()))
}

/// The directory of a test year's outputs.
pub fn year_dir(cfg: &WalkForwardConfig, year: i32) -> PathBuf {
    cfg.output.dir.join(format!("year_{year}"))
}

/// Trains the model of test `year` on the data before it and predicts the year; writes
/// `year_YYYY/` (the artifact, `predictions.csv`: the year's rows of `oos_predictions.csv`,
/// and `year.json`).
///
/// # Errors
/// Bad settings, training or I/O errors.
pub fn run_year(cfg: &WalkForwardConfig, data: &Arc<MarketData>, year: i32) -> Result<YearResult, ResearchError> {
    let tz = validate(cfg)?;
    let w = &cfg.walkforward;
    if !(w.first_test_year..=w.last_test_year).contains(&year) {
        return Err(ResearchError::Config(format!(
            "walkforward: {year} is not a test year ({}..={})",
            w.first_test_year, w.last_test_year
        )));
    }
    let fmt = crate::output::TimeFormat { daily: data.daily, tz };
    let dir = year_dir(cfg, year);
    let job = TrainConfig {
        data: cfg.data.clone(),
        model: cfg.model.clone(),
        train: cfg.train.clone(),
        split: SplitSettings {
            val_start: format!("{}-{:02}-01", year - 1, 13 - w.val_months),
            test_start: format!("{year}-01-01"),
            test_end: Some(format!("{}-01-01", year + 1)),
        },
        output: TrainOutput { dir: dir.clone() },
    };
    job.validate()?;
    let out = job::run(&job, data)?;
    tracing::info!(
        year,
        ic = out.test.rank_ic_mean,
        baseline_ic = out.baseline_test.rank_ic_mean,
        "walk-forward year"
    );
    // Labeled and not-yet-labeled windows, by symbol and time; the latter with an empty label
    // (scores a backtest uses; never evaluated).
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
    let mut csv = String::new();
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
    let p = dir.join("predictions.csv");
    std::fs::write(&p, csv).map_err(ResearchError::write(&p))?;
    let result = YearResult {
        year,
        model: out.test,
        baseline: out.baseline_test,
    };
    let json = serde_json::to_string_pretty(&result).map_err(|e| ResearchError::Model(e.to_string()))?;
    let p = dir.join("year.json");
    std::fs::write(&p, json + "\n").map_err(ResearchError::write(&p))?;
    Ok(result)
}

/// Gathers the test years' directories into `oos_predictions.csv` (their rows in year order)
/// and `walkforward.json` (each year's figures, and the figures over every labeled prediction,
/// recomputed from the rows).
///
/// # Errors
/// A year's files missing or malformed, or an output that cannot be written.
pub fn assemble(cfg: &WalkForwardConfig, data: &Arc<MarketData>) -> Result<WalkForward, ResearchError> {
    let tz = validate(cfg)?;
    let fmt = crate::output::TimeFormat { daily: data.daily, tz };
    // Dates and symbols as the rows name them, back to timestamps and instruments.
    let ts_of: std::collections::HashMap<String, i64> = data.timestamps.iter().map(|&t| (fmt.format(t), t)).collect();
    let sym_of: std::collections::HashMap<&str, usize> = data
        .instruments
        .iter()
        .enumerate()
        .map(|(i, x)| (x.symbol.as_str(), i))
        .collect();
    let w = &cfg.walkforward;
    let mut years = Vec::new();
    let (mut all_model, mut all_base) = (Vec::new(), Vec::new());
    let mut csv = String::from("symbol,date,year,model,baseline,label\n");
    for year in w.first_test_year..=w.last_test_year {
        let dir = year_dir(cfg, year);
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read_to_string(&p).map_err(|e| ResearchError::Data(format!("{}: {e}", p.display())))
        };
        let result: YearResult = serde_json::from_str(&read("year.json")?)
            .map_err(|e| ResearchError::Data(format!("{}: {e}", dir.join("year.json").display())))?;
        let rows = read("predictions.csv")?;
        for (n, line) in rows.lines().enumerate() {
            let bad = || {
                ResearchError::Data(format!(
                    "{}: line {}: malformed",
                    dir.join("predictions.csv").display(),
                    n + 1
                ))
            };
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != 6 {
                return Err(bad());
            }
            if !f[5].is_empty() {
                let (Some(&symbol), Some(&ts)) = (sym_of.get(f[0]), ts_of.get(f[1])) else {
                    return Err(bad());
                };
                let num = |k: usize| f[k].parse::<f64>().map_err(|_| bad());
                let label = num(5)?;
                all_model.push(Scored {
                    ts,
                    symbol,
                    pred: num(3)?,
                    label,
                });
                all_base.push(Scored {
                    ts,
                    symbol,
                    pred: num(4)?,
                    label,
                });
            }
            csv.push_str(line);
            csv.push('\n');
        }
        years.push(result);
    }
    let result = WalkForward {
        years,
        overall_model: evaluate(&all_model),
        overall_baseline: evaluate(&all_base),
    };
    let dir: PathBuf = cfg.output.dir.clone();
    std::fs::create_dir_all(&dir).map_err(ResearchError::write(&dir))?;
    let oos = dir.join("oos_predictions.csv");
    std::fs::write(&oos, csv).map_err(ResearchError::write(&oos))?;
    let json = serde_json::to_string_pretty(&result).map_err(|e| ResearchError::Model(e.to_string()))?;
    let wf = dir.join("walkforward.json");
    std::fs::write(&wf, json + "\n").map_err(ResearchError::write(&wf))?;
    Ok(result)
}
