//! A `[data]` section's market: loaded, its benchmark checked, its universe applied.

use super::RunError;
use crate::config::{Config, ConfigError};
use crate::data::MarketData;
use crate::feeds;
use std::sync::Arc;

/// Loads a `[data]` section: the data with its reference series, the benchmark checked, the
/// point-in-time universe applied.
///
/// # Errors
/// Bad options or any [`crate::feeds::FeedError`].
pub fn load_market(d: &crate::config::DataConfig) -> Result<MarketData, RunError> {
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
