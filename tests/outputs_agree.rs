//! The outputs of a run agree with each other and with figures worked out by hand: the last
//! `equity.csv` equity is `final_equity`; `fills.csv` rows, `trades` and the `filled` events of
//! `events.jsonl` are the same count; cash, gross and net exposure of a small long/short case;
//! profit factor, win rate, turnover and costs; and under `on_bad_row = "skip"` every row read is
//! either kept or counted as skipped.

mod common;
use common::*;
use kairos::data::synth::{self, SynthSpec};
use kairos::feeds::{self, BadRowPolicy, LoadOptions};
use kairos::strategy::{Strategy, StrategyContext};
use kairos::supervisor::{run_blocking, RunSetup};
use kairos::types::{Bar, Decimal, InstrumentId, OrderRequest, Side};
use rust_decimal_macros::dec;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .expect("csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn filled_events(out: &Path) -> usize {
    std::fs::read_to_string(out.join("events.jsonl"))
        .expect("events.jsonl")
        .lines()
        .filter(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["event"]["event"] == "filled"
        })
        .count()
}

/// The three outputs and the summary tell the same story.
fn assert_consistent(out: &Path, summary: &kairos::portfolio::Summary) {
    let equity = csv_rows(&out.join("equity.csv"));
    let last = Decimal::from_str(&equity.last().expect("equity rows")[2]).expect("equity");
    assert_eq!(last, summary.final_equity_exact, "last equity.csv row vs final_equity");
    assert_eq!(equity.len() as u64, summary.timestamps);
    let fills = csv_rows(&out.join("fills.csv"));
    assert_eq!(fills.len() as u64, summary.trades, "fills.csv rows vs trades");
    assert_eq!(filled_events(out) as u64, summary.trades, "filled events vs trades");
    // Commissions add up to the summary's.
    let commissions: Decimal = fills
        .iter()
        .map(|f| Decimal::from_str(&f[5]).expect("commission"))
        .sum();
    assert_eq!(commissions, summary.commissions);
    // Each row's equity is its cash plus its net exposure.
    for r in &equity {
        let d = |k: usize| Decimal::from_str(&r[k]).expect("decimal");
        assert_eq!(d(2), d(1) + d(4), "{}: equity = cash + net exposure", r[0]);
        assert!(d(3) >= d(4).abs(), "{}: gross >= |net|", r[0]);
    }
}

#[test]
fn a_synthetic_run_is_consistent_across_its_outputs() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 15,
            days: 250,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    for strategy in ["topk", "sma_cross"] {
        let text = format!(
            "[data]\npath = \"{{data}}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 1000000\n\
             [broker]\ncommission_bps = 5\nslippage_bps = 2\ncash_check = \"allow_negative\"\n\
             [strategy]\nname = \"{strategy}\"\n[output]\ndir = \"{{out}}\"\n"
        );
        let out = dir.path().join(strategy);
        let run = kairos::backtest::run(&config(&text, &d, &out)).expect("run");
        assert!(run.summary.trades > 20, "{strategy}: {}", run.summary.trades);
        assert!(run.summary.slippage > Decimal::ZERO);
        assert_eq!(run.summary.costs, run.summary.commissions + run.summary.slippage);
        assert_consistent(&out, &run.summary);
        let written: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).expect("summary.json")).expect("json");
        assert_eq!(written["trades"], run.summary.trades);
        assert_eq!(
            written["final_equity_exact"],
            run.summary.final_equity_exact.to_string()
        );
    }
}

/// Submits the orders scripted for each step.
struct Script(Vec<(u64, InstrumentId, Side, Decimal)>);

impl Strategy for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn on_bars(&mut self, _bars: &[Bar], ctx: &StrategyContext<'_>) -> Vec<OrderRequest> {
        self.0
            .iter()
            .filter(|o| o.0 == ctx.step())
            .map(|&(_, id, side, q)| OrderRequest::market(id, side, q))
            .collect()
    }
}

/// A long in A and a short in B, worked out by hand (commission 10 bps + 1 cent a share, market
/// orders at the next open):
///
/// | day | A open/close | B open/close | fills at the open |
/// |---|---|---|---|
/// | 0 | 10 / 10 | 20 / 20 | |
/// | 1 | 10 / 11 | 20 / 19 | BUY 100 A @ 10 (comm 2), SELL 50 B @ 20 (comm 1.5) |
/// | 2 | 12 / 12 | 18 / 18 | |
/// | 3 | 11 / 10 | 20 / 20 | SELL 100 A @ 11 (comm 2.1) |
/// | 4 | 10 / 10 | 20 / 20 | BUY 50 B @ 20 (comm 1.5) |
#[test]
fn a_long_short_case_by_hand() {
    let dir = tempfile::tempdir().expect("tmp");
    write_series(
        dir.path(),
        "A",
        &[10.0, 10.0, 12.0, 11.0, 10.0],
        &[10.0, 11.0, 12.0, 10.0, 10.0],
    );
    write_series(
        dir.path(),
        "B",
        &[20.0, 20.0, 18.0, 20.0, 20.0],
        &[20.0, 19.0, 18.0, 20.0, 20.0],
    );
    let opts = LoadOptions {
        benchmark: None,
        ..LoadOptions::default()
    };
    let data = Arc::new(feeds::load(dir.path(), &opts).expect("load"));
    let (a, b) = (InstrumentId(0), InstrumentId(1));
    let script = Script(vec![
        (0, a, Side::Buy, dec!(100)),
        (0, b, Side::Sell, dec!(50)),
        (2, a, Side::Sell, dec!(100)),
        (3, b, Side::Buy, dec!(50)),
    ]);
    let out = dir.path().join("out");
    let setup = RunSetup {
        data,
        strategy: Box::new(script),
        features: Box::new(kairos::feature::NoFeatures),
        model: None,
        feed: kairos::supervisor::Feed::Replay,
        venue: kairos::supervisor::Venue::Sim(kairos::broker::BrokerConfig {
            commission_bps: dec!(10),
            commission_per_share: dec!(0.01),
            ..Default::default()
        }),
        initial_cash: dec!(100000),
        window: 2,
        out_dir: out.clone(),
        event_log: true,
        progress: false,
        status: None,
    };
    let run = run_blocking(setup, 2).expect("run");
    let s = &run.summary;
    assert_consistent(&out, s);

    let fills = csv_rows(&out.join("fills.csv"));
    let f: Vec<(String, String, String, Decimal, Decimal, Decimal)> = fills
        .iter()
        .map(|r| {
            let d = |k: usize| Decimal::from_str(&r[k]).expect("decimal");
            (r[0].clone(), r[1].clone(), r[2].clone(), d(3), d(4), d(5))
        })
        .collect();
    let days = dates(5);
    let row = |day: usize, sym: &str, side: &str, q: Decimal, px: Decimal, c: Decimal| {
        (days[day].clone(), sym.to_string(), side.to_string(), q, px, c)
    };
    assert_eq!(
        f,
        vec![
            row(1, "A", "BUY", dec!(100), dec!(10), dec!(2)),
            row(1, "B", "SELL", dec!(50), dec!(20), dec!(1.5)),
            row(3, "A", "SELL", dec!(100), dec!(11), dec!(2.1)),
            row(4, "B", "BUY", dec!(50), dec!(20), dec!(1.5)),
        ]
    );

    // equity.csv: cash, equity, gross and net exposure at each close.
    let equity: Vec<Vec<Decimal>> = csv_rows(&out.join("equity.csv"))
        .iter()
        .map(|r| r[1..].iter().map(|x| Decimal::from_str(x).expect("decimal")).collect())
        .collect();
    let want = vec![
        // cash, equity, gross, net
        vec![dec!(100000), dec!(100000), dec!(0), dec!(0)],
        // 100000 - 1000 - 2 + 1000 - 1.5; A 100 x 11 = 1100, B -50 x 19 = -950
        vec![dec!(99996.5), dec!(100146.5), dec!(2050), dec!(150)],
        // A 100 x 12 = 1200, B -50 x 18 = -900
        vec![dec!(99996.5), dec!(100296.5), dec!(2100), dec!(300)],
        // + 1100 - 2.1; B -50 x 20 = -1000
        vec![dec!(101094.4), dec!(100094.4), dec!(1000), dec!(-1000)],
        // - 1000 - 1.5; flat
        vec![dec!(100092.9), dec!(100092.9), dec!(0), dec!(0)],
    ];
    for (k, (got, want)) in equity.iter().zip(&want).enumerate() {
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.normalize(), w.normalize(), "equity.csv day {k}: {got:?} vs {want:?}");
        }
    }
    assert_eq!(equity.len(), 5);
    assert_eq!(s.final_equity_exact.normalize(), dec!(100092.9));

    // Round trips net of commissions: A +100 - 2 - 2.1 = 95.9 (a win), B 0 - 1.5 - 1.5 = -3.
    assert_eq!(s.closed_trades, 2);
    assert_eq!(s.win_rate, Some(0.5));
    assert!((s.profit_factor.expect("profit factor") - 95.9 / 3.0).abs() < 1e-12);
    // Traded notional 1000 + 1000 + 1100 + 1000 over the mean equity of the five closes.
    let mean = (100000.0 + 100146.5 + 100296.5 + 100094.4 + 100092.9) / 5.0;
    assert!((s.turnover - 4100.0 / mean).abs() < 1e-12, "turnover {}", s.turnover);
    assert_eq!(s.commissions.normalize(), dec!(7.1));
    assert_eq!(s.costs.normalize(), dec!(7.1));
    assert_eq!(s.realized_pnl.normalize(), dec!(100), "realized before commissions");
}

#[test]
fn under_the_skip_policy_every_row_read_is_kept_or_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let rows = [
        "date,open,high,low,close,volume",
        "2021-01-04,10,11,9,10,100",
        "2021-01-05,10,11,9,NaN,100",
        "2021-01-06,10,11,9,10.5,100",
        "2021-01-06,10,11,9,10.5,100",
        "2021-01-07,-1,11,9,10,100",
        "2021-01-08,10,9,11,10,100",
        "2021-01-11,10,11,9,10,",
        "2021-01-12,10,12,9,12,100",
        "2021-01-11,10,11,9,10,100",
        "2021-01-13,10,11,9,10,-5",
        "2021-01-14,10,11,9,10,100",
    ];
    std::fs::write(dir.path().join("A.csv"), rows.join("\n") + "\n").expect("write");
    write_series(dir.path(), "B", &[10.0; 6], &[10.0; 6]);
    let opts = LoadOptions {
        policy: BadRowPolicy::Skip,
        benchmark: None,
        ..LoadOptions::default()
    };
    let data = feeds::load(dir.path(), &opts).expect("load");
    let r = &data.report;
    let skipped: usize = r.rows_skipped.values().sum();
    assert_eq!(r.rows_read, 11 + 6);
    assert_eq!(skipped, 7, "{r:?}");
    assert_eq!(r.rows_kept + skipped, r.rows_read, "kept + skipped = read: {r:?}");
    assert_eq!(r.rows_kept, data.bar_count());
}
