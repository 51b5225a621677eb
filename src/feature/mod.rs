//! The feature actor: computes features for each timestamp with a [`FeatureEngine`] and passes
//! the market event on to the model stage (or straight to the strategy when the run has no
//! model). With no feature set configured ([`NoFeatures`]) it is not spawned: the feed sends
//! straight to the next stage.

pub mod batch;
pub mod indicators;
pub mod labels;
pub mod library;
mod technical;

pub use technical::{stream_market, TechnicalFeatures};

use crate::events::{FeatureFrame, MarketEvent, SignalEvent};
use crate::messages::{FeatureMsg, SignalRoute};
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::sync::Arc;

/// Incremental feature computation, one timestamp at a time, seeing nothing after it.
pub trait FeatureEngine: Send {
    /// Updates with the bars of one timestamp and returns the features at that timestamp.
    fn update(&mut self, market: &MarketEvent) -> Option<FeatureFrame>;
    /// False for an engine that never computes anything: the wiring then spawns no feature
    /// stage for it.
    fn computes(&self) -> bool {
        true
    }
}

/// No features: the stage forwards events unchanged.
pub struct NoFeatures;

impl FeatureEngine for NoFeatures {
    fn update(&mut self, _market: &MarketEvent) -> Option<FeatureFrame> {
        None
    }
    fn computes(&self) -> bool {
        false
    }
}

pub struct FeatureActor;

/// The feature engine and where its output goes.
pub struct FeatureArgs {
    pub engine: Box<dyn FeatureEngine>,
    /// The model stage, or the strategy when no model is configured.
    pub next: SignalRoute,
    /// This actor's tracing span (inside its run's).
    pub span: tracing::Span,
}

pub struct FeatureState {
    engine: Box<dyn FeatureEngine>,
    next: SignalRoute,
    span: tracing::Span,
}

impl Actor for FeatureActor {
    type Msg = FeatureMsg;
    type State = FeatureState;
    type Arguments = FeatureArgs;

    async fn pre_start(&self, _m: ActorRef<FeatureMsg>, args: FeatureArgs) -> Result<FeatureState, ActorProcessingErr> {
        Ok(FeatureState {
            engine: args.engine,
            next: args.next,
            span: args.span,
        })
    }

    async fn handle(
        &self,
        _m: ActorRef<FeatureMsg>,
        msg: FeatureMsg,
        state: &mut FeatureState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            FeatureMsg::Market(market) => {
                let _entered = state.span.enter();
                tracing::trace!(step = market.step, "features");
                let features = state.engine.update(&market).map(Arc::new);
                state.next.send(SignalEvent {
                    market,
                    features,
                    scores: None,
                })?;
            }
        }
        Ok(())
    }
}
