//! The command line end to end: synth data, backtest with overrides, outputs, errors.

use std::process::Command;

fn kairos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
}

/// `kairos data synth` of `symbols` symbols (and `SPY`) over 300 days into `out`.
fn synth(out: &std::path::Path, symbols: u32, seed: u64) {
    let st = kairos()
        .args(["data", "synth", "--days", "300", "--symbols", &symbols.to_string()])
        .args(["--seed", &seed.to_string(), "--out"])
        .arg(out)
        .status()
        .expect("run");
    assert!(st.success());
}

#[test]
fn synth_then_backtest_writes_every_output() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    synth(&data, 12, 3);
    assert!(data.join("SPY.csv").exists() && data.join("SYN011.csv").exists());
    let out = dir.path().join("out");
    let o = kairos()
        .args(["backtest", "--config", "config/demo.toml", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary on stdout");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary")).expect("json");
    assert_eq!(printed, file);
    for key in [
        "final_equity",
        "total_return",
        "cagr",
        "sharpe",
        "sortino",
        "max_drawdown",
        "win_rate",
        "profit_factor",
        "trades",
        "turnover",
        "costs",
        "bars",
        "fill_policy",
        "load_seconds",
        "run_seconds",
    ] {
        assert!(file.get(key).is_some(), "summary.json lacks {key}");
    }
    assert_eq!(file["bars"], 13 * 300);
    assert_eq!(file["fill_policy"], "next_open");
    assert!(file["trades"].as_u64().expect("trades") > 0);
    let fills = std::fs::read_to_string(out.join("fills.csv")).expect("fills");
    assert!(fills.starts_with("date,symbol,side,qty,price,commission\n"));
    let equity = std::fs::read_to_string(out.join("equity.csv")).expect("equity");
    assert_eq!(equity.lines().count(), 301);
    let events = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    assert!(events
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));

    // --strategy override, and same_close flagged as look-ahead prone.
    let cfg = dir.path().join("sc.toml");
    let text = std::fs::read_to_string("config/demo.toml")
        .expect("demo")
        .replace("\"next_open\"", "\"same_close\"");
    std::fs::write(&cfg, text).expect("w");
    let o = kairos()
        .args(["backtest", "--strategy", "sma_cross", "--config"])
        .arg(&cfg)
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("out2"))
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(s["strategy"], "sma_cross");
    assert!(s["warnings"][0].as_str().expect("warning").contains("look-ahead"));
}

#[test]
fn errors_are_messages_not_panics() {
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[data]\npath = \"x\"\nspeed = 9\n").expect("w");
    let o = kairos().args(["backtest", "--config"]).arg(&bad).output().expect("run");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("speed") && !err.contains("panicked"), "{err}");
    let o = kairos()
        .args(["backtest", "--config", "config/topk.toml", "--data", "/nonexistent/dir"])
        .output()
        .expect("run");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("/nonexistent/dir") && !err.contains("panicked"), "{err}");
}

#[test]
fn an_ordinary_error_is_one_line_even_with_rust_backtrace_set() {
    let o = kairos()
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "off")
        .args(["backtest", "--config", "config/topk.toml", "--data", "/nonexistent/dir"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("error: ") && lines[0].contains("/nonexistent/dir"),
        "{err}"
    );
    assert!(!err.contains("backtrace") && !err.contains("Stack"), "{err}");
    // --verbose keeps the details for whoever wants them.
    let o = kairos()
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LOG", "off")
        .args([
            "--verbose",
            "backtest",
            "--config",
            "config/topk.toml",
            "--data",
            "/nonexistent/dir",
        ])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.lines().count() > 1 && err.contains("/nonexistent/dir"), "{err}");
}

#[test]
fn features_command_writes_csv_and_parquet_with_empty_missing_fields() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let st = kairos()
        .args(["data", "synth", "--symbols", "3", "--days", "80", "--out"])
        .arg(&data)
        .status()
        .expect("run");
    assert!(st.success());
    let csv = dir.path().join("f.csv");
    let labels = dir.path().join("l.csv");
    let o = kairos()
        .args(["features", "--benchmark", "SPY", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&csv)
        .arg("--labels")
        .arg(&labels)
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&csv).expect("csv");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    assert!(
        header.starts_with("symbol,date,1d_close_log_ret,5d_close_log_ret"),
        "{header}"
    );
    assert_eq!(header.split(',').count(), 2 + kairos::feature::library::N_FEATURES);
    let first = lines.next().expect("row");
    assert!(
        first.starts_with("SPY,2015-01-02,,"),
        "missing values are empty fields: {first}"
    );
    assert_eq!(text.lines().count(), 1 + 4 * 80);
    let l = std::fs::read_to_string(&labels).expect("labels");
    assert!(
        l.starts_with("symbol,date,fwd_ret_5,fwd_ret_10,fwd_ret_20,alpha_5,alpha_10,alpha_20\n"),
        "{l:.80}"
    );
    assert_eq!(l.lines().count(), 1 + 3 * 80, "labels cover tradable symbols only");
    let pq = dir.path().join("f.parquet");
    let o = kairos()
        .args(["features", "--data"])
        .arg(&data)
        .arg("--out")
        .arg(&pq)
        .output()
        .expect("run");
    assert!(o.status.success());
    use polars::prelude::SerReader;
    let df = polars::prelude::ParquetReader::new(std::fs::File::open(&pq).expect("pq"))
        .finish()
        .expect("read");
    assert_eq!(df.height(), 4 * 80);
}

/// `kairos bench` runs the engine beside the minimal loop on the same market, and both make
/// the same number of fills; each of its runs writes into its own directory under a temporary
/// one that is gone when the command ends.
#[test]
fn bench_runs_the_engine_beside_the_minimal_loop_and_cleans_up() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    synth(&data, 20, 5);
    for strategy in ["sma_cross", "topk"] {
        let child = kairos()
            .args([
                "bench",
                "--config",
                &format!("config/{strategy}.toml"),
                "--repeat",
                "3",
                "--data",
            ])
            .arg(&data)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let pid = child.id();
        let o = child.wait_with_output().expect("run");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
        assert_eq!(r["strategy"], strategy);
        assert_eq!(r["bars"], 21 * 300, "20 symbols and the benchmark, 300 days");
        let fills = r["engine_fills"].as_u64().expect("engine_fills");
        assert!(fills > 0, "{r}");
        assert_eq!(r["baseline_fills"].as_u64(), Some(fills), "{r}");
        for key in [
            "engine_seconds",
            "baseline_seconds",
            "engine_cpu_seconds",
            "load_seconds",
        ] {
            assert!(r[key].as_f64().is_some_and(|s| s > 0.0), "{key}: {r}");
        }
        for key in ["minimal_parser_seconds", "csv_load_seconds", "catalog_load_seconds"] {
            assert!(
                r["loading"][key].as_f64().is_some_and(|s| s > 0.0),
                "loading.{key}: {r}"
            );
        }
        let tmp = std::env::temp_dir().join(format!("kairos-bench-{pid}"));
        assert!(!tmp.exists(), "{} left behind", tmp.display());
    }
}
