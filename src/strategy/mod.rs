//! The strategy host actor and the plug-in API.
//!
//! The actor joins two inputs per step: the signal event from the model stage and the broker's
//! intrabar report (fills at the open). Only when both are in does it mark the account and call
//! the strategy, so the decision at `t` sees the fills of `t` and nothing after `t`.

mod api;
mod host;

pub use api::{Strategy, StrategyContext};
pub use host::StrategyHost;

use crate::broker::BrokerMsg;
use crate::events::{ExecutionReport, OrderBatch, Phase, SignalEvent};
use crate::supervisor::Peers;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::BTreeMap;
use std::sync::Arc;

pub struct StrategyActor;

pub enum StrategyMsg {
    Connect(Box<Peers>),
    Signals(SignalEvent),
    Execution(Arc<ExecutionReport>),
}

pub struct StrategyState {
    host: StrategyHost,
    peers: Option<Box<Peers>>,
    signals: BTreeMap<u64, SignalEvent>,
    /// Steps whose intrabar report has been applied.
    intrabar_done: Option<u64>,
    next_step: u64,
}

impl StrategyState {
    fn advance(&mut self) -> Result<(), ActorProcessingErr> {
        while self.intrabar_done.is_some_and(|d| d >= self.next_step) {
            let Some(sig) = self.signals.remove(&self.next_step) else {
                break;
            };
            let orders = self.host.on_bars(&sig);
            let peers = self.peers.as_ref().ok_or("strategy actor not connected")?;
            peers.broker.send_message(BrokerMsg::Orders(OrderBatch {
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
    type Arguments = StrategyHost;

    async fn pre_start(
        &self,
        _m: ActorRef<StrategyMsg>,
        host: StrategyHost,
    ) -> Result<StrategyState, ActorProcessingErr> {
        Ok(StrategyState {
            host,
            peers: None,
            signals: BTreeMap::new(),
            intrabar_done: None,
            next_step: 0,
        })
    }

    async fn handle(
        &self,
        _m: ActorRef<StrategyMsg>,
        msg: StrategyMsg,
        state: &mut StrategyState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StrategyMsg::Connect(p) => state.peers = Some(p),
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
