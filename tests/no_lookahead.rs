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

#[test]
fn future_data_does_not_change_past_decisions() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let spec = SynthSpec {
        symbols: 20,
        days: 300,
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, &a).expect("synth");
    // A different future: every price after row 200 times 3.
    common::rewrite_market(&a, &b, |i, f| {
        if i >= 200 {
            common::scaled(f, 3.0, 1)
        } else {
            f.join(",")
        }
    });
    let ra = kairos::backtest::run(&common::config(CONFIG, &a, &dir.path().join("oa"))).expect("run a");
    let rb = kairos::backtest::run(&common::config(CONFIG, &b, &dir.path().join("ob"))).expect("run b");
    let cutoff_date = std::fs::read_to_string(a.join("SPY.csv"))
        .expect("spy")
        .lines()
        .nth(200)
        .expect("row")
        .split(',')
        .next()
        .expect("date")
        .to_string();
    let before = |out: &str| -> Vec<Vec<String>> {
        common::fills(&dir.path().join(out))
            .into_iter()
            .filter(|f| f[0] <= cutoff_date)
            .collect()
    };
    let (fa, fb) = (before("oa"), before("ob"));
    assert!(fa.len() > 20, "enough fills before the cut-off: {}", fa.len());
    assert_eq!(fa, fb);
    assert_eq!(ra.curve[..200], rb.curve[..200]);
    assert_ne!(ra.curve[250], rb.curve[250], "the futures do differ");
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
        broker: Default::default(),
        initial_cash: rust_decimal::Decimal::from(1000),
        window: 4,
        out_dir: dir.path().join("out"),
        event_log: false,
        progress: false,
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
