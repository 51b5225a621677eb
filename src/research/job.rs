//! `kairos train --config FILE`: build the dataset, train the configured model (and always the
//! ridge baseline beside it), evaluate on validation and test, save the artifact.
//!
//! Pretraining on many symbols and fine-tuning on one go through the same command: train once
//! with `model.symbols = []`, then again with `model.symbols = ["XYZ"]` and
//! `model.init_from = "<first artifact>"`.

use super::dataset::{Dataset, DatasetSpec, LabelKind, Splits};
use super::eval::Evaluation;
use super::importance::{permutation_importance, write_csv};
use super::train::{forward, predict, score, train_net, train_ridge, TrainReport, TrainSettings};
use super::ResearchError;
use crate::config::DataConfig;
use crate::model::artifact::{self, ModelMeta, FORMAT};
use crate::model::net::{ModelKind, NetSpec};
use crate::types::UnixNanos;
use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The default inputs: a compact, diverse subset of the library.
pub fn default_features() -> Vec<String> {
    [
        "1d_close_log_ret",
        "5d_close_log_ret",
        "10d_close_log_ret",
        "20d_close_log_ret",
        "1d_vol_log_ret",
        "vol_ratio",
        "k_body",
        "ema10_gap",
        "ema30_gap",
        "rsi14",
        "macd_hist",
        "bb_position",
        "obv_momentum",
        "hv_ratio",
        "5d_relative_ret",
        "20d_relative_ret",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// `[model]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    pub kind: ModelKind,
    pub features: Vec<String>,
    pub window: usize,
    pub hidden: i64,
    pub layers: i64,
    pub dropout: f64,
    pub horizon: usize,
    pub label: LabelKind,
    /// Train on these symbols only (empty: every tradable symbol).
    pub symbols: Vec<String>,
    /// Start from this artifact's weights (fine-tuning).
    pub init_from: Option<PathBuf>,
    /// Demean labels per date before training and evaluation (ranking models).
    pub cross_sectional: bool,
}

impl Default for ModelSettings {
    fn default() -> Self {
        Self {
            kind: ModelKind::Lstm,
            features: default_features(),
            window: 30,
            hidden: 32,
            layers: 2,
            dropout: 0.1,
            horizon: 5,
            label: LabelKind::Alpha,
            symbols: Vec::new(),
            init_from: None,
            cross_sectional: true,
        }
    }
}

/// `[split]`: dates (`YYYY-MM-DD`, exchange time zone) where validation and test begin.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitSettings {
    pub val_start: String,
    pub test_start: String,
    pub test_end: Option<String>,
}

/// The training job file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    pub data: DataConfig,
    #[serde(default)]
    pub model: ModelSettings,
    #[serde(default)]
    pub train: TrainSettings,
    pub split: SplitSettings,
    pub output: TrainOutput,
}

/// `[output]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainOutput {
    /// The artifact directory.
    pub dir: PathBuf,
}

/// What a training job reports (`report.json` beside the artifact).
#[derive(Clone, Debug, Serialize)]
pub struct TrainOutcome {
    pub kind: ModelKind,
    /// Training, validation and test samples.
    pub samples: [usize; 3],
    pub training: Option<TrainReport>,
    pub validation: Evaluation,
    pub test: Evaluation,
    pub baseline_validation: Evaluation,
    pub baseline_test: Evaluation,
    pub seconds: f64,
    /// Test-split predictions of the model and of the baseline: `(symbol, ts, pred, label)`.
    #[serde(skip)]
    pub test_predictions: Vec<Prediction>,
    #[serde(skip)]
    pub baseline_test_predictions: Vec<Prediction>,
    /// Scores of the test period's windows whose label does not exist yet (label NaN): used
    /// by a backtest, never evaluated.
    #[serde(skip)]
    pub unlabeled_predictions: Vec<Prediction>,
    #[serde(skip)]
    pub baseline_unlabeled_predictions: Vec<Prediction>,
}

/// One out-of-sample prediction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    pub symbol: usize,
    pub ts: UnixNanos,
    pub pred: f64,
    pub label: f64,
}

fn predictions(samples: &[super::dataset::Sample], preds: &[f64]) -> Vec<Prediction> {
    samples
        .iter()
        .zip(preds)
        .map(|(s, p)| Prediction {
            symbol: s.symbol,
            ts: s.ts,
            pred: *p,
            label: f64::from(s.label),
        })
        .collect()
}

/// The timestamp where `date` begins in `tz`.
///
/// # Errors
/// A date that does not parse.
pub fn date_start(date: &str, tz: chrono_tz::Tz, key: &str) -> Result<UnixNanos, ResearchError> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| ResearchError::Config(format!("{key}: expected YYYY-MM-DD, got {date:?}")))?;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| ResearchError::Config(format!("{key}: {date} does not exist in {tz}")))
}

impl TrainConfig {
    /// Reads and checks a job file.
    ///
    /// # Errors
    /// Unknown keys or bad values, naming the key.
    pub fn from_file(path: &Path) -> Result<Self, ResearchError> {
        let in_file = |e: &dyn std::fmt::Display| ResearchError::Config(format!("{}: {e}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| in_file(&e))?;
        let cfg: Self = toml::from_str(&text).map_err(|e| in_file(&e))?;
        cfg.validate().map_err(|e| in_file(&e))?;
        Ok(cfg)
    }

    /// # Errors
    /// `section.key: reason`.
    pub fn validate(&self) -> Result<(), ResearchError> {
        let m = &self.model;
        super::dataset::feature_indices(&m.features)
            .map_err(|e| ResearchError::Config(format!("model.features: {e}")))?;
        if m.features.is_empty() || m.window == 0 || m.horizon == 0 {
            return Err(ResearchError::Config(
                "model.features, model.window and model.horizon: must not be empty or 0".into(),
            ));
        }
        if m.hidden < 1 || m.layers < 1 || !(0.0..1.0).contains(&m.dropout) {
            return Err(ResearchError::Config(
                "model.hidden/layers >= 1 and 0 <= model.dropout < 1".into(),
            ));
        }
        let t = &self.train;
        if t.batch_size == 0 || t.lr <= 0.0 || t.threads < 1 {
            return Err(ResearchError::Config(
                "train.batch_size, lr and threads: must be positive".into(),
            ));
        }
        // Zero epochs keep the pretrained weights as they are: allowed when fine-tuning only.
        if t.epochs == 0 && m.init_from.is_none() {
            return Err(ResearchError::Config(
                "train.epochs: must be at least 1 (0 only with model.init_from)".into(),
            ));
        }
        if t.device != "cpu" && t.device != "cuda" {
            return Err(ResearchError::Config(format!(
                "train.device: cpu or cuda, got {:?}",
                t.device
            )));
        }
        let tz: chrono_tz::Tz = self
            .data
            .time_zone
            .parse()
            .map_err(|_| ResearchError::Config("data.time_zone: unknown".into()))?;
        let v = date_start(&self.split.val_start, tz, "split.val_start")?;
        let s = date_start(&self.split.test_start, tz, "split.test_start")?;
        if v >= s {
            return Err(ResearchError::Config(
                "split.val_start: must be before split.test_start".into(),
            ));
        }
        Ok(())
    }
}

/// Runs a training job on already loaded data and writes the artifact and `report.json`.
///
/// # Errors
/// Dataset, training or I/O errors, as messages.
pub fn run(cfg: &TrainConfig, data: &Arc<crate::data::MarketData>) -> Result<TrainOutcome, ResearchError> {
    let t0 = std::time::Instant::now();
    let tz: chrono_tz::Tz = cfg
        .data
        .time_zone
        .parse()
        .map_err(|_| ResearchError::Config("data.time_zone: unknown".into()))?;
    let splits = Splits {
        val_start: date_start(&cfg.split.val_start, tz, "split.val_start")?,
        test_start: date_start(&cfg.split.test_start, tz, "split.test_start")?,
        test_end: match &cfg.split.test_end {
            Some(d) => date_start(d, tz, "split.test_end")?,
            None => UnixNanos::MAX,
        },
    };
    let bench = data.instrument_by_symbol(&cfg.data.benchmark).map(|i| i.id);
    let m = &cfg.model;
    let spec = DatasetSpec {
        features: &m.features,
        window: m.window,
        horizon: m.horizon,
        label: m.label,
        symbols: &m.symbols,
        splits,
        cross_sectional: m.cross_sectional,
    };
    let ds = Dataset::build(data, bench, &spec)?;
    let samples = [ds.train.len(), ds.val.len(), ds.test.len()];
    // Every model kind needs all three: a figure computed on no sample would read as 0.
    for (name, n) in ["training", "validation", "test"].iter().zip(samples) {
        if n == 0 {
            return Err(ResearchError::Data(format!(
                "no sample in the {name} split (training {}, validation {}, test {}): check split.val_start, \
                 split.test_start and split.test_end against the data's dates, and model.window, model.horizon",
                samples[0], samples[1], samples[2]
            )));
        }
    }
    tracing::info!(train = samples[0], val = samples[1], test = samples[2], "dataset built");
    let ridge = train_ridge(&ds, cfg.train.ridge_lambda);
    let ridge_pred =
        |s: &[super::dataset::Sample]| -> Vec<f64> { s.iter().map(|x| ridge.predict(&ds.last_row(x))).collect() };
    let baseline_validation = score(&ds.val, &ridge_pred(&ds.val));
    let ridge_test = ridge_pred(&ds.test);
    let baseline_test = score(&ds.test, &ridge_test);
    let baseline_test_predictions = predictions(&ds.test, &ridge_test);
    let baseline_unlabeled_predictions = predictions(&ds.unlabeled, &ridge_pred(&ds.unlabeled));
    let spec = NetSpec {
        kind: m.kind,
        n_features: ds.n_features() as i64,
        hidden: m.hidden,
        layers: m.layers,
        dropout: m.dropout,
    };
    let mut meta = ModelMeta {
        format: FORMAT.into(),
        net: spec.clone(),
        features: m.features.clone(),
        window: m.window,
        horizon: m.horizon,
        label: m.label,
        scaler: ds.scaler.clone(),
        ridge: None,
        config: serde_json::to_value(cfg).map_err(|e| ResearchError::Config(e.to_string()))?,
        validation: None,
        test: None,
    };
    let importance_path = cfg.output.dir.join("importance.csv");
    let (training, validation, test, test_predictions, unlabeled_predictions) = if m.kind == ModelKind::Ridge {
        meta.ridge = Some(ridge.clone());
        artifact::save(&cfg.output.dir, &meta, None).map_err(|e| ResearchError::Model(e.to_string()))?;
        let last_rows = |x: &tch::Tensor| -> Vec<f64> {
            let rows = Vec::<Vec<f64>>::try_from(&x.select(1, -1).to_kind(tch::Kind::Double)).unwrap_or_default();
            rows.iter().map(|r| ridge.predict(r)).collect()
        };
        let imp = permutation_importance(&ds, &ds.val, &last_rows, cfg.train.seed);
        write_csv(&importance_path, &imp).map_err(ResearchError::write(&importance_path))?;
        (
            None,
            baseline_validation.clone(),
            baseline_test.clone(),
            baseline_test_predictions.clone(),
            baseline_unlabeled_predictions.clone(),
        )
    } else {
        let init = match &m.init_from {
            Some(dir) => {
                let (prior, vs, _) = artifact::load_net(dir, crate::model::device(&cfg.train.device))
                    .map_err(|e| ResearchError::Model(e.to_string()))?;
                if prior.net != spec {
                    return Err(ResearchError::Config(format!(
                        "model.init_from: {} has another shape",
                        dir.display()
                    )));
                }
                // Fine-tuning keeps the pretrained scaler, so inputs mean the same thing.
                Some((vs, prior.scaler))
            }
            None => None,
        };
        let ds = match &init {
            Some((_, scaler)) => Dataset {
                scaler: scaler.clone(),
                ..ds
            },
            None => ds,
        };
        meta.scaler = ds.scaler.clone();
        let (vs, net, report) = train_net(&ds, spec, &cfg.train, init.as_ref().map(|(v, _)| v))?;
        let dev = crate::model::device(&cfg.train.device);
        let validation = score(&ds.val, &predict(&net, &ds, &ds.val, dev, 4096));
        let test_pred = predict(&net, &ds, &ds.test, dev, 4096);
        let test = score(&ds.test, &test_pred);
        meta.validation = Some(validation.clone());
        meta.test = Some(test.clone());
        artifact::save(&cfg.output.dir, &meta, Some(&vs)).map_err(|e| ResearchError::Model(e.to_string()))?;
        let imp = permutation_importance(&ds, &ds.val, &|x| forward(&net, x, dev), cfg.train.seed);
        write_csv(&importance_path, &imp).map_err(ResearchError::write(&importance_path))?;
        let unlabeled = predictions(&ds.unlabeled, &predict(&net, &ds, &ds.unlabeled, dev, 4096));
        (
            Some(report),
            validation,
            test,
            predictions(&ds.test, &test_pred),
            unlabeled,
        )
    };
    let outcome = TrainOutcome {
        kind: m.kind,
        samples,
        training,
        validation,
        test,
        baseline_validation,
        baseline_test,
        seconds: t0.elapsed().as_secs_f64(),
        test_predictions,
        baseline_test_predictions,
        unlabeled_predictions,
        baseline_unlabeled_predictions,
    };
    let json = serde_json::to_string_pretty(&outcome).map_err(|e| ResearchError::Model(e.to_string()))?;
    let report = cfg.output.dir.join("report.json");
    std::fs::write(&report, json + "\n").map_err(ResearchError::write(&report))?;
    Ok(outcome)
}
