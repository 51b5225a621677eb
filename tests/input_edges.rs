//! Inputs at the edges: every column type a Parquet writer produces for numbers and times is
//! read or refused with a message (fixtures written by pyarrow, `scripts/make_parquet_fixtures.py`);
//! errors say what and where (DST gaps and repeats, dates out of range, the time column actually
//! read, two time columns, unbalanced quotes, invalid UTF-8, separators in numbers); trailing
//! blank lines are ignored; bars missing after a symbol's last row are counted; and no input,
//! arbitrary bytes or extreme well-formed values, makes the loader or a whole backtest panic.

use kairos::feeds::{self, BadRowPolicy, FeedError, LoadOptions};
use kairos::types::Decimal;
use proptest::prelude::prop_oneof;
use std::path::{Path, PathBuf};
use std::str::FromStr;

fn opts() -> LoadOptions {
    LoadOptions {
        benchmark: None,
        ..LoadOptions::default()
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new("tests/fixtures/parquet").join(format!("{name}.parquet"))
}

#[test]
fn parquet_number_and_time_types_are_read_or_refused_by_name() {
    let base = feeds::load(&fixture("float64_date32"), &opts()).expect("float64 + date32");
    assert!(base.daily);
    assert_eq!(base.bar(0, 0, 0, 0, 0).open, Decimal::from_str("17.87").expect("d"));
    for name in ["float32_int32", "string_everything", "uint32_volume"] {
        let d = feeds::load(&fixture(name), &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.timestamps, base.timestamps, "{name}");
        for k in 0..3 {
            assert_eq!(
                d.bar(0, k, 0, 0, 0),
                base.bar(0, k, 0, 0, 0),
                "{name} bar {k}: float32 keeps its own digits"
            );
        }
    }
    let ints = feeds::load(&fixture("int64_prices"), &opts()).expect("int64 prices");
    assert_eq!(ints.bar(0, 0, 0, 0, 0).open, Decimal::from(17));
    // Naive timestamps are local exchange time; zoned ones are instants: the same bars here.
    let naive = feeds::load(&fixture("naive_timestamp"), &opts()).expect("naive");
    let zoned = feeds::load(&fixture("zoned_timestamp"), &opts()).expect("zoned");
    assert!(!naive.daily && !zoned.daily);
    assert_eq!(naive.timestamps, zoned.timestamps);
    assert_eq!(
        naive.timestamps[0], 1_641_220_260_000_000_000,
        "09:31 New York = 14:31 UTC"
    );
    for (name, column, kind) in [
        ("decimal_prices", "open", "Decimal"),
        ("dictionary_symbol", "symbol", "Dictionary"),
        ("int16_volume", "volume", "Int16"),
    ] {
        let err = feeds::load(&fixture(name), &opts()).expect_err(name);
        let m = err.to_string();
        assert!(
            m.contains(&format!("{name}.parquet")) && m.contains(&format!("`{column}`")) && m.contains(kind),
            "{name}: {m}"
        );
    }
}

fn csv(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

fn load_err(path: &Path) -> String {
    feeds::load(path, &opts()).expect_err("must fail").to_string()
}

#[test]
fn errors_say_what_and_where() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    let h = "symbol,timestamp,open,high,low,close,volume\n";
    // 02:30 on 2021-03-14 does not exist in New York; 01:30 on 2021-11-07 happens twice.
    let m = load_err(&csv(
        d,
        "gap.csv",
        &format!("{h}A,2021-03-14 01:30,1,1,1,1,1\nA,2021-03-14 02:30,1,1,1,1,1\n"),
    ));
    assert!(
        m.contains("line 3") && m.contains("`timestamp`") && m.contains("does not exist"),
        "{m}"
    );
    let m = load_err(&csv(d, "twice.csv", &format!("{h}A,2021-11-07 01:30,1,1,1,1,1\n")));
    assert!(m.contains("line 2") && m.contains("occurs twice"), "{m}");
    let m = load_err(&csv(
        d,
        "far.csv",
        "symbol,date,open,high,low,close,volume\nA,2300-01-02,1,1,1,1,1\n",
    ));
    assert!(m.contains("outside the supported range"), "{m}");
    // The field named is the column read.
    let m = load_err(&csv(d, "ts.csv", &format!("{h}A,yesterday,1,1,1,1,1\n")));
    assert!(m.contains("`timestamp`") && !m.contains("`date`"), "{m}");
    let m = load_err(&csv(
        d,
        "both.csv",
        "symbol,date,timestamp,open,high,low,close,volume\nA,2021-01-04,2021-01-04,1,1,1,1,1\n",
    ));
    assert!(
        m.contains("more than one time column") && m.contains("date, timestamp"),
        "{m}"
    );
    let m = load_err(&csv(d, "quote.csv", "symbol,date,open,high,low,close,volume\nA,2021-01-04,1,1,1,1,1\n\"B,2021-01-05,1,1,1,1,1\nC,2021-01-06,1,1,1,1,1\n"));
    assert!(m.contains("line 3") && m.contains("never closed"), "{m}");
    let p = d.join("utf8.csv");
    std::fs::write(
        &p,
        b"symbol,date,open,high,low,close,volume\nA,2021-01-04,1,1,1,1,1\nA\xff,2021-01-05,1,1,1,1,1\n",
    )
    .expect("w");
    let m = load_err(&p);
    assert!(m.contains("line 3") && m.contains("UTF-8"), "{m}");
    let m = load_err(&csv(
        d,
        "sep.csv",
        "symbol,date,open,high,low,close,volume\nA,2021-01-04,1,1,1,1,1_000_000\n",
    ));
    assert!(m.contains("`volume`") && m.contains("cannot parse"), "{m}");
    let m = load_err(Path::new("/nonexistent/kairos/data.csv"));
    assert!(m.contains("/nonexistent/kairos/data.csv"), "{m}");
}

#[test]
fn trailing_blank_lines_are_ignored_and_missing_bars_after_the_last_row_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let rows = "date,open,high,low,close,volume\n2021-01-04,1,1,1,1,1\n2021-01-05,1,1,1,1,1\n2021-01-06,1,1,1,1,1\n";
    std::fs::write(dir.path().join("A.csv"), format!("{rows}\n\n")).expect("w");
    // B ends a day early: one bar missing after its last row; C has a gap inside: one more.
    std::fs::write(
        dir.path().join("B.csv"),
        "date,open,high,low,close,volume\n2021-01-04,1,1,1,1,1\n2021-01-05,1,1,1,1,1\n",
    )
    .expect("w");
    std::fs::write(
        dir.path().join("C.csv"),
        "date,open,high,low,close,volume\n2021-01-04,1,1,1,1,1\n2021-01-06,1,1,1,1,1\n",
    )
    .expect("w");
    let data = feeds::load(dir.path(), &opts()).expect("load");
    assert_eq!(data.series[0].len(), 3);
    assert_eq!(data.report.missing_bars, 2);
    assert_eq!(data.report.rows_read, 7);
}

/// Whole backtests that ended with a result in the property test below (not only errors).
static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Arbitrary bytes as a data file: an error naming the file, or a market that then goes
    /// through a whole backtest; never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400), header in proptest::prelude::any::<bool>()) {
        let dir = tempfile::tempdir().expect("tmp");
        let mut content = Vec::new();
        if header {
            content.extend_from_slice(b"date,open,high,low,close,volume\n");
        }
        content.extend_from_slice(&bytes);
        std::fs::write(dir.path().join("Z.csv"), &content).expect("w");
        std::fs::write(dir.path().join("long.csv"), &content).expect("w");
        for policy in [BadRowPolicy::Fail, BadRowPolicy::Skip] {
            let o = LoadOptions { policy, ..opts() };
            for path in [dir.path().to_path_buf(), dir.path().join("long.csv")] {
                match feeds::load(&path, &o) {
                    Err(e) => {
                        let named = e.to_string().contains("Z.csv") || e.to_string().contains("long.csv") || matches!(e, FeedError::NoData { .. });
                        proptest::prop_assert!(named, "unnamed error: {}", e);
                    }
                    // Whatever loaded also goes through a whole backtest.
                    Ok(data) => {
                        let n = data.instruments.len();
                        let out = tempfile::tempdir().expect("tmp");
                        let setup = kairos::supervisor::RunSetup {
                            data: std::sync::Arc::new(data),
                            feed: kairos::supervisor::Feed::Replay,
                            venue: Default::default(),
                            strategy: kairos::strategies::build("topk", &toml::Table::new()).expect("topk"),
                            features: Box::new(kairos::feature::TechnicalFeatures::new(n, None)),
                            model: None,
                            initial_cash: Decimal::from(1_000_000),
                            window: 4,
                            out_dir: out.path().join("run"),
                            event_log: true,
                            progress: false,
                            status: None,
                        };
                        if let Err(e) = kairos::supervisor::run_blocking(setup, 1) {
                            proptest::prop_assert!(!e.to_string().contains("panicked"), "{}", e);
                        }
                    }
                }
            }
        }
    }

    /// Well-formed files with extreme values (tiny and huge magnitudes, up to 28 significant
    /// digits), as a CSV directory and as a Parquet table, through the loader and whole
    /// backtests: a result or an error, never a panic.
    #[test]
    fn extreme_values_through_a_whole_backtest_never_panic(
        mantissas in proptest::collection::vec(prop_oneof![(1u64..u64::MAX, 0u32..28), (1u64..1_000_000_000_000, 0u32..16)], 8),
        volume in prop_oneof![(0u64..u64::MAX, 0u32..12), (0u64..1_000_000_000, 0u32..4)],
    ) {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("data");
        std::fs::create_dir_all(&dir).expect("mkdir");
        let days = ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07", "2021-01-08", "2021-01-11", "2021-01-12", "2021-01-13"];
        for sym in ["A", "B"] {
            let mut text = String::from("date,open,high,low,close,volume\n");
            for (k, day) in days.iter().enumerate() {
                let (m, s) = mantissas[(k + usize::from(sym == "B")) % 8];
                let p = Decimal::from_i128_with_scale(i128::from(m), s);
                let v = Decimal::from_i128_with_scale(i128::from(volume.0), volume.1);
                text.push_str(&format!("{day},{p},{p},{p},{p},{v}\n"));
            }
            std::fs::write(dir.join(format!("{sym}.csv")), text).expect("w");
        }
        // The same values as a long Parquet table (text columns, exactly as written).
        let mut cols: Vec<Vec<String>> = vec![Vec::new(); 7];
        for sym in ["A", "B"] {
            for line in std::fs::read_to_string(dir.join(format!("{sym}.csv"))).expect("csv").lines().skip(1) {
                cols[0].push(sym.to_string());
                for (k, f) in line.split(',').enumerate() {
                    cols[k + 1].push(f.to_string());
                }
            }
        }
        let names = ["symbol", "date", "open", "high", "low", "close", "volume"];
        let columns: Vec<polars::prelude::Column> = names
            .iter()
            .zip(&cols)
            .map(|(n, v)| polars::prelude::Column::new((*n).into(), v.clone()))
            .collect();
        let mut df = polars::prelude::DataFrame::new(cols[0].len(), columns).expect("frame");
        let pq = tmp.path().join("m.parquet");
        polars::prelude::ParquetWriter::new(std::fs::File::create(&pq).expect("create")).finish(&mut df).expect("parquet");
        let skip = LoadOptions { policy: BadRowPolicy::Skip, ..opts() };
        let (a, b) = (feeds::load(&dir, &skip), feeds::load(&pq, &skip));
        proptest::prop_assert_eq!(a.is_ok(), b.is_ok());
        if let (Ok(a), Ok(b)) = (a, b) {
            proptest::prop_assert_eq!(a.bar_count(), b.bar_count());
            proptest::prop_assert_eq!(&a.series[0].close, &b.series[0].close);
        }
        let out = tmp.path().join("out");
        for (strategy, data) in [("topk", dir.clone()), ("sma_cross", dir.clone()), ("topk", pq.clone())] {
            let cfg_text = format!(
                "[data]\npath = \"{}\"\nbenchmark = \"\"\non_bad_row = \"skip\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n\
                 [broker]\ncommission_bps = 5\nslippage_bps = 3\nmax_volume_fraction = 0.5\n[strategy]\nname = \"{strategy}\"\n[strategy.params]\n{}\n[output]\ndir = \"{}\"\n",
                data.display(),
                if strategy == "topk" { "k = 1\nband = 1\nlookback = 1\nrebalance_every = 1" } else { "fast = 1\nslow = 2" },
                out.display()
            );
            let cfg = kairos::config::Config::parse(&cfg_text, Path::new("t.toml")).expect("config");
            match kairos::backtest::run(&cfg) {
                Ok(run) => {
                    RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    proptest::prop_assert!(run.summary.final_equity_exact != Decimal::MIN)
                }
                Err(e) => proptest::prop_assert!(!e.to_string().contains("panicked"), "{}", e),
            }
        }
    }
}

#[test]
fn extreme_values_mostly_run_to_a_result() {
    // Values that are extreme but storable: a result (not an error) is what is checked here.
    let tmp = tempfile::tempdir().expect("tmp");
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    for (sym, p) in [("A", "0.000000000000001"), ("B", "999999999999.5")] {
        let mut text = String::from("date,open,high,low,close,volume\n");
        for day in ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07"] {
            text.push_str(&format!("{day},{p},{p},{p},{p},123456789012345\n"));
        }
        std::fs::write(data.join(format!("{sym}.csv")), text).expect("w");
    }
    let cfg_text = format!(
        "[data]\npath = \"{}\"\nbenchmark = \"\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n\
         [broker]\ncash_check = \"allow_negative\"\n[strategy]\nname = \"topk\"\n[strategy.params]\nk = 2\nband = 2\nlookback = 1\nrebalance_every = 1\n[output]\ndir = \"{}\"\n",
        data.display(),
        tmp.path().join("out").display()
    );
    let cfg = kairos::config::Config::parse(&cfg_text, Path::new("t.toml")).expect("config");
    let run = kairos::backtest::run(&cfg).expect("extreme but storable values run to a result");
    assert!(run.summary.trades > 0);
    // Every fill is at its bar's (only) price: nothing rounded, nothing outside the bar.
    let fills = std::fs::read_to_string(tmp.path().join("out/fills.csv")).expect("fills");
    for row in fills.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        let want = if f[1] == "A" {
            "0.000000000000001"
        } else {
            "999999999999.5"
        };
        assert_eq!(
            Decimal::from_str(f[4]).expect("price"),
            Decimal::from_str(want).expect("want"),
            "{row}"
        );
    }
}
