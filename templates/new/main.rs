//! {{NAME}}: your own strategies with every `kairos` command (backtest, sweep, audit, paper,
//! report, worker, serve-market, ...). `[strategy] name = "breakout"` in a configuration picks
//! the strategy below; `[strategy] params` are its `BreakoutParams`. The configurations in
//! `config/` say how to run each command.

use kairos::data::MarketData;
use kairos::strategy::{Built, Strategies, Strategy, StrategyContext, StrategyError};
use kairos::types::{Bar, Decimal, OrderRequest, Side};
use serde::Deserialize;
use std::collections::VecDeque;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `[strategy.params]` of `breakout`. A key this struct does not have is an error naming it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakoutParams {
    /// Closes in the channel: the highest and lowest of the previous `lookback` closes.
    pub lookback: usize,
    /// Fraction of equity bought when a symbol closes above its channel.
    pub weight: Decimal,
}

/// Buys a symbol whose close breaks above the highest of its previous `lookback` closes, and
/// sells it when its close breaks below the lowest.
pub struct Breakout {
    params: BreakoutParams,
    /// The previous closes of each instrument, by instrument index.
    closes: Vec<VecDeque<Decimal>>,
}

impl Breakout {
    /// The strategy for `market`: one window of closes per instrument.
    pub fn build(params: &BreakoutParams, market: &MarketData) -> Built {
        if params.lookback < 2 {
            return Err(StrategyError::new("strategy.params.lookback: at least 2"));
        }
        if params.weight <= Decimal::ZERO || params.weight > Decimal::ONE {
            return Err(StrategyError::new("strategy.params.weight: in (0, 1]"));
        }
        let window = VecDeque::with_capacity(params.lookback + 1);
        Ok(Box::new(Self {
            params: params.clone(),
            closes: vec![window; market.instruments.len()],
        }))
    }
}

impl Strategy for Breakout {
    fn name(&self) -> &str {
        "breakout"
    }

    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let mut orders = Vec::new();
        let mut cash = ctx.cash();
        for bar in bars {
            let id = bar.instrument_id;
            if !ctx.instruments()[id.index()].tradable {
                continue;
            }
            let window = &mut self.closes[id.index()];
            if window.len() == self.params.lookback {
                let high = window.iter().copied().max().unwrap_or(bar.close);
                let low = window.iter().copied().min().unwrap_or(bar.close);
                let held = ctx.position(id).quantity;
                if bar.close > high && held.is_zero() {
                    let shares = (ctx.equity() * self.params.weight / bar.close).floor();
                    if shares > Decimal::ZERO && cash >= shares * bar.close {
                        cash -= shares * bar.close;
                        orders.push(OrderRequest::market(id, Side::Buy, shares));
                    }
                } else if bar.close < low && held > Decimal::ZERO {
                    orders.push(OrderRequest::market(id, Side::Sell, held));
                }
                window.pop_front();
            }
            window.push_back(bar.close);
        }
        orders
    }
}

/// Every strategy this program can run: kairos's built-ins and `breakout`.
pub fn strategies() -> Strategies {
    Strategies::builtin().register("breakout", Breakout::build)
}

fn main() -> std::process::ExitCode {
    kairos::cli::main_with(strategies())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos::config::Config;
    use kairos::data::synth::{self, SynthSpec};

    #[test]
    fn breakout_trades_on_a_synthetic_market_and_a_misspelt_key_is_an_error() {
        let dir = std::env::temp_dir().join(format!("{{NAME}}-test-{}", std::process::id()));
        let spec = SynthSpec {
            symbols: 10,
            days: 300,
            ..SynthSpec::default()
        };
        synth::write_csv_dir(&spec, &dir.join("data")).expect("a synthetic market");
        let path = std::path::Path::new("config/backtest.toml");
        let text = std::fs::read_to_string(path).expect("config/backtest.toml");
        let mut cfg = Config::parse(&text, path).expect("a valid configuration");
        cfg.data.path = dir.join("data");
        cfg.output.dir = dir.join("out");
        cfg.engine.progress = false;
        let out = kairos::run::backtest(&cfg, &strategies()).expect("the backtest runs");
        assert!(out.summary.trades > 0, "breakout never traded");
        assert!(dir.join("out/report.html").exists());

        cfg.strategy.params.insert("lookbak".into(), 5.into());
        let e = kairos::run::prepare(&cfg, &strategies()).expect_err("a misspelt key");
        assert!(e.to_string().contains("lookbak"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
