//! Models: datasets, training, artifacts, and the model-inference actor.
//!
//! The actor sits between the feature and strategy actors. Without a model it passes events
//! through; with one it keeps each symbol's window of scaled features, sends one batch per
//! timestamp to the model thread ([`infer::InferenceThread`]: one batched forward pass, off the
//! async workers) and attaches the scores to the event for the strategy.

#[cfg(feature = "torch")]
pub mod artifact;
pub mod dataset;
pub mod eval;
#[cfg(feature = "torch")]
pub mod importance;
#[cfg(feature = "torch")]
pub mod infer;
#[cfg(feature = "torch")]
pub mod job;
#[cfg(feature = "torch")]
pub mod net;
pub mod ridge;
pub mod scaler;
#[cfg(feature = "torch")]
pub mod train;
#[cfg(feature = "torch")]
pub mod walkforward;

use crate::events::{Scores, SignalEvent};
use crate::strategy::StrategyMsg;
use crate::supervisor::Peers;
use crate::types::InstrumentId;
use ractor::{Actor, ActorProcessingErr, ActorRef};
#[cfg(feature = "torch")]
use std::collections::VecDeque;
use std::sync::Arc;

/// Where a model comes from.
#[derive(Clone, Debug)]
pub enum ModelSource {
    /// A native artifact directory (`model.json` + `weights.safetensors`).
    Artifact(std::path::PathBuf),
    /// A TorchScript file and its scaler file.
    TorchScript {
        model: std::path::PathBuf,
        scaler: std::path::PathBuf,
    },
}

/// A loaded model and the rolling input windows of every symbol.
#[cfg(feature = "torch")]
pub struct ModelRuntime {
    thread: infer::InferenceThread,
    /// Library indices of the model's inputs, in the model's order.
    cols: Vec<usize>,
    windows: Vec<VecDeque<Vec<f32>>>,
    tradable: Vec<bool>,
}

/// Without the `torch` feature no model can be loaded: the runtime cannot exist.
#[cfg(not(feature = "torch"))]
pub enum ModelRuntime {}

#[cfg(not(feature = "torch"))]
impl ModelRuntime {
    async fn score(&mut self, _ev: &SignalEvent) -> Result<Vec<(InstrumentId, f64)>, String> {
        match *self {}
    }
}

#[cfg(feature = "torch")]
impl ModelRuntime {
    /// Wraps a started inference thread for `instruments`.
    ///
    /// # Errors
    /// The model asks for a feature the library does not have.
    pub fn new(thread: infer::InferenceThread, instruments: &[crate::types::Instrument]) -> Result<Self, String> {
        let cols = dataset::feature_indices(&thread.input.features)?;
        Ok(Self {
            thread,
            cols,
            windows: vec![VecDeque::new(); instruments.len()],
            tradable: instruments.iter().map(|i| i.tradable).collect(),
        })
    }

    /// Updates the windows with a feature frame; returns the full windows of tradable symbols.
    /// A missing input clears that symbol's window: a window never spans a gap.
    fn update(&mut self, ev: &SignalEvent) -> Vec<(InstrumentId, Vec<f32>)> {
        let Some(frame) = ev.features.as_deref() else {
            return Vec::new();
        };
        let w = self.thread.input.window;
        let mut inputs = Vec::new();
        for (id, row) in frame.instruments.iter().zip(&frame.values) {
            let picked: Vec<Option<f64>> = self.cols.iter().map(|&c| row[c]).collect();
            let win = &mut self.windows[id.index()];
            match self.thread.input.scaler.scale_row(&picked) {
                Some(scaled) => {
                    if win.len() == w {
                        win.pop_front();
                    }
                    win.push_back(scaled);
                }
                None => win.clear(),
            }
            if win.len() == w && self.tradable[id.index()] {
                inputs.push((*id, win.iter().flatten().copied().collect()));
            }
        }
        inputs
    }

    /// Scores of every symbol with a full window at this timestamp: one batched forward pass
    /// on the model thread, awaited here without blocking the async workers.
    async fn score(&mut self, ev: &SignalEvent) -> Result<Vec<(InstrumentId, f64)>, String> {
        let inputs = self.update(ev);
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.thread.submit(infer::Job {
            step: ev.market.step,
            ts: ev.market.ts_event,
            inputs,
            reply: tx,
        })?;
        rx.await.map_err(|_| "the model thread stopped".to_string())?
    }
}

pub struct ModelActor;

pub enum ModelMsg {
    Connect(Box<Peers>),
    Features(SignalEvent),
}

pub struct ModelState {
    peers: Option<Box<Peers>>,
    runtime: Option<ModelRuntime>,
}

impl Actor for ModelActor {
    type Msg = ModelMsg;
    type State = ModelState;
    type Arguments = Option<ModelRuntime>;

    async fn pre_start(
        &self,
        _m: ActorRef<ModelMsg>,
        runtime: Option<ModelRuntime>,
    ) -> Result<ModelState, ActorProcessingErr> {
        Ok(ModelState { peers: None, runtime })
    }

    async fn handle(
        &self,
        _m: ActorRef<ModelMsg>,
        msg: ModelMsg,
        state: &mut ModelState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ModelMsg::Connect(p) => state.peers = Some(p),
            ModelMsg::Features(mut ev) => {
                if let Some(rt) = state.runtime.as_mut() {
                    let scores = rt.score(&ev).await?;
                    ev.scores = Some(Arc::new(Scores { scores }));
                }
                let peers = state.peers.as_ref().ok_or("model actor not connected")?;
                peers.strategy.send_message(StrategyMsg::Signals(ev))?;
            }
        }
        Ok(())
    }
}
