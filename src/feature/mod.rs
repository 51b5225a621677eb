//! The feature actor: computes features for each timestamp with a [`FeatureEngine`] and passes
//! the market event on to the model stage. With no feature set configured it only forwards.

pub mod batch;
pub mod indicators;
pub mod labels;
pub mod library;
mod technical;

pub use technical::{stream_market, TechnicalFeatures};

use crate::events::{FeatureFrame, MarketEvent, SignalEvent};
use crate::model::ModelMsg;
use crate::supervisor::Peers;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

/// Incremental feature computation, one timestamp at a time, seeing nothing after it.
pub trait FeatureEngine: Send {
    /// Updates with the bars of one timestamp and returns the features at that timestamp.
    fn update(&mut self, market: &MarketEvent) -> Option<FeatureFrame>;
}

/// No features: the stage forwards events unchanged.
pub struct NoFeatures;

impl FeatureEngine for NoFeatures {
    fn update(&mut self, _market: &MarketEvent) -> Option<FeatureFrame> {
        None
    }
}

pub struct FeatureActor;

pub enum FeatureMsg {
    Connect(Box<Peers>),
    Market(Arc<MarketEvent>),
}

pub struct FeatureState {
    engine: Box<dyn FeatureEngine>,
    peers: Option<Box<Peers>>,
}

impl Actor for FeatureActor {
    type Msg = FeatureMsg;
    type State = FeatureState;
    type Arguments = Box<dyn FeatureEngine>;

    async fn pre_start(
        &self,
        _m: ActorRef<FeatureMsg>,
        engine: Box<dyn FeatureEngine>,
    ) -> Result<FeatureState, ActorProcessingErr> {
        Ok(FeatureState { engine, peers: None })
    }

    async fn handle(
        &self,
        _m: ActorRef<FeatureMsg>,
        msg: FeatureMsg,
        state: &mut FeatureState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            FeatureMsg::Connect(p) => state.peers = Some(p),
            FeatureMsg::Market(market) => {
                let features = state.engine.update(&market).map(Arc::new);
                let peers = state.peers.as_ref().ok_or("feature actor not connected")?;
                peers.model.send_message(ModelMsg::Features(SignalEvent {
                    market,
                    features,
                    scores: None,
                }))?;
            }
        }
        Ok(())
    }
}
