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
    let cfg: kairos::model::job::TrainConfig = toml::from_str(&job).expect("job");
    kairos::model::job::run(&cfg, &data).expect("train");
    let model = format!("artifact = \"{}\"", art.display());
    let out = dir.path().join("out");
    let run = backtest(&d, &out, &model, 2);
    assert!(
        run.summary.trades > 10,
        "the strategy trades on the scores: {}",
        run.summary.trades
    );
    let sig = signals(&out);
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
    // Deterministic whatever the worker threads.
    let out1 = dir.path().join("out1");
    backtest(&d, &out1, &model, 1);
    for f in ["signals.csv", "fills.csv", "equity.csv"] {
        assert!(
            std::fs::read(out.join(f)).expect("a") == std::fs::read(out1.join(f)).expect("b"),
            "{f} differs"
        );
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
}
