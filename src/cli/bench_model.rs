//! `kairos bench-model`: LSTM inference and training timings (the Kairos side;
//! `scripts/bench_model.sh` compares with PyTorch).

use anyhow::Result;

/// `kairos bench-model`'s arguments.
#[derive(clap::Args)]
pub struct BenchModelArgs {
    #[arg(long, default_value_t = 1)]
    threads: i32,
    #[arg(long, default_value_t = 10)]
    reps: usize,
}

/// Prints one JSON line per measurement.
pub fn run(a: BenchModelArgs) -> Result<()> {
    for t in bench_models(a.threads, a.reps) {
        println!("{}", serde_json::to_string(&t)?);
    }
    Ok(())
}

/// One inference or training measurement.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ModelTiming {
    pub what: String,
    pub window: i64,
    pub hidden: i64,
    pub batch: i64,
    pub seconds: f64,
    /// Sequences per second (inference) or per training epoch.
    pub sequences_per_second: f64,
}

/// Forward passes of an LSTM (16 features, 1 layer) at batch 500 for windows 30/60 and hidden
/// 16/64, and one training epoch (10,240 sequences, batch 256, AdamW) per shape: the Kairos side
/// of `scripts/bench_model.sh` (PyTorch runs the same shapes in Python).
pub fn bench_models(threads: i32, reps: usize) -> Vec<ModelTiming> {
    use crate::model::net::{ModelKind, Net, NetSpec};
    use tch::nn::OptimizerConfig;
    use tch::{nn, Device, Kind, Tensor};
    tch::set_num_threads(threads.max(1));
    tch::manual_seed(0);
    let mut out = Vec::new();
    for window in [30i64, 60] {
        for hidden in [16i64, 64] {
            let vs = nn::VarStore::new(Device::Cpu);
            let net = Net::new(
                &vs.root(),
                NetSpec {
                    kind: ModelKind::Lstm,
                    n_features: 16,
                    hidden,
                    layers: 1,
                    dropout: 0.0,
                },
            );
            let x = Tensor::randn([500, window, 16], (Kind::Float, Device::Cpu));
            let _guard = tch::no_grad_guard();
            let _ = net.forward(&x, false);
            let t = std::time::Instant::now();
            for _ in 0..reps.max(1) {
                let _ = net.forward(&x, false);
            }
            let s = t.elapsed().as_secs_f64() / reps.max(1) as f64;
            out.push(ModelTiming {
                what: "inference".into(),
                window,
                hidden,
                batch: 500,
                seconds: s,
                sequences_per_second: 500.0 / s,
            });
            drop(_guard);
            let n = 10_240i64;
            let xs = Tensor::randn([n, window, 16], (Kind::Float, Device::Cpu));
            let ys = Tensor::randn([n], (Kind::Float, Device::Cpu));
            let mut opt = nn::AdamW::default().build(&vs, 1e-3).expect("optimizer");
            let t = std::time::Instant::now();
            let mut start = 0;
            while start < n {
                let len = 256.min(n - start);
                let loss = (net.forward(&xs.narrow(0, start, len), true) - ys.narrow(0, start, len))
                    .square()
                    .mean(Kind::Float);
                opt.backward_step(&loss);
                start += len;
            }
            let s = t.elapsed().as_secs_f64();
            out.push(ModelTiming {
                what: "train_epoch".into(),
                window,
                hidden,
                batch: 256,
                seconds: s,
                sequences_per_second: n as f64 / s,
            });
        }
    }
    out
}
