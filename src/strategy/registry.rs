//! The registry of strategies a run may name: one value, [`Strategies`], that every entrance
//! (backtest, sweep, audit, research, paper session, cluster worker, the command line) takes.
//!
//! A strategy is registered by name with a factory that takes its typed parameters (read from
//! `[strategy] params` with serde; a key the parameters do not have is an error naming it, even
//! without `#[serde(deny_unknown_fields)]`) and the loaded market. The parameters are parsed
//! once, when a run is prepared ([`Strategies::prepare`], before any data is loaded); the
//! [`PreparedStrategy`] builds the strategy for each market it runs on (an audit's two, a paper
//! session's instruments).
//!
//! ```
//! use kairos::strategy::{Strategies, Strategy, StrategyContext};
//! use kairos::types::{Bar, OrderRequest};
//!
//! #[derive(serde::Deserialize)]
//! struct Params { hold: u64 }
//!
//! struct Hold(u64);
//! impl Strategy for Hold {
//!     fn name(&self) -> &str { "hold" }
//!     fn on_bars(&mut self, _: &[Bar], _: &StrategyContext<'_>) -> Vec<OrderRequest> { Vec::new() }
//! }
//!
//! let strategies = Strategies::builtin()
//!     .register("hold", |p: &Params, _market| Ok(Box::new(Hold(p.hold))));
//! let params: toml::Table = toml::from_str("hold = 3").unwrap();
//! assert!(strategies.prepare("hold", &params).is_ok());
//! let bad: toml::Table = toml::from_str("hodl = 3").unwrap();
//! let e = strategies.prepare("hold", &bad).err().unwrap().to_string();
//! assert!(e.contains("strategy.params") && e.contains("hodl"), "{e}");
//! ```

use super::api::Strategy;
use crate::data::MarketData;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A bad strategy name or parameter, naming the key; or a factory's own refusal.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct StrategyError(pub String);

impl StrategyError {
    /// An error with this message (a factory's refusal: say which parameter and why).
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// What a built strategy is, or why it could not be built.
pub type Built = Result<Box<dyn Strategy>, StrategyError>;

/// Builds a strategy for a market from parameters already parsed.
type Build = Arc<dyn Fn(&MarketData) -> Built + Send + Sync>;
/// What in the parameters makes no sense on a market of (tradable symbols, timestamps).
type Warn = Arc<dyn Fn(usize, usize) -> Vec<String> + Send + Sync>;
/// Parses a parameter table into a [`PreparedStrategy`] (the name is filled in after).
type Parse = Arc<dyn Fn(&toml::Table) -> Result<(Build, Warn), StrategyError> + Send + Sync>;

/// The strategies a run may name: the built-ins and what a user registers.
#[derive(Clone, Default)]
pub struct Strategies {
    entries: BTreeMap<String, Parse>,
    /// Names registered twice: an error when any strategy is prepared, so a registration can
    /// never silently replace another.
    twice: Vec<String>,
}

impl std::fmt::Debug for Strategies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Strategies").field("names", &self.names()).finish()
    }
}

impl Strategies {
    /// No strategy at all (the built-ins are [`Strategies::builtin`]).
    pub fn empty() -> Self {
        Self::default()
    }

    /// Registers `name`: `factory` gets the parameters, parsed from `[strategy] params` into
    /// `P`, and the market the run sees, and returns the strategy or an error naming the bad
    /// parameter. A name registered twice makes every [`Strategies::prepare`] fail.
    #[must_use]
    pub fn register<P, F>(self, name: &str, factory: F) -> Self
    where
        P: serde::de::DeserializeOwned + Send + Sync + 'static,
        F: Fn(&P, &MarketData) -> Built + Send + Sync + 'static,
    {
        self.register_checked(name, factory, |_: &P| Ok(()), |_: &P, _, _| Vec::new())
    }

    /// [`Strategies::register`], with two more functions of the parameters:
    /// - `check(params)`: values out of range, an error naming the key, found when the run is
    ///   prepared (before any data is loaded, before a sweep's first cell or a research run's
    ///   training) rather than when the strategy is built;
    /// - `warnings(params, tradable symbols, timestamps)`: what makes no sense on the market (a
    ///   count above the tradable symbols, a lookback longer than the data); each goes to the
    ///   log and into `summary.json`.
    #[must_use]
    pub fn register_checked<P, F, C, W>(mut self, name: &str, factory: F, check: C, warnings: W) -> Self
    where
        P: serde::de::DeserializeOwned + Send + Sync + 'static,
        F: Fn(&P, &MarketData) -> Built + Send + Sync + 'static,
        C: Fn(&P) -> Result<(), StrategyError> + Send + Sync + 'static,
        W: Fn(&P, usize, usize) -> Vec<String> + Send + Sync + 'static,
    {
        let factory = Arc::new(factory);
        let warnings = Arc::new(warnings);
        let parse: Parse = Arc::new(move |table: &toml::Table| {
            let params = parse_params::<P>(table)?;
            check(&params)?;
            let params = Arc::new(params);
            let (f, p) = (factory.clone(), params.clone());
            let build: Build = Arc::new(move |market: &MarketData| f(&p, market));
            let (w, p) = (warnings.clone(), params);
            let warn: Warn = Arc::new(move |tradable, timestamps| w(&p, tradable, timestamps));
            Ok((build, warn))
        });
        if self.entries.insert(name.to_string(), parse).is_some() {
            self.twice.push(name.to_string());
        }
        self
    }

    /// The registered names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.entries.keys().map(String::as_str).collect()
    }

    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// Looks `name` up and parses its parameters, once: the result builds the strategy for any
    /// market.
    ///
    /// # Errors
    /// An unknown name (`strategy.name: ...`, listing the known ones), parameters that do not
    /// parse or have a key the strategy does not know (`strategy.params: ...`, naming it), or a
    /// name registered twice.
    pub fn prepare(&self, name: &str, params: &toml::Table) -> Result<PreparedStrategy, StrategyError> {
        if let Some(n) = self.twice.first() {
            return Err(StrategyError(format!(
                "strategy {n:?} is registered twice: give each registration its own name"
            )));
        }
        let parse = self.entries.get(name).ok_or_else(|| {
            StrategyError(format!(
                "strategy.name: unknown strategy {name:?}, expected one of {:?}",
                self.names()
            ))
        })?;
        let (build, warn) = parse(params)?;
        Ok(PreparedStrategy {
            name: name.to_string(),
            build,
            warn,
        })
    }
}

/// A strategy whose parameters are parsed: it builds the strategy for a market, as often as a
/// run needs (once per market it sees).
#[derive(Clone)]
pub struct PreparedStrategy {
    name: String,
    build: Build,
    warn: Warn,
}

impl std::fmt::Debug for PreparedStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedStrategy").field("name", &self.name).finish()
    }
}

impl PreparedStrategy {
    /// A strategy of the caller's own, not in any registry: `build` makes it for a market.
    pub fn from_fn(name: &str, build: impl Fn(&MarketData) -> Built + Send + Sync + 'static) -> Self {
        Self {
            name: name.to_string(),
            build: Arc::new(build),
            warn: Arc::new(|_, _| Vec::new()),
        }
    }

    /// The registered name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The strategy for `market`.
    ///
    /// # Errors
    /// The factory's refusal (parameters out of range for this market, naming the key).
    pub fn build(&self, market: &MarketData) -> Built {
        (self.build)(market)
    }

    /// What in the parameters makes no sense on a market with `tradable` symbols and
    /// `timestamps` timestamps.
    pub fn warnings(&self, tradable: usize, timestamps: usize) -> Vec<String> {
        (self.warn)(tradable, timestamps)
    }
}

/// `params` as `P`: a key `P` does not read is an error naming it, whether or not `P` denies
/// unknown fields itself (a misspelt key must never fall back to a default silently).
pub(crate) fn parse_params<P: serde::de::DeserializeOwned>(params: &toml::Table) -> Result<P, StrategyError> {
    let mut unknown = Vec::new();
    let value = toml::Value::Table(params.clone());
    let parsed: Result<P, _> = serde_ignored::deserialize(value, |path| unknown.push(path.to_string()));
    // A misspelt key is named even when the parameters then fail for the field it should have
    // set ("missing field `qty`" alone would not say that `qyt` was the typo).
    let stray = unknown
        .first()
        .map(|key| format!("unknown key `{key}` (the strategy's parameters have no such field)"));
    match (parsed, stray) {
        (Ok(p), None) => Ok(p),
        (Ok(_), Some(stray)) => Err(StrategyError(format!("strategy.params: {stray}"))),
        (Err(e), None) => Err(StrategyError(format!("strategy.params: {e}"))),
        (Err(e), Some(stray)) => Err(StrategyError(format!("strategy.params: {stray}; {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::StrategyContext;
    use crate::types::{Bar, OrderRequest};

    struct Idle;
    impl Strategy for Idle {
        fn name(&self) -> &str {
            "idle"
        }
        fn on_bars(&mut self, _: &[Bar], _: &StrategyContext<'_>) -> Vec<OrderRequest> {
            Vec::new()
        }
    }

    /// No `deny_unknown_fields` here: the registry rejects the stray key all the same.
    #[derive(serde::Deserialize)]
    struct Lenient {
        #[serde(default)]
        n: u32,
    }

    #[derive(serde::Deserialize)]
    struct Required {
        #[allow(dead_code)]
        qty: u32,
    }

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    fn idle() -> Strategies {
        Strategies::empty().register("idle", |p: &Lenient, _| {
            if p.n > 5 {
                return Err(StrategyError::new("strategy.params.n: at most 5"));
            }
            Ok(Box::new(Idle))
        })
    }

    #[test]
    fn unknown_keys_are_errors_even_for_lenient_parameters() {
        let e = idle().prepare("idle", &table("m = 1")).expect_err("stray key");
        assert!(e.0.contains("`m`"), "{e}");
        assert!(idle().prepare("idle", &table("n = 1")).is_ok());
        let e = idle().prepare("idle", &table("n = \"x\"")).expect_err("type");
        assert!(e.0.starts_with("strategy.params:"), "{e}");
        // A required field misspelt: both the stray key and the missing field are named.
        let strict = Strategies::empty().register("s", |_: &Required, _| Ok(Box::new(Idle)));
        let e = strict.prepare("s", &table("qyt = 1")).expect_err("misspelt");
        assert!(e.0.contains("`qyt`") && e.0.contains("missing field `qty`"), "{e}");
    }

    #[test]
    fn unknown_names_list_the_known_ones_and_twice_registered_names_fail() {
        let e = idle().prepare("idel", &toml::Table::new()).expect_err("unknown");
        assert!(e.0.contains("strategy.name") && e.0.contains("\"idle\""), "{e}");
        let twice = idle().register("idle", |_: &Lenient, _| Ok(Box::new(Idle)));
        let e = twice.prepare("idle", &toml::Table::new()).expect_err("twice");
        assert!(e.0.contains("registered twice"), "{e}");
    }

    #[test]
    fn a_check_refuses_parameters_when_the_run_is_prepared() {
        let checked = Strategies::empty().register_checked(
            "idle",
            |_: &Lenient, _| Ok(Box::new(Idle)),
            |p| {
                if p.n == 0 {
                    Err(StrategyError::new("strategy.params.n: must be at least 1"))
                } else {
                    Ok(())
                }
            },
            |p, tradable, _| vec![format!("n {} of {tradable}", p.n)],
        );
        let e = checked.prepare("idle", &table("n = 0")).expect_err("checked");
        assert!(e.0.contains("strategy.params.n"), "{e}");
        let ok = checked.prepare("idle", &table("n = 2")).expect("ok");
        assert_eq!(ok.warnings(7, 100), vec!["n 2 of 7".to_string()]);
    }

    #[test]
    fn the_factory_sees_the_parsed_parameters_and_may_refuse() {
        let market = MarketData::default();
        let ok = idle().prepare("idle", &table("n = 5")).expect("parse");
        assert_eq!(ok.build(&market).expect("build").name(), "idle");
        let refused = idle().prepare("idle", &table("n = 6")).expect("parse");
        let e = refused.build(&market).err().expect("refused");
        assert!(e.0.contains("strategy.params.n"), "{e}");
    }
}
