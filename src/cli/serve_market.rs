//! `kairos serve-market`: a recorded market served over a venue's real protocol (WebSocket
//! stream and REST history) on loopback, in real time or faster.

use crate::config::{Config, DataConfig};
use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::sync::Arc;

/// `kairos serve-market`'s arguments.
#[derive(Args)]
pub struct ServeArgs {
    #[arg(long)]
    venue: String,
    /// A directory of SYMBOL.csv files, or a long .csv/.parquet table.
    #[arg(long)]
    data: PathBuf,
    /// Intervals per second of real time (1: real time; 0: as fast as clients read).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    #[arg(long, default_value = "127.0.0.1:8765")]
    listen: String,
    /// Timestamps served as history (REST) before streaming starts.
    #[arg(long, default_value_t = 100)]
    history: usize,
    /// The bar interval (default: the smallest step of the data).
    #[arg(long)]
    interval: Option<String>,
    /// The data's time zone (for timestamps without an offset).
    #[arg(long, default_value = "UTC")]
    time_zone: String,
    /// Start streaming at once instead of at the first subscription.
    #[arg(long)]
    no_wait: bool,
    /// Inject a fault: drop-after=N, malformed-at=K, unknown-at=K, unsubscribed-at=K,
    /// duplicate-at=K, out-of-order-at=K, correction-at=K, unclosed, rest-429=N, rest-418=N,
    /// reject-order=N (Alpaca: the Nth order placed is refused), rest-delay-ms=N (every
    /// market-data REST answer N ms late), stream-delay-ms=N (each stream starts N ms late).
    #[arg(long)]
    fault: Vec<String>,
}

/// `kairos serve-market`: a loopback venue over a recorded market.
pub fn run(a: ServeArgs) -> Result<()> {
    let venue: crate::live::VenueKind = a.venue.parse().map_err(anyhow::Error::msg)?;
    let data_cfg = DataConfig {
        time_zone: a.time_zone.clone(),
        benchmark: String::new(),
        ..DataConfig::new(a.data.clone())
    };
    let opts = Config::load_options_of(&data_cfg)?;
    let data = Arc::new(crate::feeds::load(&a.data, &opts)?);
    let interval = match &a.interval {
        Some(i) => crate::live::Interval::parse(i).map_err(anyhow::Error::msg)?,
        None => infer_interval(&data)?,
    };
    let listen: std::net::SocketAddr = a.listen.parse().with_context(|| format!("--listen {}", a.listen))?;
    let mut spec = crate::loopback::MarketSpec::new(venue, data.clone(), interval, a.history);
    spec.speed = (a.speed > 0.0).then_some(a.speed);
    spec.wait_for_client = !a.no_wait;
    spec.faults = parse_faults(&a.fault)?;
    spec.credentials = crate::live::Credentials::alpaca_from_env();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let server = crate::loopback::Server::start(spec, listen).await?;
        let ws = match venue {
            crate::live::VenueKind::Binance => server.ws_url(),
            crate::live::VenueKind::Alpaca => format!("{}/v2/iex", server.ws_url()),
        };
        println!("ws_url = \"{ws}\"\nrest_url = \"{}\"", server.rest_url());
        eprintln!(
            "serving {} symbols x {} timestamps ({} as history) as {} on {}, interval {}, speed {}; Ctrl-C stops",
            data.instruments.len(),
            data.timestamps.len(),
            a.history.min(data.timestamps.len()),
            venue.as_str(),
            server.addr(),
            interval.name,
            if a.speed > 0.0 {
                format!("{}x", a.speed)
            } else {
                "max".into()
            }
        );
        tokio::signal::ctrl_c().await?;
        server.stop().await;
        anyhow::Ok(())
    })
}

/// The smallest step between timestamps, as a known interval.
pub fn infer_interval(data: &crate::data::MarketData) -> Result<crate::live::Interval> {
    let step = data
        .timestamps
        .windows(2)
        .map(|w| w[1] - w[0])
        .min()
        .context("the data has fewer than two timestamps")?;
    crate::live::Interval::of_length(step).with_context(|| {
        format!(
            "cannot tell the data's interval ({} s between bars): give --interval",
            step / 1_000_000_000
        )
    })
}

/// Parses `--fault` values.
pub fn parse_faults(list: &[String]) -> Result<crate::loopback::Faults> {
    let mut f = crate::loopback::Faults::default();
    for item in list {
        let (name, value) = item.split_once('=').unwrap_or((item.as_str(), ""));
        let n = || {
            value
                .parse::<usize>()
                .with_context(|| format!("--fault {item}: expected {name}=N"))
        };
        match name {
            "drop-after" => f.drop_after = Some(n()?),
            "malformed-at" => f.malformed_at = Some(n()?),
            "unknown-at" => f.unknown_at = Some(n()?),
            "unsubscribed-at" => f.unsubscribed_at = Some(n()?),
            "duplicate-at" => f.duplicate_at = Some(n()?),
            "out-of-order-at" => f.out_of_order_at = Some(n()?),
            "correction-at" => f.correction_at = Some(n()?),
            "rest-429" => f.rest_429 = n()?,
            "rest-418" => f.rest_418 = n()?,
            "reject-order" => f.reject_order = Some(n()?),
            "rest-delay-ms" => f.rest_delay_ms = n()? as u64,
            "stream-delay-ms" => f.stream_delay_ms = n()? as u64,
            "unclosed" => f.unclosed = true,
            _ => bail!("--fault {item}: unknown fault"),
        }
    }
    Ok(f)
}
