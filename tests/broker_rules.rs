//! Broker simulator rules: fill policies, order types and gap rules, costs, volume cap and
//! partial fills, cash check, DAY expiry, orders open at the end.

use kairos::broker::{BrokerConfig, BrokerSim, CashCheck, FillPolicy};
use kairos::types::{
    Bar, ClientOrderId, Decimal, Instrument, InstrumentId, OrderEvent, OrderRequest, Side, TimeInForce,
};
use rust_decimal_macros::dec;
use std::sync::Arc;

const A: InstrumentId = InstrumentId(0);
const DAY: i64 = 86_400_000_000_000;

fn instruments() -> Arc<Vec<Instrument>> {
    Arc::new(vec![
        Instrument {
            id: A,
            symbol: "A".into(),
            time_zone: chrono_tz::America::New_York,
            lot_size: dec!(1),
            tick_size: dec!(0.01),
            tradable: true,
        },
        Instrument {
            id: InstrumentId(1),
            symbol: "SPY".into(),
            time_zone: chrono_tz::America::New_York,
            lot_size: dec!(1),
            tick_size: dec!(0.01),
            tradable: false,
        },
    ])
}

/// A bar on day `d` (21:00 UTC = 16:00 New York).
fn bar(d: i64, o: Decimal, h: Decimal, l: Decimal, c: Decimal, v: Decimal) -> Bar {
    let ts = 1_609_794_000_000_000_000 + d * DAY;
    Bar {
        instrument_id: A,
        open: o,
        high: h,
        low: l,
        close: c,
        volume: v,
        ts_event: ts,
        ts_init: ts,
        seq: d as u64,
    }
}

fn broker(cfg: BrokerConfig, cash: Decimal) -> BrokerSim {
    BrokerSim::new(cfg, instruments(), cash, true)
}

fn fills(ev: &[OrderEvent]) -> Vec<(Decimal, Decimal)> {
    ev.iter()
        .filter_map(|e| match e {
            OrderEvent::Filled(f) => Some((f.quantity, f.price)),
            _ => None,
        })
        .collect()
}

/// Submits `req` at the close of `b0` and matches it against `b1`.
fn one(cfg: BrokerConfig, req: OrderRequest, b0: Bar, b1: Bar) -> Vec<OrderEvent> {
    let mut br = broker(cfg, dec!(1000000));
    let mut ev = Vec::new();
    br.on_bars(&[b0], &mut ev);
    br.submit(vec![(ClientOrderId(1), req)], b0.ts_event, &[b0], &mut ev);
    br.on_bars(&[b1], &mut ev);
    ev
}

#[test]
fn fill_policies_for_market_orders() {
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10.5), dec!(1000));
    let b1 = bar(1, dec!(10.2), dec!(11), dec!(9), dec!(10.7), dec!(1000));
    let buy = OrderRequest::market(A, Side::Buy, dec!(10));
    let p = |policy| {
        let cfg = BrokerConfig {
            fill_policy: policy,
            ..BrokerConfig::default()
        };
        fills(&one(cfg, buy.clone(), b0, b1))
    };
    assert_eq!(p(FillPolicy::NextOpen), vec![(dec!(10), dec!(10.2))]);
    assert_eq!(p(FillPolicy::NextClose), vec![(dec!(10), dec!(10.7))]);
    assert_eq!(p(FillPolicy::SameClose), vec![(dec!(10), dec!(10.5))]);
}

#[test]
fn limit_and_stop_gap_rules() {
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let cfg = BrokerConfig::default;
    let q = dec!(5);
    let case = |req: OrderRequest, o, h, l, c| fills(&one(cfg(), req, b0, bar(1, o, h, l, c, dec!(1000))));
    // Limit buy 9.5: gap below opens at 9.2 (better price); touched inside the bar fills at 9.5.
    assert_eq!(
        case(
            OrderRequest::limit(A, Side::Buy, q, dec!(9.5)),
            dec!(9.2),
            dec!(10),
            dec!(9),
            dec!(9.8)
        ),
        vec![(q, dec!(9.2))]
    );
    assert_eq!(
        case(
            OrderRequest::limit(A, Side::Buy, q, dec!(9.5)),
            dec!(10),
            dec!(10.5),
            dec!(9.4),
            dec!(10)
        ),
        vec![(q, dec!(9.5))]
    );
    assert!(case(
        OrderRequest::limit(A, Side::Buy, q, dec!(9.5)),
        dec!(10),
        dec!(10.5),
        dec!(9.6),
        dec!(10)
    )
    .is_empty());
    // Limit sell 10.5: gap above opens at 10.8; inside fills at 10.5.
    assert_eq!(
        case(
            OrderRequest::limit(A, Side::Sell, q, dec!(10.5)),
            dec!(10.8),
            dec!(11),
            dec!(10.6),
            dec!(10.9)
        ),
        vec![(q, dec!(10.8))]
    );
    assert_eq!(
        case(
            OrderRequest::limit(A, Side::Sell, q, dec!(10.5)),
            dec!(10),
            dec!(10.6),
            dec!(9.9),
            dec!(10)
        ),
        vec![(q, dec!(10.5))]
    );
    // Stop buy 10.5: gap above fills at the open 10.8 (worse); inside at 10.5.
    assert_eq!(
        case(
            OrderRequest::stop(A, Side::Buy, q, dec!(10.5)),
            dec!(10.8),
            dec!(11),
            dec!(10.6),
            dec!(10.9)
        ),
        vec![(q, dec!(10.8))]
    );
    assert_eq!(
        case(
            OrderRequest::stop(A, Side::Buy, q, dec!(10.5)),
            dec!(10),
            dec!(10.6),
            dec!(9.9),
            dec!(10)
        ),
        vec![(q, dec!(10.5))]
    );
    assert!(case(
        OrderRequest::stop(A, Side::Buy, q, dec!(10.5)),
        dec!(10),
        dec!(10.4),
        dec!(9.9),
        dec!(10)
    )
    .is_empty());
    // Stop sell 9.5: gap below at the open 9.2; inside at 9.5.
    assert_eq!(
        case(
            OrderRequest::stop(A, Side::Sell, q, dec!(9.5)),
            dec!(9.2),
            dec!(9.4),
            dec!(9),
            dec!(9.3)
        ),
        vec![(q, dec!(9.2))]
    );
    assert_eq!(
        case(
            OrderRequest::stop(A, Side::Sell, q, dec!(9.5)),
            dec!(10),
            dec!(10.1),
            dec!(9.4),
            dec!(10)
        ),
        vec![(q, dec!(9.5))]
    );
    // Stop-limit buy (10.5, 10.6): triggered inside, stop <= limit: fills at 10.5.
    let sl = |t, l| OrderRequest::stop_limit(A, Side::Buy, q, t, l);
    assert_eq!(
        case(sl(dec!(10.5), dec!(10.6)), dec!(10), dec!(10.7), dec!(9.9), dec!(10)),
        vec![(q, dec!(10.5))]
    );
    // Gap through both stop and limit at the open 10.8: the limit 10.6 fills only if the bar
    // comes back to it (low 10.55 <= 10.6: at 10.6); otherwise no fill.
    assert_eq!(
        case(
            sl(dec!(10.5), dec!(10.6)),
            dec!(10.8),
            dec!(11),
            dec!(10.55),
            dec!(10.9)
        ),
        vec![(q, dec!(10.6))]
    );
    assert!(case(sl(dec!(10.5), dec!(10.6)), dec!(10.8), dec!(11), dec!(10.7), dec!(10.9)).is_empty());
    // Limit below the stop, triggered inside the bar: path unknown, no fill in that bar...
    let mut br = broker(cfg(), dec!(1000000));
    let mut ev = Vec::new();
    br.submit(
        vec![(ClientOrderId(1), sl(dec!(10.5), dec!(10.2)))],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    br.on_bars(
        &[bar(1, dec!(10), dec!(10.7), dec!(10.3), dec!(10.4), dec!(1000))],
        &mut ev,
    );
    assert!(fills(&ev).is_empty());
    // ...but it stays triggered and fills as a limit on a later bar.
    br.on_bars(
        &[bar(2, dec!(10.3), dec!(10.4), dec!(10.1), dec!(10.2), dec!(1000))],
        &mut ev,
    );
    assert_eq!(fills(&ev), vec![(q, dec!(10.2))]);
}

#[test]
fn commissions_slippage_and_minimum() {
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let b1 = bar(1, dec!(20), dec!(21), dec!(19), dec!(20), dec!(1000));
    let cfg = BrokerConfig {
        commission_bps: dec!(10),
        commission_per_share: dec!(0.01),
        commission_min: dec!(1),
        slippage_bps: dec!(50),
        ..BrokerConfig::default()
    };
    let ev = one(cfg.clone(), OrderRequest::market(A, Side::Buy, dec!(100)), b0, b1);
    let OrderEvent::Filled(f) = ev.iter().find(|e| matches!(e, OrderEvent::Filled(_))).expect("fill") else {
        unreachable!()
    };
    // Buy slips up 0.5 %: 20.1. Commission 10 bps of 2010 + 1 per 100 shares = 2.01 + 1 = 3.01.
    assert_eq!((f.price, f.commission, f.slippage), (dec!(20.1), dec!(3.01), dec!(10)));
    let ev = one(cfg, OrderRequest::market(A, Side::Sell, dec!(1)), b0, b1);
    let OrderEvent::Filled(f) = ev.iter().find(|e| matches!(e, OrderEvent::Filled(_))).expect("fill") else {
        unreachable!()
    };
    // Sell slips down to 19.9; 1.99 bps-commission + 0.01 < minimum 1.
    assert_eq!((f.price, f.commission), (dec!(19.9), dec!(1)));
}

#[test]
fn volume_cap_gives_partial_fills_until_done_and_never_overfills() {
    let cfg = BrokerConfig {
        max_volume_fraction: Some(dec!(0.1)),
        ..BrokerConfig::default()
    };
    let mut br = broker(cfg, dec!(1000000));
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let mut ev = Vec::new();
    br.submit(
        vec![(ClientOrderId(1), OrderRequest::market(A, Side::Buy, dec!(250)))],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    for d in 1..=4 {
        br.on_bars(&[bar(d, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000))], &mut ev);
    }
    let q: Vec<Decimal> = fills(&ev).iter().map(|f| f.0).collect();
    assert_eq!(q, vec![dec!(100), dec!(100), dec!(50)]);
    let leaves: Vec<Decimal> = ev
        .iter()
        .filter_map(|e| match e {
            OrderEvent::Filled(f) => Some(f.leaves_quantity),
            _ => None,
        })
        .collect();
    assert_eq!(leaves, vec![dec!(150), dec!(50), dec!(0)]);
    assert_eq!(br.working_count(), 0);
}

#[test]
fn cash_check_rejects_or_lets_cash_go_negative() {
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let b1 = bar(1, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let req = OrderRequest::market(A, Side::Buy, dec!(200));
    let mut br = broker(BrokerConfig::default(), dec!(1000));
    let mut ev = Vec::new();
    br.submit(vec![(ClientOrderId(1), req.clone())], b0.ts_event, &[b0], &mut ev);
    br.on_bars(&[b1], &mut ev);
    assert!(matches!(ev.last(), Some(OrderEvent::Rejected(r)) if r.reason.contains("insufficient cash")));
    assert_eq!(br.cash(), dec!(1000));
    let mut br = broker(
        BrokerConfig {
            cash_check: CashCheck::AllowNegative,
            ..BrokerConfig::default()
        },
        dec!(1000),
    );
    let mut ev = Vec::new();
    br.submit(vec![(ClientOrderId(1), req)], b0.ts_event, &[b0], &mut ev);
    br.on_bars(&[b1], &mut ev);
    assert_eq!(br.cash(), dec!(-1000));
}

#[test]
fn invalid_orders_are_rejected_with_a_reason() {
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let mut br = broker(BrokerConfig::default(), dec!(1000));
    let mut ev = Vec::new();
    let orders = vec![
        (ClientOrderId(1), OrderRequest::market(A, Side::Buy, dec!(0))),
        (ClientOrderId(2), OrderRequest::market(A, Side::Buy, dec!(1.5))),
        (
            ClientOrderId(3),
            OrderRequest::limit(A, Side::Buy, dec!(1), dec!(9.995)),
        ),
        (
            ClientOrderId(4),
            OrderRequest::market(InstrumentId(1), Side::Buy, dec!(1)),
        ),
        (
            ClientOrderId(5),
            OrderRequest::market(InstrumentId(9), Side::Buy, dec!(1)),
        ),
    ];
    br.submit(orders, b0.ts_event, &[b0], &mut ev);
    let reasons: Vec<String> = ev
        .iter()
        .filter_map(|e| match e {
            OrderEvent::Rejected(r) => Some(r.reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    assert!(reasons[0].contains("lot size") && reasons[1].contains("lot size"));
    assert!(reasons[2].contains("tick size"));
    assert!(reasons[3].contains("not traded"));
    assert!(reasons[4].contains("unknown instrument"));
}

#[test]
fn day_orders_expire_gtc_orders_stay_and_nothing_fills_after_the_end() {
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let mut br = broker(BrokerConfig::default(), dec!(1000000));
    let mut ev = Vec::new();
    let day = OrderRequest::limit(A, Side::Buy, dec!(1), dec!(5)).with_time_in_force(TimeInForce::Day);
    let gtc = OrderRequest::limit(A, Side::Buy, dec!(1), dec!(5));
    br.submit(
        vec![(ClientOrderId(1), day), (ClientOrderId(2), gtc)],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    br.on_bars(&[bar(1, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000))], &mut ev);
    assert!(
        matches!(ev.last(), Some(OrderEvent::Canceled(c)) if c.order_id == ClientOrderId(1) && c.reason.contains("day"))
    );
    assert_eq!(br.working_count(), 1);
    br.finish(b0.ts_event + 2 * DAY, &mut ev);
    assert!(
        matches!(ev.last(), Some(OrderEvent::Canceled(c)) if c.order_id == ClientOrderId(2) && c.reason == "end of data")
    );
    assert_eq!(br.working_count(), 0);
    assert!(fills(&ev).is_empty());
}

#[test]
fn an_order_waits_for_its_symbols_next_bar() {
    let b0 = bar(0, dec!(10), dec!(11), dec!(9), dec!(10), dec!(1000));
    let mut br = broker(BrokerConfig::default(), dec!(1000000));
    let mut ev = Vec::new();
    br.submit(
        vec![(ClientOrderId(1), OrderRequest::market(A, Side::Buy, dec!(1)))],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    br.on_bars(&[], &mut ev); // the symbol has no bar at this timestamp
    assert!(fills(&ev).is_empty());
    br.on_bars(&[bar(2, dec!(12), dec!(13), dec!(11), dec!(12), dec!(1000))], &mut ev);
    assert_eq!(fills(&ev), vec![(dec!(1), dec!(12))]);
}

/// What a list of events says, in short: (order, kind, quantity or reason).
fn summary(ev: &[OrderEvent]) -> Vec<String> {
    ev.iter()
        .map(|e| match e {
            OrderEvent::Submitted(s) => format!("{} submitted", s.order_id),
            OrderEvent::Accepted(a) => format!("{} accepted", a.order_id),
            OrderEvent::Rejected(r) => format!("{} rejected: {}", r.order_id, r.reason),
            OrderEvent::Filled(f) => format!("{} filled {} at {}", f.order_id, f.quantity, f.price),
            OrderEvent::Canceled(c) => format!("{} canceled: {} ({} unfilled)", c.order_id, c.reason, c.unfilled),
        })
        .collect()
}

#[test]
fn bracket_legs_work_after_the_entry_fills_and_cancel_each_other() {
    use kairos::types::{Bracket, Leg};
    let entry = OrderRequest::market(A, Side::Buy, dec!(10)).with_bracket(Bracket {
        take_profit: dec!(12),
        stop_loss: dec!(9),
        stop_loss_limit: None,
    });
    let run = |later: &[Bar]| {
        let mut br = broker(BrokerConfig::default(), dec!(1000000));
        let mut ev = Vec::new();
        let b0 = bar(0, dec!(10), dec!(10.5), dec!(9.5), dec!(10), dec!(1000));
        br.on_bars(&[b0], &mut ev);
        br.submit(vec![(ClientOrderId(7), entry.clone())], b0.ts_event, &[b0], &mut ev);
        for b in later {
            br.on_bars(&[*b], &mut ev);
        }
        (summary(&ev), br.working_count())
    };
    // The entry fills at the next open; its bar reaches 12.5 but the legs only work from the
    // next bar on. The bar after reaches the take-profit: the stop-loss is canceled.
    let (ev, working) = run(&[
        bar(1, dec!(10), dec!(12.5), dec!(9.8), dec!(11), dec!(1000)),
        bar(2, dec!(11), dec!(12.2), dec!(10.5), dec!(12), dec!(1000)),
    ]);
    assert_eq!(
        ev[2..],
        [
            "O7 filled 10 at 10",
            "O7-sl submitted",
            "O7-sl accepted",
            "O7-tp submitted",
            "O7-tp accepted",
            "O7-tp filled 10 at 12",
            "O7-sl canceled: bracket: the other leg filled (0 unfilled)",
        ]
    );
    assert_eq!(working, 0);
    // A bar that reaches both prices: the stop-loss fills (the worse outcome).
    let (ev, working) = run(&[
        bar(1, dec!(10), dec!(10.2), dec!(9.8), dec!(10), dec!(1000)),
        bar(2, dec!(10), dec!(12.5), dec!(8.5), dec!(10), dec!(1000)),
    ]);
    assert_eq!(
        ev[ev.len() - 2..],
        [
            "O7-sl filled 10 at 9",
            "O7-tp canceled: bracket: the other leg filled (0 unfilled)"
        ]
    );
    assert_eq!(working, 0);
    // Neither reached: both legs keep working.
    let (_, working) = run(&[bar(1, dec!(10), dec!(10.2), dec!(9.8), dec!(10), dec!(1000))]);
    assert_eq!(working, 2);
    assert_eq!(
        ClientOrderId(7).with_leg(Leg::StopLoss).leg(),
        Some((ClientOrderId(7), Leg::StopLoss))
    );
    // Legs on the wrong side of each other are refused with the entry.
    let mut br = broker(BrokerConfig::default(), dec!(1000000));
    let mut ev = Vec::new();
    let b0 = bar(0, dec!(10), dec!(10.5), dec!(9.5), dec!(10), dec!(1000));
    let bad = OrderRequest::market(A, Side::Buy, dec!(10)).with_bracket(Bracket {
        take_profit: dec!(9),
        stop_loss: dec!(12),
        stop_loss_limit: None,
    });
    br.submit(vec![(ClientOrderId(1), bad)], b0.ts_event, &[b0], &mut ev);
    assert!(summary(&ev)[1].starts_with("O1 rejected: bracket: the stop-loss 12 must be on the losing side"));
}

fn a_share(daily: bool) -> BrokerSim {
    use kairos::broker::AShareRules;
    let cfg = BrokerConfig {
        commission_bps: dec!(5),
        a_share: Some(AShareRules::default()),
        ..BrokerConfig::default()
    };
    BrokerSim::new(cfg, instruments(), dec!(1000000), daily)
}

/// A minute bar of day `d`, minute `m` after 14:30 UTC (09:30 New York).
fn minute(d: i64, m: i64, o: Decimal, c: Decimal) -> Bar {
    let ts = 1_609_770_600_000_000_000 + d * DAY + m * 60_000_000_000;
    Bar {
        instrument_id: A,
        open: o,
        high: o.max(c),
        low: o.min(c),
        close: c,
        volume: dec!(1000000),
        ts_event: ts,
        ts_init: ts,
        seq: 0,
    }
}

#[test]
fn a_share_lots_and_stamp_duty() {
    let mut br = a_share(true);
    let mut ev = Vec::new();
    let b0 = bar(0, dec!(10), dec!(10.2), dec!(9.9), dec!(10), dec!(1000000));
    br.on_bars(&[b0], &mut ev);
    br.submit(
        vec![
            (ClientOrderId(1), OrderRequest::market(A, Side::Buy, dec!(150))),
            (ClientOrderId(2), OrderRequest::market(A, Side::Buy, dec!(200))),
        ],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    assert_eq!(
        summary(&ev)[1],
        "O1 rejected: A-share rules: buys are in lots of 100 shares, not 150"
    );
    let b1 = bar(1, dec!(10), dec!(10.2), dec!(9.9), dec!(10), dec!(1000000));
    br.on_bars(&[b1], &mut ev);
    br.submit(
        vec![(ClientOrderId(3), OrderRequest::market(A, Side::Sell, dec!(200)))],
        b1.ts_event,
        &[b1],
        &mut ev,
    );
    br.on_bars(
        &[bar(2, dec!(10), dec!(10.2), dec!(9.9), dec!(10), dec!(1000000))],
        &mut ev,
    );
    let commissions: Vec<(Side, Decimal)> = ev
        .iter()
        .filter_map(|e| match e {
            OrderEvent::Filled(f) => Some((f.side, f.commission)),
            _ => None,
        })
        .collect();
    // 2,000 of notional each way: 5 bps buying; 5 bps and 10 bps of stamp duty selling.
    assert_eq!(commissions, vec![(Side::Buy, dec!(1)), (Side::Sell, dec!(3))]);
}

#[test]
fn a_share_t_plus_one_and_no_short_sale() {
    let mut br = a_share(false);
    let mut ev = Vec::new();
    let p = dec!(10);
    let b0 = minute(0, 0, p, p);
    br.on_bars(&[b0], &mut ev);
    br.submit(
        vec![(ClientOrderId(1), OrderRequest::market(A, Side::Buy, dec!(100)))],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    let b1 = minute(0, 1, p, p);
    br.on_bars(&[b1], &mut ev);
    // Sold the same day it was bought: it waits for the next session; asking 300 of 100 held
    // sells 100 and never opens a short.
    br.submit(
        vec![(ClientOrderId(2), OrderRequest::market(A, Side::Sell, dec!(300)))],
        b1.ts_event,
        &[b1],
        &mut ev,
    );
    br.on_bars(&[minute(0, 2, p, p)], &mut ev);
    br.on_bars(&[minute(0, 3, p, p)], &mut ev);
    assert_eq!(
        fills(&ev),
        vec![(dec!(100), p)],
        "sold on the day of the buy: {:?}",
        summary(&ev)
    );
    br.on_bars(&[minute(1, 0, p, p)], &mut ev);
    br.on_bars(&[minute(1, 1, p, p)], &mut ev);
    assert_eq!(fills(&ev), vec![(dec!(100), p), (dec!(100), p)]);
    assert_eq!(
        br.working_count(),
        1,
        "the 200 beyond the holding keep waiting, unfilled"
    );
}

#[test]
fn a_share_price_limits_stop_buys_at_limit_up_and_sells_at_limit_down() {
    let mut br = a_share(true);
    let mut ev = Vec::new();
    let b0 = bar(0, dec!(10), dec!(10), dec!(10), dec!(10), dec!(1000000));
    br.on_bars(&[b0], &mut ev);
    br.submit(
        vec![(ClientOrderId(1), OrderRequest::market(A, Side::Buy, dec!(100)))],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    // Opens at the limit-up price (10 % over 10.00): no buy fills there.
    br.on_bars(
        &[bar(1, dec!(11), dec!(11), dec!(11), dec!(11), dec!(1000000))],
        &mut ev,
    );
    assert!(fills(&ev).is_empty(), "{:?}", summary(&ev));
    // The next day's limit is 12.10; it opens at 11.50: filled.
    br.on_bars(
        &[bar(2, dec!(11.5), dec!(11.6), dec!(11.4), dec!(11.5), dec!(1000000))],
        &mut ev,
    );
    assert_eq!(fills(&ev), vec![(dec!(100), dec!(11.5))]);
    let b3 = bar(3, dec!(11.5), dec!(11.5), dec!(11.5), dec!(11.5), dec!(1000000));
    br.on_bars(&[b3], &mut ev);
    br.submit(
        vec![(ClientOrderId(2), OrderRequest::market(A, Side::Sell, dec!(100)))],
        b3.ts_event,
        &[b3],
        &mut ev,
    );
    // Limit-down at 10.35 (11.50 less 10 %): no sale there; the next day it sells.
    br.on_bars(
        &[bar(
            4,
            dec!(10.35),
            dec!(10.35),
            dec!(10.35),
            dec!(10.35),
            dec!(1000000),
        )],
        &mut ev,
    );
    assert_eq!(fills(&ev).len(), 1);
    br.on_bars(
        &[bar(5, dec!(10.4), dec!(10.5), dec!(10.3), dec!(10.4), dec!(1000000))],
        &mut ev,
    );
    assert_eq!(fills(&ev), vec![(dec!(100), dec!(11.5)), (dec!(100), dec!(10.4))]);
}

#[test]
fn short_sales_are_checked_against_the_margin() {
    let cfg = BrokerConfig {
        short_margin: Some(dec!(0.5)),
        ..BrokerConfig::default()
    };
    let mut br = BrokerSim::new(cfg, instruments(), dec!(1000), true);
    let mut ev = Vec::new();
    let b0 = bar(0, dec!(10), dec!(10), dec!(10), dec!(10), dec!(1000000));
    br.on_bars(&[b0], &mut ev);
    br.submit(
        vec![
            // Cash 2,000 after, short 1,000, equity 1,000: at the 50 % limit, filled.
            (ClientOrderId(1), OrderRequest::market(A, Side::Sell, dec!(100))),
            // Then 300 more: short 4,000, equity still 1,000: below 2,000, refused.
            (ClientOrderId(2), OrderRequest::market(A, Side::Sell, dec!(300))),
        ],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    br.on_bars(
        &[bar(1, dec!(10), dec!(10), dec!(10), dec!(10), dec!(1000000))],
        &mut ev,
    );
    assert_eq!(fills(&ev), vec![(dec!(100), dec!(10))]);
    let s = summary(&ev);
    assert!(
        s.iter()
            .any(|l| l.starts_with("O2 rejected: short margin: equity 1000")),
        "{s:?}"
    );
    // Buying back is never refused by the margin rule.
    let b1 = bar(1, dec!(10), dec!(10), dec!(10), dec!(10), dec!(1000000));
    br.submit(
        vec![(ClientOrderId(3), OrderRequest::market(A, Side::Buy, dec!(100)))],
        b1.ts_event,
        &[b1],
        &mut ev,
    );
    br.on_bars(&[bar(2, dec!(9), dec!(9), dec!(9), dec!(9), dec!(1000000))], &mut ev);
    assert_eq!(fills(&ev).len(), 2);
}

#[test]
fn equity_fraction_orders_are_sized_at_the_open_they_execute_at() {
    let mut br = broker(BrokerConfig::default(), dec!(100000));
    let mut ev = Vec::new();
    let b0 = bar(0, dec!(10), dec!(10), dec!(10), dec!(10), dec!(1000000));
    br.on_bars(&[b0], &mut ev);
    br.submit(
        vec![(ClientOrderId(1), OrderRequest::equity_fraction(A, dec!(0.2)))],
        b0.ts_event,
        &[b0],
        &mut ev,
    );
    // Decided at a close of 10, executed at an open of 50: 20 % of 100,000 at 50.
    let b1 = bar(1, dec!(50), dec!(50), dec!(50), dec!(50), dec!(1000000));
    br.on_bars(&[b1], &mut ev);
    assert_eq!(fills(&ev), vec![(dec!(400), dec!(50))]);
    // Equity at the next open counts the position at that open: 80,000 + 400 x 40 = 96,000.
    br.submit(
        vec![(ClientOrderId(2), OrderRequest::equity_fraction(A, dec!(0.5)))],
        b1.ts_event,
        &[b1],
        &mut ev,
    );
    br.on_bars(
        &[bar(2, dec!(40), dec!(40), dec!(40), dec!(40), dec!(1000000))],
        &mut ev,
    );
    assert_eq!(fills(&ev)[1], (dec!(1200), dec!(40)));
    // Less than a lot at the price: canceled, not filled.
    let b2 = bar(2, dec!(40), dec!(40), dec!(40), dec!(40), dec!(1000000));
    br.submit(
        vec![(ClientOrderId(3), OrderRequest::equity_fraction(A, dec!(0.000001)))],
        b2.ts_event,
        &[b2],
        &mut ev,
    );
    br.on_bars(
        &[bar(3, dec!(40), dec!(40), dec!(40), dec!(40), dec!(1000000))],
        &mut ev,
    );
    assert!(summary(&ev)
        .last()
        .expect("event")
        .starts_with("O3 canceled: equity fraction: less than a lot"));
    // A quantity beside the fraction, or a fraction above 1, is refused.
    let mut bad = OrderRequest::equity_fraction(A, dec!(0.2));
    bad.quantity = dec!(5);
    br.submit(
        vec![
            (ClientOrderId(4), bad),
            (ClientOrderId(5), OrderRequest::equity_fraction(A, dec!(1.5))),
        ],
        b2.ts_event,
        &[b2],
        &mut ev,
    );
    let s = summary(&ev);
    assert!(s
        .iter()
        .any(|l| l.starts_with("O4 rejected: an equity-fraction order is a market buy of quantity 0")));
    assert!(s.iter().any(|l| l.starts_with("O5 rejected: equity fraction 1.5")));
}
