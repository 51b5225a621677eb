//! Inference on a dedicated thread: tch tensors are not `Sync` and a forward pass is heavy, so
//! the model lives on its own thread (crossbeam hand-off) and never on the async workers.
//!
//! Three kinds of model: a native artifact (see [`super::artifact`]), a TorchScript file
//! exported from PyTorch (input `[batch, window, features]` float32, output `[batch]` or
//! `[batch, 1]`) with a scaler file beside it, or a ridge artifact.

use super::artifact::{self, ModelMeta};
use super::net::{ModelKind, Net};
use super::ridge::Ridge;
use super::scaler::RobustScaler;
use super::ModelError;
use crate::types::InstrumentId;
use crossbeam_channel::{bounded, Sender};
use serde::{Deserialize, Serialize};
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// The scaler file that goes beside a TorchScript model: which library features, in which
/// order, over how many bars, and how to scale them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScalerFile {
    pub features: Vec<String>,
    pub window: usize,
    pub median: Vec<f64>,
    pub iqr: Vec<f64>,
}

pub use super::ModelSource;

/// What the model needs as input.
#[derive(Clone, Debug)]
pub struct InputSpec {
    pub features: Vec<String>,
    pub window: usize,
    pub scaler: RobustScaler,
}

enum Scorer {
    Native { net: Net, _vs: tch::nn::VarStore },
    TorchScript(tch::CModule),
    Ridge(Ridge),
}

impl Scorer {
    /// Scores of `x` = `[batch, window, features]`.
    fn run(&self, x: &Tensor) -> Result<Vec<f64>, ModelError> {
        let _guard = tch::no_grad_guard();
        let y = match self {
            Scorer::Native { net, .. } => net.forward(x, false),
            Scorer::TorchScript(m) => m
                .forward_ts(&[x])
                .map_err(|e| ModelError::Inference(format!("TorchScript forward: {e}")))?,
            Scorer::Ridge(r) => {
                let last = x.select(1, -1).to_kind(Kind::Double).to_device(Device::Cpu);
                let rows = Vec::<Vec<f64>>::try_from(&last).map_err(|e| ModelError::Inference(e.to_string()))?;
                return Ok(rows.iter().map(|row| r.predict(row)).collect());
            }
        };
        let y = y.to_kind(Kind::Double).to_device(Device::Cpu).flatten(0, -1);
        Vec::<f64>::try_from(&y).map_err(|e| ModelError::Inference(e.to_string()))
    }
}

fn load(source: &ModelSource, device: Device) -> Result<(Scorer, InputSpec), ModelError> {
    match source {
        ModelSource::Artifact(dir) => {
            let meta: ModelMeta = artifact::load_meta(dir).map_err(|e| ModelError::Load(e.to_string()))?;
            let spec = InputSpec {
                features: meta.features.clone(),
                window: meta.window,
                scaler: meta.scaler.clone(),
            };
            if meta.net.kind == ModelKind::Ridge {
                let r = meta
                    .ridge
                    .clone()
                    .ok_or_else(|| ModelError::Load("ridge artifact without coefficients".into()))?;
                return Ok((Scorer::Ridge(r), spec));
            }
            let (_, vs, net) = artifact::load_net(dir, device).map_err(|e| ModelError::Load(e.to_string()))?;
            Ok((Scorer::Native { net, _vs: vs }, spec))
        }
        ModelSource::TorchScript { model, scaler } => {
            let text =
                std::fs::read_to_string(scaler).map_err(|e| ModelError::Load(format!("{}: {e}", scaler.display())))?;
            let s: ScalerFile =
                serde_json::from_str(&text).map_err(|e| ModelError::Load(format!("{}: {e}", scaler.display())))?;
            if s.median.len() != s.features.len() || s.iqr.len() != s.features.len() {
                return Err(ModelError::Load(format!(
                    "{}: median and iqr need one value per feature",
                    scaler.display()
                )));
            }
            let m = tch::CModule::load_on_device(model, device)
                .map_err(|e| ModelError::Load(format!("{}: {e}", model.display())))?;
            Ok((
                Scorer::TorchScript(m),
                InputSpec {
                    features: s.features,
                    window: s.window,
                    scaler: RobustScaler {
                        median: s.median,
                        iqr: s.iqr,
                    },
                },
            ))
        }
    }
}

/// Where scores are written: the file, and `(id, ts) -> (date, symbol)` for its text.
pub type SignalSink = (
    std::io::BufWriter<std::fs::File>,
    Box<dyn Fn(InstrumentId, i64) -> (String, String) + Send>,
);

/// A batch to score: scaled windows, row-major `[window, features]` each.
pub struct Job {
    pub step: u64,
    pub ts: i64,
    pub inputs: Vec<(InstrumentId, Vec<f32>)>,
    pub reply: tokio::sync::oneshot::Sender<Result<Vec<(InstrumentId, f64)>, ModelError>>,
}

/// The model thread.
pub struct InferenceThread {
    tx: Option<Sender<Job>>,
    handle: Option<std::thread::JoinHandle<()>>,
    pub input: InputSpec,
    pub device: Device,
}

impl InferenceThread {
    /// Loads the model on a new thread (`threads` libtorch threads; `device` `cpu` or `cuda`,
    /// falling back to cpu). Each scored batch is also appended to `signals` (CSV
    /// `date,symbol,score`) when given, with `name(id)` and `date(ts)` for the text.
    ///
    /// # Errors
    /// The model or its scaler cannot be loaded.
    pub fn spawn(
        source: ModelSource,
        device: &str,
        threads: i32,
        mut signals: Option<SignalSink>,
    ) -> Result<Self, ModelError> {
        let device = super::device(device);
        let (tx, rx) = bounded::<Job>(4);
        let (ready_tx, ready_rx) = bounded::<Result<InputSpec, ModelError>>(1);
        let handle = std::thread::Builder::new()
            .name("kairos-model".into())
            .spawn(move || {
                tch::set_num_threads(threads.max(1));
                let (scorer, shape) = match load(&source, device) {
                    Ok((s, spec)) => {
                        let shape = (spec.window, spec.features.len());
                        let _ = ready_tx.send(Ok(spec));
                        (s, shape)
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                use std::io::Write;
                if let Some((w, _)) = signals.as_mut() {
                    let _ = w.write_all(b"date,symbol,score\n");
                }
                for job in rx {
                    let result = score_job(&scorer, &job, shape, device);
                    if let (Ok(scores), Some((w, name))) = (&result, signals.as_mut()) {
                        for (id, s) in scores {
                            let (date, sym) = name(*id, job.ts);
                            let _ = writeln!(w, "{date},{},{s}", crate::output::csv_field(&sym));
                        }
                    }
                    let _ = job.reply.send(result);
                }
                if let Some((w, _)) = signals.as_mut() {
                    let _ = w.flush();
                }
            })
            .map_err(|e| ModelError::Load(format!("cannot start the model thread: {e}")))?;
        let input = ready_rx.recv().map_err(|_| ModelError::Stopped)??;
        Ok(Self {
            tx: Some(tx),
            handle: Some(handle),
            input,
            device,
        })
    }

    /// Queues a job (blocks only while 4 jobs are already queued).
    ///
    /// # Errors
    /// The model thread has stopped.
    pub fn submit(&self, job: Job) -> Result<(), ModelError> {
        self.tx
            .as_ref()
            .ok_or(ModelError::Stopped)?
            .send(job)
            .map_err(|_| ModelError::Stopped)
    }
}

impl Drop for InferenceThread {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn score_job(
    scorer: &Scorer,
    job: &Job,
    (w, f): (usize, usize),
    device: Device,
) -> Result<Vec<(InstrumentId, f64)>, ModelError> {
    if job.inputs.is_empty() {
        return Ok(Vec::new());
    }
    let mut flat = Vec::with_capacity(job.inputs.len() * w * f);
    for (id, x) in &job.inputs {
        if x.len() != w * f {
            return Err(ModelError::Inference(format!(
                "window of {id} has {} values, the model takes {w} x {f}",
                x.len()
            )));
        }
        flat.extend_from_slice(x);
    }
    let x = Tensor::from_slice(&flat)
        .view([job.inputs.len() as i64, w as i64, f as i64])
        .to_device(device);
    Ok(job.inputs.iter().map(|(id, _)| *id).zip(scorer.run(&x)?).collect())
}

/// Scores raw windows with a model loaded from `source` on the calling thread (tests and
/// benchmarks): `x` is `[batch, window, features]` row-major, already scaled.
///
/// # Errors
/// Loading or forward errors.
pub fn score_windows(source: &ModelSource, x: &[f32], batch: usize, device: &str) -> Result<Vec<f64>, ModelError> {
    let device = super::device(device);
    let (scorer, spec) = load(source, device)?;
    let per = spec.window * spec.features.len();
    if x.len() != batch * per {
        return Err(ModelError::Inference(format!(
            "expected {} values, got {}",
            batch * per,
            x.len()
        )));
    }
    let t = Tensor::from_slice(x)
        .view([batch as i64, spec.window as i64, spec.features.len() as i64])
        .to_device(device);
    scorer.run(&t)
}

/// Reads a scaler file.
///
/// # Errors
/// I/O or format errors.
pub fn read_scaler(path: &Path) -> Result<ScalerFile, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::Load(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| ModelError::Load(format!("{}: {e}", path.display())))
}
