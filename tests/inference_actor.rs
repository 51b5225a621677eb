//! The model-inference actor in a backtest: it scores every symbol with a full window, the
//! scores it writes to signals.csv are the offline scores of the same windows, a `topk`
//! strategy trades on them, TorchScript models run the same way, and runs are deterministic.
#![cfg(feature = "torch")]

use kairos::data::synth::{self, SynthSpec};
use kairos::feature::library::FEATURE_NAMES;
use kairos::model::infer::{score_windows, ModelSource};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

fn backtest(data: &Path, out: &Path, model: &str, threads: usize) -> kairos::portfolio::RunOutput {
    let text = format!(
        r#"
[data]
path = "{}"
[engine]
worker_threads = {threads}
progress = false
[portfolio]
initial_cash = 1000000
[broker]
commission_bps = 1
cash_check = "allow_negative"
[strategy]
name = "topk"
[strategy.params]
k = 3
band = 5
lookback = 20
rebalance_every = 5
signal = "model"
[model]
{model}
[output]
dir = "{}"
"#,
        data.display(),
        out.display()
    );
    let cfg = kairos::config::Config::parse(&text, Path::new("t.toml")).expect("config");
    kairos::backtest::run(&cfg).expect("run")
}

fn signals(out: &Path) -> HashMap<(String, String), f64> {
    let text = std::fs::read_to_string(out.join("signals.csv")).expect("signals.csv");
    assert!(text.starts_with("date,symbol,score\n"));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            ((f[0].to_string(), f[1].to_string()), f[2].parse().expect("score"))
        })
        .collect()
}

/// The scaled window of `symbol` ending at its bar `k`, as the model sees it.
fn window(
    data: &Arc<kairos::data::MarketData>,
    features: &[String],
    w: usize,
    scaler: &kairos::model::scaler::RobustScaler,
    i: usize,
    k: usize,
) -> Vec<f32> {
    let bench = data.instrument_by_symbol("SPY").map(|x| x.id);
    let rows = kairos::feature::stream_market(data, bench);
    let cols: Vec<usize> = features
        .iter()
        .map(|f| FEATURE_NAMES.iter().position(|n| n == f).expect("feature"))
        .collect();
    let mut x = Vec::new();
    for r in &rows[i][k + 1 - w..=k] {
        for (j, &c) in cols.iter().enumerate() {
            x.push(scaler.scale(j, r[c].expect("complete window")));
        }
    }
    x
}

/// Checks, at every decision that opens a new position, that each name entered is among the
/// top `k` by the scores of `signals.csv` at that date (ties by symbol order), and that the first
/// such decision, with nothing held, buys exactly the top `k`. Returns the decisions checked.
fn entries_are_top_k(
    out: &Path,
    data: &kairos::data::MarketData,
    sig: &HashMap<(String, String), f64>,
    k: usize,
) -> usize {
    let fills = std::fs::read_to_string(out.join("fills.csv")).expect("fills.csv");
    let fills: Vec<Vec<String>> = fills
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let mut buys: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for line in std::fs::read_to_string(out.join("events.jsonl"))
        .expect("events")
        .lines()
    {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        if v["event"]["event"] == "submitted" && v["event"]["request"]["side"] == "BUY" {
            let id = v["event"]["request"]["instrument_id"].as_u64().expect("instrument id") as usize;
            let date = v["date"].as_str().expect("date").to_string();
            buys.entry(date).or_default().push(data.instruments[id].symbol.clone());
        }
    }
    let mut checked = 0;
    for (date, bought) in &buys {
        // Positions held at the decision: every fill up to and including this date (fills at
        // its open come before the decision at its close).
        let mut held: HashMap<&str, f64> = HashMap::new();
        for f in fills.iter().filter(|f| f[0] <= *date) {
            let q: f64 = f[3].parse().expect("qty");
            *held.entry(f[1].as_str()).or_default() += if f[2] == "BUY" { q } else { -q };
        }
        let entered: Vec<&String> = bought
            .iter()
            .filter(|s| held.get(s.as_str()).copied().unwrap_or(0.0) == 0.0)
            .collect();
        if entered.is_empty() {
            continue;
        }
        let mut ranked: Vec<(f64, usize, &str)> = data
            .instruments
            .iter()
            .filter_map(|i| {
                sig.get(&(date.clone(), i.symbol.clone()))
                    .map(|&s| (s, i.id.index(), i.symbol.as_str()))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let top: Vec<&str> = ranked.iter().take(k).map(|r| r.2).collect();
        for s in &entered {
            assert!(
                top.contains(&s.as_str()),
                "{date}: entered {s}, not in the top {k} {top:?}"
            );
        }
        if checked == 0 {
            let mut got: Vec<&str> = entered.iter().map(|s| s.as_str()).collect();
            got.sort_unstable();
            let mut want = top.clone();
            want.sort_unstable();
            assert_eq!(got, want, "{date}: the first rebalance buys exactly the top {k}");
        }
        checked += 1;
    }
    checked
}

#[test]
fn native_artifact_scores_match_offline_and_drive_the_strategy() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 10,
            days: 400,
            kappa: 0.004,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(&d, &Default::default()).expect("load"));
    let art = dir.path().join("art");
    let job = format!(
        "[data]\npath = \"{}\"\n[model]\nwindow = 10\nhidden = 8\nlayers = 1\n[train]\nepochs = 2\nprogress = false\n[split]\nval_start = \"2016-01-01\"\ntest_start = \"2016-03-01\"\n[output]\ndir = \"{}\"\n",
        d.display(),
        art.display()
    );
    let cfg: kairos::research::job::TrainConfig = toml::from_str(&job).expect("job");
    kairos::research::job::run(&cfg, &data).expect("train");
    let model = format!("artifact = \"{}\"", art.display());
    let out = dir.path().join("out");
    let run = backtest(&d, &out, &model, 2);
    assert!(
        run.summary.trades > 10,
        "the strategy trades on the scores: {}",
        run.summary.trades
    );
    let sig = signals(&out);
    let checked = entries_are_top_k(&out, &data, &sig, 3);
    assert!(checked >= 10, "rebalances with new entries checked: {checked}");
    // 10 stocks (SPY is not scored) from the first bar with 10 complete rows of every input.
    assert!(sig.len() > 10 * 300, "{}", sig.len());
    let meta = kairos::model::artifact::load_meta(&art).expect("meta");
    let dates: Vec<String> = std::fs::read_to_string(d.join("SPY.csv"))
        .expect("spy")
        .lines()
        .skip(1)
        .map(|l| l[..10].to_string())
        .collect();
    for (i, k) in [(1usize, 399usize), (4, 250), (10, 120)] {
        let x = window(&data, &meta.features, meta.window, &meta.scaler, i, k);
        let offline = score_windows(&ModelSource::Artifact(art.clone()), &x, 1, "cpu").expect("score")[0];
        let online = sig[&(dates[k].clone(), data.instruments[i].symbol.clone())];
        assert!(
            (offline - online).abs() < 1e-6,
            "{i} {k}: actor {online} offline {offline}"
        );
    }
    // Deterministic whatever the lanes: one for every actor, or four (the model on its own).
    for threads in [1, 4] {
        let other = dir.path().join(format!("out{threads}"));
        backtest(&d, &other, &model, threads);
        for f in ["signals.csv", "fills.csv", "equity.csv"] {
            assert!(
                std::fs::read(out.join(f)).expect("a") == std::fs::read(other.join(f)).expect("b"),
                "{f} differs on {threads} lanes"
            );
        }
    }
}

#[test]
fn a_torchscript_model_runs_in_the_pipeline() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 4,
            days: 120,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let data = Arc::new(kairos::feeds::load(&d, &Default::default()).expect("load"));
    let fx = Path::new("tests/fixtures");
    let model = format!(
        "torchscript = \"{}\"\nscaler = \"{}\"",
        fx.join("lstm_traced.pt").display(),
        fx.join("lstm_traced.scaler.json").display()
    );
    let out = dir.path().join("out");
    backtest(&d, &out, &model, 2);
    let sig = signals(&out);
    let sf = kairos::model::infer::read_scaler(&fx.join("lstm_traced.scaler.json")).expect("scaler");
    let scaler = kairos::model::scaler::RobustScaler {
        median: sf.median.clone(),
        iqr: sf.iqr.clone(),
    };
    let x = window(&data, &sf.features, sf.window, &scaler, 1, 100);
    let src = ModelSource::TorchScript {
        model: fx.join("lstm_traced.pt"),
        scaler: fx.join("lstm_traced.scaler.json"),
    };
    let offline = score_windows(&src, &x, 1, "cpu").expect("score")[0];
    let date = std::fs::read_to_string(d.join("SPY.csv"))
        .expect("spy")
        .lines()
        .nth(101)
        .expect("row")[..10]
        .to_string();
    let online = sig[&(date, data.instruments[1].symbol.clone())];
    assert!((offline - online).abs() < 1e-6, "actor {online} offline {offline}");

    // The same model with a scaler that is not the identity: the actor must scale each input by
    // its own median and IQR, in the model's feature order.
    let scaler_file = dir.path().join("scaler.json");
    let scaled = serde_json::json!({
        "features": sf.features,
        "window": sf.window,
        "median": [0.001, -0.002, 0.5, 1.0],
        "iqr": [0.02, 0.05, 0.2, 0.7],
    });
    std::fs::write(&scaler_file, scaled.to_string()).expect("scaler");
    let model = format!(
        "torchscript = \"{}\"\nscaler = \"{}\"",
        fx.join("lstm_traced.pt").display(),
        scaler_file.display()
    );
    let out2 = dir.path().join("out2");
    backtest(&d, &out2, &model, 2);
    let sig2 = signals(&out2);
    let scaler2 = kairos::model::scaler::RobustScaler {
        median: vec![0.001, -0.002, 0.5, 1.0],
        iqr: vec![0.02, 0.05, 0.2, 0.7],
    };
    for (i, k) in [(1usize, 100usize), (3, 60), (2, 119)] {
        let x2 = window(&data, &sf.features, sf.window, &scaler2, i, k);
        let src2 = ModelSource::TorchScript {
            model: fx.join("lstm_traced.pt"),
            scaler: scaler_file.clone(),
        };
        let offline2 = score_windows(&src2, &x2, 1, "cpu").expect("score")[0];
        let date = std::fs::read_to_string(d.join("SPY.csv"))
            .expect("spy")
            .lines()
            .nth(k + 1)
            .expect("row")[..10]
            .to_string();
        let online2 = sig2[&(date, data.instruments[i].symbol.clone())];
        assert!(
            (offline2 - online2).abs() < 1e-6,
            "{i} {k}: actor {online2} offline {offline2}"
        );
        // The scaler matters: the identity scaler's score differs.
        let x1 = window(&data, &sf.features, sf.window, &scaler, i, k);
        let identity = score_windows(&src, &x1, 1, "cpu").expect("score")[0];
        assert!((identity - online2).abs() > 1e-6, "{i} {k}: the scaler had no effect");
    }
}
