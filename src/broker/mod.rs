//! The broker actor: the one end of the pipeline where orders go.
//!
//! An [`ExecutionVenue`] chooses where: the broker simulator [`BrokerSim`] today (a real
//! broker's API is the other implementation this boundary is for). The actor around it is the
//! same whatever the venue.
//!
//! Per step `s` the actor joins the market event of `s` (from the feed) with the strategy's
//! orders of `s - 1`: orders are accepted at the close they were decided on (a `Close` report),
//! then the bars of `s` are matched (an `Intrabar` report). Both reports go to the portfolio
//! and to the subscribed strategy. After the last step's orders, everything still working is
//! canceled (`Final`).

mod sim;

pub use crate::types::find_bar;
pub use sim::{AShareRules, BrokerConfig, BrokerSim, CashCheck, FillPolicy};

use crate::events::{ExecutionReport, MarketEvent, OrderBatch, Phase};
use crate::messages::{BrokerMsg, PortfolioMsg, StrategyMsg};
use crate::types::{Bar, ClientOrderId, Decimal, OrderEvent, OrderRequest, UnixNanos};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;

/// A venue that cannot go on (its journal cannot be written, its API refuses): the run stops
/// with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct VenueError(pub String);

/// Where orders go: accepts orders at a close, matches them against later bars, and cancels
/// what still works when the market ends. Events are appended to `out` in the order they
/// happened. An error stops the run (the broker actor fails, the supervisor ends the run).
pub trait ExecutionVenue: Send + 'static {
    /// Orders decided at the close `ts`, with that close's bars.
    ///
    /// # Errors
    /// The venue cannot go on.
    fn submit(
        &mut self,
        orders: Vec<(ClientOrderId, OrderRequest)>,
        ts: UnixNanos,
        bars: &[Bar],
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), VenueError>;
    /// The bars of the next timestamp: fills of working orders.
    ///
    /// # Errors
    /// The venue cannot go on.
    fn on_bars(&mut self, bars: &[Bar], out: &mut Vec<OrderEvent>) -> Result<(), VenueError>;
    /// The market ended at `ts`: cancel what still works.
    ///
    /// # Errors
    /// The venue cannot go on.
    fn finish(&mut self, ts: UnixNanos, out: &mut Vec<OrderEvent>) -> Result<(), VenueError>;
    /// The fill policy, as reported in `summary.json`.
    fn fill_policy(&self) -> &str;
    /// Whether the venue is the authority on its orders (a broker's API, not a simulator): a
    /// journal replay then gives back the journaled events instead of asking it again.
    fn remote(&self) -> bool {
        false
    }
    /// The annual fee the venue charges on the value of short positions (the account books it
    /// at each timestamp; see [`crate::account::Portfolio::accrue_borrow`]).
    fn borrow_rate(&self) -> Decimal {
        Decimal::ZERO
    }
}

impl ExecutionVenue for BrokerSim {
    fn submit(
        &mut self,
        orders: Vec<(ClientOrderId, OrderRequest)>,
        ts: UnixNanos,
        bars: &[Bar],
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), VenueError> {
        BrokerSim::submit(self, orders, ts, bars, out);
        Ok(())
    }
    fn on_bars(&mut self, bars: &[Bar], out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        BrokerSim::on_bars(self, bars, out);
        Ok(())
    }
    fn finish(&mut self, ts: UnixNanos, out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        BrokerSim::finish(self, ts, out);
        Ok(())
    }
    fn fill_policy(&self) -> &str {
        self.config().fill_policy.as_str()
    }
    fn borrow_rate(&self) -> Decimal {
        self.config().borrow_rate
    }
}

/// The broker's venue and downstream.
pub struct BrokerArgs {
    pub venue: Box<dyn ExecutionVenue>,
    pub portfolio: ActorRef<PortfolioMsg>,
    /// This actor's tracing span (inside its run's).
    pub span: tracing::Span,
}

pub struct BrokerActor;

pub struct BrokerState {
    venue: Box<dyn ExecutionVenue>,
    portfolio: ActorRef<PortfolioMsg>,
    /// Strategies subscribed to execution reports.
    reports: Vec<ActorRef<StrategyMsg>>,
    pending: VecDeque<Arc<MarketEvent>>,
    /// The last step whose orders have been received (`-1`: none yet).
    orders_through: i64,
    current: Option<Arc<MarketEvent>>,
    /// The step after which the market ended, when the feed could only say so afterwards.
    end_after: Option<i64>,
    finished: bool,
    span: tracing::Span,
}

impl BrokerState {
    fn publish(&self, report: ExecutionReport) -> Result<(), ActorProcessingErr> {
        tracing::trace!(step = report.step, phase = ?report.phase, events = report.events.len(), "execution report");
        let report = Arc::new(report);
        // The portfolio first, the strategy last. On a backtest's lanes the strategy shares
        // this thread and the portfolio has another, so the order only decides which is queued
        // first. On a work-stealing runtime (paper trading, a custom venue) it decides more:
        // tokio runs the task woken last on this worker next (its LIFO slot) and pushes the one
        // woken before it to the queue, waking the other worker to take it. The strategy is the
        // broker's partner on the one sequential path of a run (orders of `t`, then fills of
        // `t + 1`, then orders of `t + 1`), the portfolio is not: in this order that path stays
        // on one worker and the portfolio's work moves to the other. The other way round, the strategy often moved to the other
        // worker, which had to be woken first: S1 at 500 x 2520 parked a worker about 2,100
        // times a run instead of 1,100, and took 0.158-0.176 s instead of 0.105-0.126 s, 4 runs
        // each alternating (README, benchmark section; outputs byte-identical).
        self.portfolio.send_message(PortfolioMsg::Execution(report.clone()))?;
        if report.phase != Phase::Final {
            for s in &self.reports {
                s.send_message(StrategyMsg::Execution(report.clone()))?;
            }
        }
        Ok(())
    }

    fn match_pending(&mut self) -> Result<(), ActorProcessingErr> {
        while self
            .pending
            .front()
            .is_some_and(|m| m.step as i64 == self.orders_through + 1)
        {
            let Some(market) = self.pending.pop_front() else { break };
            let mut events = Vec::new();
            self.venue.on_bars(&market.bars, &mut events)?;
            self.current = Some(market.clone());
            self.publish(ExecutionReport {
                step: market.step,
                phase: Phase::Intrabar,
                market,
                events,
            })?;
        }
        Ok(())
    }

    fn on_orders(&mut self, batch: OrderBatch) -> Result<(), ActorProcessingErr> {
        let market = self.current.clone().ok_or("orders before any market data")?;
        if batch.step != market.step {
            return Err(format!("orders of step {} while at step {}", batch.step, market.step).into());
        }
        let mut events = Vec::new();
        self.venue.submit(batch.orders, batch.ts, &market.bars, &mut events)?;
        self.orders_through = batch.step as i64;
        self.publish(ExecutionReport {
            step: batch.step,
            phase: Phase::Close,
            market: market.clone(),
            events,
        })?;
        if market.last {
            self.finish(market)?;
        }
        Ok(())
    }

    /// Cancels what still works and sends the final report.
    fn finish(&mut self, market: Arc<MarketEvent>) -> Result<(), ActorProcessingErr> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        let mut events = Vec::new();
        self.venue.finish(market.ts_event, &mut events)?;
        self.publish(ExecutionReport {
            step: market.step,
            phase: Phase::Final,
            market,
            events,
        })
    }

    /// Finishes once the orders of the step the market ended after are in.
    fn check_end(&mut self) -> Result<(), ActorProcessingErr> {
        match self.end_after {
            Some(-1) => {
                let empty = Arc::new(MarketEvent {
                    step: 0,
                    ts_event: 0,
                    ts_init: 0,
                    last: true,
                    in_flight: 0,
                    bars: Vec::new(),
                });
                self.finish(empty)
            }
            Some(last) if self.orders_through >= last => {
                let market = self.current.clone().ok_or("the market ended before any data")?;
                self.finish(market)
            }
            _ => Ok(()),
        }
    }
}

impl Actor for BrokerActor {
    type Msg = BrokerMsg;
    type State = BrokerState;
    type Arguments = BrokerArgs;

    async fn pre_start(&self, _m: ActorRef<BrokerMsg>, args: BrokerArgs) -> Result<BrokerState, ActorProcessingErr> {
        Ok(BrokerState {
            venue: args.venue,
            portfolio: args.portfolio,
            reports: Vec::new(),
            pending: VecDeque::new(),
            orders_through: -1,
            current: None,
            end_after: None,
            finished: false,
            span: args.span,
        })
    }

    async fn handle(
        &self,
        _m: ActorRef<BrokerMsg>,
        msg: BrokerMsg,
        state: &mut BrokerState,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.span.clone();
        let _entered = span.enter();
        match msg {
            BrokerMsg::SubscribeReports(s) => state.reports.push(s),
            BrokerMsg::Market(m) => state.pending.push_back(m),
            BrokerMsg::Orders(batch) => state.on_orders(batch)?,
            BrokerMsg::End { last_step } => {
                state.end_after = Some(last_step.map_or(-1, |s| s as i64));
            }
        }
        state.match_pending()?;
        state.check_end()
    }
}
