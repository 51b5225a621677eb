//! A decision at time t sees nothing after t: changing every bar after a cut-off date leaves
//! every fill up to the cut-off (and the equity curve up to it) unchanged, and a strategy never
//! receives a bar stamped after its clock.

mod common;
use kairos::data::synth::{self, SynthSpec};
use kairos::strategy::{Strategy, StrategyContext};
use kairos::supervisor::{run_blocking, RunSetup};
use kairos::types::{Bar, OrderRequest};
use std::sync::{Arc, Mutex};

const CONFIG: &str = r#"
[data]
path = "{data}"
[engine]
progress = false
[portfolio]
initial_cash = 1000000
[broker]
commission_bps = 5
cash_check = "allow_negative"
[strategy]
name = "topk"
[output]
dir = "{out}"
"#;

/// The orders each strategy decided at dates up to `cutoff` (the `submitted` events of
/// `events.jsonl`), as `date event-json` lines.
fn decisions(out: &std::path::Path, cutoff: &str) -> Vec<String> {
    std::fs::read_to_string(out.join("events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            let date = v["date"].as_str().expect("date").to_string();
            (v["event"]["event"] == "submitted" && date.as_str() <= cutoff).then(|| format!("{date} {}", v["event"]))
        })
        .collect()
}

/// What two runs (original and perturbed market) decided and filled up to the cut-off.
struct Both {
    decisions: [Vec<String>; 2],
    fills: [Vec<Vec<String>>; 2],
    cutoff: String,
}

fn run_both(strategy: &str, touch: impl Fn(&str) -> bool) -> Both {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let spec = SynthSpec {
        symbols: 20,
        days: 300,
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, &a).expect("synth");
    common::perturb_market(&a, &b, 7, touch);
    let cfg = CONFIG.replace("name = \"topk\"", &format!("name = \"{strategy}\""));
    kairos::backtest::run(&common::config(&cfg, &a, &dir.path().join("oa"))).expect("run a");
    kairos::backtest::run(&common::config(&cfg, &b, &dir.path().join("ob"))).expect("run b");
    let cutoff = cutoff_date(&a);
    let before = |out: &str| -> Vec<Vec<String>> {
        common::fills(&dir.path().join(out))
            .into_iter()
            .filter(|f| f[0] <= cutoff)
            .collect()
    };
    Both {
        decisions: [
            decisions(&dir.path().join("oa"), &cutoff),
            decisions(&dir.path().join("ob"), &cutoff),
        ],
        fills: [before("oa"), before("ob")],
        cutoff,
    }
}

/// The date of data row 200 of the synthetic market.
fn cutoff_date(dir: &std::path::Path) -> String {
    common::date_of_row(dir, "SPY", 200)
}

/// Every bar after the cut-off gets its own random factor (per symbol and day, the benchmark
/// too), which reorders momentum ranks: every decision up to the cut-off, and every fill up to
/// it, stays the same, for both reference strategies.
#[test]
fn future_data_does_not_change_past_decisions() {
    let dir = tempfile::tempdir().expect("tmp");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 2,
            days: 300,
            ..SynthSpec::default()
        },
        dir.path(),
    )
    .expect("synth");
    let cutoff = cutoff_date(dir.path());
    for strategy in ["topk", "sma_cross"] {
        let Both {
            decisions: [da, db],
            fills: [fa, fb],
            cutoff: c,
        } = run_both(strategy, |d| d > cutoff.as_str());
        assert_eq!(c, cutoff, "the same calendar");
        assert!(
            da.len() > 20,
            "{strategy}: enough decisions before the cut-off: {}",
            da.len()
        );
        assert_eq!(da, db, "{strategy}: a decision up to the cut-off changed");
        assert_eq!(fa, fb, "{strategy}: a fill up to the cut-off changed");
    }
}

/// The control: the same perturbation applied to bars before the cut-off (days 100 to 199)
/// does change decisions up to the cut-off, so the test above can see a change.
#[test]
fn a_change_before_the_cut_off_is_seen() {
    let dir = tempfile::tempdir().expect("tmp");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 2,
            days: 300,
            ..SynthSpec::default()
        },
        dir.path(),
    )
    .expect("synth");
    let (from, to) = (
        common::date_of_row(dir.path(), "SPY", 100),
        common::date_of_row(dir.path(), "SPY", 199),
    );
    for strategy in ["topk", "sma_cross"] {
        let Both {
            decisions: [da, db], ..
        } = run_both(strategy, |d| d >= from.as_str() && d <= to.as_str());
        assert_ne!(da, db, "{strategy}: a change before the cut-off went unseen");
    }
}

/// Records what it is shown.
struct Spy(Arc<Mutex<Vec<(i64, i64, usize)>>>);

impl Strategy for Spy {
    fn name(&self) -> &str {
        "spy"
    }
    fn on_bars(&mut self, bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let newest = bars.iter().map(|b| b.ts_event).max().unwrap_or(i64::MIN);
        self.0.lock().expect("lock").push((newest, ctx.now(), bars.len()));
        Vec::new()
    }
}

#[test]
fn strategies_only_see_closed_bars_up_to_now() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = SynthSpec {
        symbols: 5,
        days: 50,
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, dir.path()).expect("synth");
    let data = Arc::new(kairos::feeds::load(dir.path(), &Default::default()).expect("load"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let setup = RunSetup {
        data: data.clone(),
        strategy: Box::new(Spy(seen.clone())),
        features: Box::new(kairos::feature::NoFeatures),
        model: None,
        feed: kairos::supervisor::Feed::Replay,
        venue: Default::default(),
        initial_cash: rust_decimal::Decimal::from(1000),
        window: 4,
        out_dir: dir.path().join("out"),
        event_log: false,
        progress: false,
        status: None,
    };
    run_blocking(setup, 2).expect("run");
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 50);
    let mut prev = i64::MIN;
    for (newest, now, n) in seen.iter() {
        assert!(newest <= now, "a bar after now");
        assert!(*now > prev, "time goes forward");
        assert_eq!(*n, 6);
        prev = *now;
    }
    assert_eq!(seen.last().map(|s| s.1), data.timestamps.last().copied());
}
