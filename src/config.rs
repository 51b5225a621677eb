//! Typed, strict TOML configuration. Unknown keys are rejected by serde (`deny_unknown_fields`,
//! the error names the key and its line); [`Config::validate`] then checks values and names the
//! key of any bad one. `[strategy]` is checked by the registry that runs it (its parameters
//! parsed once by [`crate::strategy::Strategies::prepare`], from [`crate::run::prepare`], before
//! any data is loaded), so a user's own strategies are named as the built-ins are. Relative
//! paths are relative to the working directory.

use crate::broker::BrokerConfig;
use crate::feeds::{BadRowPolicy, LoadOptions};
use crate::types::Decimal;
use chrono::NaiveTime;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A configuration error, naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    /// A bad value outside any file (an override, a programmatic configuration):
    /// `section.key: reason`.
    #[error("{0}")]
    Value(String),
}

impl From<&str> for ConfigError {
    fn from(message: &str) -> Self {
        ConfigError::Value(message.to_string())
    }
}

impl From<String> for ConfigError {
    fn from(message: String) -> Self {
        ConfigError::Value(message)
    }
}

impl ConfigError {
    /// The same error, attributed to `path` when it names no file yet.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            ConfigError::Value(message) => ConfigError::Invalid {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        }
    }
}

/// Command-line overrides of a configuration file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `data.path`.
    pub data: Option<PathBuf>,
    /// `output.dir`.
    pub out: Option<PathBuf>,
    /// `strategy.name`; another strategy's parameters are dropped with it.
    pub strategy: Option<String>,
    /// `engine.worker_threads`.
    pub threads: Option<usize>,
}

/// The whole run configuration.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data: DataConfig,
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default)]
    pub broker: BrokerConfig,
    pub portfolio: PortfolioConfig,
    pub strategy: StrategyConfig,
    #[serde(default)]
    pub output: OutputConfig,
    #[serde(default)]
    pub features: FeaturesConfig,
    #[serde(default)]
    pub model: ModelConfig,
    /// `[live]`: the feed and journal of a paper session (`kairos paper`); a backtest ignores it.
    #[serde(default)]
    pub live: Option<crate::live::LiveConfig>,
    /// `[report]`: benchmarks, the chart symbol, scales of `report.html`.
    #[serde(default)]
    pub report: crate::report::ReportConfig,
}

/// `[model]`: the model the inference actor runs. Setting one turns the feature library on.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// A native artifact directory made by `kairos train`.
    pub artifact: Option<PathBuf>,
    /// A TorchScript file exported from PyTorch...
    pub torchscript: Option<PathBuf>,
    /// ...and its scaler file (features, window, median, iqr).
    pub scaler: Option<PathBuf>,
    /// `cpu` or `cuda` (falls back to cpu).
    pub device: String,
    /// libtorch threads of the model thread.
    pub threads: i32,
    /// Scores read from a file (`date,symbol,score`) instead of a model: see
    /// `model::file_scores`.
    pub scores: Option<PathBuf>,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            artifact: None,
            torchscript: None,
            scaler: None,
            device: "cpu".into(),
            threads: 1,
            scores: None,
        }
    }
}

impl ModelConfig {
    /// The configured model, if any.
    ///
    /// # Errors
    /// Both kinds given, or a TorchScript model without its scaler.
    pub fn source(&self) -> Result<Option<crate::model::ModelSource>, ConfigError> {
        use crate::model::ModelSource;
        if self.scores.is_some() && (self.artifact.is_some() || self.torchscript.is_some()) {
            return Err(ConfigError::Value(
                "model.scores: scores from a file replace a model; give one or the other".into(),
            ));
        }
        match (&self.artifact, &self.torchscript, &self.scaler) {
            (None, None, None) => Ok(None),
            (Some(a), None, None) => Ok(Some(ModelSource::Artifact(a.clone()))),
            (None, Some(m), Some(s)) => Ok(Some(ModelSource::TorchScript {
                model: m.clone(),
                scaler: s.clone(),
            })),
            (None, Some(_), None) => Err(ConfigError::Value(
                "model.scaler: a TorchScript model needs its scaler file".into(),
            )),
            _ => Err(ConfigError::Value(
                "model: give either artifact, or torchscript with scaler".into(),
            )),
        }
    }
}

/// `[features]`: the feature actor's work.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeaturesConfig {
    /// Compute the feature library (`feature::library`) at every timestamp; strategies read it
    /// through `StrategyContext::features`. The benchmark is `data.benchmark`.
    pub enabled: bool,
}

/// `[data]`: where the bars are and how to read them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// A directory of `SYMBOL.csv` files, or a long `.csv` / `.parquet` table (a backtest needs
    /// it; a paper session reads only the other keys).
    #[serde(default)]
    pub path: PathBuf,
    /// Reference symbol loaded but never traded; `""` for none.
    #[serde(default = "default_benchmark")]
    pub benchmark: String,
    #[serde(default = "default_tz")]
    pub time_zone: String,
    /// `HH:MM`, the time daily bars are stamped at.
    #[serde(default = "default_close")]
    pub session_close: String,
    #[serde(default)]
    pub on_bad_row: BadRowPolicy,
    #[serde(default = "one")]
    pub lot_size: Decimal,
    #[serde(default = "cent")]
    pub tick_size: Decimal,
    /// Index membership spans (`ticker,start_date,end_date`): a point-in-time universe.
    #[serde(default)]
    pub universe: Option<PathBuf>,
    /// Reference series (benchmarks) from other files, never traded: `[[data.reference]]` with
    /// `path` and `symbols`; only their bars at the data's own timestamps are kept.
    #[serde(default)]
    pub reference: Vec<crate::feeds::Reference>,
}

impl DataConfig {
    /// `path` with every other key at its default.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            benchmark: default_benchmark(),
            time_zone: default_tz(),
            session_close: default_close(),
            on_bad_row: BadRowPolicy::default(),
            lot_size: one(),
            tick_size: cent(),
            universe: None,
            reference: Vec::new(),
        }
    }
}

fn default_benchmark() -> String {
    "SPY".into()
}
fn default_tz() -> String {
    "America/New_York".into()
}
fn default_close() -> String {
    "16:00".into()
}
fn one() -> Decimal {
    Decimal::ONE
}
fn cent() -> Decimal {
    Decimal::new(1, 2)
}

/// `[engine]`: the actor runtime.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// Threads of a backtest: its number of lanes (single-threaded runtimes, at most 4, see
    /// [`crate::supervisor::Lanes`]), or of workers when it has a custom venue and in paper
    /// trading. Results do not depend on it.
    pub worker_threads: usize,
    /// Timestamps in flight at most (flow control between feed and portfolio).
    pub window: usize,
    /// Show a progress bar on long runs.
    pub progress: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            worker_threads: 2,
            window: 64,
            progress: true,
        }
    }
}

/// `[portfolio]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortfolioConfig {
    pub initial_cash: Decimal,
}

/// `[strategy]`: a strategy of the run's registry (the built-ins, or a user's own) by name, and
/// its parameters.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    pub name: String,
    #[serde(default)]
    pub params: toml::Table,
}

/// `[output]`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputConfig {
    pub dir: PathBuf,
    pub event_log: bool,
    /// `YYYY-MM-DD`: the run's figures, `equity.csv` and report start at this date; the bars
    /// before it only warm up features and strategy state (a run that trades before it fails).
    pub start: Option<String>,
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("out"),
            event_log: true,
            start: None,
        }
    }
}

impl Config {
    /// Reads, parses and validates a file.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the offending key.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses and validates TOML text; `path` is used in messages only.
    ///
    /// # Errors
    /// [`ConfigError`] naming the offending key.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.validate().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }

    /// Reads a file, applies command-line overrides, and validates the result.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and the offending key.
    pub fn from_file_with(path: &Path, o: Overrides) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        cfg.apply(o);
        cfg.validate().map_err(|e| e.in_file(path))?;
        Ok(cfg)
    }

    /// Applies overrides; a new strategy name drops the old strategy's parameters.
    pub fn apply(&mut self, o: Overrides) {
        if let Some(d) = o.data {
            self.data.path = d;
        }
        if let Some(out) = o.out {
            self.output.dir = out;
        }
        if let Some(s) = o.strategy {
            if s != self.strategy.name {
                self.strategy.name = s;
                self.strategy.params = toml::Table::new();
            }
        }
        if let Some(t) = o.threads {
            self.engine.worker_threads = t;
        }
    }

    /// Checks every value; the message starts with the key.
    ///
    /// # Errors
    /// `section.key: reason`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.load_options()?;
        if self.engine.worker_threads == 0 || self.engine.worker_threads > 256 {
            return Err(format!(
                "engine.worker_threads: must be in 1..=256, got {}",
                self.engine.worker_threads
            )
            .into());
        }
        if self.engine.window == 0 {
            return Err("engine.window: must be at least 1".into());
        }
        if self.portfolio.initial_cash <= Decimal::ZERO {
            return Err(format!(
                "portfolio.initial_cash: must be > 0, got {}",
                self.portfolio.initial_cash
            )
            .into());
        }
        self.broker.validate()?;
        self.model.source()?;
        if self.model.device != "cpu" && self.model.device != "cuda" {
            return Err(format!("model.device: cpu or cuda, got {:?}", self.model.device).into());
        }
        if self.model.threads < 1 {
            return Err(ConfigError::Value("model.threads: must be at least 1".into()));
        }
        if self.strategy.name.is_empty() {
            return Err("strategy.name: name the strategy to run".into());
        }
        if let Some(live) = &self.live {
            live.validate()?;
        }
        Ok(())
    }

    /// The loader options this configuration asks for.
    ///
    /// # Errors
    /// `data.KEY: reason` for a bad time zone, session close, lot or tick size.
    pub fn load_options(&self) -> Result<LoadOptions, ConfigError> {
        Self::load_options_of(&self.data)
    }

    /// The loader options of a `[data]` section.
    ///
    /// # Errors
    /// `data.KEY: reason` for a bad time zone, session close, lot or tick size.
    pub fn load_options_of(d: &DataConfig) -> Result<LoadOptions, ConfigError> {
        let time_zone = d
            .time_zone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| format!("data.time_zone: unknown time zone {:?}", d.time_zone))?;
        let session_close = NaiveTime::parse_from_str(&d.session_close, "%H:%M")
            .map_err(|_| format!("data.session_close: expected HH:MM, got {:?}", d.session_close))?;
        if d.lot_size <= Decimal::ZERO {
            return Err(format!("data.lot_size: must be > 0, got {}", d.lot_size).into());
        }
        if d.tick_size <= Decimal::ZERO {
            return Err(format!("data.tick_size: must be > 0, got {}", d.tick_size).into());
        }
        Ok(LoadOptions {
            time_zone,
            session_close,
            policy: d.on_bad_row,
            benchmark: (!d.benchmark.is_empty()).then(|| d.benchmark.clone()),
            lot_size: d.lot_size,
            tick_size: d.tick_size,
        })
    }
}
