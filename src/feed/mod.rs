//! The market-data feed actor, which is also the replay driver.
//!
//! It owns the [`ReplayCursor`] (a synchronous core that turns the column store into one
//! [`MarketEvent`] per timestamp) and the only handle that advances the [`SimulatedClock`].
//! Flow control: at most `window` timestamps are in flight; the portfolio returns a credit when
//! it has settled one, so memory stays bounded whatever the length of the history.

use crate::broker::BrokerMsg;
use crate::clock::{Clock, SimulatedClock};
use crate::data::MarketData;
use crate::events::MarketEvent;
use crate::feature::FeatureMsg;
use crate::supervisor::Peers;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

/// Turns the column store into time-ordered batches of bars.
pub struct ReplayCursor {
    data: Arc<MarketData>,
    clock: SimulatedClock,
    /// Next position in each symbol's series.
    cursor: Vec<usize>,
    next_step: usize,
    seq: u64,
}

impl ReplayCursor {
    pub fn new(data: Arc<MarketData>, clock: SimulatedClock) -> Self {
        let n = data.series.len();
        Self {
            data,
            clock,
            cursor: vec![0; n],
            next_step: 0,
            seq: 0,
        }
    }

    /// Number of timestamps not yet emitted.
    pub fn remaining(&self) -> usize {
        self.data.timestamps.len() - self.next_step
    }

    /// The next timestamp's bars; advances the simulated clock to its close.
    pub fn next_event(&mut self) -> Option<MarketEvent> {
        let step = self.next_step;
        let ts_event = *self.data.timestamps.get(step)?;
        self.clock.advance_to(ts_event);
        let ts_init = self.clock.now();
        let mut bars = Vec::with_capacity(self.data.series.len());
        for (i, s) in self.data.series.iter().enumerate() {
            let k = self.cursor[i];
            if k < s.len() && s.step[k] as usize == step {
                bars.push(self.data.bar(i, k, ts_event, ts_init, self.seq));
                self.seq += 1;
                self.cursor[i] = k + 1;
            }
        }
        self.next_step += 1;
        Some(MarketEvent {
            step: step as u64,
            ts_event,
            ts_init,
            last: self.next_step == self.data.timestamps.len(),
            in_flight: 0,
            bars,
        })
    }
}

pub struct FeedActor;

pub struct FeedArgs {
    pub data: Arc<MarketData>,
    pub clock: SimulatedClock,
    pub window: usize,
    pub progress: Option<indicatif::ProgressBar>,
}

pub enum FeedMsg {
    Connect(Box<Peers>),
    /// Begin the replay.
    Start,
    /// The portfolio settled one timestamp.
    Credit,
}

pub struct FeedState {
    cursor: ReplayCursor,
    peers: Option<Box<Peers>>,
    window: usize,
    in_flight: usize,
    progress: Option<indicatif::ProgressBar>,
}

impl FeedState {
    fn pump(&mut self) -> Result<(), ActorProcessingErr> {
        let Some(peers) = &self.peers else {
            return Err("feed started before it was connected".into());
        };
        while self.in_flight < self.window {
            let Some(mut ev) = self.cursor.next_event() else { break };
            ev.in_flight = self.in_flight + 1;
            let ev = Arc::new(ev);
            peers.broker.send_message(BrokerMsg::Market(ev.clone()))?;
            peers.feature.send_message(FeatureMsg::Market(ev))?;
            self.in_flight += 1;
        }
        Ok(())
    }
}

impl Actor for FeedActor {
    type Msg = FeedMsg;
    type State = FeedState;
    type Arguments = FeedArgs;

    async fn pre_start(&self, _myself: ActorRef<FeedMsg>, args: FeedArgs) -> Result<FeedState, ActorProcessingErr> {
        Ok(FeedState {
            cursor: ReplayCursor::new(args.data, args.clock),
            peers: None,
            window: args.window.max(1),
            in_flight: 0,
            progress: args.progress,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<FeedMsg>,
        msg: FeedMsg,
        state: &mut FeedState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            FeedMsg::Connect(peers) => state.peers = Some(peers),
            FeedMsg::Start => state.pump()?,
            FeedMsg::Credit => {
                state.in_flight = state.in_flight.saturating_sub(1);
                if let Some(pb) = &state.progress {
                    pb.inc(1);
                }
                state.pump()?;
            }
        }
        Ok(())
    }
}
