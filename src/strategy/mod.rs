//! The strategy host actor, the plug-in API and the registry of strategies a run may name
//! ([`Strategies`]: the built-ins of `crate::strategies` and a user's own).
//!
//! The actor joins two inputs per step: the signal event from the model stage and the broker's
//! intrabar report (fills at the open). Only when both are in does it mark the account and call
//! the strategy, so the decision at `t` sees the fills of `t` and nothing after `t`.

mod api;
mod host;
mod registry;

pub use api::{Strategy, StrategyContext};
pub use host::StrategyHost;
pub(crate) use registry::parse_params;
pub use registry::{Built, PreparedStrategy, Strategies, StrategyError};

use crate::events::{OrderBatch, Phase, SignalEvent};
use crate::messages::{BrokerMsg, StrategyMsg};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::BTreeMap;

/// The hosted strategy and where its orders go.
pub struct StrategyArgs {
    pub host: StrategyHost,
    pub broker: ActorRef<BrokerMsg>,
    /// This actor's tracing span (inside its run's).
    pub span: tracing::Span,
}

pub struct StrategyActor;

pub struct StrategyState {
    host: StrategyHost,
    broker: ActorRef<BrokerMsg>,
    signals: BTreeMap<u64, SignalEvent>,
    /// Steps whose intrabar report has been applied.
    intrabar_done: Option<u64>,
    next_step: u64,
    span: tracing::Span,
}

impl StrategyState {
    fn advance(&mut self) -> Result<(), ActorProcessingErr> {
        while self.intrabar_done.is_some_and(|d| d >= self.next_step) {
            let Some(sig) = self.signals.remove(&self.next_step) else {
                break;
            };
            let _span = tracing::debug_span!("decide", step = self.next_step).entered();
            let orders = self.host.on_bars(&sig);
            tracing::debug!(orders = orders.len(), "decided");
            self.broker.send_message(BrokerMsg::Orders(OrderBatch {
                step: self.next_step,
                ts: sig.market.ts_event,
                orders,
            }))?;
            self.next_step += 1;
        }
        Ok(())
    }
}

impl Actor for StrategyActor {
    type Msg = StrategyMsg;
    type State = StrategyState;
    type Arguments = StrategyArgs;

    async fn pre_start(
        &self,
        _m: ActorRef<StrategyMsg>,
        args: StrategyArgs,
    ) -> Result<StrategyState, ActorProcessingErr> {
        Ok(StrategyState {
            host: args.host,
            broker: args.broker,
            signals: BTreeMap::new(),
            intrabar_done: None,
            next_step: 0,
            span: args.span,
        })
    }

    async fn handle(
        &self,
        _m: ActorRef<StrategyMsg>,
        msg: StrategyMsg,
        state: &mut StrategyState,
    ) -> Result<(), ActorProcessingErr> {
        let span = state.span.clone();
        let _entered = span.enter();
        match msg {
            StrategyMsg::Signals(sig) => {
                state.signals.insert(sig.market.step, sig);
                state.advance()?;
            }
            StrategyMsg::Execution(report) => {
                // Reports come from the broker alone, so they arrive in order.
                state.host.on_execution(&report);
                if report.phase == Phase::Intrabar {
                    state.intrabar_done = Some(report.step);
                    state.advance()?;
                }
            }
        }
        Ok(())
    }
}
