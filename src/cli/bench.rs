//! Benchmark helpers: minimal single-threaded loops over the same column arrays (the baseline
//! the engine is compared with in the same run), and peak memory of the process.
//!
//! The baselines implement SPEC.md S1 and S2 in plain `f64` with no actors, no decimals and no
//! outputs: the fastest honest way to compute the same decisions, so `engine / baseline` is the
//! price of the engine's guarantees.

use kairos::data::MarketData;
use kairos::strategies::{sma_cross, topk};

/// Result of a baseline loop.
#[derive(Clone, Copy, Debug)]
pub struct Baseline {
    pub final_equity: f64,
    pub fills: u64,
}

struct Arrays {
    open: Vec<Vec<f64>>,
    close: Vec<Vec<f64>>,
    /// Position in each series of the bar at each step, or `usize::MAX`.
    at: Vec<Vec<usize>>,
    tradable: Vec<bool>,
}

fn arrays(data: &MarketData) -> Arrays {
    let t = data.timestamps.len();
    let mut at = Vec::with_capacity(data.series.len());
    for s in &data.series {
        let mut v = vec![usize::MAX; t];
        for (k, &st) in s.step.iter().enumerate() {
            v[st as usize] = k;
        }
        at.push(v);
    }
    Arrays {
        open: data.series.iter().map(|s| s.opens_f64()).collect(),
        close: data.series.iter().map(|s| s.closes_f64()).collect(),
        at,
        tradable: data.instruments.iter().map(|i| i.tradable).collect(),
    }
}

/// Fills pending market orders at the open; returns the number of fills.
fn fill_at_open(
    a: &Arrays,
    t: usize,
    pending: &mut Vec<(usize, f64)>,
    cash: &mut f64,
    qty: &mut [f64],
    entry: &mut [f64],
    rate: f64,
) -> u64 {
    let mut n = 0;
    for (i, q) in pending.drain(..) {
        let k = a.at[i][t];
        if k == usize::MAX {
            continue;
        }
        let px = a.open[i][k];
        *cash -= q * px + rate * q.abs() * px;
        if q > 0.0 {
            entry[i] = (entry[i] * qty[i] + px * q) / (qty[i] + q);
        }
        qty[i] += q;
        if qty[i] == 0.0 {
            entry[i] = 0.0;
        }
        n += 1;
    }
    n
}

fn equity(a: &Arrays, t: usize, cash: f64, qty: &[f64], last: &mut [f64]) -> f64 {
    let mut e = cash;
    for i in 0..qty.len() {
        let k = a.at[i][t];
        if k != usize::MAX {
            last[i] = a.close[i][k];
        }
        if qty[i] != 0.0 {
            e += qty[i] * last[i];
        }
    }
    e
}

/// S2 `topk` over the raw arrays.
#[allow(clippy::needless_range_loop)]
pub fn baseline_topk(data: &MarketData, p: &topk::Params, cash0: f64, rate: f64) -> Baseline {
    let a = arrays(data);
    let n = a.close.len();
    let (mut cash, mut qty, mut entry, mut last) = (cash0, vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut pending: Vec<(usize, f64)> = Vec::new();
    let mut fills = 0;
    let mut seen = vec![0usize; n];
    let mut ranked: Vec<(f64, usize)> = Vec::with_capacity(n);
    let mut stopped = vec![false; n];
    let mut e = cash0;
    for t in 0..data.timestamps.len() {
        fills += fill_at_open(&a, t, &mut pending, &mut cash, &mut qty, &mut entry, rate);
        e = equity(&a, t, cash, &qty, &mut last);
        let (mut exits, mut sells, mut buys) = (Vec::new(), Vec::new(), Vec::new());
        stopped.iter_mut().for_each(|s| *s = false);
        for i in 0..n {
            let k = a.at[i][t];
            if k == usize::MAX {
                continue;
            }
            seen[i] += 1;
            if qty[i] > 0.0 {
                let c = a.close[i][k];
                if c <= entry[i] * (1.0 - p.stop_loss) + 1e-9 || c >= entry[i] * (1.0 + p.take_profit) - 1e-9 {
                    exits.push((i, -qty[i]));
                    stopped[i] = true;
                }
            }
        }
        if t >= p.lookback && (t as u64) % p.rebalance_every == 0 {
            ranked.clear();
            for i in 0..n {
                let k = a.at[i][t];
                if a.tradable[i] && k != usize::MAX && seen[i] > p.lookback {
                    ranked.push((a.close[i][k] / a.close[i][k - p.lookback] - 1.0, i));
                }
            }
            ranked.sort_unstable_by(|x, y| {
                y.0.partial_cmp(&x.0)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(x.1.cmp(&y.1))
            });
            let mut rank = vec![usize::MAX; n];
            for (r, &(_, i)) in ranked.iter().enumerate() {
                rank[i] = r + 1;
            }
            let mut target: Vec<usize> = (0..n)
                .filter(|&i| qty[i] > 0.0 && !stopped[i] && rank[i] <= p.band)
                .collect();
            for &(_, i) in ranked.iter().take(p.k) {
                if target.len() >= p.k {
                    break;
                }
                if !stopped[i] && !target.contains(&i) {
                    target.push(i);
                }
            }
            for i in 0..n {
                if qty[i] > 0.0 && !stopped[i] && !target.contains(&i) {
                    sells.push((i, -qty[i]));
                }
            }
            target.sort_unstable();
            for i in target {
                let c = a.close[i][a.at[i][t]];
                let d = (e / p.k as f64 / c).floor() - qty[i];
                if d < 0.0 {
                    sells.push((i, d));
                } else if d > 0.0 {
                    buys.push((i, d));
                }
            }
        }
        pending.extend(exits);
        pending.extend(sells);
        pending.extend(buys);
    }
    Baseline { final_equity: e, fills }
}

/// S1 `sma_cross` over the raw arrays.
#[allow(clippy::needless_range_loop)]
pub fn baseline_sma_cross(data: &MarketData, p: &sma_cross::Params, cash0: f64, rate: f64) -> Baseline {
    let a = arrays(data);
    let n = a.close.len();
    let tradable = a.tradable.iter().filter(|t| **t).count().max(1) as f64;
    let (mut cash, mut qty, mut entry, mut last) = (cash0, vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut pending = Vec::new();
    let mut fills = 0;
    let mut seen = vec![0usize; n];
    let mut prev: Vec<Option<f64>> = vec![None; n];
    let mut e = cash0;
    for t in 0..data.timestamps.len() {
        fills += fill_at_open(&a, t, &mut pending, &mut cash, &mut qty, &mut entry, rate);
        e = equity(&a, t, cash, &qty, &mut last);
        for i in 0..n {
            let k = a.at[i][t];
            if k == usize::MAX || !a.tradable[i] {
                continue;
            }
            seen[i] += 1;
            if seen[i] < p.slow {
                continue;
            }
            let c = &a.close[i];
            let sf: f64 = c[k + 1 - p.fast..=k].iter().sum();
            let ss: f64 = c[k + 1 - p.slow..=k].iter().sum();
            let mut d = sf / p.fast as f64 - ss / p.slow as f64;
            if d.abs() < 1e-9 {
                d = 0.0;
            }
            if let Some(pd) = prev[i] {
                if pd <= 0.0 && d > 0.0 && qty[i] == 0.0 {
                    let q = (e / tradable / c[k]).floor();
                    if q > 0.0 {
                        pending.push((i, q));
                    }
                } else if pd >= 0.0 && d < 0.0 && qty[i] > 0.0 {
                    pending.push((i, -qty[i]));
                }
            }
            prev[i] = Some(d);
        }
    }
    Baseline { final_equity: e, fills }
}

fn status_kb(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU time this process has used so far, all threads (those that ended too), in seconds.
pub fn process_cpu_seconds() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `clock_gettime` only writes the `timespec` it is handed, which lives on this stack.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc == 0 {
        ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
    } else {
        f64::NAN
    }
}

/// Peak resident memory of this process in bytes (`VmHWM`), when the OS tells.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kb("VmHWM:").map(|kb| kb * 1024)
}

/// Resident memory of this process now (`VmRSS`), when the OS tells.
pub fn rss_bytes() -> Option<u64> {
    status_kb("VmRSS:").map(|kb| kb * 1024)
}

/// One inference or training measurement.
#[cfg(feature = "torch")]
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

#[cfg(feature = "torch")]
/// Forward passes of an LSTM (16 features, 1 layer) at batch 500 for windows 30/60 and hidden
/// 16/64, and one training epoch (10,240 sequences, batch 256, AdamW) per shape: the Kairos side
/// of `scripts/bench_model.sh` (PyTorch runs the same shapes in Python).
pub fn bench_models(threads: i32, reps: usize) -> Vec<ModelTiming> {
    use kairos::model::net::{ModelKind, Net, NetSpec};
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

/// The minimal single-threaded parser the loader is measured against: reads each `.csv` file of
/// `dir`, splits lines and fields, parses the date's year, month and day as integers and the
/// five numbers as `f64`. No validation, no exact decimals, no alignment. Returns the rows read
/// and a checksum (so nothing is optimized away).
pub fn minimal_parse(dir: &std::path::Path) -> std::io::Result<(usize, f64)> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("csv"))
        .collect();
    files.sort();
    let (mut rows, mut sum) = (0usize, 0.0f64);
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        for line in text.lines().skip(1) {
            let mut fields = line.split(',');
            let date = fields.next().unwrap_or("");
            for part in date.split('-') {
                sum += f64::from(part.parse::<u32>().unwrap_or(0));
            }
            for field in fields {
                sum += field.parse::<f64>().unwrap_or(0.0);
            }
            rows += 1;
        }
    }
    Ok((rows, sum))
}

/// `kairos bench-live`: bar-to-order latency of a paper session (the broker simulator, the
/// journal, the status line off) against the loopback Binance venue streaming a synthetic
/// minute market at full speed: from the last bar of a timestamp read from the socket to that
/// timestamp's orders handed to the broker, p50 and p99 over every live timestamp; and to those
/// orders and bars committed in the journal (`committed_*`: when a remote venue would be sent
/// them).
pub fn bench_live(a: crate::BenchLiveArgs) -> anyhow::Result<()> {
    use kairos::data::synth::{self, Frequency, SynthSpec};
    let tmp = std::env::temp_dir().join(format!("kairos-bench-live-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let history = 100;
    let per_day = 390;
    let days = (a.timestamps + history).div_ceil(per_day) + 1;
    let spec = SynthSpec {
        symbols: a.symbols.max(2) - 1,
        days,
        seed: 7,
        frequency: Frequency::Minutes(1),
        benchmark: "SPY".into(),
        ..SynthSpec::default()
    };
    spec.check().map_err(anyhow::Error::msg)?;
    let data_dir = tmp.join("market");
    synth::write_csv_dir(&spec, &data_dir)?;
    let opts = kairos::feeds::LoadOptions {
        time_zone: chrono_tz::America::New_York,
        benchmark: None,
        ..kairos::feeds::LoadOptions::default()
    };
    let data = std::sync::Arc::new(kairos::feeds::load(&data_dir, &opts)?);
    let symbols = data
        .instruments
        .iter()
        .map(|i| format!("\"{}\"", i.symbol))
        .collect::<Vec<_>>()
        .join(",");
    let window = format!("window = {}", a.window);
    let cfg_text = |ws: &str, rest: &str, journal: &std::path::Path, out: &std::path::Path, model: &str| {
        format!(
            r#"
[data]
benchmark = "{}"
time_zone = "America/New_York"
[engine]
worker_threads = 2
[portfolio]
initial_cash = 1000000
[strategy]
name = "{}"
[output]
dir = "{}"
event_log = true
{model}
[live]
venue = "binance"
symbols = [{}]
interval = "1m"
ws_url = "{ws}"
rest_url = "{rest}"
warmup_bars = {history}
grace_ms = 5000
journal = "{}"
{window}
"#,
            if model.is_empty() { "" } else { "SPY" },
            if model.is_empty() { "sma_cross" } else { "topk" },
            out.display(),
            symbols,
            journal.display()
        )
    };
    let interval = super::infer_interval(&data)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut models = vec![("none", String::new())];
    if a.lstm {
        models.push(("lstm", lstm_model(&tmp, &data_dir)?));
    }
    let mut results = Vec::new();
    for (name, model) in models {
        let run_dir = tmp.join(name);
        let out = rt.block_on(async {
            let mut spec =
                kairos::loopback::MarketSpec::new(kairos::live::VenueKind::Binance, data.clone(), interval, history);
            spec.speed = (a.rate > 0.0).then(|| a.rate * interval.nanos as f64 / 1e9);
            let server = kairos::loopback::Server::start(spec, "127.0.0.1:0".parse()?).await?;
            let text = cfg_text(
                &server.ws_url(),
                &server.rest_url(),
                &run_dir.join("journal.sqlite"),
                &run_dir.join("out"),
                &model,
            );
            let cfg = kairos::config::Config::parse(&text, std::path::Path::new("bench-live.toml"))?;
            let (_stop, shutdown) = tokio::sync::watch::channel(false);
            let t = std::time::Instant::now();
            let res = kairos::live::paper::run(
                &cfg,
                kairos::live::paper::PaperOptions {
                    max_bars: Some(a.timestamps as u64),
                    status: false,
                    record_latency: true,
                    adopt_venue_state: false,
                },
                shutdown,
            )
            .await;
            server.stop().await;
            anyhow::Ok((res?, t.elapsed().as_secs_f64()))
        })?;
        let (out, seconds) = out;
        let quantiles = |mut l: Vec<i64>| {
            l.sort_unstable();
            move |p: f64| {
                l.get(((l.len() as f64 - 1.0) * p).round() as usize)
                    .map_or(f64::NAN, |&v| v as f64 / 1e3)
            }
        };
        let measured = out.latencies.len();
        let q = quantiles(out.latencies.clone());
        let qc = quantiles(out.committed_latencies.clone());
        results.push(serde_json::json!({
            "model": name,
            "rate_timestamps_per_second": if a.rate > 0.0 { serde_json::json!(a.rate) } else { serde_json::json!("full speed") },
            "symbols": data.instruments.len(),
            "window": a.window,
            "live_timestamps": out.counters.live_timestamps,
            "decisions_measured": measured,
            "p50_us": q(0.5),
            "p90_us": q(0.9),
            "p99_us": q(0.99),
            "max_us": q(1.0),
            "committed_p50_us": qc(0.5),
            "committed_p99_us": qc(0.99),
            "fills": out.run.summary.trades,
            "session_seconds": seconds,
            "timestamps_per_second": out.counters.live_timestamps as f64 / seconds,
            "missing_bars": out.counters.missing_bars,
            "late_bars": out.counters.late_bars,
            "duplicate_bars": out.counters.duplicate_bars,
            "reconnects": out.counters.reconnects,
        }));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    for r in results {
        println!("{r}");
    }
    Ok(())
}

/// Trains a small LSTM (one epoch on a small daily synthetic market: the latency does not
/// depend on what it learned) and returns its `[model]` table.
#[cfg(feature = "torch")]
fn lstm_model(tmp: &std::path::Path, _minute_market: &std::path::Path) -> anyhow::Result<String> {
    use kairos::data::synth::{self, SynthSpec};
    let daily = tmp.join("daily");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 20,
            days: 400,
            seed: 3,
            ..SynthSpec::default()
        },
        &daily,
    )?;
    let model_dir = tmp.join("lstm");
    let job = tmp.join("train.toml");
    std::fs::write(
        &job,
        format!(
            r#"
[data]
path = "{}"
benchmark = "SPY"
[model]
kind = "lstm"
window = 30
hidden = 32
layers = 2
horizon = 5
[train]
seed = 7
epochs = 1
batch_size = 256
threads = 1
[split]
val_start = "2016-01-01"
test_start = "2016-03-01"
[output]
dir = "{}"
"#,
            daily.display(),
            model_dir.display()
        ),
    )?;
    let cfg = kairos::research::job::TrainConfig::from_file(&job)?;
    let opts = kairos::config::Config::load_options_of(&cfg.data)?;
    let data = std::sync::Arc::new(kairos::feeds::load(&cfg.data.path, &opts)?);
    kairos::research::job::run(&cfg, &data)?;
    Ok(format!(
        "[model]\nartifact = \"{}\"\n[features]\nenabled = true",
        model_dir.display()
    ))
}

#[cfg(not(feature = "torch"))]
fn lstm_model(_tmp: &std::path::Path, _minute_market: &std::path::Path) -> anyhow::Result<String> {
    anyhow::bail!("--lstm needs the torch feature (build without --no-default-features)")
}
