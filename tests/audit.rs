//! `kairos audit`: every built-in strategy, with and without a model, and a user's own strategy
//! decide the same up to a cut when every later bar is replaced; a strategy written to peek at
//! the next bar is caught, and the report names its first changed decision.

mod common;
use kairos::audit;
use kairos::data::synth::{self, SynthSpec};
use kairos::data::MarketData;
use kairos::strategy::{PreparedStrategy, Strategy, StrategyContext};
use kairos::types::{Bar, Decimal, OrderRequest, Side};
use std::path::Path;
use std::sync::Arc;

fn config(strategy: &str, data: &Path, out: &Path, extra: &str) -> kairos::config::Config {
    let text = format!(
        r#"
[data]
path = "{{data}}"
[engine]
progress = false
[portfolio]
initial_cash = 1000000
[broker]
commission_bps = 5
[strategy]
name = "{strategy}"
[output]
dir = "{{out}}"
{extra}
"#
    );
    common::config(&text, data, out)
}

fn market(dir: &Path) -> Arc<MarketData> {
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 15,
            days: 300,
            ..SynthSpec::default()
        },
        dir,
    )
    .expect("synth");
    Arc::new(kairos::feeds::load(dir, &Default::default()).expect("load"))
}

#[test]
fn built_in_strategies_decide_the_same_up_to_the_cut() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d);
    let cut = audit::cut_step(&data, None).expect("cut");
    for name in ["sma_cross", "topk"] {
        let cfg = config(name, &d, &dir.path().join(name), "");
        let r = audit::audit(&cfg, &kairos::strategy::Strategies::builtin(), data.clone(), cut, 7).expect("audit");
        assert!(r.unchanged, "{name}: {:?}", r.first_difference);
        assert!(
            r.decisions_compared > 10,
            "{name}: {} decisions: nothing was compared",
            r.decisions_compared
        );
        assert!(r.bars_replaced > 1000, "{}", r.bars_replaced);
        // The altered market really was different after the cut: the runs part there.
        let tail = |label: &str| {
            std::fs::read_to_string(dir.path().join(name).join("audit").join(label).join("fills.csv")).expect("fills")
        };
        assert_ne!(
            tail("original"),
            tail("altered"),
            "{name}: the replaced bars changed nothing after the cut"
        );
    }
}

/// A user's strategy that buys what rises tomorrow: it reads the market it was built with at the
/// next step (as a strategy that loaded the data itself could).
struct PeekAhead {
    data: Arc<MarketData>,
}

impl Strategy for PeekAhead {
    fn name(&self) -> &str {
        "peek_ahead"
    }
    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let step = ctx.step() as usize;
        let mut out = Vec::new();
        for b in bars {
            let i = b.instrument_id.index();
            let s = &self.data.series[i];
            let Ok(k) = s.step.binary_search(&(step as u32)) else {
                continue;
            };
            if k + 1 < s.len() && s.close[k + 1] > s.close[k] && ctx.position(b.instrument_id).quantity.is_zero() {
                out.push(OrderRequest::market(b.instrument_id, Side::Buy, Decimal::from(10)));
            } else if !ctx.position(b.instrument_id).quantity.is_zero() {
                out.push(OrderRequest::market(
                    b.instrument_id,
                    Side::Sell,
                    ctx.position(b.instrument_id).quantity,
                ));
            }
        }
        out
    }
}

/// A user's strategy that looks only at what it is given: buys after two up closes, sells after
/// two down closes.
#[derive(Default)]
struct TwoUp {
    last: std::collections::HashMap<u32, (Decimal, i32)>,
}

impl Strategy for TwoUp {
    fn name(&self) -> &str {
        "two_up"
    }
    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let mut out = Vec::new();
        for b in bars {
            let id = b.instrument_id;
            let (prev, run) = self.last.get(&id.0).copied().unwrap_or((b.close, 0));
            let run = if b.close > prev {
                run.max(0) + 1
            } else if b.close < prev {
                run.min(0) - 1
            } else {
                0
            };
            self.last.insert(id.0, (b.close, run));
            let held = ctx.position(id).quantity;
            if run >= 2 && held.is_zero() {
                out.push(OrderRequest::market(id, Side::Buy, Decimal::from(10)));
            } else if run <= -2 && !held.is_zero() {
                out.push(OrderRequest::market(id, Side::Sell, held));
            }
        }
        out
    }
}

#[test]
fn a_strategy_that_peeks_ahead_is_caught_and_an_honest_user_strategy_passes() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d);
    let cut = audit::cut_step(&data, None).expect("cut");
    let cfg = config("sma_cross", &d, &dir.path().join("peek"), "");
    // The factory is handed the market each run sees; this one keeps all of it.
    let peek = PreparedStrategy::from_fn("peek_ahead", |m: &MarketData| {
        Ok(Box::new(PeekAhead {
            data: Arc::new(m.clone()),
        }))
    });
    let r = audit::audit_with(&cfg, data.clone(), cut, 7, peek).expect("audit");
    assert_eq!(r.strategy, "peek_ahead");
    assert!(!r.unchanged, "the peek went unseen");
    let d0 = r.first_difference.expect("named");
    // Its decisions before the cut only peek at bars up to the cut: the first change is at it.
    assert_eq!(d0.step, r.cut_step, "{d0:?}");
    assert!(!d0.date.is_empty() && d0.original != d0.altered);
    let cfg = config("sma_cross", &d, &dir.path().join("honest"), "");
    let honest = PreparedStrategy::from_fn("two_up", |_: &MarketData| Ok(Box::<TwoUp>::default()));
    let r = audit::audit_with(&cfg, data, cut, 7, honest).expect("audit");
    assert!(r.unchanged, "{:?}", r.first_difference);
    assert!(r.decisions_compared > 10);
}

#[test]
fn the_command_reports_in_json_and_refuses_a_cut_with_nothing_after_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d);
    let cfg_path = dir.path().join("topk.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[data]\npath = \"{}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n[strategy]\nname = \"topk\"\n[output]\ndir = \"{}\"\n",
            d.display(),
            dir.path().join("out").display()
        ),
    )
    .expect("config");
    let tz = data.instruments[0].time_zone;
    use chrono::TimeZone;
    let at = tz.timestamp_nanos(data.timestamps[200]).date_naive().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["audit", "--config"])
        .arg(&cfg_path)
        .args(["--at", &at, "--seed", "3"])
        .output()
        .expect("run kairos audit");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["cut_step"], 200);
    assert_eq!(report["unchanged"], true);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no look-ahead seen"));
    // A date after the market's end leaves nothing to replace: a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["audit", "--config"])
        .arg(&cfg_path)
        .args(["--at", "2999-01-01"])
        .output()
        .expect("run kairos audit");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no bar after it to replace"));
}

#[cfg(feature = "torch")]
#[test]
fn a_model_driven_strategy_decides_the_same_up_to_the_cut() {
    use kairos::research::job::{self, TrainConfig};
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 12,
            days: 700,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(&d, &Default::default()).expect("load"));
    let art = dir.path().join("ridge");
    let text = format!(
        "[data]\npath = \"{}\"\n[model]\nkind = \"ridge\"\nwindow = 5\n[train]\nprogress = false\n[split]\nval_start = \"2017-01-01\"\ntest_start = \"2017-07-01\"\n[output]\ndir = \"{}\"\n",
        d.display(),
        art.display()
    );
    let job: TrainConfig = toml::from_str(&text).expect("job");
    job::run(&job, &data).expect("train ridge");
    let extra = format!("[model]\nartifact = \"{}\"", art.display());
    let cfg = config("topk", &d, &dir.path().join("out"), &extra);
    let cut = audit::cut_step(&data, None).expect("cut");
    let r = audit::audit(&cfg, &kairos::strategy::Strategies::builtin(), data, cut, 11).expect("audit");
    assert!(r.unchanged, "{:?}", r.first_difference);
    assert!(r.decisions_compared > 10, "{}", r.decisions_compared);
}
