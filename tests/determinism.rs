//! The same backtest run twice gives byte-identical outputs, whatever the number of worker
//! threads and the flow-control window; the feed never has more than `window` timestamps in
//! flight.

mod common;
use kairos::data::synth::{self, Frequency, SynthSpec};
use std::path::Path;

const CONFIG: &str = r#"
[data]
path = "{data}"
[engine]
worker_threads = 1
window = 64
progress = false
[portfolio]
initial_cash = 1000000
[broker]
commission_bps = 1
commission_per_share = 0.005
commission_min = 1
slippage_bps = 2
max_volume_fraction = 0.01
cash_check = "reject"
[strategy]
name = "topk"
[output]
dir = "{out}"
"#;

fn run(data: &Path, out: &Path, threads: usize, window: usize, strategy: &str) -> kairos::portfolio::RunOutput {
    let mut cfg = common::config(CONFIG, data, out);
    cfg.engine.worker_threads = threads;
    cfg.engine.window = window;
    cfg.strategy.name = strategy.into();
    kairos::backtest::run(&cfg).expect("run")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// summary.json without the two wall-clock timings, which are measurements, not results.
fn summary_without_timings(out: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&read(&out.join("summary.json"))).expect("json");
    let o = v.as_object_mut().expect("object");
    o.remove("load_seconds");
    o.remove("run_seconds");
    v
}

fn assert_identical(a: &Path, b: &Path) {
    for f in ["fills.csv", "equity.csv", "events.jsonl"] {
        assert!(read(&a.join(f)) == read(&b.join(f)), "{f} differs between runs");
    }
    assert_eq!(summary_without_timings(a), summary_without_timings(b));
}

#[test]
fn daily_run_is_byte_identical_across_threads_and_windows() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let spec = SynthSpec {
        symbols: 30,
        days: 400,
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, &data).expect("synth");
    let base = run(&data, &dir.path().join("a"), 1, 64, "topk");
    assert!(base.summary.trades > 50, "the run must trade: {}", base.summary.trades);
    assert!(base.events > base.summary.trades);
    for (i, (threads, window)) in [(1, 64), (4, 64), (4, 1), (2, 3)].into_iter().enumerate() {
        let out = dir.path().join(format!("b{i}"));
        let r = run(&data, &out, threads, window, "topk");
        assert_identical(&dir.path().join("a"), &out);
        assert!(
            r.max_in_flight <= window,
            "in flight {} > window {window}",
            r.max_in_flight
        );
        assert!(r.max_in_flight >= 1);
    }
}

#[test]
fn intraday_run_is_byte_identical_and_prints_timestamps() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let spec = SynthSpec {
        symbols: 6,
        days: 3,
        frequency: Frequency::Minutes(5),
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, &data).expect("synth");
    run(&data, &dir.path().join("a"), 1, 8, "sma_cross");
    run(&data, &dir.path().join("b"), 3, 2, "sma_cross");
    assert_identical(&dir.path().join("a"), &dir.path().join("b"));
    let equity = String::from_utf8(read(&dir.path().join("a/equity.csv"))).expect("utf8");
    // 3 sessions x 78 five-minute bars, stamped at their close in New York time.
    assert_eq!(equity.lines().count(), 1 + 3 * 78);
    assert!(
        equity
            .lines()
            .nth(1)
            .expect("row")
            .starts_with("2015-01-02T09:35:00-05:00,"),
        "{equity:.200}"
    );
}
