//! The Parquet catalog (`kairos data import`) and the parallel CSV loader: a catalog holds exactly
//! the market the CSV files hold and a backtest on it writes the same outputs; a damaged catalog
//! or one stamped in another time zone is refused with the file and row named; the parallel
//! loader reports the first bad file in symbol order, whatever the threads.

use kairos::data::synth::{self, SynthSpec};
use kairos::feeds::{self, catalog, BadRowPolicy, FeedError, LoadOptions};
use std::path::Path;
use std::process::Command;

fn market(dir: &Path) {
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 30,
            days: 200,
            ..SynthSpec::default()
        },
        dir,
    )
    .expect("synth");
}

#[test]
fn a_catalog_holds_exactly_the_csv_market() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("csv");
    market(&csv);
    // A gap in one symbol, so the alignment is exercised too.
    let f = csv.join("SYN007.csv");
    let text = std::fs::read_to_string(&f).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let kept: Vec<&str> = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 50)
        .map(|(_, l)| *l)
        .collect();
    std::fs::write(&f, kept.join("\n") + "\n").expect("write");
    let opts = LoadOptions::default();
    let from_csv = feeds::load(&csv, &opts).expect("csv");
    let cat = dir.path().join("cat");
    catalog::write(&from_csv, &opts, &cat).expect("write catalog");
    assert!(catalog::is_catalog(&cat));
    let from_cat = feeds::load(&cat, &opts).expect("catalog");
    assert_eq!(from_cat.timestamps, from_csv.timestamps);
    assert_eq!(from_cat.daily, from_csv.daily);
    assert_eq!(from_cat.report.missing_bars, 1);
    assert_eq!(from_cat.instruments.len(), from_csv.instruments.len());
    for (a, b) in from_cat.instruments.iter().zip(&from_csv.instruments) {
        assert_eq!((&a.symbol, a.tradable), (&b.symbol, b.tradable));
    }
    for (a, b) in from_cat.series.iter().zip(&from_csv.series) {
        assert_eq!(a.step, b.step);
        assert_eq!(
            (&a.open, &a.high, &a.low, &a.close, &a.volume),
            (&b.open, &b.high, &b.low, &b.close, &b.volume)
        );
        assert_eq!((a.price_scale, a.volume_scale), (b.price_scale, b.volume_scale));
    }
}

#[test]
fn import_then_backtest_gives_the_csv_outputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("csv");
    market(&csv);
    let cat = dir.path().join("cat");
    let o = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["data", "import", "--data"])
        .arg(&csv)
        .arg("--out")
        .arg(&cat)
        .output()
        .expect("import");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run = |data: &Path, out: &Path| {
        let o = Command::new(env!("CARGO_BIN_EXE_kairos"))
            .args(["backtest", "--config", "config/topk.toml", "--data"])
            .arg(data)
            .arg("--out")
            .arg(out)
            .output()
            .expect("backtest");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run(&csv, &a);
    run(&cat, &b);
    for f in ["fills.csv", "equity.csv", "events.jsonl"] {
        assert!(
            std::fs::read(a.join(f)).expect("a") == std::fs::read(b.join(f)).expect("b"),
            "{f} differs between the CSV and the catalog"
        );
    }
}

#[test]
fn a_damaged_or_mismatched_catalog_is_refused() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tmp");
    let csv = dir.path().join("csv");
    market(&csv);
    let opts = LoadOptions::default();
    let data = feeds::load(&csv, &opts).expect("csv");
    let cat = dir.path().join("cat");
    catalog::write(&data, &opts, &cat).expect("write");

    // Another time zone than the one the daily bars were stamped in.
    let other = LoadOptions {
        time_zone: chrono_tz::Europe::London,
        ..LoadOptions::default()
    };
    let err = feeds::load(&cat, &other).expect_err("time zone");
    assert!(
        err.to_string().contains("catalog.json") && err.to_string().contains("Europe/London"),
        "{err}"
    );

    // A bar whose high is below its low, at row 10 of bars.parquet.
    let file = cat.join("bars.parquet");
    let mut df = ParquetReader::new(std::fs::File::open(&file).expect("open"))
        .finish()
        .expect("read");
    let col = df.column("high").expect("high").i64().expect("i64").clone();
    let high: Vec<i64> = (0..col.len())
        .map(|k| if k == 9 { 1 } else { col.get(k).expect("value") })
        .collect();
    df.replace("high", Column::new("high".into(), high)).expect("replace");
    ParquetWriter::new(std::fs::File::create(&file).expect("create"))
        .finish(&mut df)
        .expect("write");
    let err = feeds::load(&cat, &opts).expect_err("damaged");
    let m = err.to_string();
    assert!(matches!(err, FeedError::BadRow { .. }), "{m}");
    assert!(m.contains("bars.parquet") && m.contains("row 10"), "{m}");
}

#[test]
fn the_parallel_loader_names_the_first_bad_file_in_symbol_order() {
    let dir = tempfile::tempdir().expect("tmp");
    market(dir.path());
    // Bad rows in three files; the first in symbol order is SYN004.
    for (sym, line) in [("SYN021", 5), ("SYN004", 9), ("SYN013", 3)] {
        let f = dir.path().join(format!("{sym}.csv"));
        let text = std::fs::read_to_string(&f).expect("read");
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let date = lines[line - 1][..10].to_string();
        lines[line - 1] = format!("{date},1,1,1,xx,100");
        std::fs::write(&f, lines.join("\n") + "\n").expect("write");
    }
    for _ in 0..5 {
        let err = feeds::load(dir.path(), &LoadOptions::default()).expect_err("bad");
        let m = err.to_string();
        assert!(
            m.contains("SYN004.csv") && m.contains("line 9") && m.contains("`close`"),
            "{m}"
        );
    }
    let skip = LoadOptions {
        policy: BadRowPolicy::Skip,
        ..LoadOptions::default()
    };
    let data = feeds::load(dir.path(), &skip).expect("skip");
    assert_eq!(data.report.rows_skipped.values().sum::<usize>(), 3);
    assert_eq!(data.report.files, 31);
    assert!(
        data.report.skipped_examples[0].contains("SYN004.csv"),
        "{:?}",
        data.report.skipped_examples
    );
    assert_eq!(data.report.rows_kept + 3, data.report.rows_read);
}
