//! A user strategy through the public API: it trades, receives its fills, and its read-only
//! view of the account agrees with the portfolio of record.

use kairos::data::synth::{self, SynthSpec};
use kairos::strategy::{Strategy, StrategyContext};
use kairos::supervisor::{run_blocking, RunSetup};
use kairos::types::{Bar, Decimal, Fill, OrderRequest, Side};
use std::sync::{Arc, Mutex};

/// Buys 10 shares of the first tradable symbol every 10 bars, sells them 5 bars later.
struct Pulse {
    fills: Arc<Mutex<Vec<Fill>>>,
    equity_seen: Arc<Mutex<Vec<Decimal>>>,
}

impl Strategy for Pulse {
    fn name(&self) -> &str {
        "pulse"
    }
    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        self.equity_seen.lock().expect("lock").push(ctx.equity());
        let Some(bar) = bars
            .iter()
            .find(|b| ctx.instruments()[b.instrument_id.index()].tradable)
        else {
            return Vec::new();
        };
        match ctx.step() % 10 {
            0 => vec![OrderRequest::market(bar.instrument_id, Side::Buy, Decimal::from(10))],
            5 if ctx.position(bar.instrument_id).quantity > Decimal::ZERO => {
                vec![OrderRequest::market(
                    bar.instrument_id,
                    Side::Sell,
                    ctx.position(bar.instrument_id).quantity,
                )]
            }
            _ => Vec::new(),
        }
    }
    fn on_fill(&mut self, fill: &Fill, _ctx: &StrategyContext<'_>) {
        self.fills.lock().expect("lock").push(fill.clone());
    }
}

#[test]
fn a_user_strategy_trades_and_sees_its_fills() {
    let dir = tempfile::tempdir().expect("tmp");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 3,
            days: 100,
            ..SynthSpec::default()
        },
        dir.path(),
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(dir.path(), &Default::default()).expect("load"));
    let fills = Arc::new(Mutex::new(Vec::new()));
    let equity_seen = Arc::new(Mutex::new(Vec::new()));
    let setup = RunSetup {
        data,
        strategy: Box::new(Pulse {
            fills: fills.clone(),
            equity_seen: equity_seen.clone(),
        }),
        features: Box::new(kairos::feature::NoFeatures),
        model: None,
        feed: kairos::supervisor::Feed::Replay,
        venue: kairos::supervisor::Venue::Sim(kairos::broker::BrokerConfig {
            commission_bps: Decimal::from(1),
            ..Default::default()
        }),
        initial_cash: Decimal::from(100_000),
        window: 8,
        out_dir: dir.path().join("out"),
        event_log: true,
        progress: false,
        status: None,
    };
    let out = run_blocking(setup, 2).expect("run");
    let fills = fills.lock().expect("lock");
    // 10 buys (steps 0..90) and 10 sells (steps 5..95); the buy at step 90 fills at 91, sold at 96.
    assert_eq!(fills.len(), 20);
    assert_eq!(out.summary.trades, 20);
    assert_eq!(out.summary.closed_trades, 10);
    // The strategy's equity at each close equals the portfolio's equity curve.
    let seen = equity_seen.lock().expect("lock");
    let curve: Vec<Decimal> = out.curve.iter().map(|(_, e)| *e).collect();
    assert_eq!(*seen, curve);
}

/// Fails on its tenth bar.
struct Faulty;

impl Strategy for Faulty {
    fn name(&self) -> &str {
        "faulty"
    }
    fn on_bars(&mut self, _bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        assert!(ctx.step() < 10, "deliberate failure at step 10");
        Vec::new()
    }
}

#[test]
fn a_failing_actor_ends_the_run_with_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("tmp");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 2,
            days: 40,
            ..SynthSpec::default()
        },
        dir.path(),
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(dir.path(), &Default::default()).expect("load"));
    let setup = RunSetup {
        data,
        strategy: Box::new(Faulty),
        features: Box::new(kairos::feature::NoFeatures),
        model: None,
        feed: kairos::supervisor::Feed::Replay,
        venue: Default::default(),
        initial_cash: Decimal::from(1000),
        window: 4,
        out_dir: dir.path().join("out"),
        event_log: false,
        progress: false,
        status: None,
    };
    let err = run_blocking(setup, 2).expect_err("the strategy fails").to_string();
    assert!(err.contains("strategy") && err.contains("failed"), "{err}");
}
