//! Built-in strategies and their registry.
//!
//! - [`sma_cross`]: SPEC.md S1, a 10/30 simple-moving-average cross, long only.
//! - [`topk`]: SPEC.md S2, cross-sectional top-K momentum with a hysteresis band and
//!   stop-loss / take-profit.

pub mod sma_cross;
pub mod topk;

use crate::strategy::Strategy;

/// Names accepted by [`build`].
pub const NAMES: [&str; 2] = ["sma_cross", "topk"];

/// Builds a built-in strategy from its name and parameter table.
///
/// # Errors
/// An unknown name, or bad parameters (`strategy.params: ...`, naming the key).
pub fn build(name: &str, params: &toml::Table) -> Result<Box<dyn Strategy>, String> {
    match name {
        "sma_cross" => Ok(Box::new(sma_cross::SmaCross::new(parse(params)?)?)),
        "topk" => Ok(Box::new(topk::TopK::new(parse(params)?)?)),
        other => Err(format!(
            "strategy.name: unknown strategy {other:?}, expected one of {NAMES:?}"
        )),
    }
}

fn parse<P: serde::de::DeserializeOwned>(params: &toml::Table) -> Result<P, String> {
    toml::Value::Table(params.clone())
        .try_into()
        .map_err(|e| format!("strategy.params: {e}"))
}

/// `floor(value / lot) * lot`: the largest whole number of lots not above `value`.
pub fn whole_lots(value: rust_decimal::Decimal, lot: rust_decimal::Decimal) -> rust_decimal::Decimal {
    (value / lot).floor() * lot
}
