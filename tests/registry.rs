//! A user's own strategy, registered by name with typed parameters, runs in every mode the way a
//! built-in does: a backtest with its summary, report and `output.start`, a sweep over its
//! parameters, an audit, and a paper session against the loopback venue. The figures are
//! worked out by hand from the prices the test writes.

mod common;

use kairos::config::Config;
use kairos::data::MarketData;
use kairos::strategy::{Built, Strategies, Strategy, StrategyContext, StrategyError};
use kairos::types::{Bar, Decimal, OrderRequest, Side};
use rust_decimal_macros::dec;
use serde::Deserialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// `[strategy.params]` of `round_trip`: no `deny_unknown_fields` (the registry refuses a
/// misspelt key all the same).
#[derive(Clone, Debug, Deserialize)]
struct RoundTrip {
    /// Shares bought.
    qty: u32,
    /// The step whose close decides the buy (it fills at the next open).
    buy_at: u64,
    /// The step whose close decides the sell.
    sell_at: u64,
}

/// Buys `qty` shares of the first tradable symbol at `buy_at` and sells them at `sell_at`;
/// sized by the market it is built for (it refuses one without a tradable symbol).
struct RoundTripStrategy {
    p: RoundTrip,
    symbol: kairos::types::InstrumentId,
}

fn round_trip(p: &RoundTrip, market: &MarketData) -> Built {
    let symbol = market
        .instruments
        .iter()
        .find(|i| i.tradable)
        .ok_or_else(|| StrategyError::new("round_trip: no tradable symbol"))?
        .id;
    if p.sell_at <= p.buy_at {
        return Err(StrategyError::new("strategy.params.sell_at: after buy_at"));
    }
    Ok(Box::new(RoundTripStrategy { p: p.clone(), symbol }))
}

impl Strategy for RoundTripStrategy {
    fn name(&self) -> &str {
        "round_trip"
    }
    fn on_bars(&mut self, _bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        let q = Decimal::from(self.p.qty);
        if ctx.step() == self.p.buy_at {
            vec![OrderRequest::market(self.symbol, Side::Buy, q)]
        } else if ctx.step() == self.p.sell_at {
            vec![OrderRequest::market(
                self.symbol,
                Side::Sell,
                ctx.position(self.symbol).quantity,
            )]
        } else {
            Vec::new()
        }
    }
}

fn strategies() -> Strategies {
    Strategies::builtin().register("round_trip", round_trip)
}

/// Opens 100, 101, ..., closes 0.5 above; one symbol (AAA), no benchmark.
fn market(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir).expect("dir");
    let opens: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
    let closes: Vec<f64> = opens.iter().map(|o| o + 0.5).collect();
    common::write_series(dir, "AAA", &opens, &closes);
}

const CONFIG: &str = r#"
[data]
path = "{data}"
benchmark = ""
[broker]
fill_policy = "next_open"
commission_bps = 0
slippage_bps = 0
[portfolio]
initial_cash = 10000
[strategy]
name = "round_trip"
params = { qty = 7, buy_at = 3, sell_at = 9 }
[engine]
progress = false
[output]
dir = "{out}"
"#;

#[test]
fn a_registered_strategy_backtests_with_every_output_and_the_hand_computed_figures() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    market(&data, 20);
    let out = dir.path().join("out");
    let cfg = common::config(CONFIG, &data, &out);
    let run = kairos::run::backtest(&cfg, &strategies()).expect("backtest");
    // Decided at the close of step 3, filled at the open of step 4 (104); sold at the open of
    // step 10 (110): 7 x 6 = 42 gained.
    let fills = common::fills(&out);
    assert_eq!(fills.len(), 2, "{fills:?}");
    let d = common::dates(20);
    assert_eq!(fills[0][..5], [d[4].as_str(), "AAA", "BUY", "7", "104"]);
    assert_eq!(fills[1][..5], [d[10].as_str(), "AAA", "SELL", "7", "110"]);
    assert_eq!(run.summary.final_equity_exact, dec!(10042));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary.json")).expect("json");
    assert_eq!(summary["strategy"], "round_trip");
    let exact: Decimal = summary["final_equity_exact"]
        .as_str()
        .expect("exact")
        .parse()
        .expect("decimal");
    assert_eq!(exact, dec!(10042));
    assert!(out.join("report.html").exists(), "the report");
    assert!(!std::fs::read_dir(dir.path()).expect("dir").any(|e| e
        .expect("entry")
        .file_name()
        .to_string_lossy()
        .contains("kairos-run")));

    // `output.start`: the figures from step 2 on; the strategy trades after it.
    let mut late = cfg.clone();
    late.output.start = Some(d[2].clone());
    late.output.dir = dir.path().join("late");
    kairos::run::backtest(&late, &strategies()).expect("backtest from a start date");
    let equity = std::fs::read_to_string(late.output.dir.join("equity.csv")).expect("equity.csv");
    assert!(equity.lines().nth(1).expect("a row").starts_with(&d[2]), "{equity}");
    assert_eq!(equity.lines().count(), 1 + 18);
}

#[test]
fn a_misspelt_key_or_an_unknown_name_is_an_error_before_the_data_is_read() {
    let dir = tempfile::tempdir().expect("tmp");
    // No data at all: the strategy's errors come first.
    let missing = dir.path().join("no-such-data");
    let out = dir.path().join("out");
    let bad = CONFIG.replace("qty = 7", "qyt = 7");
    let e = kairos::run::backtest(&common::config(&bad, &missing, &out), &strategies())
        .expect_err("misspelt")
        .to_string();
    assert!(e.contains("strategy.params") && e.contains("qyt"), "{e}");
    let e = kairos::run::backtest(&common::config(CONFIG, &missing, &out), &Strategies::builtin())
        .expect_err("not registered there")
        .to_string();
    assert!(
        e.contains("unknown strategy \"round_trip\"") && e.contains("topk"),
        "{e}"
    );
    // The built-ins' shorthand does not know it either; the user's registry does.
    assert!(kairos::backtest::run(&common::config(CONFIG, &missing, &out)).is_err());
    let e = kairos::run::backtest(&common::config(CONFIG, &missing, &out), &strategies())
        .expect_err("no data")
        .to_string();
    assert!(
        e.contains("no-such-data"),
        "the data is read only after the strategy: {e}"
    );
}

#[test]
fn a_sweep_over_a_registered_strategys_parameters_has_the_hand_computed_cells() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    market(&data, 20);
    let out = dir.path().join("sweep");
    let cfg_path = dir.path().join("base.toml");
    let text = CONFIG
        .replace("{data}", &data.display().to_string())
        .replace("{out}", &out.display().to_string());
    std::fs::write(&cfg_path, &text).expect("write");
    let base: toml::Table = toml::from_str(&text).expect("toml");
    let grid = kairos::sweep::Grid::parse(
        "[grid]\n\"strategy.params.qty\" = [1, 5]\n\"strategy.params.sell_at\" = [5, 9]\n",
        Path::new("grid.toml"),
    )
    .expect("grid");
    let market = Arc::new(kairos::run::load_market(&common::config(CONFIG, &data, &out).data).expect("load"));
    // The grid over `base` (written at `cfg_path`), run with the user's registry into `out`.
    let sweep = |grid: &kairos::sweep::Grid, out: &Path| {
        let opts = kairos::sweep::SweepOptions {
            threads: 2,
            keep_outputs: false,
            progress: false,
        };
        let overrides = kairos::config::Overrides::default();
        kairos::sweep::run(
            &base,
            &cfg_path,
            grid,
            &overrides,
            &strategies(),
            market.clone(),
            out,
            &opts,
        )
    };
    let cells = sweep(&grid, &out).expect("sweep");
    // Bought at 104; sold at the open after sell_at: 106 (sell_at 5) or 110 (sell_at 9).
    let expect = [dec!(10002), dec!(10006), dec!(10010), dec!(10030)];
    let got: Vec<Decimal> = cells.iter().map(|c| c.summary.final_equity_exact).collect();
    assert_eq!(got, expect);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).expect("sweep.csv");
    assert!(csv.lines().nth(4).expect("cell 3").starts_with("3,5,9,10030,"), "{csv}");

    // A cell whose parameters the factory refuses fails the sweep with an error naming the cell.
    let grid = kairos::sweep::Grid::parse("[grid]\n\"strategy.params.sell_at\" = [9, 2]\n", Path::new("g.toml"))
        .expect("grid");
    let refused = sweep(&grid, &dir.path().join("refused"));
    let e = refused.expect_err("sell_at 2 is before buy_at 3").to_string();
    assert!(e.contains("sell_at") && e.contains("cell"), "{e}");
}

#[test]
fn an_audit_of_a_registered_strategy_finds_no_look_ahead() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    market(&data, 30);
    let cfg: Config = common::config(CONFIG, &data, &dir.path().join("out"));
    let market = Arc::new(kairos::run::load_market(&cfg.data).expect("load"));
    let cut = kairos::audit::cut_step(&market, None).expect("cut");
    let r = kairos::audit::audit(&cfg, &strategies(), market, cut, 3).expect("audit");
    assert_eq!(r.strategy, "round_trip");
    assert!(r.unchanged, "{:?}", r.first_difference);
    assert_eq!(
        r.decisions_compared, 2,
        "the buy and the sell, both before the cut ({})",
        r.cut_step
    );
}

/// A paper session of a registered strategy against the loopback Binance venue: its fills are at
/// the opens the venue served, and a backtest of its recording with the same registry decides
/// the same, byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_session_runs_a_registered_strategy_at_the_served_prices() {
    use kairos::data::synth::{self, Frequency, SynthSpec};
    use kairos::live::{Interval, VenueKind};
    use kairos::loopback::{MarketSpec, Server};
    const HISTORY: usize = 30;
    let dir = tempfile::tempdir().expect("tmp");
    let m = dir.path().join("m");
    let spec = SynthSpec {
        symbols: 2,
        days: 1,
        seed: 5,
        frequency: Frequency::Minutes(1),
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, &m).expect("synth");
    let opts = kairos::feeds::LoadOptions {
        time_zone: chrono_tz::America::New_York,
        benchmark: None,
        ..Default::default()
    };
    let data = Arc::new(kairos::feeds::load(&m, &opts).expect("load"));
    let server = Server::start(
        MarketSpec::new(
            VenueKind::Binance,
            data.clone(),
            Interval::parse("1m").expect("1m"),
            HISTORY,
        ),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("the loopback venue");
    let symbols: Vec<String> = data.instruments.iter().map(|i| format!("\"{}\"", i.symbol)).collect();
    let (journal, out) = (dir.path().join("j.sqlite"), dir.path().join("paper"));
    let text = format!(
        r#"
[data]
benchmark = ""
time_zone = "America/New_York"
[broker]
commission_bps = 0
[portfolio]
initial_cash = 100000
[strategy]
name = "round_trip"
params = {{ qty = 3, buy_at = {buy}, sell_at = {sell} }}
[output]
dir = "{out}"
[live]
venue = "binance"
symbols = [{symbols}]
interval = "1m"
ws_url = "{ws}"
rest_url = "{rest}"
warmup_bars = {HISTORY}
grace_ms = 3000
journal = "{journal}"
"#,
        buy = HISTORY + 5,
        sell = HISTORY + 12,
        out = out.display(),
        symbols = symbols.join(","),
        ws = server.ws_url(),
        rest = server.rest_url(),
        journal = journal.display()
    );
    let cfg = Config::parse(&text, Path::new("paper.toml")).expect("config");
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let live = 20;
    let session = kairos::live::paper::PaperOptions {
        max_bars: Some(live),
        ..Default::default()
    };
    let res = tokio::time::timeout(
        Duration::from_secs(60),
        kairos::live::paper::run(&cfg, &strategies(), session, shutdown),
    )
    .await;
    server.stop().await;
    let res = res.expect("the session ended within 60 s").expect("the session");
    assert_eq!(res.counters.live_timestamps, live);
    // The first instrument (in the session's order) at the served opens of the steps after
    // the decisions.
    let first = &data.instruments[0];
    let served_open = |step: usize| {
        let k = data.series[first.id.index()]
            .step
            .iter()
            .position(|&s| s as usize == step)
            .expect("a bar at that step");
        data.bar(first.id.index(), k, 0, 0, 0).open
    };
    let fills = common::fills(&out);
    assert_eq!(fills.len(), 2, "{fills:?}");
    for (row, (side, step)) in fills.iter().zip([("BUY", HISTORY + 6), ("SELL", HISTORY + 13)]) {
        assert_eq!(row[1], first.symbol);
        assert_eq!(row[2], side);
        assert_eq!(row[3], "3");
        assert_eq!(
            row[4].parse::<Decimal>().expect("price"),
            served_open(step),
            "{side} at the served open"
        );
    }
    // The recording, backtested with the same registry: the same decisions.
    let (cfg, journal, dir2) = (cfg.clone(), journal.clone(), dir.path().to_path_buf());
    std::thread::spawn(move || {
        let rec = dir2.join("recording.csv");
        let mut j = kairos::live::journal::Journal::open(&journal, false).expect("journal");
        assert!(j.export(&rec).expect("export") > 0);
        let mut bt = cfg.clone();
        bt.data.path = rec;
        bt.output.dir = dir2.join("backtest");
        bt.engine.progress = false;
        kairos::run::backtest(&bt, &strategies()).expect("backtest of the recording");
        for f in ["fills.csv", "events.jsonl"] {
            let a = std::fs::read_to_string(cfg.output.dir.join(f)).expect("session output");
            let b = std::fs::read_to_string(bt.output.dir.join(f)).expect("backtest output");
            assert_eq!(a, b, "{f}");
        }
    })
    .join()
    .expect("the recording backtests the same");
}

/// With the feature library on, what a strategy reads by instrument and key (`ctx.feature`, in
/// O(1)) is the frame's own row for that instrument, found here by a search, at every bar of
/// every timestamp; a symbol without a bar has none.
#[test]
fn a_strategy_reads_a_named_feature_by_instrument() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Reader {
        key: Option<kairos::events::FeatureKey>,
        checked: Arc<AtomicUsize>,
        mismatches: Arc<AtomicUsize>,
    }
    impl Strategy for Reader {
        fn name(&self) -> &str {
            "reader"
        }
        fn on_start(&mut self, ctx: &StrategyContext<'_>) {
            self.key = ctx.feature_key("rsi14");
            assert!(ctx.feature_key("no_such_feature").is_none());
        }
        fn on_bars(&mut self, _bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
            let (Some(frame), Some(key)) = (ctx.features(), self.key) else {
                self.mismatches.fetch_add(1, Ordering::Relaxed);
                return Vec::new();
            };
            for inst in ctx.instruments() {
                let searched = frame
                    .instruments()
                    .iter()
                    .position(|i| *i == inst.id)
                    .and_then(|k| frame.values()[k][key.0]);
                if ctx.feature(inst.id, key) != searched {
                    self.mismatches.fetch_add(1, Ordering::Relaxed);
                }
                if searched.is_some() {
                    self.checked.fetch_add(1, Ordering::Relaxed);
                }
            }
            Vec::new()
        }
    }
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    kairos::data::synth::write_csv_dir(
        &kairos::data::synth::SynthSpec {
            symbols: 4,
            days: 60,
            ..Default::default()
        },
        &data,
    )
    .expect("synth");
    // One symbol misses its last ten bars: it has no row there.
    let p = data.join("SYN001.csv");
    let text = std::fs::read_to_string(&p).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&p, lines[..lines.len() - 10].join("\n") + "\n").expect("write");
    let (checked, mismatches) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, m) = (checked.clone(), mismatches.clone());
    let strategies = Strategies::empty().register("reader", move |_: &toml::Table, _| {
        Ok(Box::new(Reader {
            key: None,
            checked: c.clone(),
            mismatches: m.clone(),
        }))
    });
    let text = CONFIG.replace(
        "name = \"round_trip\"\nparams = { qty = 7, buy_at = 3, sell_at = 9 }",
        "name = \"reader\"",
    ) + "[features]\nenabled = true\n";
    let mut cfg = common::config(&text, &data, &dir.path().join("out"));
    cfg.data.benchmark = "SPY".into();
    kairos::run::backtest(&cfg, &strategies).expect("backtest");
    assert_eq!(mismatches.load(Ordering::Relaxed), 0);
    // rsi14 exists from the 15th bar on: 5 symbols (SPY too) x 46 steps, less SYN001's 10.
    assert_eq!(checked.load(Ordering::Relaxed), 5 * 46 - 10);
}
