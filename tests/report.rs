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

/// `data-value` of a `data-metric` in a page.
fn metric(html: &str, key: &str) -> String {
    let tag = format!("data-metric=\"{key}\" data-value=\"");
    let at = html.find(&tag).unwrap_or_else(|| panic!("{key} missing"));
    let rest = &html[at + tag.len()..];
    rest[..rest.find('"').expect("end")].to_string()
}

/// Returns of a series (each against the one before).
fn returns(x: &[f64]) -> Vec<f64> {
    x.windows(2).map(|w| w[1] / w[0] - 1.0).collect()
}

#[test]
fn benchmarks_rolling_sharpe_and_trade_marks_agree_with_the_outputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 10,
            days: 500,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    // A second benchmark from another file: SYN009 moved into a long table, referenced.
    let moved = std::fs::read_to_string(d.join("SYN009.csv")).expect("SYN009");
    std::fs::remove_file(d.join("SYN009.csv")).expect("rm");
    let mut long = String::from("symbol,date,open,high,low,close,volume\n");
    for l in moved.lines().skip(1) {
        long.push_str(&format!("REF,{l}\n"));
    }
    // A bar on a date the data does not have is left out, and counted.
    long.push_str("REF,2030-01-02,10,11,9,10,100\n");
    let refs = dir.path().join("refs.csv");
    std::fs::write(&refs, long).expect("refs");
    let text = format!(
        "[data]\npath = \"{{data}}\"\n[[data.reference]]\npath = \"{}\"\nsymbols = [\"REF\"]\n[engine]\nprogress = false\n\
         [portfolio]\ninitial_cash = 1000000\n[broker]\ncommission_bps = 5\n[strategy]\nname = \"topk\"\n\
         [report]\nbenchmarks = [\"SPY\", \"REF\"]\nlog_scale = true\nrolling_window = 40\n[output]\ndir = \"{{out}}\"\n",
        refs.display()
    );
    let out = dir.path().join("out");
    let run = kairos::backtest::run(&common::config(&text, &d, &out)).expect("run");
    assert_eq!(run.summary.data.reference_bars_outside, 1);
    // REF is never traded.
    assert!(common::fills(&out).iter().all(|f| f[1] != "REF"));
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("summary")).expect("json");
    // Strategy and benchmark series as the outputs have them.
    let eq: Vec<f64> = std::fs::read_to_string(out.join("equity.csv"))
        .expect("equity")
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).expect("equity").parse().expect("number"))
        .collect();
    let bench_text = std::fs::read_to_string(out.join("benchmark.csv")).expect("benchmark.csv");
    assert!(bench_text.starts_with("date,SPY,REF\n"));
    let cols: Vec<Vec<f64>> = (1..=2)
        .map(|k| {
            bench_text
                .lines()
                .skip(1)
                .map(|l| l.split(',').nth(k).expect("col").parse().expect("close"))
                .collect()
        })
        .collect();
    assert_eq!(cols[0].len(), eq.len());
    let (rs, n) = (returns(&eq), eq.len() as f64);
    for (k, sym) in ["SPY", "REF"].iter().enumerate() {
        let b = &summary["benchmarks"][k];
        assert_eq!(b["symbol"], *sym);
        // Alpha, beta and the information ratio recomputed here from the two CSV files.
        let rb = returns(&cols[k]);
        let m = |x: &[f64]| x.iter().sum::<f64>() / x.len() as f64;
        let (mb, ms) = (m(&rb), m(&rs));
        let cov = rb.iter().zip(&rs).map(|(x, y)| (x - mb) * (y - ms)).sum::<f64>() / (rb.len() - 1) as f64;
        let var = rb.iter().map(|x| (x - mb).powi(2)).sum::<f64>() / (rb.len() - 1) as f64;
        let beta = cov / var;
        let per_year = {
            // Timestamps per year as summary.json's figures use them: calendar span.
            let first = chrono::NaiveDate::parse_from_str(&bench_text.lines().nth(1).expect("row")[..10], "%Y-%m-%d")
                .expect("date");
            let last = chrono::NaiveDate::parse_from_str(&bench_text.lines().last().expect("row")[..10], "%Y-%m-%d")
                .expect("date");
            (n - 1.0) / ((last - first).num_days() as f64 / 365.25)
        };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(1.0);
        assert!(close(b["beta"].as_f64().expect("beta"), beta), "{sym} beta");
        assert!(
            close(b["alpha"].as_f64().expect("alpha"), (ms - beta * mb) * per_year),
            "{sym} alpha"
        );
        let diff: Vec<f64> = rs.iter().zip(&rb).map(|(s, b)| s - b).collect();
        let md = m(&diff);
        let sd = (diff.iter().map(|x| (x - md).powi(2)).sum::<f64>() / (diff.len() - 1) as f64).sqrt();
        assert!(
            close(b["information_ratio"].as_f64().expect("ir"), md / sd * per_year.sqrt()),
            "{sym} IR"
        );
        let total = cols[k][cols[k].len() - 1] / cols[k][0] - 1.0;
        assert!(
            close(b["total_return"].as_f64().expect("tr"), total),
            "{sym} total return"
        );
        // The page shows summary.json's values.
        for key in [
            "alpha",
            "beta",
            "information_ratio",
            "tracking_error",
            "total_return",
            "risk_matched_total_return",
        ] {
            let v: f64 = metric(&html, &format!("benchmarks.{sym}.{key}"))
                .parse()
                .expect("number");
            assert_eq!(v, b[key].as_f64().expect(key), "{sym} {key}");
        }
        // Risk-matched: the benchmark's returns scaled to the strategy's volatility.
        let scale = b["risk_matched_scale"].as_f64().expect("scale");
        let sd_s = (rs.iter().map(|x| (x - ms).powi(2)).sum::<f64>() / (rs.len() - 1) as f64).sqrt();
        assert!(close(scale, sd_s / var.sqrt()));
        let matched = rb.iter().fold(1.0, |g, r| g * (1.0 + scale * r)) - 1.0;
        assert!(close(b["risk_matched_total_return"].as_f64().expect("rm"), matched));
    }
    for key in ["volatility", "calmar"] {
        let v: f64 = metric(&html, key).parse().expect("number");
        assert_eq!(v, summary[key].as_f64().expect(key), "{key}");
    }
    assert!(html.contains("Equity (log scale)") && html.contains("Rolling Sharpe (40 timestamps)"));
    assert!(html.contains("REF risk-matched"));
    // The price chart: the most traded symbol, its buys and sells counted from fills.csv.
    let prices = std::fs::read_to_string(out.join("prices.csv")).expect("prices.csv");
    let symbol = prices
        .lines()
        .nth(1)
        .expect("row")
        .split(',')
        .nth(1)
        .expect("symbol")
        .to_string();
    let fills = common::fills(&out);
    let count = |s: &str| fills.iter().filter(|f| f[1] == s).count();
    assert!(fills.iter().all(|f| count(&f[1]) <= count(&symbol)));
    let buys = fills.iter().filter(|f| f[1] == symbol && f[2] == "BUY").count();
    let sells = fills.iter().filter(|f| f[1] == symbol && f[2] == "SELL").count();
    assert!(buys > 0 && sells > 0);
    assert!(html.contains(&format!("{buys} buys and {sells} sells")), "marks");
    // One mark per fill of the symbol: triangles for buys, crosses (two lines each) for sells.
    let chart = &html[html.find(&format!("<h2>Trades in {symbol}</h2>")).expect("chart")..];
    let chart = &chart[..chart.find("</svg>").expect("svg")];
    assert_eq!(
        chart.matches("<polygon").count(),
        buys + 1,
        "triangles (with the legend's)"
    );
    // A configured chart symbol the data lacks is refused before the run.
    let bad = text.replace("log_scale = true", "symbol = \"NOPE\"");
    let e = kairos::backtest::run(&common::config(&bad, &d, &dir.path().join("bad"))).expect_err("refused");
    assert!(e.to_string().contains("NOPE"), "{e}");
}
