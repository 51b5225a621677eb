//! A user's own strategy, plugged in through the `Strategy` trait without touching ractor.
//!
//! Buys a symbol after it falls three closes in a row, holds it five bars, then sells.
//! Run: `cargo run --example mean_reversion -- [DATA_DIR]` (default: a fresh synthetic market).

use kairos::data::synth::{self, SynthSpec};
use kairos::strategy::{Strategy, StrategyContext};
use kairos::supervisor::{run_blocking, RunSetup};
use kairos::types::{Bar, Decimal, OrderRequest, Side};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Default)]
struct ThreeDownDays {
    last_close: HashMap<u32, (Decimal, u32)>,
    held_since: HashMap<u32, u64>,
}

impl Strategy for ThreeDownDays {
    fn name(&self) -> &str {
        "three_down_days"
    }

    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let mut orders = Vec::new();
        let budget = ctx.equity() / Decimal::from(20);
        for bar in bars {
            let id = bar.instrument_id;
            if !ctx.instruments()[id.index()].tradable {
                continue;
            }
            let (prev, downs) = self.last_close.get(&id.0).copied().unwrap_or((bar.close, 0));
            let downs = if bar.close < prev { downs + 1 } else { 0 };
            self.last_close.insert(id.0, (bar.close, downs));
            let qty = ctx.position(id).quantity;
            match self.held_since.get(&id.0) {
                Some(&since) if ctx.step() >= since + 5 && qty > Decimal::ZERO => {
                    orders.push(OrderRequest::market(id, Side::Sell, qty));
                    self.held_since.remove(&id.0);
                }
                None if downs >= 3 && qty.is_zero() => {
                    let shares = (budget / bar.close).floor();
                    if shares > Decimal::ZERO && ctx.cash() > budget {
                        orders.push(OrderRequest::market(id, Side::Buy, shares));
                        self.held_since.insert(id.0, ctx.step());
                    }
                }
                _ => {}
            }
        }
        orders
    }
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
    let data = Arc::new(kairos::feeds::load(&data_dir, &Default::default())?);
    let setup = RunSetup {
        data,
        strategy: Box::new(ThreeDownDays::default()),
        features: Box::new(kairos::feature::NoFeatures),
        model: None,
        feed: kairos::supervisor::Feed::Replay,
        venue: kairos::supervisor::Venue::Sim(kairos::broker::BrokerConfig {
            commission_bps: Decimal::from(1),
            slippage_bps: Decimal::from(2),
            ..Default::default()
        }),
        initial_cash: Decimal::from(1_000_000),
        window: 64,
        out_dir: tmp.join("out"),
        event_log: true,
        progress: false,
        status: None,
    };
    let out = run_blocking(setup, 2)?;
    println!("{}", serde_json::to_string_pretty(&out.summary)?);
    Ok(())
}
