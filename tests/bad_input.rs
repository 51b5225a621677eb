//! Every bad-input case of the issue: a clear error naming file, row and field under the
//! `fail` policy, or a counted skip under `skip`; file-level faults are always errors.

mod common;
use kairos::feeds::{self, BadRowPolicy, FeedError, LoadOptions};
use std::path::Path;

const GOOD: &str = "2021-01-04,10,11,9,10.5,100\n2021-01-05,10.5,11,10,10.8,100\n";

fn opts(policy: BadRowPolicy) -> LoadOptions {
    LoadOptions {
        policy,
        benchmark: None,
        ..LoadOptions::default()
    }
}

/// A directory with a good `A.csv` and `B.csv` = header + `GOOD` + `bad_line` + one more row.
fn fixture(bad_line: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("A.csv"),
        format!("date,open,high,low,close,volume\n{GOOD}"),
    )
    .expect("w");
    std::fs::write(
        dir.path().join("B.csv"),
        format!("date,open,high,low,close,volume\n{GOOD}{bad_line}\n2021-01-08,10,11,9,10,100\n"),
    )
    .expect("w");
    dir
}

#[test]
fn each_bad_row_is_an_error_naming_file_line_and_field_or_a_counted_skip() {
    // (bad line 4 of B.csv, field named, words in the reason, skip-count key)
    let cases: &[(&str, &str, &str, &str)] = &[
        ("2021-01-06,abc,11,9,10,100", "open", "cannot parse", "unparsable value"),
        ("2021-01-06,10,11,9,,100", "close", "empty", "empty field"),
        ("2021-01-06,10,NaN,9,10,100", "high", "NaN", "NaN"),
        ("2021-01-06,10,11,0,10,100", "low", "non-positive", "non-positive price"),
        (
            "2021-01-06,10,11,9,-3,100",
            "close",
            "non-positive",
            "non-positive price",
        ),
        ("2021-01-06,10,9,11,10,100", "high", "below low", "high below low"),
        ("2021-01-06,12,11,9,10,100", "open", "outside", "outside [low, high]"),
        ("2021-01-06,10,11,9,8,100", "close", "outside", "outside [low, high]"),
        ("2021-01-05,10,11,9,10,100", "date", "duplicate", "duplicate timestamp"),
        ("2021-01-04,10,11,9,10,100", "date", "earlier", "out-of-order timestamp"),
        (
            "2021-13-45,10,11,9,10,100",
            "date",
            "cannot parse",
            "unparsable timestamp",
        ),
        ("2021-01-06,10,11,9,10,-1", "volume", "negative", "negative volume"),
        ("2021-01-06,10,11,9,10", "volume", "empty", "empty field"),
    ];
    for (line, field, words, key) in cases {
        let dir = fixture(line);
        let err = feeds::load(dir.path(), &opts(BadRowPolicy::Fail)).expect_err(line);
        let msg = err.to_string();
        assert!(matches!(err, FeedError::BadRow { .. }), "{line}: {msg}");
        assert!(
            msg.contains("B.csv") && msg.contains("line 4") && msg.contains(&format!("`{field}`")),
            "{line}: {msg}"
        );
        assert!(msg.contains(words), "{line}: {msg}");

        let data = feeds::load(dir.path(), &opts(BadRowPolicy::Skip)).expect(line);
        assert_eq!(
            data.report.rows_skipped.get(*key),
            Some(&1),
            "{line}: {:?}",
            data.report
        );
        assert_eq!(data.report.rows_read, 6, "{line}");
        assert_eq!(data.report.rows_kept, 5, "{line}: nothing else lost");
        assert!(data.report.skipped_examples[0].contains("line 4"), "{line}");
    }
}

fn file_error(contents: Option<&str>) -> (FeedError, String) {
    let dir = tempfile::tempdir().expect("tmp");
    if let Some(c) = contents {
        std::fs::write(dir.path().join("X.csv"), c).expect("w");
    }
    let err = feeds::load(dir.path(), &opts(BadRowPolicy::Skip)).expect_err("must fail");
    let msg = err.to_string();
    (err, msg)
}

#[test]
fn file_level_faults_are_errors_even_under_skip() {
    let (e, m) = file_error(Some("date,open,high,low,close\n2021-01-04,1,1,1,1\n"));
    assert!(
        matches!(e, FeedError::MissingColumn { .. }) && m.contains("X.csv") && m.contains("`volume`"),
        "{m}"
    );
    let (e, m) = file_error(Some(""));
    assert!(matches!(e, FeedError::EmptyFile { .. }) && m.contains("X.csv"), "{m}");
    let (e, m) = file_error(Some("date,open,high,low,close,volume\n"));
    assert!(matches!(e, FeedError::EmptyFile { .. }) && m.contains("X.csv"), "{m}");
    let (e, m) = file_error(None);
    assert!(matches!(e, FeedError::NoData { .. }), "{m}");
    let missing = feeds::load(Path::new("/nonexistent/kairos"), &opts(BadRowPolicy::Fail)).expect_err("missing");
    assert!(missing.to_string().contains("/nonexistent/kairos"));
}

#[test]
fn a_row_with_too_many_fields_is_reported_not_panicked() {
    let dir = fixture("2021-01-06,10,11,9,10,100,7,8");
    let err = feeds::load(dir.path(), &opts(BadRowPolicy::Fail)).expect_err("malformed");
    let m = err.to_string();
    assert!(
        m.contains("B.csv") && m.contains("line 4") && m.contains("8 fields, the header has 6"),
        "{m}"
    );
}

#[test]
fn long_table_rows_are_named_and_symbols_aligned_without_invented_bars() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("long.csv");
    std::fs::write(
        &path,
        "symbol,date,open,high,low,close,volume\n\
         A,2021-01-04,10,11,9,10,100\nA,2021-01-05,10,11,9,10,100\nA,2021-01-06,10,11,9,10,100\n\
         B,2021-01-04,10,11,9,10,100\nB,2021-01-06,10,11,9,10,100\n\
         C,2021-01-05,10,11,9,xx,100\n",
    )
    .expect("w");
    let err = feeds::load(&path, &opts(BadRowPolicy::Fail)).expect_err("bad C row");
    let m = err.to_string();
    assert!(
        m.contains("long.csv") && m.contains("line 7") && m.contains("`close`"),
        "{m}"
    );
    let data = feeds::load(&path, &opts(BadRowPolicy::Skip)).expect("skip");
    assert_eq!(data.timestamps.len(), 3);
    assert_eq!(data.instruments.len(), 2, "C had no valid row");
    // B has no bar on 2021-01-05: it is counted, and its series simply skips that step.
    assert_eq!(data.report.missing_bars, 1);
    assert_eq!(data.series[1].step, vec![0, 2]);
}

#[test]
fn parquet_long_table_and_intraday_timestamps() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("m.parquet");
    let mut df = df!(
        "symbol" => ["BTC", "BTC", "BTC"],
        "timestamp" => ["2022-01-03 09:31:00", "2022-01-03 09:32:00", "2022-01-03 09:33:00"],
        "open" => [17.87, 18.0, f64::NAN],
        "high" => [18.5, 18.5, 18.5],
        "low" => [17.5, 17.5, 17.5],
        "close" => [18.0, 18.25, 18.0],
        "volume" => [1.5, 2.25, 3.0],
    )
    .expect("df");
    ParquetWriter::new(std::fs::File::create(&path).expect("f"))
        .finish(&mut df)
        .expect("write");
    let err = feeds::load(&path, &opts(BadRowPolicy::Fail)).expect_err("NaN open");
    let m = err.to_string();
    assert!(
        m.contains("m.parquet") && m.contains("row 3") && m.contains("`open`") && m.contains("NaN"),
        "{m}"
    );
    let data = feeds::load(&path, &opts(BadRowPolicy::Skip)).expect("skip");
    assert!(!data.daily);
    assert_eq!(data.timestamps.len(), 2);
    // Exact decimals survive the float column: 17.87 stays 17.87, volume 2.25 stays 2.25.
    let bar = data.bar(0, 0, 0, 0, 0);
    assert_eq!(bar.open.to_string(), "17.87");
    assert_eq!(data.bar(0, 1, 0, 0, 0).volume.normalize().to_string(), "2.25");
    // 09:31 New York (EST) is 14:31 UTC.
    assert_eq!(data.timestamps[0], 1_641_220_260_000_000_000);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// No input makes the loader panic: arbitrary field texts give Ok or a clear error.
    #[test]
    fn arbitrary_rows_never_panic(rows in proptest::collection::vec(proptest::collection::vec("[-0-9a-zN.,eE: ]{0,12}", 6), 0..6)) {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = String::from("date,open,high,low,close,volume\n");
        for r in &rows {
            s.push_str(&r.join(","));
            s.push('\n');
        }
        std::fs::write(dir.path().join("Z.csv"), s).expect("w");
        for policy in [BadRowPolicy::Fail, BadRowPolicy::Skip] {
            if let Err(e) = feeds::load(dir.path(), &opts(policy)) {
                let named = e.to_string().contains("Z.csv") || matches!(e, FeedError::NoData { .. });
                proptest::prop_assert!(named, "unnamed error: {}", e);
            }
        }
    }
}
