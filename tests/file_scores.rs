//! Scores from a file (`[model] scores`): point in time (a score dated d reaches the strategy at
//! d's close and only then), ranked by `topk` like a model's, in `oos_predictions.csv`'s layout
//! too, with bad rows named.

mod common;
use kairos::data::synth::{self, SynthSpec};
use kairos::strategy::{Strategy, StrategyContext};
use kairos::types::{Bar, OrderRequest};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn market(dir: &Path) -> Arc<kairos::data::MarketData> {
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 10,
            days: 200,
            ..SynthSpec::default()
        },
        dir,
    )
    .expect("synth");
    Arc::new(kairos::feeds::load(dir, &Default::default()).expect("load"))
}

fn dates(data: &kairos::data::MarketData) -> Vec<String> {
    use chrono::TimeZone;
    let tz = data.instruments[0].time_zone;
    data.timestamps
        .iter()
        .map(|&t| tz.timestamp_nanos(t).date_naive().to_string())
        .collect()
}

fn config(d: &Path, out: &Path, scores: &Path, strategy: &str) -> kairos::config::Config {
    let text = format!(
        "[data]\npath = \"{{data}}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n[model]\nscores = \"{}\"\n[strategy]\nname = \"{strategy}\"\n[strategy.params]\nsignal = \"model\"\n[output]\ndir = \"{{out}}\"\n",
        scores.display()
    );
    common::config(&text, d, out)
}

/// Records the scores it is handed at each step.
type Seen = Arc<Mutex<Vec<(u64, Vec<(u32, f64)>)>>>;

struct Recorder(Seen);

impl Strategy for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn on_bars(&mut self, _bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        if let Some(s) = ctx.scores() {
            if !s.is_empty() {
                let v = s.all().iter().map(|(id, x)| (id.0, *x)).collect();
                self.0.lock().expect("lock").push((ctx.step(), v));
            }
        }
        Vec::new()
    }
}

#[test]
fn a_score_dated_d_reaches_the_strategy_at_ds_close_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d);
    let ds = dates(&data);
    let s = |i: usize| data.instruments[i].symbol.clone();
    let file = dir.path().join("scores.csv");
    std::fs::write(
        &file,
        format!(
            "date,symbol,score\n{},{},0.5\n{},{},-1.25\n{},{},2\n{},NOPE,1\n1999-01-01,{},1\n",
            ds[10],
            s(1),
            ds[10],
            s(3),
            ds[57],
            s(2),
            ds[57],
            s(1)
        ),
    )
    .expect("scores");
    let cfg = config(&d, &dir.path().join("out"), &file, "topk");
    let seen = Arc::new(Mutex::new(Vec::new()));
    kairos::backtest::run_with(&cfg, data.clone(), Box::new(Recorder(seen.clone()))).expect("run");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen,
        vec![(10, vec![(1, 0.5), (3, -1.25)]), (57, vec![(2, 2.0)])],
        "scores only at their own dates' closes"
    );
    // topk ranks by them like a model's scores.
    let mut rows = String::from("symbol,date,year,model,baseline,label\n");
    for (k, date) in ds.iter().enumerate() {
        for i in 1..data.instruments.len() {
            let x = common::unit(k as u64, &s(i));
            rows.push_str(&format!("{},{date},2021,{x},0,{}\n", s(i), 1.0 - x));
        }
    }
    let wf = dir.path().join("oos_predictions.csv");
    std::fs::write(&wf, rows).expect("oos");
    let cfg = config(&d, &dir.path().join("topk"), &wf, "topk");
    let run = kairos::backtest::run(&cfg).expect("topk on file scores");
    assert!(run.summary.trades > 20, "{}", run.summary.trades);
    let cut = kairos::audit::cut_step(&data, None).expect("cut");
    let r = kairos::audit::audit(&cfg, &kairos::strategy::Strategies::builtin(), data, cut, 3).expect("audit");
    assert!(r.unchanged && r.decisions_compared > 10, "{:?}", r.first_difference);
}

#[test]
fn bad_score_rows_are_named_and_a_model_beside_them_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d);
    let ds = dates(&data);
    let sym = data.instruments[0].symbol.clone();
    let err = |text: String| {
        let f = dir.path().join("bad.csv");
        std::fs::write(&f, text).expect("write");
        let cfg = config(&d, &dir.path().join("o"), &f, "topk");
        kairos::backtest::run_on(&cfg, data.clone())
            .expect_err("refused")
            .to_string()
    };
    let e = err(format!("date,symbol,score\n{},{sym},abc\n", ds[3]));
    assert!(
        e.contains("line 2, field `score`") && e.contains("not a finite number"),
        "{e}"
    );
    let e = err(format!("date,symbol,score\n{},{sym},1\n{},{sym},2\n", ds[3], ds[3]));
    assert!(e.contains("line 3") && e.contains("a second score"), "{e}");
    let e = err("date,ticker,score\n".into());
    assert!(e.contains("missing column `symbol`"), "{e}");
    let text = format!(
        "[data]\npath = \"{}\"\n[portfolio]\ninitial_cash = 1\n[model]\nscores = \"x.csv\"\nartifact = \"m\"\n[strategy]\nname = \"topk\"\n[output]\ndir = \"o\"\n",
        d.display()
    );
    let e = kairos::config::Config::parse(&text, Path::new("c.toml"))
        .expect_err("refused")
        .to_string();
    assert!(e.contains("model.scores"), "{e}");
}
