//! The strategy host's synchronous core: keeps the strategy's read-only account view (built by
//! the same [`Portfolio`] code from the same fills and closes as the portfolio actor, so no
//! round trip is needed) and assigns order ids.

use super::api::{Strategy, StrategyContext};
use crate::account::Portfolio;
use crate::events::{ExecutionReport, SignalEvent};
use crate::types::{ClientOrderId, Decimal, Instrument, OrderEvent, OrderRequest};
use std::sync::Arc;

/// Hosts one strategy.
pub struct StrategyHost {
    strategy: Box<dyn Strategy>,
    instruments: Arc<Vec<Instrument>>,
    book: Portfolio,
    next_order_id: u64,
    started: bool,
}

impl StrategyHost {
    pub fn new(strategy: Box<dyn Strategy>, instruments: Arc<Vec<Instrument>>, initial_cash: Decimal) -> Self {
        let n = instruments.len();
        Self {
            strategy,
            instruments,
            book: Portfolio::new(initial_cash, n),
            next_order_id: 1,
            started: false,
        }
    }

    /// The strategy's account view.
    pub fn book(&self) -> &Portfolio {
        &self.book
    }

    /// Applies the broker's events (fills) and tells the strategy about each fill.
    pub fn on_execution(&mut self, report: &ExecutionReport) {
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
        let ctx = StrategyContext::new(market.step, market.ts_event, instruments, book, Some(signals));
        if !*started {
            strategy.on_start(&ctx);
            *started = true;
        }
        let requests = strategy.on_bars(&market.bars, &ctx);
        if market.last {
            strategy.on_end(&ctx);
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
