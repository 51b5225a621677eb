//! Training controls that a wrong implementation would get wrong: early stopping and the plateau
//! schedule act when the validation loss stalls; fine-tuning with 0 epochs returns the pretrained
//! weights; `device = "cuda"` without CUDA falls back to the CPU (same weights) with a log line.
#![cfg(feature = "torch")]

mod common;

use kairos::data::synth::{self, SynthSpec};
use kairos::research::job::{self, TrainConfig};
use std::path::Path;
use std::sync::Arc;

fn job(data: &Path, out: &Path, train: &str, model_extra: &str) -> TrainConfig {
    let text = format!(
        "[data]\npath = \"{}\"\n[model]\nwindow = 10\nhidden = 8\nlayers = 1\ndropout = 0.0\n{model_extra}\n\
         [train]\nseed = 3\nprogress = false\n{train}\n[split]\nval_start = \"2016-07-01\"\n\
         test_start = \"2017-01-01\"\n[output]\ndir = \"{}\"\n",
        data.display(),
        out.display()
    );
    let cfg: TrainConfig = toml::from_str(&text).expect("job");
    cfg.validate().expect("valid");
    cfg
}

fn market(dir: &Path) -> Arc<kairos::data::MarketData> {
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 8,
            days: 600,
            ..SynthSpec::default()
        },
        dir,
    )
    .expect("synth");
    Arc::new(kairos::feeds::load(dir, &Default::default()).expect("load"))
}

#[test]
fn early_stopping_and_the_plateau_schedule_act_on_a_stalling_validation_loss() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d);
    // A learning rate far too high on a market without much signal: the validation loss stops
    // improving within a few epochs.
    let cfg = job(
        &d,
        &dir.path().join("m"),
        "epochs = 40\nlr = 0.05\npatience = 3\nlr_patience = 1\nlr_factor = 0.5",
        "",
    );
    let out = job::run(&cfg, &data).expect("train");
    let report = out.training.expect("report");
    let epochs = &report.epochs;
    assert!(report.stopped_early, "stopped early: {epochs:?}");
    assert!(epochs.len() < 40);
    // Recomputed from the reported losses, independently of the schedule's code: the rate
    // halves after every epoch that does not beat the best so far, and training stops after the
    // third such epoch in a row; the best epoch is the one with the lowest loss.
    let mut best = f64::INFINITY;
    let mut lr = 0.05;
    let mut stale = 0;
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e.lr, lr, "epoch {}: learning rate", e.epoch);
        if e.val_loss < best {
            best = e.val_loss;
            stale = 0;
        } else {
            stale += 1;
            lr *= 0.5;
            assert_eq!(
                stale == 3,
                i + 1 == epochs.len(),
                "epoch {}: stop exactly after 3 stale epochs",
                e.epoch
            );
        }
    }
    assert!(epochs.iter().any(|e| e.lr < 0.05), "the rate was lowered");
    let argmin = epochs
        .iter()
        .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
        .expect("epochs")
        .epoch;
    assert_eq!(report.best_epoch, argmin);
    assert_eq!(report.best_val_loss, best);
}

#[test]
fn zero_epoch_fine_tuning_and_cuda_fallback() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    let data = market(&d);
    let pre = dir.path().join("pre");
    job::run(&job(&d, &pre, "epochs = 2", ""), &data).expect("pretrain");
    let weights = |p: &Path| std::fs::read(p.join("weights.safetensors")).expect("weights");

    // Fine-tuning with 0 epochs on one symbol returns the pretrained weights unchanged.
    let extra = format!("symbols = [\"SYN002\"]\ninit_from = \"{}\"", pre.display());
    let fine = dir.path().join("fine");
    job::run(&job(&d, &fine, "epochs = 0", &extra), &data).expect("fine-tune 0 epochs");
    assert!(weights(&pre) == weights(&fine), "0 epochs changed the weights");
    // ...and one epoch does change them (the comparison can see a difference).
    let fine1 = dir.path().join("fine1");
    job::run(&job(&d, &fine1, "epochs = 1", &extra), &data).expect("fine-tune 1 epoch");
    assert!(weights(&pre) != weights(&fine1));
    // 0 epochs without a pretrained model is refused.
    let text = format!(
        "[data]\npath = \"{}\"\n[train]\nepochs = 0\n[split]\nval_start = \"2016-07-01\"\ntest_start = \"2017-01-01\"\n[output]\ndir = \"x\"\n",
        d.display()
    );
    let cfg: TrainConfig = toml::from_str(&text).expect("parse");
    assert!(cfg
        .validate()
        .expect_err("refused")
        .to_string()
        .contains("train.epochs"));

    if tch::Cuda::is_available() {
        eprintln!("CUDA is available here: the fallback is not exercised");
        return;
    }
    // device = "cuda" without CUDA: a log line, and exactly the CPU's training.
    let log = common::Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let cuda = dir.path().join("cuda");
    tracing::subscriber::with_default(subscriber, || {
        // Another test of this binary may have cached the log line's callsite as uninteresting
        // before this subscriber existed: recompute it with this one in place.
        tracing::callsite::rebuild_interest_cache();
        job::run(&job(&d, &cuda, "epochs = 2\ndevice = \"cuda\"", ""), &data).expect("cuda run")
    });
    let text = log.text();
    assert!(
        text.contains("CUDA is not available: falling back to the CPU"),
        "log: {text}"
    );
    assert!(
        weights(&pre) == weights(&cuda),
        "the fallback trains exactly as the CPU does"
    );
}
