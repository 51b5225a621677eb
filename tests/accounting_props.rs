//! Accounting invariants under random inputs (proptest).

use kairos::broker::{BrokerConfig, BrokerSim, CashCheck};
use kairos::portfolio::Portfolio;
use kairos::types::{Bar, ClientOrderId, Decimal, Fill, Instrument, InstrumentId, OrderEvent, OrderRequest, Side};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;

fn cents(c: i64) -> Decimal {
    Decimal::new(c, 2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Equity equals cash plus the value of positions; cash is the initial cash less signed
    /// notional and commissions; and equity = initial + realized + unrealized - commissions.
    #[test]
    fn equity_is_cash_plus_positions(
        fills in proptest::collection::vec((0u32..4, any::<bool>(), 1i64..500, 1i64..100_000, 0i64..500), 1..60),
        marks in proptest::collection::vec((0u32..4, 1i64..100_000), 0..20),
    ) {
        let init = Decimal::from(100_000);
        let mut book = Portfolio::new(init, 4);
        let mut qty: HashMap<u32, Decimal> = HashMap::new();
        let mut last: HashMap<u32, Decimal> = HashMap::new();
        let mut cash = init;
        let mut commissions = Decimal::ZERO;
        for (i, (inst, buy, q, px, comm)) in fills.iter().enumerate() {
            let side = if *buy { Side::Buy } else { Side::Sell };
            let f = Fill {
                order_id: ClientOrderId(i as u64),
                instrument_id: InstrumentId(*inst),
                side,
                quantity: Decimal::from(*q),
                price: cents(*px),
                commission: cents(*comm),
                slippage: Decimal::ZERO,
                leaves_quantity: Decimal::ZERO,
                ts_event: 0,
            };
            book.apply_fill(&f);
            *qty.entry(*inst).or_default() += f.signed_quantity();
            last.entry(*inst).or_insert(f.price);
            cash -= f.signed_quantity() * f.price + f.commission;
            commissions += f.commission;
        }
        for (inst, px) in &marks {
            let b = Bar { instrument_id: InstrumentId(*inst), open: cents(*px), high: cents(*px), low: cents(*px), close: cents(*px), volume: Decimal::ONE, ts_event: 0, ts_init: 0, seq: 0 };
            book.mark(&[b]);
            last.insert(*inst, cents(*px));
        }
        let value: Decimal = qty.iter().map(|(i, q)| *q * last.get(i).copied().unwrap_or_default()).sum();
        prop_assert_eq!(book.cash(), cash);
        prop_assert_eq!(book.equity(), cash + value);
        // The average entry price is a quotient (28 significant digits), so the PnL split is
        // exact only up to its rounding; cash and equity above are exact.
        let pnl_identity = init + book.realized_pnl() + book.unrealized_pnl() - commissions;
        prop_assert!((book.equity() - pnl_identity).abs() < Decimal::new(1, 12), "{} vs {}", book.equity(), pnl_identity);
        for (i, q) in &qty {
            prop_assert_eq!(book.position(InstrumentId(*i)).quantity, *q);
        }
    }

    /// A fill never exceeds its order: across partial fills the filled quantity sums to at most
    /// the order's, `leaves` counts down exactly, and fill prices lie within the bar's range.
    #[test]
    fn fills_never_exceed_orders(
        orders in proptest::collection::vec((any::<bool>(), 1i64..400, 0u8..3, 900i64..1100), 1..12),
        bars in proptest::collection::vec((900i64..1100, 0i64..60, 0i64..60, 100i64..3000), 1..15),
        cap in 1i64..=100,
    ) {
        let inst = Arc::new(vec![Instrument { id: InstrumentId(0), symbol: "A".into(), time_zone: chrono_tz::UTC, lot_size: Decimal::ONE, tick_size: cents(1), tradable: true }]);
        let cfg = BrokerConfig { max_volume_fraction: Some(Decimal::new(cap, 2)), cash_check: CashCheck::AllowNegative, ..BrokerConfig::default() };
        let mut br = BrokerSim::new(cfg, inst, Decimal::from(1_000_000), false);
        let mut ev = Vec::new();
        let reqs: Vec<(ClientOrderId, OrderRequest)> = orders.iter().enumerate().map(|(i, (buy, q, kind, px))| {
            let side = if *buy { Side::Buy } else { Side::Sell };
            let q = Decimal::from(*q);
            let r = match kind {
                0 => OrderRequest::market(InstrumentId(0), side, q),
                1 => OrderRequest::limit(InstrumentId(0), side, q, cents(*px)),
                _ => OrderRequest::stop(InstrumentId(0), side, q, cents(*px)),
            };
            (ClientOrderId(i as u64), r)
        }).collect();
        let sizes: HashMap<ClientOrderId, Decimal> = reqs.iter().map(|(id, r)| (*id, r.quantity)).collect();
        br.submit(reqs, 0, &[], &mut ev);
        let mut ranges = Vec::new();
        for (k, (o, up, down, v)) in bars.iter().enumerate() {
            let (o, h, l) = (cents(*o), cents(o + up), cents(o - down));
            let b = Bar { instrument_id: InstrumentId(0), open: o, high: h, low: l, close: o, volume: Decimal::from(*v), ts_event: k as i64, ts_init: k as i64, seq: k as u64 };
            ranges.push((l, h));
            br.on_bars(&[b], &mut ev);
        }
        let mut filled: HashMap<ClientOrderId, Decimal> = HashMap::new();
        // The volume cap: what fills in one bar, all orders together, is at most `cap` % of
        // that bar's volume.
        let mut per_bar: HashMap<i64, Decimal> = HashMap::new();
        for e in &ev {
            if let OrderEvent::Filled(f) = e {
                *per_bar.entry(f.ts_event).or_default() += f.quantity;
            }
        }
        for (k, q) in &per_bar {
            let limit = Decimal::from(bars[*k as usize].3) * Decimal::new(cap, 2);
            prop_assert!(*q <= limit, "bar {}: {} filled, cap {}", k, q, limit);
        }
        for e in &ev {
            if let OrderEvent::Filled(f) = e {
                let sum = filled.entry(f.order_id).or_default();
                *sum += f.quantity;
                prop_assert!(f.quantity > Decimal::ZERO);
                prop_assert_eq!(sizes[&f.order_id] - *sum, f.leaves_quantity);
                let (l, h) = ranges[f.ts_event as usize];
                prop_assert!(f.price >= l && f.price <= h, "price {} outside [{}, {}]", f.price, l, h);
            }
        }
        for (id, sum) in filled {
            prop_assert!(sum <= sizes[&id]);
        }
    }
}
