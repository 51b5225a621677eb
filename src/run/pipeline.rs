//! The middle of the pipeline, the same in every mode (backtest, paper session): the strategy
//! built for the market, the model (if any) and the feature stage (the library when features
//! are on or a model needs them).

use super::RunError;
use crate::config::Config;
use crate::data::MarketData;
use crate::feature::{FeatureEngine, NoFeatures, TechnicalFeatures};
use crate::model::ModelRuntime;
use crate::strategy::{PreparedStrategy, Strategy};

/// The strategy, the model and the feature stage of a run.
pub struct Parts {
    pub strategy: Box<dyn Strategy>,
    pub model: Option<ModelRuntime>,
    pub features: Box<dyn FeatureEngine>,
}

/// The parts of a run of `cfg` on `data` with `strategy`.
///
/// # Errors
/// Strategy construction or model loading errors.
pub fn parts(cfg: &Config, data: &MarketData, strategy: &PreparedStrategy) -> Result<Parts, RunError> {
    let strategy = strategy.build(data)?;
    let model = match &cfg.model.scores {
        Some(path) => {
            cfg.model.source()?;
            Some(ModelRuntime::File(crate::model::file_scores::FileScores::load(
                path, data,
            )?))
        }
        None => load_model(cfg, data)?,
    };
    let features: Box<dyn FeatureEngine> =
        if cfg.features.enabled || model.as_ref().is_some_and(ModelRuntime::needs_features) {
            let bench = data.instrument_by_symbol(&cfg.data.benchmark).map(|i| i.id);
            Box::new(TechnicalFeatures::new(data.instruments.len(), bench))
        } else {
            Box::new(NoFeatures)
        };
    Ok(Parts {
        strategy,
        model,
        features,
    })
}

/// The configured model, started on its thread, writing `signals.csv` into the output
/// directory; `None` without a model.
#[cfg(not(feature = "torch"))]
fn load_model(cfg: &Config, _data: &MarketData) -> Result<Option<ModelRuntime>, RunError> {
    match cfg.model.source()? {
        Some(_) => Err(RunError::Model(crate::model::ModelError::Load(
            "model: this build has no `torch` feature".into(),
        ))),
        None => Ok(None),
    }
}

/// The configured model, started on its thread, writing `signals.csv` into the output
/// directory; `None` without a model.
#[cfg(feature = "torch")]
fn load_model(cfg: &Config, data: &MarketData) -> Result<Option<ModelRuntime>, RunError> {
    let Some(src) = cfg.model.source()? else {
        return Ok(None);
    };
    let names: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
    let fmt = crate::output::TimeFormat {
        daily: data.daily,
        tz: data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone),
    };
    let write_err = |path: std::path::PathBuf| move |source| RunError::Write { path, source };
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
    Ok(Some(ModelRuntime::Net(crate::model::NetRuntime::new(
        thread,
        &data.instruments,
    ))))
}
