//! The portfolio actor: the account of record. It applies every execution report in order,
//! marks equity at each close, streams the outputs, returns a flow-control credit to the
//! subscribed feed for each settled timestamp, and hands the run's result over at the end.
//!
//! The book and the metrics are [`crate::account`]'s, shared with the strategy host.

pub use crate::account::{summarize, Portfolio, Summary, TradeStats};

use crate::events::{ExecutionReport, Phase};
use crate::messages::{FeedMsg, PortfolioMsg};
use crate::output::OutputSink;
use crate::types::{Decimal, Instrument, OrderEvent, UnixNanos};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;
use tokio::sync::oneshot;

/// What a finished run hands back.
#[derive(Debug, Clone)]
pub struct RunOutput {
    pub summary: Summary,
    pub curve: Vec<(UnixNanos, Decimal)>,
    pub book: Portfolio,
    pub events: u64,
    /// The most timestamps that were in flight at once (flow control at work).
    pub max_in_flight: usize,
}

pub struct PortfolioActor;

/// Told about every settled timestamp: its time, the equity, the account (paper trading prints
/// a status line from it).
pub type StatusHook = Box<dyn FnMut(UnixNanos, Decimal, &Portfolio) + Send>;

pub struct PortfolioArgs {
    pub initial_cash: Decimal,
    /// The venue's annual borrow fee on short positions.
    pub borrow_rate: Decimal,
    pub instruments: Arc<Vec<Instrument>>,
    pub sink: OutputSink,
    pub strategy_name: String,
    pub fill_policy: String,
    /// Where the run's result goes once the final report is applied.
    pub done: Option<oneshot::Sender<RunOutput>>,
    pub status: Option<StatusHook>,
    /// This actor's tracing span (inside its run's).
    pub span: tracing::Span,
}

pub struct PortfolioState {
    book: Portfolio,
    curve: Vec<(UnixNanos, Decimal)>,
    args: PortfolioArgs,
    /// Feeds subscribed to flow-control credits.
    credits: Vec<ActorRef<FeedMsg>>,
    bars: u64,
    events: u64,
    max_in_flight: usize,
}

impl PortfolioState {
    /// Applies a report's fills to the book and hands the report to the output writer.
    fn log(&mut self, report: &Arc<ExecutionReport>) {
        if report.phase == Phase::Intrabar {
            self.book.accrue_borrow(report.market.ts_event);
        }
        self.events += report.events.len() as u64;
        for ev in &report.events {
            if let OrderEvent::Filled(f) = ev {
                self.book.apply_fill(f);
            }
        }
        self.args.sink.report(report);
    }

    fn settle(&mut self, report: &ExecutionReport) {
        let m = &report.market;
        self.book.mark(&m.bars);
        self.bars += m.bars.len() as u64;
        self.max_in_flight = self.max_in_flight.max(m.in_flight);
        let (gross, net) = self.book.exposures();
        let equity = self.book.cash() + net;
        self.curve.push((m.ts_event, equity));
        self.args.sink.equity(m.ts_event, self.book.cash(), equity, gross, net);
        if let Some(status) = &mut self.args.status {
            status(m.ts_event, equity, &self.book);
        }
    }

    fn finish(&mut self) -> Result<RunOutput, ActorProcessingErr> {
        self.args.sink.close()?;
        let summary = summarize(
            &self.args.strategy_name,
            &self.curve,
            &self.book,
            self.bars,
            &self.args.fill_policy,
        );
        Ok(RunOutput {
            summary,
            curve: std::mem::take(&mut self.curve),
            book: self.book.clone(),
            events: self.events,
            max_in_flight: self.max_in_flight,
        })
    }
}

impl Actor for PortfolioActor {
    type Msg = PortfolioMsg;
    type State = PortfolioState;
    type Arguments = PortfolioArgs;

    async fn pre_start(
        &self,
        _m: ActorRef<PortfolioMsg>,
        args: PortfolioArgs,
    ) -> Result<PortfolioState, ActorProcessingErr> {
        Ok(PortfolioState {
            book: Portfolio::new(args.initial_cash, args.instruments.len()).with_borrow_rate(args.borrow_rate),
            curve: Vec::new(),
            args,
            credits: Vec::new(),
            bars: 0,
            events: 0,
            max_in_flight: 0,
        })
    }

    async fn handle(
        &self,
        _m: ActorRef<PortfolioMsg>,
        msg: PortfolioMsg,
        state: &mut PortfolioState,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.args.span.clone();
        let _entered = span.enter();
        match msg {
            PortfolioMsg::SubscribeCredits(feed) => state.credits.push(feed),
            PortfolioMsg::Execution(report) => {
                state.log(&report);
                match report.phase {
                    Phase::Intrabar => {}
                    Phase::Close => {
                        state.settle(&report);
                        tracing::trace!(step = report.step, "settled");
                        for feed in &state.credits {
                            feed.send_message(FeedMsg::Credit)?;
                        }
                    }
                    Phase::Final => {
                        let out = state.finish()?;
                        tracing::debug!(final_equity = out.summary.final_equity, "portfolio settled the run");
                        if let Some(done) = state.args.done.take() {
                            // The receiver is gone only when the run was abandoned.
                            let _ = done.send(out);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}
