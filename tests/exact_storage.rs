//! Values that pass validation are stored exactly, or their row is refused with a clear error:
//! nothing is rounded to zero, rounded off, or capped at the mantissa's limit. Both sides of
//! the representation's limits are tested, and fills stay inside their bars.

use kairos::feeds::{self, BadRowPolicy, FeedError, LoadOptions};
use kairos::types::Decimal;
use std::path::Path;
use std::str::FromStr;

fn write(dir: &Path, symbol: &str, rows: &[(&str, &str, &str, &str, &str, &str)]) {
    let mut s = String::from("date,open,high,low,close,volume\n");
    for r in rows {
        s.push_str(&format!("{},{},{},{},{},{}\n", r.0, r.1, r.2, r.3, r.4, r.5));
    }
    std::fs::write(dir.join(format!("{symbol}.csv")), s).expect("write");
}

fn opts(policy: BadRowPolicy) -> LoadOptions {
    LoadOptions {
        policy,
        benchmark: None,
        ..LoadOptions::default()
    }
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

#[test]
fn tiny_prices_are_kept_exactly_and_a_backtest_on_them_does_not_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let days = [
        "2021-01-04",
        "2021-01-05",
        "2021-01-06",
        "2021-01-07",
        "2021-01-08",
        "2021-01-11",
    ];
    let px = [
        "0.00000000004",
        "0.00000000005",
        "0.00000000003",
        "0.00000000006",
        "0.00000000004",
        "0.00000000007",
    ];
    let rows: Vec<_> = days.iter().zip(px).map(|(d, p)| (*d, p, p, p, p, "1000")).collect();
    write(dir.path(), "TINY", &rows);
    let other: Vec<_> = days.iter().map(|d| (*d, "10", "10", "10", "10", "1000")).collect();
    write(dir.path(), "PLAIN", &other);
    let data = feeds::load(dir.path(), &opts(BadRowPolicy::Fail)).expect("load");
    let tiny = data.instrument_by_symbol("TINY").expect("TINY").id.index();
    for (k, p) in px.iter().enumerate() {
        assert_eq!(data.bar(tiny, k, 0, 0, 0).close, d(p), "bar {k}");
    }
    assert_eq!(data.series[tiny].price_scale, 11);
    // A whole backtest over it: sizes divide by these prices; nothing panics.
    let outdir = tempfile::tempdir().expect("tmp");
    let out = outdir.path().join("out");
    let text = format!(
        "[data]\npath = \"{}\"\nbenchmark = \"\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n\
         [broker]\ncash_check = \"allow_negative\"\n[strategy]\nname = \"topk\"\n[strategy.params]\nk = 1\nband = 1\nlookback = 1\nrebalance_every = 1\n[output]\ndir = \"{}\"\n",
        dir.path().display(),
        out.display()
    );
    let cfg = kairos::config::Config::parse(&text, Path::new("t.toml")).expect("config");
    kairos::backtest::run(&cfg).expect("the run ends with a result");
}

#[test]
fn a_value_that_cannot_be_stored_exactly_beside_the_others_is_refused_by_name() {
    let dir = tempfile::tempdir().expect("tmp");
    // Prices near 1e9 (10 integer digits) and one with 10 decimals: at 10 decimals the others
    // would need 20 digits, more than an i64 holds; the precise row is the one refused.
    write(
        dir.path(),
        "BIG",
        &[
            (
                "2021-01-04",
                "1000000001",
                "1000000003",
                "1000000001",
                "1000000002",
                "100",
            ),
            (
                "2021-01-05",
                "1000000002",
                "1000000003",
                "1000000001",
                "1000000001.0123456789",
                "100",
            ),
            (
                "2021-01-06",
                "1000000001",
                "1000000003",
                "1000000001",
                "1000000003",
                "100",
            ),
        ],
    );
    let err = feeds::load(dir.path(), &opts(BadRowPolicy::Fail)).expect_err("refused");
    let m = err.to_string();
    assert!(matches!(err, FeedError::BadRow { .. }), "{m}");
    assert!(
        m.contains("BIG.csv") && m.contains("line 3") && m.contains("`close`"),
        "{m}"
    );
    assert!(m.contains("cannot be stored exactly"), "{m}");
    let data = feeds::load(dir.path(), &opts(BadRowPolicy::Skip)).expect("skip");
    assert_eq!(data.report.rows_skipped.get("not storable exactly"), Some(&1));
    assert_eq!(data.report.rows_kept + 1, data.report.rows_read);
    assert_eq!(data.bar(0, 0, 0, 0, 0).high, d("1000000003"), "the others are exact");
}

#[test]
fn a_volume_with_more_digits_than_64_bits_hold_is_refused_not_capped() {
    let dir = tempfile::tempdir().expect("tmp");
    write(
        dir.path(),
        "V",
        &[
            ("2021-01-04", "10", "11", "9", "10", "123456789012"),
            ("2021-01-05", "10", "11", "9", "10", "123456789012.0123456789"),
            ("2021-01-06", "10", "11", "9", "10", "123456789013"),
        ],
    );
    let err = feeds::load(dir.path(), &opts(BadRowPolicy::Fail)).expect_err("refused");
    assert!(
        err.to_string().contains("line 3") && err.to_string().contains("`volume`"),
        "{err}"
    );
    let data = feeds::load(dir.path(), &opts(BadRowPolicy::Skip)).expect("skip");
    assert_eq!(data.series[0].len(), 2);
    assert_eq!(data.bar(0, 1, 0, 0, 0).volume, d("123456789013"));
}

#[test]
fn the_limits_of_the_mantissa_on_both_sides() {
    let dir = tempfile::tempdir().expect("tmp");
    // i64::MAX itself fits at scale 0; one more does not.
    write(
        dir.path(),
        "EDGE",
        &[
            (
                "2021-01-04",
                "9223372036854775807",
                "9223372036854775807",
                "9223372036854775807",
                "9223372036854775807",
                "1",
            ),
            (
                "2021-01-05",
                "9223372036854775807",
                "9223372036854775808",
                "9223372036854775807",
                "9223372036854775807",
                "1",
            ),
        ],
    );
    let err = feeds::load(dir.path(), &opts(BadRowPolicy::Fail)).expect_err("one past the limit");
    assert!(
        err.to_string().contains("line 3") && err.to_string().contains("`high`"),
        "{err}"
    );
    let data = feeds::load(dir.path(), &opts(BadRowPolicy::Skip)).expect("skip");
    assert_eq!(data.bar(0, 0, 0, 0, 0).close, d("9223372036854775807"));
    // 18 significant digits with decimals: stored exactly at its own scale.
    let dir2 = tempfile::tempdir().expect("tmp");
    write(
        dir2.path(),
        "FINE",
        &[
            (
                "2021-01-04",
                "123456789.123456789",
                "123456789.123456789",
                "123456789.123456789",
                "123456789.123456789",
                "0.000000001",
            ),
            (
                "2021-01-05",
                "0.000000000000000001",
                "0.000000000000000001",
                "0.000000000000000001",
                "0.000000000000000001",
                "1",
            ),
        ],
    );
    let data = feeds::load(dir2.path(), &opts(BadRowPolicy::Skip)).expect("load");
    // The two rows need 9 integer + 18 decimal digits together: one is refused, never rounded.
    assert_eq!(data.report.rows_kept, 1);
    let b = data.bar(0, 0, 0, 0, 0);
    assert!(
        b.close == d("123456789.123456789") || b.close == d("0.000000000000000001"),
        "{}",
        b.close
    );
}
