//! Model inference: the runtime a backtest or a paper session loads, apart from research.
//!
//! The actor sits between the feature and strategy actors. Without a model it passes events
//! through; with one it keeps each symbol's window of scaled features, sends one batch per
//! timestamp to the model thread ([`infer::InferenceThread`]: one batched forward pass, off the
//! async workers) and attaches the scores to the event for the strategy.
//!
//! This folder holds only what inference needs: the artifact format ([`artifact`]), the
//! networks ([`net`]), the scaler, the ridge predictor and the device choice. Datasets,
//! training, walk-forward, evaluation and importance live in [`crate::research`], which depends
//! on this module and never the other way round.

#[cfg(feature = "torch")]
pub mod artifact;
pub mod file_scores;
#[cfg(feature = "torch")]
pub mod infer;
pub mod meta;
#[cfg(feature = "torch")]
pub mod net;
pub mod ridge;
pub mod scaler;

use crate::events::{Scores, SignalEvent};
use crate::messages::{ModelMsg, StrategyMsg};
#[cfg(feature = "torch")]
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

/// Errors of model loading and inference.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A model file or its metadata cannot be read or does not make sense.
    #[error("{0}")]
    Load(String),
    /// libtorch failed while scoring.
    #[error("inference: {0}")]
    Inference(String),
    /// The model asks for an input the feature stage does not compute.
    #[error("the model's input {0:?} is not a computed feature")]
    MissingFeature(String),
    /// The model thread is gone.
    #[error("the model thread stopped")]
    Stopped,
}

/// The device to use: CUDA only when asked for and available; asking for CUDA where it is not
/// available falls back to the CPU and says so in the log.
#[cfg(feature = "torch")]
pub fn device(name: &str) -> tch::Device {
    if name != "cuda" {
        return tch::Device::Cpu;
    }
    if tch::Cuda::is_available() {
        tch::Device::Cuda(0)
    } else {
        tracing::warn!("device \"cuda\" asked for but CUDA is not available: falling back to the CPU");
        tch::Device::Cpu
    }
}

/// Where the scores of a run come from: a loaded network, or a file of scores.
pub enum ModelRuntime {
    #[cfg(feature = "torch")]
    Net(NetRuntime),
    File(file_scores::FileScores),
}

impl ModelRuntime {
    /// Whether it reads the feature stage's output (a network does; a file does not).
    pub fn needs_features(&self) -> bool {
        match self {
            #[cfg(feature = "torch")]
            ModelRuntime::Net(_) => true,
            ModelRuntime::File(_) => false,
        }
    }

    async fn score(&mut self, ev: &SignalEvent) -> Result<Vec<(crate::types::InstrumentId, f64)>, ModelError> {
        match self {
            #[cfg(feature = "torch")]
            ModelRuntime::Net(n) => n.score(ev).await,
            ModelRuntime::File(f) => Ok(f.at(ev.market.step)),
        }
    }
}

/// A loaded model and the rolling input windows of every symbol.
#[cfg(feature = "torch")]
pub struct NetRuntime {
    thread: infer::InferenceThread,
    /// Columns of the model's inputs in the feature frames, in the model's order (resolved
    /// from the first frame's names).
    cols: Option<Vec<usize>>,
    windows: Vec<VecDeque<Vec<f32>>>,
    tradable: Vec<bool>,
}

#[cfg(feature = "torch")]
impl NetRuntime {
    /// Wraps a started inference thread for `instruments`.
    pub fn new(thread: infer::InferenceThread, instruments: &[crate::types::Instrument]) -> Self {
        Self {
            thread,
            cols: None,
            windows: vec![VecDeque::new(); instruments.len()],
            tradable: instruments.iter().map(|i| i.tradable).collect(),
        }
    }

    /// The model's input features, in its order.
    pub fn features(&self) -> &[String] {
        &self.thread.input.features
    }

    /// Updates the windows with a feature frame; returns the full windows of tradable symbols.
    /// A missing input clears that symbol's window: a window never spans a gap.
    fn update(&mut self, ev: &SignalEvent) -> Result<Vec<(InstrumentId, Vec<f32>)>, ModelError> {
        let Some(frame) = ev.features.as_deref() else {
            return Ok(Vec::new());
        };
        let cols = match &self.cols {
            Some(c) => c,
            None => {
                let c = self
                    .thread
                    .input
                    .features
                    .iter()
                    .map(|f| {
                        frame
                            .key(f)
                            .map(|k| k.0)
                            .ok_or_else(|| ModelError::MissingFeature(f.clone()))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                self.cols.insert(c)
            }
        };
        let w = self.thread.input.window;
        let mut inputs = Vec::new();
        for (id, row) in frame.instruments().iter().zip(frame.values()) {
            let picked: Vec<Option<f64>> = cols.iter().map(|&c| row[c]).collect();
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
        Ok(inputs)
    }

    /// Scores of every symbol with a full window at this timestamp: one batched forward pass
    /// on the model thread, awaited here without blocking the async workers.
    async fn score(&mut self, ev: &SignalEvent) -> Result<Vec<(InstrumentId, f64)>, ModelError> {
        let inputs = self.update(ev)?;
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
        rx.await.map_err(|_| ModelError::Stopped)?
    }
}

/// The model and where scores go.
pub struct ModelArgs {
    pub runtime: ModelRuntime,
    pub strategy: ActorRef<StrategyMsg>,
    /// This actor's tracing span (inside its run's).
    pub span: tracing::Span,
}

pub struct ModelActor;

pub struct ModelState {
    runtime: ModelRuntime,
    strategy: ActorRef<StrategyMsg>,
    span: tracing::Span,
}

impl Actor for ModelActor {
    type Msg = ModelMsg;
    type State = ModelState;
    type Arguments = ModelArgs;

    async fn pre_start(&self, _m: ActorRef<ModelMsg>, args: ModelArgs) -> Result<ModelState, ActorProcessingErr> {
        Ok(ModelState {
            runtime: args.runtime,
            strategy: args.strategy,
            span: args.span,
        })
    }

    async fn handle(
        &self,
        _m: ActorRef<ModelMsg>,
        msg: ModelMsg,
        state: &mut ModelState,
    ) -> Result<(), ActorProcessingErr> {
        use tracing::Instrument;
        let span = state.span.clone();
        async move {
            match msg {
                ModelMsg::Features(mut ev) => {
                    let scores = state.runtime.score(&ev).await?;
                    tracing::debug!(step = ev.market.step, scored = scores.len(), "model scores");
                    ev.scores = Some(Arc::new(Scores::new(scores)));
                    state.strategy.send_message(StrategyMsg::Signals(ev))?;
                }
            }
            Ok(())
        }
        .instrument(span)
        .await
    }
}
