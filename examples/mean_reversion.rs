//! A user's own strategy, registered by name with typed parameters and run as any built-in is:
//! the same configuration file, the same outputs (`summary.json`, `report.html`, ...).
//!
//! Buys a symbol after it falls `down_days` closes in a row, holds it `hold` bars, then sells.
//! Run: `cargo run --example mean_reversion -- [DATA_DIR]` (default: a fresh synthetic market).
//! The same registry in a binary's `main` gives every `kairos` command (sweep, audit, paper, ...)
//! this strategy: `kairos::cli::main_with(strategies())`, as `kairos new DIR` scaffolds.

use kairos::config::Config;
use kairos::data::synth::{self, SynthSpec};
use kairos::data::MarketData;
use kairos::strategy::{Built, Strategies, Strategy, StrategyContext, StrategyError};
use kairos::types::{Bar, Decimal, OrderRequest, Side};
use serde::Deserialize;

/// `[strategy.params]` of `three_down_days`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    /// Falling closes in a row before a buy.
    down_days: u32,
    /// Bars a position is held.
    hold: u64,
    /// Fraction of equity per position.
    weight: Decimal,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            down_days: 3,
            hold: 5,
            weight: Decimal::new(5, 2),
        }
    }
}

struct ThreeDownDays {
    p: Params,
    /// By instrument index: the last close and how many closes in a row fell to it.
    last_close: Vec<Option<(Decimal, u32)>>,
    /// By instrument index: the step a position was bought at.
    held_since: Vec<Option<u64>>,
}

impl ThreeDownDays {
    fn build(p: &Params, market: &MarketData) -> Built {
        if p.down_days == 0 {
            return Err(StrategyError::new("strategy.params.down_days: at least 1"));
        }
        let n = market.instruments.len();
        Ok(Box::new(Self {
            p: p.clone(),
            last_close: vec![None; n],
            held_since: vec![None; n],
        }))
    }
}

impl Strategy for ThreeDownDays {
    fn name(&self) -> &str {
        "three_down_days"
    }

    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let mut orders = Vec::new();
        let budget = ctx.equity() * self.p.weight;
        for bar in bars {
            let (id, i) = (bar.instrument_id, bar.instrument_id.index());
            if !ctx.instruments()[i].tradable {
                continue;
            }
            let (prev, downs) = self.last_close[i].unwrap_or((bar.close, 0));
            let downs = if bar.close < prev { downs + 1 } else { 0 };
            self.last_close[i] = Some((bar.close, downs));
            let qty = ctx.position(id).quantity;
            match self.held_since[i] {
                Some(since) if ctx.step() >= since + self.p.hold && qty > Decimal::ZERO => {
                    orders.push(OrderRequest::market(id, Side::Sell, qty));
                    self.held_since[i] = None;
                }
                None if downs >= self.p.down_days && qty.is_zero() => {
                    let shares = (budget / bar.close).floor();
                    if shares > Decimal::ZERO && ctx.cash() > budget {
                        orders.push(OrderRequest::market(id, Side::Buy, shares));
                        self.held_since[i] = Some(ctx.step());
                    }
                }
                _ => {}
            }
        }
        orders
    }
}

/// The built-ins and this example's strategy.
fn strategies() -> Strategies {
    Strategies::builtin().register("three_down_days", ThreeDownDays::build)
}

fn main() -> anyhow::Result<()> {
    let tmp = std::env::temp_dir().join("kairos-example-mean-reversion");
    let data_dir = match std::env::args().nth(1) {
        Some(d) => d.into(),
        None => {
            let dir = tmp.join("data");
            synth::write_csv_dir(&SynthSpec::default(), &dir)?;
            dir
        }
    };
    let text = format!(
        r#"
[data]
path = "{data}"
[broker]
commission_bps = 1
slippage_bps = 2
[portfolio]
initial_cash = 1000000
[strategy]
name = "three_down_days"
params = {{ down_days = 3, hold = 5, weight = 0.05 }}
[engine]
progress = false
[output]
dir = "{out}"
"#,
        data = data_dir.display(),
        out = tmp.join("out").display()
    );
    let cfg = Config::parse(&text, std::path::Path::new("mean_reversion.toml"))?;
    let out = kairos::run::backtest(&cfg, &strategies())?;
    println!("{}", serde_json::to_string_pretty(&out.summary)?);
    eprintln!(
        "outputs (summary.json, report.html, ...) in {}",
        cfg.output.dir.display()
    );
    Ok(())
}
