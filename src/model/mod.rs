//! The model-inference actor. Its place in the pipeline is fixed: feature -> model -> strategy.
//! Until a model is configured it passes events through unchanged; the LSTM inference (a
//! batched forward pass on a dedicated thread) plugs in here.

use crate::events::SignalEvent;
use crate::strategy::StrategyMsg;
use crate::supervisor::Peers;
use ractor::{Actor, ActorProcessingErr, ActorRef};

pub struct ModelActor;

pub enum ModelMsg {
    Connect(Box<Peers>),
    Features(SignalEvent),
}

pub struct ModelState {
    peers: Option<Box<Peers>>,
}

impl Actor for ModelActor {
    type Msg = ModelMsg;
    type State = ModelState;
    type Arguments = ();

    async fn pre_start(&self, _m: ActorRef<ModelMsg>, _a: ()) -> Result<ModelState, ActorProcessingErr> {
        Ok(ModelState { peers: None })
    }

    async fn handle(
        &self,
        _m: ActorRef<ModelMsg>,
        msg: ModelMsg,
        state: &mut ModelState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ModelMsg::Connect(p) => state.peers = Some(p),
            ModelMsg::Features(ev) => {
                let peers = state.peers.as_ref().ok_or("model actor not connected")?;
                peers.strategy.send_message(StrategyMsg::Signals(ev))?;
            }
        }
        Ok(())
    }
}
