//! The broker simulator actor around the synchronous [`BrokerSim`].
//!
//! Per step `s` it joins the market event of `s` (from the feed) with the strategy's orders of
//! `s - 1`: orders are accepted at the close they were decided on (a `Close` report), then the
//! bars of `s` are matched (an `Intrabar` report). Both reports go to the strategy and the
//! portfolio. After the last step's orders, everything still working is canceled (`Final`).

mod sim;

pub use sim::{find_bar, BrokerConfig, BrokerSim, CashCheck, FillPolicy};

use crate::events::{ExecutionReport, MarketEvent, OrderBatch, Phase};
use crate::portfolio::PortfolioMsg;
use crate::strategy::StrategyMsg;
use crate::supervisor::Peers;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::collections::VecDeque;
use std::sync::Arc;

pub struct BrokerActor;

pub enum BrokerMsg {
    Connect(Box<Peers>),
    Market(Arc<MarketEvent>),
    Orders(OrderBatch),
}

pub struct BrokerState {
    sim: BrokerSim,
    peers: Option<Box<Peers>>,
    pending: VecDeque<Arc<MarketEvent>>,
    /// The last step whose orders have been received (`-1`: none yet).
    orders_through: i64,
    current: Option<Arc<MarketEvent>>,
}

impl BrokerState {
    fn peers(&self) -> Result<&Peers, ActorProcessingErr> {
        self.peers.as_deref().ok_or_else(|| "broker not connected".into())
    }

    fn publish(&self, report: ExecutionReport) -> Result<(), ActorProcessingErr> {
        let report = Arc::new(report);
        let peers = self.peers()?;
        if report.phase != Phase::Final {
            peers.strategy.send_message(StrategyMsg::Execution(report.clone()))?;
        }
        peers.portfolio.send_message(PortfolioMsg::Execution(report))?;
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
            self.sim.on_bars(&market.bars, &mut events);
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
        self.sim.submit(batch.orders, batch.ts, &market.bars, &mut events);
        self.orders_through = batch.step as i64;
        self.publish(ExecutionReport {
            step: batch.step,
            phase: Phase::Close,
            market: market.clone(),
            events,
        })?;
        if market.last {
            let mut events = Vec::new();
            self.sim.finish(market.ts_event, &mut events);
            self.publish(ExecutionReport {
                step: batch.step,
                phase: Phase::Final,
                market,
                events,
            })?;
        }
        Ok(())
    }
}

impl Actor for BrokerActor {
    type Msg = BrokerMsg;
    type State = BrokerState;
    type Arguments = BrokerSim;

    async fn pre_start(&self, _m: ActorRef<BrokerMsg>, sim: BrokerSim) -> Result<BrokerState, ActorProcessingErr> {
        Ok(BrokerState {
            sim,
            peers: None,
            pending: VecDeque::new(),
            orders_through: -1,
            current: None,
        })
    }

    async fn handle(
        &self,
        _m: ActorRef<BrokerMsg>,
        msg: BrokerMsg,
        state: &mut BrokerState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            BrokerMsg::Connect(p) => state.peers = Some(p),
            BrokerMsg::Market(m) => state.pending.push_back(m),
            BrokerMsg::Orders(batch) => state.on_orders(batch)?,
        }
        state.match_pending()
    }
}
