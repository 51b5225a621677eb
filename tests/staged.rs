//! The `staged` strategy and the reference configurations built from it: they run on the
//! synthetic market, trade, pass the no-look-ahead audit, and their risk stages act (volatility
//! targeting lowers exposure, the regime gate cuts it in a falling market).

mod common;
use kairos::data::synth::{self, SynthSpec};
use std::path::Path;
use std::sync::Arc;

fn market(dir: &Path, days: usize) -> Arc<kairos::data::MarketData> {
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 15,
            days,
            ..SynthSpec::default()
        },
        dir,
    )
    .expect("synth");
    Arc::new(kairos::feeds::load(dir, &Default::default()).expect("load"))
}

/// A repository config with `data.path` and `output.dir` replaced.
fn repo_config(name: &str, data: &Path, out: &Path) -> kairos::config::Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(name);
    kairos::config::Config::from_file_with(
        &path,
        kairos::config::Overrides {
            data: Some(data.to_path_buf()),
            out: Some(out.to_path_buf()),
            ..Default::default()
        },
    )
    .expect("config")
}

/// Mean gross exposure over equity, from `equity.csv`.
fn mean_gross(out: &Path) -> f64 {
    let text = std::fs::read_to_string(out.join("equity.csv")).expect("equity");
    let rows: Vec<(f64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[2].parse().expect("equity"), f[3].parse().expect("gross"))
        })
        .collect();
    rows.iter().map(|(e, g)| g / e).sum::<f64>() / rows.len() as f64
}

#[test]
fn the_risk_engine_configs_trade_and_pass_the_audit() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 500);
    for name in ["seed_trend_vol.toml", "seed_risk_parity.toml"] {
        let out = dir.path().join(name);
        let cfg = repo_config(name, &d, &out);
        let run = kairos::backtest::run_on(&cfg, data.clone()).expect("run");
        assert!(run.summary.trades > 20, "{name}: {} fills", run.summary.trades);
        let gross = mean_gross(&out);
        assert!(
            gross > 0.05 && gross <= 1.0 + 1e-9,
            "{name}: mean gross exposure {gross}"
        );
        let cut = kairos::audit::cut_step(&data, None).expect("cut");
        let r =
            kairos::audit::audit(&cfg, &kairos::strategy::Strategies::builtin(), data.clone(), cut, 5).expect("audit");
        assert!(
            r.unchanged && r.decisions_compared > 10,
            "{name}: {:?}",
            r.first_difference
        );
    }
}

#[test]
fn vol_targeting_and_the_regime_gate_change_exposure() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 400);
    let run = |label: &str, edit: &dyn Fn(&mut toml::Table)| {
        let out = dir.path().join(label);
        let mut cfg = repo_config("seed_risk_parity.toml", &d, &out);
        edit(&mut cfg.strategy.params);
        kairos::backtest::run_on(&cfg, data.clone()).expect("run");
        mean_gross(&out)
    };
    let off = |t: &mut toml::Table| {
        t.insert("vol_target".into(), 0.0.into());
        t.insert("regime".into(), "none".into());
    };
    let base = run("off", &off);
    let low = run("low", &|t| {
        off(t);
        t.insert("vol_target".into(), 0.02.into());
    });
    assert!(base > 0.9, "all names at full weight: {base}");
    assert!(
        low < base * 0.5,
        "a 2 % target on a market of about 20 % volatility: {low} vs {base}"
    );
    // A gate that never opens (the regime series' average over more bars than exist) holds
    // bear_exposure of the book.
    let gated = run("gated", &|t| {
        off(t);
        t.insert("regime".into(), "trend".into());
        t.insert("regime_sma".into(), 10_000.into());
        t.insert("bear_exposure".into(), 0.3.into());
    });
    assert!((gated - 0.3 * base).abs() < 0.05, "gated {gated} vs 0.3 x {base}");
}

#[test]
fn staged_parameters_are_checked_by_name() {
    let bad = |params: &str| {
        let t: toml::Table = toml::from_str(params).expect("toml");
        kairos::strategies::build("staged", &t)
            .err()
            .expect("refused")
            .to_string()
    };
    assert!(bad("k = 0").contains("strategy.params.k"));
    assert!(bad("regime = \"trend\"").contains("strategy.params.regime_symbol"));
    assert!(bad("bear_exposure = 2.0").contains("bear_exposure"));
    assert!(bad("selection = \"best\"").contains("unknown variant"));
}

/// Scores for every symbol and date, deterministic, some above and some below the thresholds.
fn scores_file(data: &kairos::data::MarketData, path: &Path) {
    use chrono::TimeZone;
    let tz = data.instruments[0].time_zone;
    let mut rows = String::from("date,symbol,score\n");
    for (k, &t) in data.timestamps.iter().enumerate() {
        let date = tz.timestamp_nanos(t).date_naive();
        for ins in data.instruments.iter().filter(|i| i.tradable) {
            let x = common::unit(k as u64 / 3, &ins.symbol) - 0.4;
            rows.push_str(&format!("{date},{},{x}\n", ins.symbol));
        }
    }
    std::fs::write(path, rows).expect("scores");
}

#[test]
fn entries_mode_holds_at_most_n_reviews_on_schedule_and_sizes_as_asked() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 300);
    let scores = dir.path().join("scores.csv");
    scores_file(&data, &scores);
    let text = format!(
        r#"
[data]
path = "{{data}}"
[engine]
progress = false
[portfolio]
initial_cash = 1000000
[model]
scores = "{}"
[strategy]
name = "staged"
[strategy.params]
signal = "model"
mode = "entries"
threshold = 0.2
max_positions = 5
position_size = 0.2
review_every = 7
exit_below = 0.0
rebalance_every = 1
[output]
dir = "{{out}}"
"#,
        scores.display()
    );
    let out = dir.path().join("entries");
    let cfg = common::config(&text, &d, &out);
    let run = kairos::backtest::run_on(&cfg, data.clone()).expect("run");
    assert!(run.summary.trades > 20, "{}", run.summary.trades);
    // At most five names at any time; each sale of a position comes on a review day of its entry.
    let events = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    let mut entered: std::collections::HashMap<u64, u64> = Default::default();
    let mut held: std::collections::HashSet<u64> = Default::default();
    let mut sales = 0;
    for l in events.lines() {
        let v: serde_json::Value = serde_json::from_str(l).expect("json");
        let e = &v["event"];
        if e["event"] != "submitted" {
            continue;
        }
        let step = v["step"].as_u64().expect("step");
        let id = e["request"]["instrument_id"].as_u64().expect("id");
        if e["request"]["side"] == "BUY" {
            entered.insert(id, step);
            held.insert(id);
            assert!(held.len() <= 5, "more than five names at step {step}");
        } else {
            let since = step - entered[&id];
            assert!(
                since > 0 && since % 7 == 0,
                "a sale {since} bars after entry, not on a review day"
            );
            held.remove(&id);
            sales += 1;
        }
    }
    assert!(sales > 5, "reviews sold {sales} positions");
    // Each entry is about a fifth of equity at its close (whole shares).
    let fills = common::fills(&out);
    let first_buy = fills.iter().find(|f| f[2] == "BUY").expect("a buy");
    let notional: f64 = first_buy[3].parse::<f64>().expect("q") * first_buy[4].parse::<f64>().expect("p");
    assert!((notional / 1_000_000.0 - 0.2).abs() < 0.03, "{notional}");
    let cut = kairos::audit::cut_step(&data, None).expect("cut");
    let r = kairos::audit::audit(&cfg, &kairos::strategy::Strategies::builtin(), data.clone(), cut, 9).expect("audit");
    assert!(r.unchanged, "{:?}", r.first_difference);
    // Valued at the open the entry executes at: the first buy is 20 % of the cash at that open.
    let at_open = text.replace("rebalance_every = 1", "rebalance_every = 1\nvalue_at = \"open\"");
    let out = dir.path().join("open");
    kairos::backtest::run_on(&common::config(&at_open, &d, &out), data.clone()).expect("run");
    let events = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    assert!(
        events.contains("\"equity_fraction\":\"0.2\""),
        "entries are equity-fraction orders"
    );
    let first = common::fills(&out).into_iter().find(|f| f[2] == "BUY").expect("a buy");
    let (q, p): (f64, f64) = (first[3].parse().expect("q"), first[4].parse().expect("p"));
    assert!(
        q * p <= 200_000.0 && q * p > 200_000.0 - p,
        "{q} x {p}: 20 % of 1,000,000 in whole shares at the open"
    );
    // Fixed shares: every entry is 400 shares.
    let fixed = text.replace("position_size = 0.2", "fixed_shares = 400");
    let out = dir.path().join("fixed");
    kairos::backtest::run_on(&common::config(&fixed, &d, &out), data).expect("run");
    let buys: Vec<Vec<String>> = common::fills(&out).into_iter().filter(|f| f[2] == "BUY").collect();
    assert!(!buys.is_empty() && buys.iter().all(|f| f[3] == "400"), "{buys:?}");
}

#[test]
fn every_reference_configuration_parses_and_builds() {
    for name in [
        "seed_trend_vol.toml",
        "seed_risk_parity.toml",
        "seed_topn_lstm.toml",
        "seed_alpha_top5.toml",
        "seed_regime_lstm.toml",
        "seed_threshold_longshort.toml",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config").join(name);
        let cfg =
            kairos::config::Config::from_file_with(&path, Default::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        kairos::strategies::build(&cfg.strategy.name, &cfg.strategy.params).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// Sells 1,000 shares of the first stock short at the first close and holds them.
struct ShortOnce;

impl kairos::strategy::Strategy for ShortOnce {
    fn name(&self) -> &str {
        "short_once"
    }
    fn on_bars(
        &mut self,
        bars: &[kairos::types::Bar],
        ctx: &kairos::strategy::StrategyContext<'_>,
    ) -> Vec<kairos::types::OrderRequest> {
        let b = bars
            .iter()
            .find(|b| ctx.instruments()[b.instrument_id.index()].tradable);
        match b {
            Some(b) if ctx.step() == 0 => vec![kairos::types::OrderRequest::market(
                b.instrument_id,
                kairos::types::Side::Sell,
                kairos::types::Decimal::from(1000),
            )],
            _ => Vec::new(),
        }
    }
}

#[test]
fn borrow_fees_accrue_on_short_value_by_calendar_time() {
    use kairos::types::Decimal;
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 60);
    let text = "[data]\npath = \"{data}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n[broker]\nborrow_rate = 0.05\n[strategy]\nname = \"sma_cross\"\n[output]\ndir = \"{out}\"\n";
    let out = dir.path().join("short");
    let cfg = common::config(text, &d, &out);
    let run = kairos::backtest::run_with(&cfg, data.clone(), Box::new(ShortOnce)).expect("run");
    // The short is 1,000 shares of the first stock from the open of step 1: the fee of each
    // interval is its value at the previous close x 5 % x elapsed / 365 days.
    let i = data.instruments.iter().position(|x| x.tradable).expect("a stock");
    let s = &data.series[i];
    let year = Decimal::from(365i64 * 86_400 * 1_000_000_000);
    let mut want = Decimal::ZERO;
    for k in 2..s.len() {
        let prev = data.bar(i, k - 1, 0, 0, 0).close;
        let dt = data.timestamps[s.step[k] as usize] - data.timestamps[s.step[k - 1] as usize];
        want += Decimal::from(1000) * prev * Decimal::new(5, 2) * Decimal::from(dt) / year;
    }
    assert!(want > Decimal::ZERO);
    assert_eq!(run.summary.borrow_costs, want);
    // The fee came out of cash: final equity = start + P&L - commissions - fees.
    let pnl = run.summary.realized_pnl + run.summary.unrealized_pnl;
    let diff = run.summary.final_equity_exact
        - (Decimal::from(1_000_000) + pnl - run.summary.commissions - run.summary.borrow_costs);
    assert!(diff.abs() < Decimal::new(1, 6), "{diff}");
}

#[test]
fn long_short_mode_follows_the_score_both_ways() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 250);
    let scores = dir.path().join("scores.csv");
    scores_file(&data, &scores);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/seed_threshold_longshort.toml");
    let mut text = std::fs::read_to_string(path).expect("config");
    text = text.replace(
        "artifact = \"models/lstm\"",
        &format!("scores = \"{}\"", scores.display()),
    );
    text = text
        .replace("threshold = 0.002", "threshold = 0.3")
        .replace("short_threshold = -0.002", "short_threshold = -0.2");
    let out = dir.path().join("ls");
    let cfg = kairos::config::Config::parse(&text, Path::new("ls.toml")).expect("config");
    let mut cfg = cfg;
    cfg.data.path = d.clone();
    cfg.output.dir = out.clone();
    cfg.engine.progress = false;
    let run = kairos::backtest::run_on(&cfg, data.clone()).expect("run");
    assert!(run.summary.trades > 50, "{}", run.summary.trades);
    assert!(
        run.summary.borrow_costs > kairos::types::Decimal::ZERO,
        "no short was held"
    );
    // Positions go both ways.
    let mut pos: std::collections::HashMap<String, f64> = Default::default();
    let (mut longs, mut shorts) = (0, 0);
    for f in common::fills(&out) {
        let q: f64 = f[3].parse().expect("q");
        let p = pos.entry(f[1].clone()).or_default();
        *p += if f[2] == "BUY" { q } else { -q };
        if *p > 0.0 {
            longs += 1;
        } else if *p < 0.0 {
            shorts += 1;
        }
    }
    assert!(longs > 10 && shorts > 10, "{longs} long and {shorts} short fills");
    let cut = kairos::audit::cut_step(&data, None).expect("cut");
    let r = kairos::audit::audit(&cfg, &kairos::strategy::Strategies::builtin(), data, cut, 4).expect("audit");
    assert!(r.unchanged, "{:?}", r.first_difference);
}

/// Every reference configuration on the synthetic market, model-driven ones on scores from a
/// file in place of their model (seed 002's regime read from SPY instead of the SSE index):
/// each trades and passes the audit.
#[test]
fn every_reference_configuration_runs_on_the_synthetic_market_and_passes_the_audit() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 400);
    let scores = dir.path().join("scores.csv");
    scores_file(&data, &scores);
    for name in [
        "seed_trend_vol.toml",
        "seed_risk_parity.toml",
        "seed_topn_lstm.toml",
        "seed_alpha_top5.toml",
        "seed_regime_lstm.toml",
        "seed_threshold_longshort.toml",
    ] {
        let out = dir.path().join(name);
        let mut cfg = repo_config(name, &d, &out);
        cfg.data.universe = None;
        cfg.data.benchmark = "SPY".into();
        if cfg.model.artifact.take().is_some() {
            cfg.model.scores = Some(scores.clone());
        }
        if cfg.strategy.params.contains_key("regime_symbol") {
            cfg.strategy.params.insert("regime_symbol".into(), "SPY".into());
        }
        // Thresholds on the file's scale (uniform in [-0.4, 0.6)).
        for (k, v) in [("threshold", 0.3), ("short_threshold", -0.2)] {
            if cfg.strategy.params.contains_key(k) {
                cfg.strategy.params.insert(k.into(), v.into());
            }
        }
        let data = Arc::new(kairos::backtest::load_data(&cfg).expect("load"));
        let run = kairos::backtest::run_on(&cfg, data.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(run.summary.trades > 10, "{name}: {} fills", run.summary.trades);
        let cut = kairos::audit::cut_step(&data, None).expect("cut");
        let r = kairos::audit::audit(&cfg, &kairos::strategy::Strategies::builtin(), data, cut, 6).expect("audit");
        assert!(
            r.unchanged && r.decisions_compared > 5,
            "{name}: {:?}",
            r.first_difference
        );
    }
}

#[test]
fn the_six_regime_gate_reads_its_thresholds_from_the_parameters() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 300);
    let run = |label: &str, bear: f64| {
        let out = dir.path().join(label);
        let mut cfg = repo_config("seed_risk_parity.toml", &d, &out);
        let t = &mut cfg.strategy.params;
        t.insert("vol_target".into(), 0.0.into());
        t.insert("regime".into(), "six".into());
        t.insert("regime_lookback".into(), 20.into());
        t.insert("bear_return".into(), bear.into());
        t.insert("bull_return".into(), 10.0.into());
        t.insert("bear_exposure".into(), 0.0.into());
        kairos::backtest::run_on(&cfg, data.clone()).expect("run");
        mean_gross(&out)
    };
    // Every 20-bar return is below +900 %: always a bear regime, never invested; below -99 %:
    // never a bear regime, invested once the regime is known.
    let always_bear = run("bear", 9.0);
    let never_bear = run("never", -0.99);
    assert!(always_bear < 1e-9, "{always_bear}");
    assert!(never_bear > 0.8, "{never_bear}");
}

#[test]
fn stops_and_the_trailing_stop_exit_at_the_close_they_are_reached() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d, 300);
    let run = |label: &str, params: &[(&str, f64)]| {
        let out = dir.path().join(label);
        let mut cfg = repo_config("seed_risk_parity.toml", &d, &out);
        let t = &mut cfg.strategy.params;
        t.insert("vol_target".into(), 0.0.into());
        t.insert("regime".into(), "none".into());
        t.insert("rebalance_every".into(), 20.into());
        for (k, v) in params {
            t.insert((*k).into(), (*v).into());
        }
        kairos::backtest::run_on(&cfg, data.clone()).expect("run");
        common::fills(&out)
    };
    let base = run("base", &[]);
    let trailing = run("trailing", &[("trailing_stop", 0.03)]);
    let stops = run("stops", &[("stop_loss", 0.02), ("take_profit", 0.02)]);
    let sells = |f: &[Vec<String>]| f.iter().filter(|r| r[2] == "SELL").count();
    // Exits between rebalances: more sales than rebalancing alone makes.
    assert!(
        sells(&trailing) > sells(&base) + 10,
        "{} vs {}",
        sells(&trailing),
        sells(&base)
    );
    assert!(
        sells(&stops) > sells(&base) + 10,
        "{} vs {}",
        sells(&stops),
        sells(&base)
    );
}
