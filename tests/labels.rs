//! Labels: forward returns and the cross-sectional alpha label, checked by hand.

mod common;
use common::*;
use kairos::feature::labels::label_market;

#[test]
fn forward_returns_and_alpha_by_hand() {
    let dir = tempfile::tempdir().expect("tmp");
    // Closes of A, B, C and SPY over 3 bars; h = 1.
    write_series(dir.path(), "A", &[10.0, 11.0, 11.0], &[10.0, 11.0, 11.0]);
    write_series(dir.path(), "B", &[10.0, 9.0, 9.0], &[10.0, 9.0, 9.9]);
    write_series(dir.path(), "C", &[20.0, 20.0, 20.0], &[20.0, 20.0, 22.0]);
    write_series(dir.path(), "SPY", &[100.0, 101.0, 101.0], &[100.0, 101.0, 101.0]);
    let data = kairos::feeds::load(dir.path(), &Default::default()).expect("load");
    let spy = data.instrument_by_symbol("SPY").map(|i| i.id);
    let df = label_market(&data, spy, &[1]).expect("labels");
    // Only tradable symbols: A, B, C x 3 bars, sorted by symbol then time.
    assert_eq!(df.height(), 9);
    let f = df.column("fwd_ret_1").expect("col").f64().expect("f64").clone();
    let a = df.column("alpha_1").expect("col").f64().expect("f64").clone();
    // t = 0: r = A 0.1, B -0.1, C 0; SPY 0.01. Sample sd of (0.1, -0.1, 0) = 0.1.
    assert!((f.get(0).expect("A0") - 0.1).abs() < 1e-12);
    assert!((a.get(0).expect("A0") - (0.1 - 0.01) / 0.1).abs() < 1e-9);
    assert!((a.get(3).expect("B0") - (-0.1 - 0.01) / 0.1).abs() < 1e-9);
    // t = 1: A 0, B 0.1, C 0.1, SPY 0: sd = sqrt(((-1/15)^2 + 2 (1/30)^2) * ... ) computed here.
    let r = [0.0, 0.1, 0.1];
    let m = r.iter().sum::<f64>() / 3.0;
    let sd = (r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 2.0).sqrt();
    assert!((a.get(4).expect("B1") - 0.1 / sd).abs() < 1e-9);
    // The last bar has no future: missing, not zero.
    assert_eq!(f.get(2), None);
    assert_eq!(a.get(8), None);
}

#[test]
fn alpha_is_clipped_to_three() {
    let dir = tempfile::tempdir().expect("tmp");
    // Many flat stocks and one that doubles: its alpha exceeds 3 sd and is clipped.
    for s in ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"] {
        write_series(dir.path(), s, &[10.0, 10.0], &[10.0, 10.0]);
    }
    write_series(dir.path(), "K", &[10.0, 10.0], &[10.0, 20.0]);
    let data = kairos::feeds::load(dir.path(), &Default::default()).expect("load");
    let df = label_market(&data, None, &[1]).expect("labels");
    let a = df.column("alpha_1").expect("col").f64().expect("f64").clone();
    let k = (0..df.height()).filter_map(|i| a.get(i)).fold(f64::MIN, f64::max);
    assert_eq!(k, 3.0);
}
