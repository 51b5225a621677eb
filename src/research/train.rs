//! Training: AdamW on mini-batches, early stopping and a plateau learning-rate schedule driven
//! by the validation split (which precedes the test period; test data never steer training),
//! seeded and single-threaded by default so a seed gives the same weights every time.

use super::dataset::{Dataset, Sample};
use super::eval::{evaluate, Evaluation, Scored};
use super::ridge::Ridge;
use super::ResearchError;
use crate::data::synth::Rng;
use crate::model::net::{Net, NetSpec};
use serde::{Deserialize, Serialize};
use tch::nn::{self, OptimizerConfig};
use tch::{Device, Kind, Tensor};

/// `[train]` settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Epochs without validation improvement before stopping.
    pub patience: usize,
    /// Learning rate factor after `lr_patience` epochs without improvement.
    pub lr_factor: f64,
    pub lr_patience: usize,
    pub ridge_lambda: f64,
    /// libtorch intra-op threads (1: deterministic and fastest beside other work).
    pub threads: i32,
    /// `cpu` or `cuda` (falls back to cpu when CUDA is not available).
    pub device: String,
    pub progress: bool,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            seed: 7,
            epochs: 20,
            batch_size: 256,
            lr: 1e-3,
            weight_decay: 1e-4,
            patience: 4,
            lr_factor: 0.5,
            lr_patience: 2,
            ridge_lambda: 10.0,
            threads: 1,
            device: "cpu".into(),
            progress: true,
        }
    }
}

pub use crate::model::device;

/// What the schedule says after an epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// The validation loss improved: keep these weights as the best.
    Improved,
    /// No improvement; go on with this learning rate (lowered when the plateau lasted
    /// `lr_patience` epochs).
    Continue { lr: f64 },
    /// No improvement for `patience` epochs: stop.
    Stop,
}

/// Early stopping and the plateau learning-rate schedule, driven by validation losses alone.
#[derive(Clone, Debug)]
pub struct Plateau {
    best: f64,
    lr: f64,
    since_best: usize,
    since_lr: usize,
    patience: usize,
    lr_patience: usize,
    lr_factor: f64,
}

impl Plateau {
    pub fn new(cfg: &TrainSettings) -> Self {
        Self {
            best: f64::INFINITY,
            lr: cfg.lr,
            since_best: 0,
            since_lr: 0,
            patience: cfg.patience,
            lr_patience: cfg.lr_patience,
            lr_factor: cfg.lr_factor,
        }
    }

    /// The learning rate in force.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Takes one epoch's validation loss.
    pub fn on_epoch(&mut self, val_loss: f64) -> Step {
        if val_loss < self.best {
            self.best = val_loss;
            self.since_best = 0;
            self.since_lr = 0;
            return Step::Improved;
        }
        self.since_best += 1;
        self.since_lr += 1;
        if self.since_lr >= self.lr_patience {
            self.lr *= self.lr_factor;
            self.since_lr = 0;
        }
        if self.since_best >= self.patience {
            Step::Stop
        } else {
            Step::Continue { lr: self.lr }
        }
    }
}

/// One epoch's figures.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Epoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    pub lr: f64,
    pub seconds: f64,
}

/// What training did.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TrainReport {
    pub epochs: Vec<Epoch>,
    pub best_epoch: usize,
    pub best_val_loss: f64,
    pub stopped_early: bool,
}

fn windows(ds: &Dataset, samples: &[Sample], device: Device) -> (Tensor, Tensor) {
    let (w, f) = (ds.window as i64, ds.n_features() as i64);
    let mut x = Vec::with_capacity(samples.len() * (w * f) as usize);
    for s in samples {
        x.extend(ds.window_of(s));
    }
    let y: Vec<f32> = samples.iter().map(|s| s.label).collect();
    (
        Tensor::from_slice(&x)
            .view([samples.len() as i64, w, f])
            .to_device(device),
        Tensor::from_slice(&y).to_device(device),
    )
}

/// Predictions of a network for a `[batch, window, features]` tensor (eval mode, no gradient),
/// in batches of 4096.
pub fn forward(net: &Net, x: &Tensor, device: Device) -> Vec<f64> {
    let _guard = tch::no_grad_guard();
    let n = x.size()[0];
    let mut out = Vec::with_capacity(n as usize);
    let mut start = 0;
    while start < n {
        let len = 4096.min(n - start);
        let y = net.forward(&x.narrow(0, start, len).to_device(device), false);
        out.extend(Vec::<f64>::try_from(&y.to_kind(Kind::Double).to_device(Device::Cpu)).unwrap_or_default());
        start += len;
    }
    out
}

/// Predictions of a network for `samples`, building their windows `batch` samples at a time.
pub fn predict(net: &Net, ds: &Dataset, samples: &[Sample], device: Device, batch: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(samples.len());
    for chunk in samples.chunks(batch.max(1)) {
        out.extend(forward(net, &windows(ds, chunk, device).0, device));
    }
    out
}

fn mse(net: &Net, x: &Tensor, y: &Tensor, batch: i64) -> f64 {
    let _guard = tch::no_grad_guard();
    let n = y.size()[0];
    if n == 0 {
        return f64::NAN;
    }
    let mut total = 0.0;
    let mut start = 0;
    while start < n {
        let len = batch.min(n - start);
        let p = net.forward(&x.narrow(0, start, len), false);
        total += (p - y.narrow(0, start, len))
            .square()
            .sum(Kind::Double)
            .double_value(&[]);
        start += len;
    }
    total / n as f64
}

/// Held for the whole of one training: see `train_net`.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Trains a network on `ds.train`, early-stopping on `ds.val`. With `init`, starts from those
/// weights (fine-tuning). Returns the best weights (by validation loss).
///
/// # Errors
/// libtorch errors, or an empty training or validation split.
pub fn train_net(
    ds: &Dataset,
    spec: NetSpec,
    cfg: &TrainSettings,
    init: Option<&nn::VarStore>,
) -> Result<(nn::VarStore, Net, TrainReport), ResearchError> {
    if ds.train.is_empty() || ds.val.is_empty() {
        return Err(ResearchError::Data(format!(
            "empty split: {} training and {} validation samples",
            ds.train.len(),
            ds.val.len()
        )));
    }
    // libtorch's random generator is global to the process: a second training in another thread
    // would draw from it between this one's seed and its draws (initial weights, dropout) and
    // change both results. Trainings in one process therefore take turns, so a seed always gives
    // the same weights.
    let _turn = TRAINING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    tch::set_num_threads(cfg.threads.max(1));
    tch::manual_seed(cfg.seed as i64);
    let dev = device(&cfg.device);
    let mut vs = nn::VarStore::new(dev);
    let net = Net::new(&vs.root(), spec.clone());
    if let Some(src) = init {
        vs.copy(src)
            .map_err(|e| ResearchError::Config(format!("model.init_from: the weights do not fit: {e}")))?;
    }
    // The best weights so far; `best_net` reads `best`'s variables, which `copy` updates in place.
    let mut best = nn::VarStore::new(dev);
    let best_net = Net::new(&best.root(), spec);
    best.copy(&vs).map_err(|e| ResearchError::Model(e.to_string()))?;
    let mut opt = nn::AdamW {
        wd: cfg.weight_decay,
        ..Default::default()
    }
    .build(&vs, cfg.lr)
    .map_err(|e| ResearchError::Model(e.to_string()))?;
    let (xt, yt) = windows(ds, &ds.train, dev);
    let (xv, yv) = windows(ds, &ds.val, dev);
    let n = ds.train.len();
    let mut order: Vec<i64> = (0..n as i64).collect();
    let mut rng = Rng::new(cfg.seed);
    let bs = cfg.batch_size.max(1) as i64;
    let pb = if cfg.progress {
        indicatif::ProgressBar::new(cfg.epochs as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    pb.set_style(
        indicatif::ProgressStyle::with_template("epoch {pos}/{len} {bar:30} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut schedule = Plateau::new(cfg);
    let mut report = TrainReport {
        epochs: Vec::new(),
        best_epoch: 0,
        best_val_loss: f64::INFINITY,
        stopped_early: false,
    };
    for epoch in 1..=cfg.epochs {
        let t0 = std::time::Instant::now();
        for i in (1..n).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let perm = Tensor::from_slice(&order).to_device(dev);
        let mut total = 0.0;
        let mut start = 0i64;
        while start < n as i64 {
            let len = bs.min(n as i64 - start);
            let idx = perm.narrow(0, start, len);
            let pred = net.forward(&xt.index_select(0, &idx), true);
            let loss = (pred - yt.index_select(0, &idx)).square().mean(Kind::Float);
            opt.backward_step(&loss);
            total += loss.double_value(&[]) * len as f64;
            start += len;
        }
        let train_loss = total / n as f64;
        let val_loss = mse(&net, &xv, &yv, 4096);
        let lr = schedule.lr();
        report.epochs.push(Epoch {
            epoch,
            train_loss,
            val_loss,
            lr,
            seconds: t0.elapsed().as_secs_f64(),
        });
        pb.set_message(format!("train {train_loss:.4} val {val_loss:.4} lr {lr:.1e}"));
        pb.inc(1);
        match schedule.on_epoch(val_loss) {
            Step::Improved => {
                report.best_val_loss = val_loss;
                report.best_epoch = epoch;
                best.copy(&vs).map_err(|e| ResearchError::Model(e.to_string()))?;
            }
            Step::Continue { lr: next } => {
                if next != lr {
                    opt.set_lr(next);
                }
            }
            Step::Stop => {
                report.stopped_early = true;
                break;
            }
        }
    }
    pb.finish_and_clear();
    Ok((best, best_net, report))
}

/// Fits the ridge baseline on the last rows of the training samples.
pub fn train_ridge(ds: &Dataset, lambda: f64) -> Ridge {
    let x: Vec<Vec<f32>> = ds.train.iter().map(|s| ds.last_row(s)).collect();
    let y: Vec<f32> = ds.train.iter().map(|s| s.label).collect();
    Ridge::fit(&x, &y, lambda)
}

/// Evaluates predictions against the samples' labels.
pub fn score(samples: &[Sample], preds: &[f64]) -> Evaluation {
    let scored: Vec<Scored> = samples
        .iter()
        .zip(preds)
        .map(|(s, p)| Scored {
            ts: s.ts,
            symbol: s.symbol,
            pred: *p,
            label: f64::from(s.label),
        })
        .collect();
    evaluate(&scored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TrainSettings {
        TrainSettings {
            lr: 0.01,
            patience: 4,
            lr_patience: 2,
            lr_factor: 0.5,
            ..TrainSettings::default()
        }
    }

    #[test]
    fn a_stalling_validation_loss_lowers_the_rate_then_stops() {
        let mut p = Plateau::new(&settings());
        assert_eq!(p.on_epoch(1.0), Step::Improved);
        assert_eq!(p.on_epoch(0.9), Step::Improved);
        // Four epochs without improvement: the rate halves after two, again after four, and
        // the fourth stops training.
        assert_eq!(p.on_epoch(0.9), Step::Continue { lr: 0.01 });
        assert_eq!(p.on_epoch(0.95), Step::Continue { lr: 0.005 });
        assert_eq!(p.on_epoch(0.91), Step::Continue { lr: 0.005 });
        assert_eq!(p.on_epoch(0.92), Step::Stop);
        assert_eq!(p.lr(), 0.0025);
    }

    #[test]
    fn an_improvement_resets_both_counters() {
        let mut p = Plateau::new(&settings());
        assert_eq!(p.on_epoch(1.0), Step::Improved);
        assert_eq!(p.on_epoch(1.1), Step::Continue { lr: 0.01 });
        assert_eq!(p.on_epoch(0.8), Step::Improved);
        assert_eq!(p.on_epoch(0.8), Step::Continue { lr: 0.01 });
        assert_eq!(p.on_epoch(0.85), Step::Continue { lr: 0.005 });
        assert_eq!(p.on_epoch(0.7), Step::Improved);
        assert_eq!(p.lr(), 0.005, "the rate is not raised again");
    }
}
