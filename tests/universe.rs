//! A point-in-time universe (`data.universe`): no strategy buys a symbol outside its membership
//! span on the decision date, held names that leave it are still sold, and a user's strategy
//! that tries to buy everything is held to it by the host.

mod common;
use kairos::data::synth::{self, SynthSpec};
use kairos::strategy::{Strategy, StrategyContext};
use kairos::types::{Bar, Decimal, OrderRequest, Side};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The market's dates (YYYY-MM-DD) by step, and spans that take every symbol in and out of the
/// universe: SYN00k is a member from step 20k mod 200 for 60 steps, then again from step 200.
fn setup(dir: &Path) -> (Vec<String>, std::path::PathBuf) {
    let d = dir.join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 12,
            days: 300,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let data = kairos::feeds::load(&d, &Default::default()).expect("load");
    let tz = data.instruments[0].time_zone;
    use chrono::TimeZone;
    let dates: Vec<String> = data
        .timestamps
        .iter()
        .map(|&t| tz.timestamp_nanos(t).date_naive().to_string())
        .collect();
    let mut spans = String::from("ticker,start_date,end_date\n");
    for (k, ins) in data.instruments.iter().enumerate() {
        if !ins.tradable {
            continue;
        }
        let a = (20 * k) % 200;
        spans.push_str(&format!("{},{},{}\n", ins.symbol, dates[a], dates[a + 59]));
        spans.push_str(&format!("{},{},\n", ins.symbol, dates[200]));
    }
    let u = dir.join("spans.csv");
    std::fs::write(&u, spans).expect("spans");
    (dates, u)
}

fn config(strategy: &str, dir: &Path, universe: &Path, out: &str) -> kairos::config::Config {
    let text = format!(
        "[data]\npath = \"{{data}}\"\nuniverse = \"{}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n[strategy]\nname = \"{strategy}\"\n[output]\ndir = \"{{out}}\"\n",
        universe.display()
    );
    common::config(&text, &dir.join("data"), &dir.join(out))
}

/// (step, symbol, side) of every order decided, from `events.jsonl` (symbols by instrument id).
fn decided(out: &Path, symbols: &[String]) -> Vec<(usize, String, String)> {
    std::fs::read_to_string(out.join("events.jsonl"))
        .expect("events")
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            let e = &v["event"];
            (e["event"] == "submitted").then(|| {
                let r = &e["request"];
                (
                    v["step"].as_u64().expect("step") as usize,
                    symbols[r["instrument_id"].as_u64().expect("id") as usize].clone(),
                    r["side"].as_str().expect("side").to_string(),
                )
            })
        })
        .collect()
}

fn member(spans: &str, symbol: &str, date: &str) -> bool {
    spans.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split(',').collect();
        f[0] == symbol && f[1] <= date && (f[2].is_empty() || date <= f[2])
    })
}

#[test]
fn built_in_strategies_buy_only_members_and_still_sell_what_left() {
    let dir = tempfile::tempdir().expect("tmp");
    let (dates, u) = setup(dir.path());
    let spans = std::fs::read_to_string(&u).expect("spans");
    for name in ["topk", "sma_cross"] {
        let cfg = config(name, dir.path(), &u, name);
        kairos::backtest::run(&cfg).expect("run");
        let data = kairos::backtest::load_data(&cfg).expect("load");
        let symbols: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
        let orders = decided(&cfg.output.dir, &symbols);
        let buys: Vec<_> = orders.iter().filter(|o| o.2 == "BUY").collect();
        assert!(buys.len() > 10, "{name}: {} buys", buys.len());
        for (step, s, _) in &buys {
            assert!(
                member(&spans, s, &dates[*step]),
                "{name} bought {s} on {} outside its span",
                dates[*step]
            );
        }
        // Some names were sold while outside the universe: held names leave through sells.
        let sold_outside = orders
            .iter()
            .filter(|(step, s, side)| side == "SELL" && !member(&spans, s, &dates[*step]))
            .count();
        if name == "topk" {
            assert!(sold_outside > 0, "topk never sold a name that left the universe");
        }
        // Without the universe the same strategy buys outside the spans: the rule was exercised.
        let mut free = cfg.clone();
        free.data.universe = None;
        free.output.dir = dir.path().join(format!("{name}-free"));
        kairos::backtest::run(&free).expect("run");
        let outside = decided(&free.output.dir, &symbols)
            .iter()
            .filter(|(step, s, side)| side == "BUY" && !member(&spans, s, &dates[*step]))
            .count();
        assert!(
            outside > 0,
            "{name}: without the universe nothing would have been bought outside it"
        );
    }
}

/// Tries to buy 10 of every symbol at every close; sells what it holds every fifth step, and more
/// than it holds of names outside the universe.
struct BuyEverything;

impl Strategy for BuyEverything {
    fn name(&self) -> &str {
        "buy_everything"
    }
    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        bars.iter()
            .filter(|b| ctx.instruments()[b.instrument_id.index()].tradable)
            .map(|b| {
                let held = ctx.position(b.instrument_id).quantity;
                if !ctx.in_universe(b.instrument_id) && held > Decimal::ZERO {
                    // More than held: the host caps a sale outside the universe at closing.
                    OrderRequest::market(b.instrument_id, Side::Sell, held + Decimal::from(5))
                } else if ctx.step() % 5 == 0 && held > Decimal::ZERO {
                    OrderRequest::market(b.instrument_id, Side::Sell, held)
                } else {
                    OrderRequest::market(b.instrument_id, Side::Buy, Decimal::from(10))
                }
            })
            .collect()
    }
}

#[test]
fn the_host_holds_a_users_strategy_to_the_universe() {
    let dir = tempfile::tempdir().expect("tmp");
    let (dates, u) = setup(dir.path());
    let spans = std::fs::read_to_string(&u).expect("spans");
    let cfg = config("sma_cross", dir.path(), &u, "user");
    let data = Arc::new(kairos::backtest::load_data(&cfg).expect("load"));
    let symbols: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
    kairos::backtest::run_with(&cfg, data, Box::new(BuyEverything)).expect("run");
    let orders = decided(&cfg.output.dir, &symbols);
    let mut bought: HashMap<String, usize> = HashMap::new();
    for (step, s, side) in &orders {
        if side == "BUY" {
            assert!(
                member(&spans, s, &dates[*step]),
                "bought {s} on {} outside its span",
                dates[*step]
            );
            *bought.entry(s.clone()).or_default() += 1;
        }
    }
    assert!(bought.len() >= 10, "{bought:?}");
    // No position ever went short: sales outside the universe were capped at what was held.
    let fills = common::fills(&cfg.output.dir);
    let mut pos: HashMap<String, Decimal> = HashMap::new();
    for f in fills {
        let q: Decimal = f[3].parse().expect("qty");
        let p = pos.entry(f[1].clone()).or_default();
        *p += if f[2] == "BUY" { q } else { -q };
        assert!(*p >= Decimal::ZERO, "{} went short", f[1]);
    }
}

/// Training data is point in time too: with `data.universe`, a dataset's samples are the dates
/// each symbol was a member on, and only those.
#[test]
fn datasets_sample_members_only() {
    use kairos::research::dataset::{Dataset, DatasetSpec, LabelKind, Splits};
    let dir = tempfile::tempdir().expect("tmp");
    let (dates, u) = setup(dir.path());
    let features: Vec<String> = ["rsi14", "ema10_gap"].iter().map(|s| s.to_string()).collect();
    let spec = DatasetSpec {
        features: &features,
        window: 5,
        horizon: 5,
        label: LabelKind::ForwardReturn,
        symbols: &[],
        splits: Splits {
            val_start: i64::MAX - 2,
            test_start: i64::MAX - 1,
            test_end: i64::MAX,
        },
        cross_sectional: false,
    };
    let load = |universe: Option<&Path>| {
        let mut d = kairos::config::DataConfig::new(dir.path().join("data"));
        d.universe = universe.map(Path::to_path_buf);
        Arc::new(kairos::backtest::load_market(&d).expect("load"))
    };
    let (all, masked) = (load(None), load(Some(&u)));
    let spy = |d: &kairos::data::MarketData| d.instrument_by_symbol("SPY").map(|i| i.id);
    let full = Dataset::build(&all, spy(&all), &spec).expect("dataset");
    let members = Dataset::build(&masked, spy(&masked), &spec).expect("dataset");
    let spans = std::fs::read_to_string(&u).expect("spans");
    assert!(!members.train.is_empty() && members.train.len() < full.train.len());
    for s in &members.train {
        let step = masked.series[s.symbol].step[s.bar] as usize;
        assert!(member(&spans, &masked.instruments[s.symbol].symbol, &dates[step]));
    }
    // Exactly the full dataset's samples at member dates.
    let kept: Vec<(usize, usize)> = full
        .train
        .iter()
        .filter(|s| {
            let step = all.series[s.symbol].step[s.bar] as usize;
            member(&spans, &all.instruments[s.symbol].symbol, &dates[step])
        })
        .map(|s| (s.symbol, s.bar))
        .collect();
    assert_eq!(
        members.train.iter().map(|s| (s.symbol, s.bar)).collect::<Vec<_>>(),
        kept
    );
}
