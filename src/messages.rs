//! Every message the pipeline's actors exchange, in one place.
//!
//! This module depends only on the domain types ([`crate::types`]) and the event payloads
//! ([`crate::events`]); no actor module imports another. Each actor is handed, when it is
//! spawned, the typed references of the actors it sends to (the forward edges of the pipeline);
//! the two backward edges, execution reports to the strategy and flow-control credits to the
//! feed, are subscriptions ([`BrokerMsg::SubscribeReports`], [`PortfolioMsg::SubscribeCredits`])
//! that the wiring makes before the feed starts.
//!
//! ```text
//! feed ─Market─► feature ─Features─► model ─Signals─► strategy ─Orders─► broker ─Execution─► portfolio
//!   └────────────────────── Market ───────────────────────────────────────►┘ │                 │
//!   ▲                                      strategy ◄── Execution (subscribed) ┘                 │
//!   └──────────────────────────────── Credit (subscribed) ──────────────────────────────────────┘
//! ```

use crate::events::{ExecutionReport, MarketEvent, OrderBatch, SignalEvent};
use crate::types::{Bar, UnixNanos};
use ractor::ActorRef;
use std::sync::Arc;

/// One timestamp's bars pushed into the feed from outside (a live feed, or a test).
#[derive(Debug)]
pub struct PushedBars {
    /// The bars' timestamp (their close).
    pub ts_event: UnixNanos,
    /// When the bars were received (the live clock); equal to `ts_event` in replays.
    pub ts_init: UnixNanos,
    pub bars: Vec<Bar>,
    /// The pusher knows this is the last timestamp of the session.
    pub last: bool,
}

/// To the market-data feed.
pub enum FeedMsg {
    /// Begin emitting (after every subscription is made).
    Start,
    /// The portfolio settled one timestamp: one more may be in flight.
    Credit,
    /// One timestamp's bars, from a pushed source.
    Bars(PushedBars),
    /// A pushed source ended without marking its last timestamp.
    End,
}

/// To the feature actor.
pub enum FeatureMsg {
    Market(Arc<MarketEvent>),
}

/// Where the feed sends each timestamp (besides the broker): the feature stage, or, with no
/// feature set configured, the next stage directly as signals without features.
pub enum MarketRoute {
    Features(ActorRef<FeatureMsg>),
    Signals(SignalRoute),
}

impl MarketRoute {
    /// Sends one timestamp on.
    pub fn send(&self, market: Arc<MarketEvent>) -> Result<(), ractor::ActorProcessingErr> {
        match self {
            MarketRoute::Features(f) => f.send_message(FeatureMsg::Market(market))?,
            MarketRoute::Signals(next) => next.send(SignalEvent {
                market,
                features: None,
                scores: None,
            })?,
        }
        Ok(())
    }
}

/// Where the feature stage sends each timestamp's signals: the model stage, or, with no model
/// configured, straight to the strategy (no stage that would only forward is spawned).
pub enum SignalRoute {
    Model(ActorRef<ModelMsg>),
    Strategy(ActorRef<StrategyMsg>),
}

impl SignalRoute {
    /// Sends one timestamp's signals on.
    pub fn send(&self, ev: SignalEvent) -> Result<(), ractor::ActorProcessingErr> {
        match self {
            SignalRoute::Model(m) => m.send_message(ModelMsg::Features(ev))?,
            SignalRoute::Strategy(s) => s.send_message(StrategyMsg::Signals(ev))?,
        }
        Ok(())
    }
}

/// To the model-inference actor.
pub enum ModelMsg {
    Features(SignalEvent),
}

/// To the strategy host.
pub enum StrategyMsg {
    Signals(SignalEvent),
    Execution(Arc<ExecutionReport>),
}

/// To the broker (the execution end).
pub enum BrokerMsg {
    Market(Arc<MarketEvent>),
    Orders(OrderBatch),
    /// Send every execution report (but the final one) to this strategy.
    SubscribeReports(ActorRef<StrategyMsg>),
    /// The market ended after this step (a pushed source that could not mark its last bar).
    /// `None`: the market ended before any bar.
    End {
        last_step: Option<u64>,
    },
}

/// To the portfolio.
pub enum PortfolioMsg {
    Execution(Arc<ExecutionReport>),
    /// Return a credit to this feed for every settled timestamp.
    SubscribeCredits(ActorRef<FeedMsg>),
}
