//! SPEC.md S1 and S2 on small cases worked out by hand (the arithmetic is in the comments).

mod common;
use common::*;
use kairos::types::OrderEvent;
use rust_decimal_macros::dec;

#[test]
fn s1_sma_cross_small_case() {
    // fast 2, slow 3. Closes of A: 10 10 10 9 12 13 11 8 8.
    // d_2 = 10 - 10 = 0; d_3 = 9.5 - 9.667 < 0; d_4 = 10.5 - 10.333 > 0: cross up while flat,
    // buy floor(E 1000 / N 2 / close 12) = 41, filled at open[5] = 12.5.
    // d_5 = 12.5 - 11.333 > 0; d_6 = 12 - 12 = 0 (no cross: needs d < 0);
    // d_7 = 9.5 - 10.667 < 0 with d_6 = 0 >= 0: cross down while long: sell 41 at open[8] = 8.5.
    // Cash: 1000 - 512.5 + 348.5 = 836. B is flat at 20: d = 0 always, no trade.
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let a_close = [10.0, 10.0, 10.0, 9.0, 12.0, 13.0, 11.0, 8.0, 8.0];
    let mut a_open = vec![10.0; 9];
    a_open[5] = 12.5;
    a_open[8] = 8.5;
    write_series(&data, "A", &a_open, &a_close);
    write_series(&data, "B", &[20.0; 9], &[20.0; 9]);
    let out = dir.path().join("out");
    let cfg = config(
        r#"
[data]
path = "{data}"
benchmark = ""
[portfolio]
initial_cash = 1000
[broker]
cash_check = "allow_negative"
[strategy]
name = "sma_cross"
[strategy.params]
fast = 2
slow = 3
[output]
dir = "{out}"
"#,
        &data,
        &out,
    );
    let run = kairos::backtest::run(&cfg).expect("run");
    let d = dates(9);
    assert_eq!(
        fills(&out),
        vec![
            vec![
                d[5].clone(),
                "A".into(),
                "BUY".into(),
                "41".into(),
                "12.5".into(),
                "0".into()
            ],
            vec![
                d[8].clone(),
                "A".into(),
                "SELL".into(),
                "41".into(),
                "8.5".into(),
                "0".into()
            ],
        ]
    );
    assert_eq!(run.summary.final_equity_exact, dec!(836));
    // Equity at the close of t = 5: cash 487.5 + 41 * 13.
    assert_eq!(run.curve[5].1, dec!(1020.5));
    assert_eq!(run.summary.closed_trades, 1);
    assert_eq!(run.summary.win_rate, Some(0.0));
}

#[test]
fn s2_topk_small_case() {
    // k 1, band 2, lookback 2, rebalance every 2, stop-loss 3 %, take-profit 5 %, 5 bps.
    // t=2: returns A 11/10-1 = 0.10, B 0.05, C -0.10: target [A], buy floor(1000/11) = 90.
    //      Fill at open[3] = 11: cost 990 + 0.0005*90*11 = 0.495 commission; cash 9.505.
    // t=4: returns A 0, B 12/10.5-1 = 0.143, C 0: ranks B 1, A 2 (tie with C, symbol order).
    //      A is held and ranked within the band: kept, B does not replace it (hysteresis).
    //      E = 9.505 + 990 = 999.505, target floor(999.505/11) = 90 = held: no order.
    // t=5: A closes 10.6 <= 11 * 0.97 = 10.67: stop, sell 90 at open[6] = 10.5,
    //      commission 0.4725; cash 9.505 + 945 - 0.4725 = 954.0325.
    // t=6: (last bar) rebalance picks B (A -3.6 %, B 0 ties C 0: B by symbol order), buys
    //      floor(954.0325/12) = 79: submitted on the last bar, it never fills.
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    let a_close = [10.0, 10.0, 11.0, 11.0, 11.0, 10.6, 10.6];
    let a_open = [10.0, 10.0, 10.0, 11.0, 11.0, 11.0, 10.5];
    let b_close = [10.0, 10.0, 10.5, 10.5, 12.0, 12.0, 12.0];
    let c_close = [10.0, 10.0, 9.0, 9.0, 9.0, 9.0, 9.0];
    write_series(&data, "A", &a_open, &a_close);
    write_series(&data, "B", &b_close, &b_close);
    write_series(&data, "C", &c_close, &c_close);
    let out = dir.path().join("out");
    let cfg = config(
        r#"
[data]
path = "{data}"
benchmark = ""
[portfolio]
initial_cash = 1000
[broker]
commission_bps = 5
cash_check = "allow_negative"
[strategy]
name = "topk"
[strategy.params]
k = 1
band = 2
lookback = 2
rebalance_every = 2
stop_loss = 0.03
take_profit = 0.05
[output]
dir = "{out}"
"#,
        &data,
        &out,
    );
    let run = kairos::backtest::run(&cfg).expect("run");
    let d = dates(7);
    assert_eq!(
        fills(&out),
        vec![
            vec![
                d[3].clone(),
                "A".into(),
                "BUY".into(),
                "90".into(),
                "11".into(),
                "0.495".into()
            ],
            vec![
                d[6].clone(),
                "A".into(),
                "SELL".into(),
                "90".into(),
                "10.5".into(),
                "0.4725".into()
            ],
        ]
    );
    assert_eq!(run.summary.final_equity_exact, dec!(954.0325));
    assert_eq!(run.curve[4].1, dec!(999.505));
    // The order of the last bar is canceled unfilled at the end of the data.
    let log = std::fs::read_to_string(out.join("events.jsonl")).expect("log");
    let last = log.lines().last().expect("a line");
    assert!(
        last.contains("\"canceled\"") && last.contains("end of data") && last.contains("\"unfilled\":\"79\""),
        "{last}"
    );
    assert_eq!(run.book.position(kairos::types::InstrumentId(1)).quantity, dec!(0));
    let _ = OrderEvent::Canceled; // the variant the log line serializes
}

#[test]
fn s2_take_profit_exits_and_marks_stopped_for_the_bar() {
    // k 1, lookback 1, rebalance every bar. A rises 20 % on t=1 (rank 1): buy 100 at open[2]=10.
    // t=2: A closes 10.5 >= 10 * 1.05: take profit; A is stopped for this bar, so although A is
    // still rank 1 at t=2 the rebalance does not re-enter it, and B (rank 2 > k) is not eligible:
    // the target stays empty. The orders of t=3 (the last bar) never fill.
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    write_series(&data, "A", &[8.0, 10.0, 10.0, 10.6], &[8.0, 9.6, 10.5, 10.6]);
    write_series(&data, "B", &[10.0, 10.0, 10.0, 10.0], &[10.0, 10.5, 10.6, 10.6]);
    let out = dir.path().join("out");
    let cfg = config(
        r#"
[data]
path = "{data}"
benchmark = ""
[portfolio]
initial_cash = 1000
[broker]
cash_check = "allow_negative"
[strategy]
name = "topk"
[strategy.params]
k = 1
band = 1
lookback = 1
rebalance_every = 1
stop_loss = 0.03
take_profit = 0.05
[output]
dir = "{out}"
"#,
        &data,
        &out,
    );
    kairos::backtest::run(&cfg).expect("run");
    let f = fills(&out);
    let d = dates(4);
    // t=1: A 9.6/8 = +20 %, B +5 %: buy A floor(1000/9.6) = 104 at open[2] = 10.
    assert_eq!(
        f[0],
        vec![
            d[2].clone(),
            "A".into(),
            "BUY".into(),
            "104".into(),
            "10".into(),
            "0".into()
        ]
    );
    // t=2: take profit on A (10.5 >= 10.5 - 1e-9): sell at open[3]; nothing bought.
    assert_eq!(
        f[1],
        vec![
            d[3].clone(),
            "A".into(),
            "SELL".into(),
            "104".into(),
            "10.6".into(),
            "0".into()
        ]
    );
    assert_eq!(f.len(), 2);
}
