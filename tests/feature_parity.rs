//! Streaming features (the feature actor's O(1) updates) and batch features (polars over whole
//! histories) agree to 1e-9 relative, and both are missing exactly where inputs do not exist.

mod common;
use kairos::data::synth::{self, SynthSpec};
use kairos::feature::batch::batch_market;
use kairos::feature::library::{FEATURE_NAMES, N_FEATURES};
use kairos::feature::stream_market;
use std::sync::Arc;

fn close(a: f64, b: f64) -> bool {
    let scale = a.abs().max(b.abs());
    (a - b).abs() <= 1e-9 * scale || (a - b).abs() <= 1e-15
}

fn check(data: Arc<kairos::data::MarketData>) -> usize {
    let bench = data.instrument_by_symbol("SPY").map(|i| i.id);
    let stream = stream_market(&data, bench);
    let batch = batch_market(&data, bench).expect("batch");
    assert_eq!(batch.height(), data.bar_count());
    let cols: Vec<_> = FEATURE_NAMES
        .iter()
        .map(|n| batch.column(n).expect("column").f64().expect("f64").clone())
        .collect();
    let mut row = 0;
    let mut compared = 0;
    let mut worst: f64 = 0.0;
    for (i, rows) in stream.iter().enumerate() {
        for (k, s) in rows.iter().enumerate() {
            for f in 0..N_FEATURES {
                let b = cols[f].get(row);
                match (s[f], b) {
                    (None, None) => {}
                    (Some(x), Some(y)) => {
                        assert!(
                            close(x, y),
                            "{} bar {k} {}: stream {x} batch {y}",
                            data.instruments[i].symbol,
                            FEATURE_NAMES[f]
                        );
                        worst = worst.max((x - y).abs() / x.abs().max(y.abs()).max(1e-300));
                        compared += 1;
                    }
                    (x, y) => panic!(
                        "{} bar {k} {}: stream {x:?} batch {y:?}",
                        data.instruments[i].symbol, FEATURE_NAMES[f]
                    ),
                }
            }
            row += 1;
        }
    }
    eprintln!("compared {compared} values, worst relative difference {worst:e}");
    compared
}

#[test]
fn streaming_and_batch_agree_on_a_synthetic_market() {
    let dir = tempfile::tempdir().expect("tmp");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 8,
            days: 400,
            ..SynthSpec::default()
        },
        dir.path(),
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(dir.path(), &Default::default()).expect("load"));
    let n = check(data.clone());
    assert!(n > 9 * 300 * 25, "{n}");
    // Missing-ness follows the inputs: e.g. SMA200 from bar 199, RSI14 from bar 14, HV from 60.
    let stream = stream_market(&data, data.instrument_by_symbol("SPY").map(|i| i.id));
    let col = |name: &str| FEATURE_NAMES.iter().position(|n| *n == name).expect("name");
    let first = |name: &str| stream[0].iter().position(|r| r[col(name)].is_some());
    assert_eq!(first("sma200_gap"), Some(199));
    assert_eq!(first("rsi14"), Some(14));
    assert_eq!(first("hv_ratio"), Some(60));
    assert_eq!(first("20d_relative_ret"), Some(20));
    assert_eq!(first("spy_vol"), Some(20));
    assert_eq!(first("ema30_gap"), Some(0));
    assert_eq!(first("obv_momentum"), Some(19));
}

#[test]
fn streaming_and_batch_agree_with_gaps_and_missing_benchmark_bars() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = SynthSpec {
        symbols: 3,
        days: 260,
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, dir.path()).expect("synth");
    // Drop every 7th row of one stock and every 11th of the benchmark.
    for (file, every) in [("SYN001.csv", 7), ("SPY.csv", 11)] {
        let p = dir.path().join(file);
        let text = std::fs::read_to_string(&p).expect("read");
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, _)| *i == 0 || i % every != 0)
            .map(|(_, l)| l)
            .collect();
        std::fs::write(&p, kept.join("\n") + "\n").expect("write");
    }
    let data = Arc::new(kairos::feeds::load(dir.path(), &Default::default()).expect("load"));
    assert!(data.report.missing_bars > 40);
    check(data);
}

/// Feature values of one timestamp: a row per bar.
type Frame = Vec<Vec<Option<f64>>>;

/// Records the feature frames it is given.
struct Recorder(Arc<std::sync::Mutex<Vec<Frame>>>);

impl kairos::strategy::Strategy for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn on_bars(
        &mut self,
        _bars: &[kairos::types::Bar],
        ctx: &kairos::strategy::StrategyContext<'_>,
    ) -> Vec<kairos::types::OrderRequest> {
        let frame = ctx.features().expect("features enabled");
        assert_eq!(frame.names().len(), N_FEATURES);
        self.0.lock().expect("lock").push(frame.values().to_vec());
        Vec::new()
    }
}

#[test]
fn the_feature_actor_delivers_the_streaming_features_to_strategies() {
    let dir = tempfile::tempdir().expect("tmp");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 3,
            days: 120,
            ..SynthSpec::default()
        },
        dir.path(),
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(dir.path(), &Default::default()).expect("load"));
    let bench = data.instrument_by_symbol("SPY").map(|i| i.id);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let setup = kairos::supervisor::RunSetup {
        data: data.clone(),
        strategy: Box::new(Recorder(seen.clone())),
        features: Box::new(kairos::feature::TechnicalFeatures::new(data.instruments.len(), bench)),
        model: None,
        feed: kairos::supervisor::Feed::Replay,
        venue: Default::default(),
        initial_cash: rust_decimal::Decimal::from(1000),
        window: 8,
        out_dir: dir.path().join("out"),
        event_log: false,
        progress: false,
        status: None,
    };
    kairos::supervisor::run_blocking(setup, 2).expect("run");
    let stream = stream_market(&data, bench);
    let seen = seen.lock().expect("lock");
    assert_eq!(seen.len(), 120);
    for (t, frame) in seen.iter().enumerate() {
        for (i, row) in frame.iter().enumerate() {
            assert_eq!(row.as_slice(), stream[i][t].as_slice(), "step {t} instrument {i}");
        }
    }
}

/// Features of two markets: `a` as made, `b` with the bars whose date `touch` selects rescaled by
/// a random factor per symbol and day (the benchmark too).
fn perturbed_features(
    touch_row: impl Fn(usize) -> bool,
) -> (
    Vec<Vec<kairos::feature::library::FeatureRow>>,
    Vec<Vec<kairos::feature::library::FeatureRow>>,
) {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 3,
            days: 300,
            ..SynthSpec::default()
        },
        &a,
    )
    .expect("synth");
    let dates: Vec<String> = (0..300).map(|i| common::date_of_row(&a, "SPY", i)).collect();
    common::perturb_market(&a, &b, 3, |d| dates.iter().position(|x| x == d).is_some_and(&touch_row));
    let load = |d: &std::path::Path| Arc::new(kairos::feeds::load(d, &Default::default()).expect("load"));
    let (da, db) = (load(&a), load(&b));
    let bench = da.instrument_by_symbol("SPY").map(|i| i.id);
    (stream_market(&da, bench), stream_market(&db, bench))
}

#[test]
fn features_at_t_do_not_depend_on_bars_after_t() {
    // B: every bar after row 150 rescaled by its own factor.
    let (sa, sb) = perturbed_features(|i| i > 150);
    for i in 0..sa.len() {
        assert_eq!(
            sa[i][..151],
            sb[i][..151],
            "instrument {i}: a feature before the change moved"
        );
        assert_ne!(sa[i][200], sb[i][200], "the futures differ");
    }
}

#[test]
fn a_change_at_or_before_t_is_seen_by_the_features() {
    // The control: rescaling rows 100 to 150 changes features at row 150 of every symbol, and
    // the relative-return features of the stocks (the benchmark moved differently).
    let (sa, sb) = perturbed_features(|i| (100..=150).contains(&i));
    for i in 0..sa.len() {
        assert_eq!(sa[i][..100], sb[i][..100], "instrument {i}: before the change");
        assert_ne!(sa[i][150], sb[i][150], "instrument {i}: the change went unseen");
    }
}
