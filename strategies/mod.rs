//! Built-in strategies, registered by [`Strategies::builtin`].
//!
//! - [`sma_cross`]: SPEC.md S1, a 10/30 simple-moving-average cross, long only.
//! - [`topk`]: SPEC.md S2, cross-sectional top-K momentum with a hysteresis band and
//!   stop-loss / take-profit.
//! - [`staged`]: assembled from the [`stages`] blocks by its parameters (signal, selection,
//!   weights, regime gate, volatility target, stops): the reference projects' strategies are
//!   configurations of it (`config/seed_*.toml`).

pub mod sma_cross;
pub mod staged;
pub mod stages;
pub mod topk;

pub use crate::strategy::StrategyError;
use crate::strategy::{Strategies, Strategy};

/// Names accepted by [`BuiltIn::parse`], each registered by [`Strategies::builtin`].
pub const NAMES: [&str; 3] = ["sma_cross", "topk", "staged"];

impl Strategies {
    /// The built-in strategies (`sma_cross`, `topk`, `staged`), each with its typed parameters
    /// and its warnings; [`Strategies::register`] adds a user's own.
    pub fn builtin() -> Self {
        let s = register(
            Strategies::empty(),
            "sma_cross",
            sma_cross::SmaCross::new,
            BuiltIn::SmaCross,
        );
        let s = register(s, "topk", topk::TopK::new, BuiltIn::TopK);
        register(s, "staged", staged::Staged::new, BuiltIn::Staged)
    }
}

/// Registers a built-in: `new` builds it from its parameters (no market needed, so it also
/// checks them when a run is prepared), `of` names its parameters for [`BuiltIn::warnings`].
fn register<P, S>(
    strategies: Strategies,
    name: &str,
    new: fn(P) -> Result<S, StrategyError>,
    of: fn(P) -> BuiltIn,
) -> Strategies
where
    P: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    S: Strategy + 'static,
{
    strategies.register_checked(
        name,
        move |p: &P, _| Ok(Box::new(new(p.clone())?)),
        move |p| new(p.clone()).map(drop),
        move |p, tradable, timestamps| of(p.clone()).warnings(tradable, timestamps),
    )
}

/// Every built-in strategy with its typed parameters (what `kairos bench` needs to pick its
/// minimal loop; runs go through [`Strategies`]).
#[derive(Clone, Debug)]
pub enum BuiltIn {
    SmaCross(sma_cross::Params),
    TopK(topk::Params),
    Staged(staged::Params),
}

impl BuiltIn {
    /// Looks a strategy up by name and reads its parameter table.
    ///
    /// # Errors
    /// An unknown name, or bad parameters (`strategy.params: ...`, naming the key).
    pub fn parse(name: &str, params: &toml::Table) -> Result<Self, StrategyError> {
        use crate::strategy::parse_params;
        match name {
            "sma_cross" => Ok(BuiltIn::SmaCross(parse_params(params)?)),
            "topk" => Ok(BuiltIn::TopK(parse_params(params)?)),
            "staged" => Ok(BuiltIn::Staged(parse_params(params)?)),
            other => Err(StrategyError(format!(
                "strategy.name: unknown strategy {other:?}, expected one of {NAMES:?}"
            ))),
        }
    }

    /// What in the parameters makes no sense on this market, naming the key: a count above
    /// the tradable symbols, a lookback longer than the data (the strategy could never trade).
    pub fn warnings(&self, tradable: usize, timestamps: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut longer = |key: &str, n: usize| {
            if n >= timestamps {
                out.push(format!(
                    "strategy.params.{key} = {n} is not shorter than the data ({timestamps} timestamps): no signal ever forms"
                ));
            }
        };
        match self {
            BuiltIn::SmaCross(p) => longer("slow", p.slow),
            BuiltIn::TopK(p) => {
                longer("lookback", p.lookback);
                if p.k > tradable {
                    out.push(format!(
                        "strategy.params.k = {} is above the {tradable} tradable symbols",
                        p.k
                    ));
                }
            }
            BuiltIn::Staged(p) => {
                longer("lookback", p.lookback);
                longer("vol_lookback", p.vol_lookback);
                if p.regime != staged::RegimeGate::None {
                    longer("regime_sma", p.regime_sma);
                }
                if p.selection == staged::Selection::TopK && p.k > tradable {
                    out.push(format!(
                        "strategy.params.k = {} is above the {tradable} tradable symbols",
                        p.k
                    ));
                }
            }
        }
        out
    }
}

/// Builds a built-in strategy from its name and parameter table, through
/// [`Strategies::builtin`] (the built-ins need no market).
///
/// # Errors
/// An unknown name, or bad parameters (`strategy.params: ...`, naming the key).
pub fn build(name: &str, params: &toml::Table) -> Result<Box<dyn Strategy>, StrategyError> {
    Strategies::builtin()
        .prepare(name, params)?
        .build(&crate::data::MarketData::default())
}

/// The market order that moves a position by `delta`: a sell into `sells` when negative, a buy
/// into `buys` when positive, none at zero.
pub fn order_delta(
    id: crate::types::InstrumentId,
    delta: rust_decimal::Decimal,
    sells: &mut Vec<crate::types::OrderRequest>,
    buys: &mut Vec<crate::types::OrderRequest>,
) {
    use crate::types::{OrderRequest, Side};
    if delta < rust_decimal::Decimal::ZERO {
        sells.push(OrderRequest::market(id, Side::Sell, -delta));
    } else if delta > rust_decimal::Decimal::ZERO {
        buys.push(OrderRequest::market(id, Side::Buy, delta));
    }
}

/// `floor(value / lot) * lot`: the largest whole number of lots not above `value`.
pub fn whole_lots(value: rust_decimal::Decimal, lot: rust_decimal::Decimal) -> rust_decimal::Decimal {
    (value / lot).floor() * lot
}
