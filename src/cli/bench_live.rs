//! `kairos bench-live`: bar-to-order latency of a paper session against the loopback venue.

use crate::strategy::Strategies;
use clap::Args;

/// `kairos bench-live`'s arguments.
#[derive(Args)]
pub struct BenchLiveArgs {
    #[arg(long, default_value_t = 50)]
    symbols: usize,
    #[arg(long, default_value_t = 10_000)]
    timestamps: usize,
    /// Also run with an LSTM (trained here on the synthetic market first).
    #[arg(long)]
    lstm: bool,
    /// Timestamps streamed per second; 0: at full speed (as fast as the session reads).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// `[live] window` of the session: timestamps in flight.
    #[arg(long, default_value_t = 2)]
    window: usize,
}

/// `kairos bench-live`: bar-to-order latency of a paper session (the broker simulator, the
/// journal, the status line off) against the loopback Binance venue streaming a synthetic
/// minute market at full speed: from the last bar of a timestamp read from the socket to that
/// timestamp's orders handed to the broker, p50 and p99 over every live timestamp; and to those
/// orders and bars committed in the journal (`committed_*`: when a remote venue would be sent
/// them).
pub fn run(a: BenchLiveArgs, strategies: &Strategies) -> anyhow::Result<()> {
    use crate::data::synth::{self, Frequency, SynthSpec};
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
    let opts = crate::feeds::LoadOptions {
        time_zone: chrono_tz::America::New_York,
        benchmark: None,
        ..crate::feeds::LoadOptions::default()
    };
    let data = std::sync::Arc::new(crate::feeds::load(&data_dir, &opts)?);
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
    let interval = super::serve_market::infer_interval(&data)?;
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
                crate::loopback::MarketSpec::new(crate::live::VenueKind::Binance, data.clone(), interval, history);
            spec.speed = (a.rate > 0.0).then(|| a.rate * interval.nanos as f64 / 1e9);
            let server = crate::loopback::Server::start(spec, "127.0.0.1:0".parse()?).await?;
            let text = cfg_text(
                &server.ws_url(),
                &server.rest_url(),
                &run_dir.join("journal.sqlite"),
                &run_dir.join("out"),
                &model,
            );
            let cfg = crate::config::Config::parse(&text, std::path::Path::new("bench-live.toml"))?;
            let (_stop, shutdown) = tokio::sync::watch::channel(false);
            let t = std::time::Instant::now();
            let res = crate::live::paper::run(
                &cfg,
                strategies,
                crate::live::paper::PaperOptions {
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
    use crate::data::synth::{self, SynthSpec};
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
    let cfg = crate::research::job::TrainConfig::from_file(&job)?;
    let opts = crate::config::Config::load_options_of(&cfg.data)?;
    let data = std::sync::Arc::new(crate::feeds::load(&cfg.data.path, &opts)?);
    crate::research::job::run(&cfg, &data)?;
    Ok(format!(
        "[model]\nartifact = \"{}\"\n[features]\nenabled = true",
        model_dir.display()
    ))
}

#[cfg(not(feature = "torch"))]
fn lstm_model(_tmp: &std::path::Path, _minute_market: &std::path::Path) -> anyhow::Result<String> {
    anyhow::bail!("--lstm needs the torch feature (build without --no-default-features)")
}
