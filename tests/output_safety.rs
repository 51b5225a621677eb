//! Outputs never destroy inputs and never mislead: an output directory that is, or contains,
//! the data is refused, as is an empty one; a failed run leaves the previous outputs as they
//! were (nothing new beside an older `summary.json`, no staging directory left); `fills.csv` is
//! valid CSV whatever the symbol; a configured benchmark missing from the data is an error.

mod common;
use kairos::data::synth::{self, SynthSpec};
use std::path::Path;

const CONFIG: &str = r#"
[data]
path = "{data}"
benchmark = "SPY"
[engine]
progress = false
[portfolio]
initial_cash = 1000000
[strategy]
name = "topk"
[output]
dir = "{out}"
"#;

fn market(dir: &Path) {
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 8,
            days: 120,
            ..SynthSpec::default()
        },
        dir,
    )
    .expect("synth");
}

#[test]
fn an_output_directory_holding_the_data_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    market(&data);
    let before = std::fs::read_dir(&data).expect("dir").count();
    for out in [data.clone(), dir.path().to_path_buf(), data.join("..")] {
        let err = kairos::backtest::run(&common::config(CONFIG, &data, &out)).expect_err("refused");
        let m = err.to_string();
        assert!(m.contains("output.dir") && m.contains("data path"), "{m}");
    }
    assert_eq!(
        std::fs::read_dir(&data).expect("dir").count(),
        before,
        "nothing written into the data"
    );
    let err = kairos::backtest::run(&common::config(CONFIG, &data, Path::new(""))).expect_err("empty");
    assert!(err.to_string().contains("output.dir: must not be empty"), "{err}");
}

#[test]
fn a_failed_run_leaves_the_previous_outputs_untouched() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    market(&data);
    let out = dir.path().join("out");
    kairos::backtest::run(&common::config(CONFIG, &data, &out)).expect("first run");
    let snapshot = |p: &Path| -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(p)
            .expect("dir")
            .map(|e| {
                let e = e.expect("entry");
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).expect("read"),
                )
            })
            .collect();
        v.sort();
        v
    };
    let first = snapshot(&out);
    assert_eq!(
        first.len(),
        7,
        "fills, equity, events, summary, report, benchmark and prices (the report's inputs)"
    );
    // The second run fails while loading (a bad row): the first run's outputs stay as they were.
    let f = data.join("SYN003.csv");
    let text = std::fs::read_to_string(&f).expect("read");
    std::fs::write(&f, text.replacen("\n2015", "\nnot-a-date,1,1,1,1,1\n2015", 1)).expect("write");
    let err = kairos::backtest::run(&common::config(CONFIG, &data, &out)).expect_err("bad row");
    assert!(err.to_string().contains("SYN003.csv"), "{err}");
    assert_eq!(snapshot(&out), first);
    // No staging directory is left beside the outputs.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("kairos-run")), "{names:?}");
}

#[test]
fn fills_csv_quotes_a_symbol_that_needs_it_and_a_missing_benchmark_is_an_error() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("long.csv");
    let mut text = String::from("symbol,date,open,high,low,close,volume\n");
    let days = common::dates(60);
    for (k, d) in days.iter().enumerate() {
        // Two symbols trending apart, so momentum buys one of them.
        let up = 10.0 + k as f64 * 0.1;
        let down = 20.0 - k as f64 * 0.1;
        text.push_str(&format!("\"A,B\"\"C\",{d},{up},{up},{up},{up},1000\n"));
        text.push_str(&format!("PLAIN,{d},{down},{down},{down},{down},1000\n"));
    }
    std::fs::write(&path, text).expect("write");
    let out = dir.path().join("out");
    // SPY is configured but absent: refused, instead of being traded as a symbol.
    let err = kairos::backtest::run(&common::config(CONFIG, &path, &out)).expect_err("no SPY");
    assert!(
        err.to_string().contains("data.benchmark") && err.to_string().contains("SPY"),
        "{err}"
    );
    let cfg = CONFIG
        .replace("benchmark = \"SPY\"", "benchmark = \"\"")
        .replace("[strategy]", "[broker]\ncash_check = \"allow_negative\"\n[strategy]")
        .replace(
            "name = \"topk\"",
            "name = \"topk\"\n[strategy.params]\nk = 1\nband = 1\nlookback = 5",
        );
    let run = kairos::backtest::run(&common::config(&cfg, &path, &out)).expect("run");
    assert!(run.summary.trades > 0);
    let fills = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(out.join("fills.csv")))
        .expect("reader")
        .finish()
        .expect("fills.csv parses as CSV");
    let symbols = fills.column("symbol").expect("symbol").str().expect("str").clone();
    assert!((0..symbols.len()).any(|k| symbols.get(k) == Some("A,B\"C")), "{fills}");
    assert_eq!(fills.width(), 6);
}
