//! `report.html`: written by a backtest and by `kairos report`; self-contained; its headline
//! figures are `summary.json`'s.

mod common;
use kairos::data::synth::{self, SynthSpec};

#[test]
fn the_report_shows_the_summarys_figures_and_needs_nothing_else() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 12,
            days: 400,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let text = "[data]\npath = \"{data}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n[broker]\ncommission_bps = 5\n[strategy]\nname = \"topk\"\n[output]\ndir = \"{out}\"\n";
    let out = dir.path().join("out");
    kairos::backtest::run(&common::config(text, &d, &out)).expect("run");
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary")).expect("json");
    // Every headline figure carries summary.json's value, and shows it.
    let value = |key: &str| {
        let at = html
            .find(&format!("data-metric=\"{key}\" data-value=\""))
            .unwrap_or_else(|| panic!("{key} missing"));
        let rest = &html[at + key.len() + 27..];
        let v = &rest[..rest.find('"').expect("end")];
        let shown = &rest[rest.find('>').expect(">") + 1..rest.find("</td>").expect("td")];
        (v.to_string(), shown.to_string())
    };
    for key in [
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "win_rate",
        "profit_factor",
        "turnover",
    ] {
        let want = summary[key].as_f64().expect(key);
        let (v, shown) = value(key);
        assert_eq!(v.parse::<f64>().expect("number"), want, "{key}");
        let as_pct = format!("{:.2} %", want * 100.0);
        let as_num = format!("{want:.2}");
        assert!(
            shown == as_pct || shown == as_num,
            "{key}: shows {shown}, summary has {want}"
        );
    }
    let (v, shown) = value("final_equity_exact");
    assert_eq!(v, summary["final_equity_exact"].as_str().expect("exact"));
    assert!(v.starts_with(&shown[..shown.len() - 3]), "{v} shown as {shown}");
    assert_eq!(value("trades").0, summary["trades"].to_string());
    // Charts inline, nothing fetched.
    assert!(html.matches("<svg").count() >= 3);
    assert!(!html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http"));
    assert!(html.contains("Monthly returns") && html.contains("<h2>Fills</h2>"));
    // `kairos report` rebuilds the same page from the outputs.
    std::fs::remove_file(out.join("report.html")).expect("rm");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["report", "--run"])
        .arg(&out)
        .output()
        .expect("kairos report");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    assert_eq!(std::fs::read_to_string(out.join("report.html")).expect("again"), html);
}

#[test]
fn backtest_table_prints_the_headline_and_the_reports_path() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 6,
            days: 200,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let out = dir.path().join("out");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["backtest", "--config"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/topk.toml"))
        .arg("--data")
        .arg(&d)
        .arg("--out")
        .arg(&out)
        .arg("--table")
        .output()
        .expect("kairos backtest");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let text = String::from_utf8_lossy(&st.stdout).to_string();
    let row = |k: &str| {
        text.lines()
            .find(|l| l[..14.min(l.len())].trim() == k)
            .map(|l| l[14..].trim().to_string())
            .unwrap_or_else(|| panic!("{k} missing: {text}"))
    };
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary")).expect("json");
    let exact: kairos::types::Decimal = summary["final_equity_exact"]
        .as_str()
        .expect("exact")
        .parse()
        .expect("dec");
    assert_eq!(row("final equity"), exact.round_dp(2).to_string());
    assert_eq!(row("fills"), summary["trades"].to_string());
    assert!(std::path::Path::new(&row("report")).exists());
    assert!(!text.contains('{'), "a table, not JSON: {text}");
}
