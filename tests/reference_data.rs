//! `[[data.reference]]`: benchmark series from another file join the data at its own
//! timestamps only, are never traded, and a wrong reference is a clear error.

mod common;
use kairos::config::DataConfig;
use kairos::feeds::Reference;

fn setup(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let d = dir.join("data");
    std::fs::create_dir_all(&d).expect("dir");
    let n = 30;
    let closes: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
    common::write_series(&d, "AAA", &closes, &closes);
    common::write_series(&d, "BBB", &closes, &closes);
    // The reference file: IDX on every data date plus two dates before and one after, and a
    // symbol the test never asks for.
    let dates = common::dates(n);
    let mut long = String::from("symbol,date,open,high,low,close,volume\n");
    long.push_str("IDX,2020-12-30,50,51,49,50,10\nIDX,2020-12-31,50,51,49,50,10\n");
    for (i, d) in dates.iter().enumerate() {
        long.push_str(&format!("IDX,{d},{},{},{},{},10\n", 50 + i, 52 + i, 49 + i, 51 + i));
        long.push_str(&format!("OTHER,{d},1,1,1,1,1\n"));
    }
    long.push_str("IDX,2030-01-02,50,51,49,50,10\n");
    let r = dir.join("ref.csv");
    std::fs::write(&r, long).expect("ref");
    (d, r)
}

fn cfg(d: &std::path::Path, r: &std::path::Path, symbols: &[&str]) -> DataConfig {
    let mut c = DataConfig::new(d.to_path_buf());
    c.benchmark = "IDX".into();
    c.reference = vec![Reference {
        path: r.to_path_buf(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
    }];
    c
}

#[test]
fn reference_series_join_at_the_datas_timestamps_and_are_never_traded() {
    let dir = tempfile::tempdir().expect("tmp");
    let (d, r) = setup(dir.path());
    let data = kairos::backtest::load_market(&cfg(&d, &r, &["IDX"])).expect("load");
    assert_eq!(data.timestamps.len(), 30, "a reference adds no timestamp");
    assert_eq!(data.report.reference_bars_outside, 3);
    let idx = data.instrument_by_symbol("IDX").expect("IDX");
    assert!(!idx.tradable);
    assert!(data.instrument_by_symbol("AAA").expect("AAA").tradable);
    assert!(
        data.instrument_by_symbol("OTHER").is_none(),
        "only the symbols asked for"
    );
    let s = &data.series[idx.id.0 as usize];
    assert_eq!(s.len(), 30);
    assert_eq!(s.closes_f64()[0], 51.0);
}

#[test]
fn a_wrong_reference_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let (d, r) = setup(dir.path());
    let e = kairos::backtest::load_market(&cfg(&d, &r, &["NOPE"])).expect_err("missing");
    let m = e.to_string();
    assert!(m.contains("NOPE") && m.contains("ref.csv"), "{m}");
    // A symbol the data already has.
    let mut long = std::fs::read_to_string(&r).expect("ref");
    long.push_str("AAA,2021-01-04,1,1,1,1,1\n");
    std::fs::write(&r, long).expect("ref");
    let e = kairos::backtest::load_market(&cfg(&d, &r, &["AAA"])).expect_err("duplicate");
    assert!(e.to_string().contains("\"AAA\" is also in"), "{e}");
    // A benchmark neither the data nor a reference has.
    let mut c = cfg(&d, &r, &["IDX"]);
    c.benchmark = "SPY".into();
    let e = kairos::backtest::load_market(&c).expect_err("benchmark");
    assert!(e.to_string().contains("data.benchmark: \"SPY\""), "{e}");
    // A malformed reference row is named like any other (file, row, field).
    std::fs::write(
        &r,
        "symbol,date,open,high,low,close,volume\nIDX,2021-01-04,1,1,1,abc,1\n",
    )
    .expect("bad");
    let e = kairos::backtest::load_market(&cfg(&d, &r, &["IDX"])).expect_err("bad row");
    let m = e.to_string();
    assert!(m.contains("ref.csv") && m.contains("close"), "{m}");
}
