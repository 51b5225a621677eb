//! From a configuration to a finished run: load (timed), build the strategy, run the actors
//! (timed), write `summary.json`.

use crate::config::{Config, ConfigError};
use crate::data::MarketData;
use crate::feature::{NoFeatures, TechnicalFeatures};
use crate::feeds::{self, FeedError};
use crate::output::write_summary;
use crate::portfolio::RunOutput;
use crate::supervisor::{run_blocking, EngineError, Feed, RunSetup, Venue};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Errors of a backtest, by layer.
#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// The configuration is wrong: the user fixes a key.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The data cannot be loaded: the user fixes a file.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// The strategy cannot be built from its parameters.
    #[error(transparent)]
    Strategy(#[from] crate::strategies::StrategyError),
    /// The model cannot be loaded or run.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Loads the configured data.
///
/// # Errors
/// Bad options or any [`FeedError`].
pub fn load_data(cfg: &Config) -> Result<MarketData, BacktestError> {
    load_market(&cfg.data)
}

/// Loads a `[data]` section: the data with its reference series, the benchmark checked, the
/// point-in-time universe applied.
///
/// # Errors
/// Bad options or any [`FeedError`].
pub fn load_market(d: &crate::config::DataConfig) -> Result<MarketData, BacktestError> {
    if d.path.as_os_str().is_empty() {
        return Err(ConfigError::Value("data.path: a backtest needs the data's path".into()).into());
    }
    let opts = Config::load_options_of(d)?;
    let mut data = feeds::load_with_references(&d.path, &opts, &d.reference)?;
    // A configured benchmark that the data lacks would be traded as an ordinary symbol.
    let b = &d.benchmark;
    if !b.is_empty() && data.instrument_by_symbol(b).is_none() {
        return Err(ConfigError::Value(format!(
            "data.benchmark: {b:?} is not in {}; add it (or a [[data.reference]] with it), or set data.benchmark = \"\" to run without one",
            d.path.display()
        ))
        .into());
    }
    if let Some(u) = &d.universe {
        let universe = crate::data::universe::Universe::load(u)?;
        data.universe = Some(Arc::new(universe.mask(&data)));
    }
    Ok(data)
}

/// Runs on already loaded data (used by benchmarks and tests to keep loading out).
///
/// # Errors
/// Strategy construction, model loading or engine errors.
pub fn run_on(cfg: &Config, data: Arc<MarketData>) -> Result<RunOutput, BacktestError> {
    let strategy = crate::strategies::build(&cfg.strategy.name, &cfg.strategy.params)?;
    run_with(cfg, data, strategy)
}

/// Runs on already loaded data with a strategy of the caller's (a user's own, not in the
/// registry); `cfg.strategy` is not read.
///
/// # Errors
/// Model loading or engine errors.
pub fn run_with(
    cfg: &Config,
    data: Arc<MarketData>,
    strategy: Box<dyn crate::strategy::Strategy>,
) -> Result<RunOutput, BacktestError> {
    let (model, features) = model_and_features(cfg, &data)?;
    let setup = RunSetup {
        data,
        feed: Feed::Replay,
        venue: Venue::Sim(cfg.broker.clone()),
        strategy,
        features,
        model,
        initial_cash: cfg.portfolio.initial_cash,
        window: cfg.engine.window,
        out_dir: cfg.output.dir.clone(),
        event_log: cfg.output.event_log,
        progress: cfg.engine.progress,
        status: None,
    };
    Ok(run_blocking(setup, cfg.engine.worker_threads)?)
}

/// The middle of the pipeline, the same in every mode: the strategy, the model (if any) and the
/// feature stage (the library when features are on or a model needs them).
///
/// # Errors
/// Strategy construction or model loading errors.
pub(crate) fn pipeline_parts(cfg: &Config, data: &MarketData) -> Result<PipelineParts, BacktestError> {
    let strategy = crate::strategies::build(&cfg.strategy.name, &cfg.strategy.params)?;
    let (model, features) = model_and_features(cfg, data)?;
    Ok((strategy, model, features))
}

/// The model (if any) and the feature stage of a run.
#[allow(clippy::type_complexity)]
fn model_and_features(
    cfg: &Config,
    data: &MarketData,
) -> Result<
    (
        Option<crate::model::ModelRuntime>,
        Box<dyn crate::feature::FeatureEngine>,
    ),
    BacktestError,
> {
    let model = match &cfg.model.scores {
        Some(path) => {
            cfg.model.source()?;
            Some(crate::model::ModelRuntime::File(
                crate::model::file_scores::FileScores::load(path, data)?,
            ))
        }
        None => load_model(cfg, data)?,
    };
    let features: Box<dyn crate::feature::FeatureEngine> =
        if cfg.features.enabled || model.as_ref().is_some_and(crate::model::ModelRuntime::needs_features) {
            let bench = data.instrument_by_symbol(&cfg.data.benchmark).map(|i| i.id);
            Box::new(TechnicalFeatures::new(data.instruments.len(), bench))
        } else {
            Box::new(NoFeatures)
        };
    Ok((model, features))
}

/// Strategy, model and feature stage.
pub(crate) type PipelineParts = (
    Box<dyn crate::strategy::Strategy>,
    Option<crate::model::ModelRuntime>,
    Box<dyn crate::feature::FeatureEngine>,
);

/// The configured model, started on its thread, writing `signals.csv` into the output
/// directory; `None` without a model.
#[cfg(not(feature = "torch"))]
fn load_model(cfg: &Config, _data: &MarketData) -> Result<Option<crate::model::ModelRuntime>, BacktestError> {
    match cfg.model.source()? {
        Some(_) => Err(BacktestError::Model(crate::model::ModelError::Load(
            "model: this build has no `torch` feature".into(),
        ))),
        None => Ok(None),
    }
}

/// The configured model, started on its thread, writing `signals.csv` into the output
/// directory; `None` without a model.
#[cfg(feature = "torch")]
fn load_model(cfg: &Config, data: &MarketData) -> Result<Option<crate::model::ModelRuntime>, BacktestError> {
    let Some(src) = cfg.model.source()? else {
        return Ok(None);
    };
    let names: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
    let fmt = crate::output::TimeFormat {
        daily: data.daily,
        tz: data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone),
    };
    let write_err = |path: PathBuf| move |source| BacktestError::Write { path, source };
    std::fs::create_dir_all(&cfg.output.dir).map_err(write_err(cfg.output.dir.clone()))?;
    let path = cfg.output.dir.join("signals.csv");
    let file = std::fs::File::create(&path).map_err(write_err(path.clone()))?;
    let label = move |id: crate::types::InstrumentId, ts: i64| (fmt.format(ts), names[id.index()].clone());
    let thread = crate::model::infer::InferenceThread::spawn(
        src,
        &cfg.model.device,
        cfg.model.threads,
        Some((std::io::BufWriter::new(file), Box::new(label))),
    )?;
    // Every input must be a feature the feature stage computes.
    crate::feature::library::feature_indices(&thread.input.features)
        .map_err(|e| crate::model::ModelError::MissingFeature(e.0))?;
    Ok(Some(crate::model::ModelRuntime::Net(crate::model::NetRuntime::new(
        thread,
        &data.instruments,
    ))))
}

/// Loads, runs and writes every output, `summary.json` included.
///
/// The run writes into a fresh directory beside `output.dir` and moves its files into place only
/// when it succeeds, so a failed run leaves the previous outputs as they were. An output
/// directory that is, or contains, the data path is refused.
///
/// # Errors
/// Any [`BacktestError`].
pub fn run(cfg: &Config) -> Result<RunOutput, BacktestError> {
    crate::output::check_output_path(&cfg.output.dir, &cfg.data.path)
        .map_err(|e| ConfigError::Value(format!("output.dir: {e}")))?;
    let t0 = Instant::now();
    let data = load_data(cfg)?;
    let load_seconds = t0.elapsed().as_secs_f64();
    tracing::info!(
        symbols = data.instruments.len(),
        timestamps = data.timestamps.len(),
        bars = data.bar_count(),
        load_seconds,
        "data loaded"
    );
    run_loaded(cfg, Arc::new(data), load_seconds)
}

/// [`run`] on an already loaded market (`load_seconds` goes into the summary).
///
/// # Errors
/// Any [`BacktestError`].
pub fn run_loaded(cfg: &Config, data: Arc<MarketData>, load_seconds: f64) -> Result<RunOutput, BacktestError> {
    crate::output::check_output_path(&cfg.output.dir, &cfg.data.path)
        .map_err(|e| ConfigError::Value(format!("output.dir: {e}")))?;
    let report = data.report.clone();
    let start = match &cfg.output.start {
        Some(d) => Some(start_of(d, &data, cfg)?),
        None => None,
    };
    let staging = Staging::new(&cfg.output.dir)?;
    let mut staged = cfg.clone();
    staged.output.dir = staging.dir.clone();
    let t1 = Instant::now();
    let tradable = data.instruments.iter().filter(|i| i.tradable).count();
    let warnings = crate::strategies::BuiltIn::parse(&cfg.strategy.name, &cfg.strategy.params)?
        .warnings(tradable, data.timestamps.len());
    for w in &warnings {
        tracing::warn!("{w}");
    }
    crate::report::check(&cfg.report, &cfg.data.benchmark, &data).map_err(ConfigError::Value)?;
    let mut out = run_on(&staged, data.clone())?;
    let fmt = crate::output::TimeFormat {
        daily: data.daily,
        tz: cfg.load_options()?.time_zone,
    };
    if let Some(start) = start {
        trim(&mut out, start, &staging.dir, fmt)?;
    }
    out.summary.warnings.extend(warnings);
    out.summary.run_seconds = t1.elapsed().as_secs_f64();
    out.summary.load_seconds = load_seconds;
    out.summary.data = report;
    out.summary.benchmarks =
        crate::report::write_inputs(&staging.dir, &data, &out.curve, &cfg.report, &cfg.data.benchmark, fmt).map_err(
            |e| BacktestError::Write {
                path: e.path,
                source: std::io::Error::other(e.message),
            },
        )?;
    write_summary(&staging.dir, &out.summary).map_err(|source| BacktestError::Write {
        path: cfg.output.dir.join("summary.json"),
        source,
    })?;
    crate::report::write(&staging.dir, (&cfg.report).into()).map_err(|e| BacktestError::Write {
        path: cfg.output.dir.join("report.html"),
        source: std::io::Error::other(e.message),
    })?;
    staging.publish()?;
    tracing::info!(
        final_equity = out.summary.final_equity,
        run_seconds = out.summary.run_seconds,
        "run finished"
    );
    Ok(out)
}

/// The first timestamp on or after `output.start` (a date in the exchange time zone).
fn start_of(date: &str, data: &MarketData, cfg: &Config) -> Result<crate::types::UnixNanos, BacktestError> {
    use chrono::TimeZone;
    let bad = |m: String| BacktestError::Config(ConfigError::Value(format!("output.start: {m}")));
    let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| bad(format!("expected YYYY-MM-DD, got {date:?}")))?;
    let tz = cfg.load_options()?.time_zone;
    let midnight = tz
        .from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
        .earliest()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| bad(format!("{date} does not exist in {tz}")))?;
    data.timestamps
        .iter()
        .copied()
        .find(|t| *t >= midnight)
        .ok_or_else(|| bad(format!("{date} is after the data's last timestamp")))
}

/// Starts a run's figures at `start`: the timestamps before it were warm-up, during which the
/// strategy must not have traded (checked). The summary is computed again over the curve from
/// `start` on (its first return is the first timestamp's against the initial cash), and
/// `equity.csv` keeps those rows.
fn trim(
    out: &mut RunOutput,
    start: crate::types::UnixNanos,
    dir: &Path,
    fmt: crate::output::TimeFormat,
) -> Result<(), BacktestError> {
    let io = |path: PathBuf| move |source| BacktestError::Write { path, source };
    let fills = dir.join("fills.csv");
    let text = std::fs::read_to_string(&fills).map_err(io(fills.clone()))?;
    let first_allowed = fmt.format(start);
    if let Some(first) = text.lines().nth(1) {
        let date = first.split(',').next().unwrap_or("");
        if date < first_allowed.as_str() {
            return Err(ConfigError::Value(format!(
                "output.start: the strategy traded on {date}, before {first_allowed}: figures from a later date would hide it"
            ))
            .into());
        }
    }
    let dropped = out.curve.iter().take_while(|(t, _)| *t < start).count();
    let curve = out.curve.split_off(dropped);
    let name = out.summary.strategy.clone();
    let (bars, policy) = (out.summary.bars, out.summary.fill_policy.clone());
    out.summary = crate::account::summarize(&name, &curve, &out.book, bars, &policy);
    out.curve = curve;
    let eq = dir.join("equity.csv");
    let text = std::fs::read_to_string(&eq).map_err(io(eq.clone()))?;
    let mut kept = String::with_capacity(text.len());
    for (i, line) in text.lines().enumerate() {
        if i == 0 || i > dropped {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    std::fs::write(&eq, kept).map_err(io(eq.clone()))?;
    tracing::info!(from = %first_allowed, warm_up = dropped, "figures start at output.start");
    Ok(())
}

/// Every file a run may write, so that a new run leaves none of an older one's beside its own.
const OUTPUTS: [&str; 8] = [
    "benchmark.csv",
    "prices.csv",
    "fills.csv",
    "equity.csv",
    "events.jsonl",
    "signals.csv",
    "summary.json",
    "report.html",
];

/// A fresh directory beside the target, removed unless published.
struct Staging {
    dir: PathBuf,
    target: PathBuf,
    published: bool,
}

impl Staging {
    fn new(target: &Path) -> Result<Self, BacktestError> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = target
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!(".{name}.kairos-run-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| BacktestError::Write {
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            dir,
            target: target.to_path_buf(),
            published: false,
        })
    }

    /// Moves every output into the target (renames within one file system), removing the
    /// target's outputs of an older run that this one did not write.
    fn publish(mut self) -> Result<(), BacktestError> {
        let write = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BacktestError::Write { path, source }
        };
        std::fs::create_dir_all(&self.target).map_err(write(&self.target))?;
        for name in OUTPUTS {
            let (from, to) = (self.dir.join(name), self.target.join(name));
            if from.exists() {
                std::fs::rename(&from, &to).map_err(write(&to))?;
            } else if to.exists() {
                std::fs::remove_file(&to).map_err(write(&to))?;
            }
        }
        self.published = true;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
