//! `kairos research`: one command from data to report. Its backtest trades only on
//! out-of-sample scores and its figures cover the test years only; the page's model section
//! shows `walkforward.json`'s figures; the same backtest run alone gives the same fills.
#![cfg(feature = "torch")]

mod common;

use kairos::data::synth::{self, SynthSpec};
use std::path::Path;

fn job(data: &Path, out: &Path) -> String {
    format!(
        "[data]\npath = \"{}\"\nbenchmark = \"SPY\"\n\
         [model]\nkind = \"lstm\"\nfeatures = [\"sma60_gap\", \"rsi14\", \"bb_position\", \"k_upper\"]\nwindow = 10\nhidden = 8\nlayers = 1\nhorizon = 5\n\
         [train]\nepochs = 2\nthreads = 1\n\
         [walkforward]\nfirst_test_year = 2018\nlast_test_year = 2019\n\
         [portfolio]\ninitial_cash = 1000000\n[broker]\ncommission_bps = 5\n\
         [strategy]\nname = \"staged\"\n[strategy.params]\nsignal = \"model\"\nselection = \"top_k\"\nk = 4\nbuffer = 2\nweighting = \"rank\"\nvol_target = 0.12\nrebalance_every = 5\n\
         [output]\ndir = \"{}\"\n",
        data.display(),
        out.display()
    )
}

fn metric(html: &str, key: &str) -> String {
    let tag = format!("data-metric=\"{key}\" data-value=\"");
    let at = html.find(&tag).unwrap_or_else(|| panic!("{key} missing"));
    let rest = &html[at + tag.len()..];
    rest[..rest.find('"').expect("end")].to_string()
}

#[test]
fn research_runs_every_stage_and_its_backtest_covers_the_test_years_only() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 12,
            days: 1260,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let out = dir.path().join("out");
    let cfg_path = dir.path().join("research.toml");
    std::fs::write(&cfg_path, job(&d, &out)).expect("config");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["research", "--config"])
        .arg(&cfg_path)
        .output()
        .expect("kairos research");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let stdout = String::from_utf8_lossy(&st.stdout).to_string();
    assert!(stdout.contains("rank IC") && stdout.contains("report"), "{stdout}");
    for f in [
        "walkforward/walkforward.json",
        "walkforward/oos_predictions.csv",
        "walkforward/year_2018/importance.csv",
        "walkforward/year_2019/model.json",
        "baseline/summary.json",
        "summary.json",
        "equity.csv",
        "benchmark.csv",
        "report.html",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    // Figures over the test years only, and no trade before them.
    let equity = std::fs::read_to_string(out.join("equity.csv")).expect("equity");
    let first = equity.lines().nth(1).expect("row");
    assert!(first.starts_with("2018-01-01,1000000,1000000,"), "{first}");
    let fills = common::fills(&out);
    assert!(!fills.is_empty());
    assert!(fills.iter().all(|f| f[0].as_str() >= "2018-01-01"));
    // Scores reach the data's last date (its windows have no label yet, and are still scored).
    let last = equity
        .lines()
        .last()
        .expect("row")
        .split(',')
        .next()
        .expect("date")
        .to_string();
    let oos = std::fs::read_to_string(out.join("walkforward/oos_predictions.csv")).expect("oos");
    assert!(oos
        .lines()
        .any(|l| l.split(',').nth(1) == Some(last.as_str()) && l.ends_with(',')));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary")).expect("json");
    assert_eq!(summary["timestamps"].as_u64(), Some(equity.lines().count() as u64 - 1));
    // The page's model section is walkforward.json's.
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    let wf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("walkforward/walkforward.json")).expect("wf"))
            .expect("json");
    for (k, year) in ["2018", "2019"].iter().enumerate() {
        let y = &wf["years"][k];
        assert_eq!(y["year"].to_string(), *year);
        for who in ["model", "baseline"] {
            for m in ["rank_ic_mean", "rank_ic_t", "rmse", "directional_accuracy"] {
                let v: f64 = metric(&html, &format!("ic.{year}.{who}.{m}")).parse().expect("number");
                assert_eq!(v, y[who][m].as_f64().expect("figure"), "{year} {who} {m}");
            }
        }
    }
    let v: f64 = metric(&html, "ic.all.model.rank_ic_mean").parse().expect("number");
    assert_eq!(v, wf["overall_model"]["rank_ic_mean"].as_f64().expect("ic"));
    // The baseline's backtest beside the model's, each as its own summary has it.
    let base: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("baseline/summary.json")).expect("b")).expect("json");
    for (who, s) in [("model", &summary), ("baseline", &base)] {
        let v: f64 = metric(&html, &format!("{who}.total_return")).parse().expect("number");
        assert_eq!(v, s["total_return"].as_f64().expect("tr"));
    }
    assert!(html.contains("Permutation importance") && html.contains("Cumulative monthly rank IC"));
    // The same backtest as a plain `kairos backtest` on the walk-forward's scores: same fills.
    let alone = dir.path().join("alone");
    let text = format!(
        "[data]\npath = \"{{data}}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n[broker]\ncommission_bps = 5\n\
         [model]\nscores = \"{}\"\n\
         [strategy]\nname = \"staged\"\n[strategy.params]\nsignal = \"model\"\nselection = \"top_k\"\nk = 4\nbuffer = 2\nweighting = \"rank\"\nvol_target = 0.12\nrebalance_every = 5\n\
         [output]\ndir = \"{{out}}\"\nstart = \"2018-01-01\"\n",
        out.join("walkforward/oos_predictions.csv").display()
    );
    kairos::backtest::run(&common::config(&text, &d, &alone)).expect("alone");
    assert_eq!(common::fills(&alone), fills);
    assert_eq!(std::fs::read_to_string(alone.join("equity.csv")).expect("eq"), equity);
}

#[test]
fn a_bad_strategy_is_refused_before_any_training() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 4,
            days: 300,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let out = dir.path().join("out");
    let cfg_path = dir.path().join("research.toml");
    std::fs::write(&cfg_path, job(&d, &out).replace("k = 4\n", "k = 0\n")).expect("config");
    let alt = dir.path().join("elsewhere");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["research", "--config"])
        .arg(&cfg_path)
        .arg("--out")
        .arg(&alt)
        .output()
        .expect("kairos research");
    assert!(!st.status.success());
    let err = String::from_utf8_lossy(&st.stderr);
    assert!(err.contains("strategy.params.k"), "{err}");
    assert!(!alt.join("walkforward").exists() && !out.exists(), "nothing trained");
}

#[test]
fn figures_from_a_later_start_are_refused_when_the_strategy_traded_before_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 6,
            days: 300,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let text = "[data]\npath = \"{data}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n[strategy]\nname = \"topk\"\n[output]\ndir = \"{out}\"\nstart = \"2015-06-01\"\n";
    let out = dir.path().join("out");
    let e = kairos::backtest::run(&common::config(text, &d, &out)).expect_err("refused");
    assert!(
        e.to_string().contains("output.start: the strategy traded on 2015-"),
        "{e}"
    );
    assert!(!out.join("summary.json").exists(), "nothing published");
}
