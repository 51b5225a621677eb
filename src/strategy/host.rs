//! The strategy host's synchronous core: keeps the strategy's read-only account view (built by
//! the same [`Portfolio`] code from the same fills and closes as the portfolio actor, so no
//! round trip is needed) and assigns order ids.

use super::api::{Strategy, StrategyContext};
use crate::account::Portfolio;
use crate::data::universe::UniverseMask;
use crate::events::{ExecutionReport, SignalEvent};
use crate::types::{ClientOrderId, Decimal, Instrument, OrderEvent, OrderRequest, Side};
use std::sync::Arc;

/// Hosts one strategy.
pub struct StrategyHost {
    strategy: Box<dyn Strategy>,
    instruments: Arc<Vec<Instrument>>,
    book: Portfolio,
    next_order_id: u64,
    started: bool,
    universe: Option<Arc<UniverseMask>>,
}

impl StrategyHost {
    /// `borrow_rate`: the venue's annual fee on short positions, booked as the portfolio does.
    pub fn new(
        strategy: Box<dyn Strategy>,
        instruments: Arc<Vec<Instrument>>,
        initial_cash: Decimal,
        borrow_rate: Decimal,
    ) -> Self {
        let n = instruments.len();
        Self {
            strategy,
            instruments,
            book: Portfolio::new(initial_cash, n).with_borrow_rate(borrow_rate),
            next_order_id: 1,
            started: false,
            universe: None,
        }
    }

    /// A point-in-time universe (see [`crate::data::universe`]).
    pub fn with_universe(mut self, universe: Option<Arc<UniverseMask>>) -> Self {
        self.universe = universe;
        self
    }

    /// The strategy's account view.
    pub fn book(&self) -> &Portfolio {
        &self.book
    }

    /// Applies the broker's events (fills) and tells the strategy about each fill.
    pub fn on_execution(&mut self, report: &ExecutionReport) {
        if report.phase == crate::events::Phase::Intrabar {
            self.book.accrue_borrow(report.market.ts_event);
        }
        for ev in &report.events {
            if let OrderEvent::Filled(fill) = ev {
                self.book.apply_fill(fill);
                let Self {
                    strategy,
                    instruments,
                    book,
                    ..
                } = self;
                let ctx = StrategyContext::new(report.step, fill.ts_event, instruments, book, None);
                strategy.on_fill(fill, &ctx);
            }
        }
    }

    /// Marks the account at this close and asks the strategy for orders.
    pub fn on_bars(&mut self, signals: &SignalEvent) -> Vec<(ClientOrderId, OrderRequest)> {
        let market = &signals.market;
        self.book.mark(&market.bars);
        let Self {
            strategy,
            instruments,
            book,
            started,
            ..
        } = self;
        let mut ctx = StrategyContext::new(market.step, market.ts_event, instruments, book, Some(signals));
        ctx.universe = self.universe.as_deref();
        if !*started {
            strategy.on_start(&ctx);
            *started = true;
        }
        let mut requests = strategy.on_bars(&market.bars, &ctx);
        if market.last {
            strategy.on_end(&ctx);
        }
        if let Some(u) = &self.universe {
            requests.retain_mut(|r| outside_universe(r, u, market.step, book, instruments).is_none());
        }
        requests
            .into_iter()
            .map(|r| {
                let id = ClientOrderId(self.next_order_id);
                self.next_order_id += 1;
                (id, r)
            })
            .collect()
    }
}

/// Applies the universe to one order at `step`: an order that would open or add to a position in
/// a symbol outside it is dropped (logged, `Some(())`); one that reduces a position goes through,
/// capped at closing it.
fn outside_universe(
    r: &mut OrderRequest,
    u: &UniverseMask,
    step: u64,
    book: &Portfolio,
    instruments: &[Instrument],
) -> Option<()> {
    let i = r.instrument_id.index();
    if u.contains(i, step) {
        return None;
    }
    let held = book.position(r.instrument_id).quantity;
    let closing = match r.side {
        Side::Buy if held < Decimal::ZERO => -held,
        Side::Sell if held > Decimal::ZERO => held,
        _ => Decimal::ZERO,
    };
    if closing.is_zero() {
        tracing::warn!(
            symbol = %instruments[i].symbol,
            step,
            "order dropped: the symbol is outside the universe at this step (data.universe)"
        );
        return Some(());
    }
    r.quantity = r.quantity.min(closing);
    None
}
