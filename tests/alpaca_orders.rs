//! Paper sessions whose orders go to Alpaca's paper trading API (the loopback venue speaks it:
//! `POST /v2/orders`, the `trade_updates` stream in binary frames, `GET /v2/orders`,
//! `/v2/positions`): fills come back into the same portfolio, a refused order is an event,
//! bracket legs are tracked, reconciliation at start reports each difference or adopts the
//! venue's state, and a session killed between an order's submission and its fill catches up on
//! restart without placing the order twice. Every wait is bounded; servers bind 127.0.0.1:0.

use kairos::config::Config;
use kairos::data::synth::{self, Frequency, SynthSpec};
use kairos::data::MarketData;
use kairos::live::orders::AlpacaVenue;
use kairos::live::paper::{self, PaperOptions, PaperOutput};
use kairos::live::{Credentials, Interval, LiveCounters, VenueKind};
use kairos::loopback::{Faults, MarketSpec, Server};
use kairos::types::{Bracket, ClientOrderId, Decimal, OrderEvent, OrderRequest, OrderType, Side, TimeInForce};
use rust_decimal_macros::dec;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HISTORY: usize = 40;
const KEY: &str = "test-key";
const SECRET: &str = "s3cr3t-of-the-trading-tests";

/// Every test of this file sets the same values.
fn keys() -> Credentials {
    std::env::set_var("APCA_API_KEY_ID", KEY);
    std::env::set_var("APCA_API_SECRET_KEY", SECRET);
    Credentials::alpaca_from_env().expect("keys")
}

/// A synthetic minute market of `symbols` + SPY, cut to `n` timestamps.
fn market(dir: &Path, symbols: usize, n: usize) -> Arc<MarketData> {
    let spec = SynthSpec {
        symbols,
        days: 1,
        seed: 5,
        frequency: Frequency::Minutes(1),
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, dir).expect("synth");
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.extension().is_some_and(|x| x == "csv") {
            let text = std::fs::read_to_string(&p).expect("read");
            let kept: Vec<&str> = text.lines().take(n + 1).collect();
            std::fs::write(&p, kept.join("\n") + "\n").expect("write");
        }
    }
    let opts = kairos::feeds::LoadOptions {
        time_zone: chrono_tz::America::New_York,
        benchmark: None,
        ..Default::default()
    };
    Arc::new(kairos::feeds::load(dir, &opts).expect("load"))
}

async fn server(data: &Arc<MarketData>, speed: Option<f64>, faults: Faults) -> Server {
    let mut spec = MarketSpec::new(VenueKind::Alpaca, data.clone(), Interval::parse("1m").expect("1m"), HISTORY);
    spec.credentials = Some(keys());
    spec.speed = speed;
    spec.manual = speed.is_none();
    spec.faults = faults;
    Server::start(spec, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("server")
}

fn config_text(server: &Server, data: &MarketData, dir: &Path) -> String {
    let symbols: Vec<String> = data.instruments.iter().map(|i| format!("\"{}\"", i.symbol)).collect();
    format!(
        r#"
[data]
benchmark = ""
time_zone = "America/New_York"
[portfolio]
initial_cash = 100000
[strategy]
name = "sma_cross"
params = {{ fast = 3, slow = 8 }}
[output]
dir = "{}"
[live]
venue = "alpaca"
symbols = [{}]
interval = "1m"
ws_url = "{}/v2/iex"
rest_url = "{}"
trading_url = "{}"
execution = "alpaca"
settle_ms = 3000
warmup_bars = {HISTORY}
grace_ms = 3000
journal = "{}"
backoff_ms = 20
max_backoff_ms = 200
"#,
        dir.join("paper").display(),
        symbols.join(","),
        server.ws_url(),
        server.rest_url(),
        server.rest_url(),
        dir.join("j.sqlite").display()
    )
}

async fn session(cfg: &Config, max_bars: u64, adopt: bool) -> Result<PaperOutput, String> {
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let opts = PaperOptions {
        max_bars: Some(max_bars),
        status: false,
        record_latency: false,
        adopt_venue_state: adopt,
    };
    tokio::time::timeout(Duration::from_secs(60), paper::run(cfg, opts, shutdown))
        .await
        .expect("the session ended within 60 s")
        .map_err(|e| e.to_string())
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Per order number: (filled quantity, notional) from `events.jsonl`.
fn session_fills(events: &str) -> HashMap<u64, (Decimal, Decimal)> {
    let mut out: HashMap<u64, (Decimal, Decimal)> = HashMap::new();
    for line in events.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        let e = &v["event"];
        if e["event"] == "filled" {
            let q: Decimal = e["quantity"].as_str().expect("q").parse().expect("q");
            let p: Decimal = e["price"].as_str().expect("p").parse().expect("p");
            let slot = out.entry(e["order_id"].as_u64().expect("id")).or_default();
            slot.0 += q;
            slot.1 += q * p;
        }
    }
    out
}

/// Signed position per symbol from `fills.csv`.
fn positions(fills: &str) -> HashMap<String, Decimal> {
    let mut out: HashMap<String, Decimal> = HashMap::new();
    for line in fills.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let q: Decimal = f[3].parse().expect("qty");
        *out.entry(f[1].to_string()).or_default() += if f[2] == "BUY" { q } else { -q };
    }
    out.retain(|_, q| !q.is_zero());
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn assert_no_secret(dir: &Path) {
    for f in walk(dir) {
        let bytes = std::fs::read(&f).expect("read");
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "{} holds the secret",
            f.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_go_to_alpaca_and_its_fills_come_back_into_the_portfolio() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("m"), 3, 160);
    let faults = Faults {
        reject_order: Some(3),
        ..Faults::default()
    };
    let server = server(&data, Some(60.0 * 40.0), faults).await;
    let text = config_text(&server, &data, dir.path());
    let cfg = Config::parse(&text, Path::new("paper.toml")).expect("config");
    let live = (data.timestamps.len() - HISTORY - 5) as u64;
    let res = session(&cfg, live, false).await.expect("session");
    let out = dir.path().join("paper");
    let events = read(&out.join("events.jsonl"));
    // Every order the strategy decided reached the venue once, with its SESSION-N id.
    let bodies = server.order_bodies();
    let submitted = events.matches("\"event\":\"submitted\"").count();
    assert!(bodies.len() >= 5, "{} orders", bodies.len());
    assert_eq!(bodies.len(), submitted);
    let mut ids: Vec<&str> = bodies.iter().map(|b| b["client_order_id"].as_str().expect("id")).collect();
    assert!(ids.iter().all(|c| c.starts_with(&format!("{}-", res.session))), "{ids:?}");
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), bodies.len(), "a client order id used twice");
    // The third was refused by the venue: an event with its message, and the session went on.
    assert_eq!(res.counters.orders_rejected, 1);
    assert_eq!(events.matches("\"event\":\"rejected\"").count(), 1);
    assert!(events.contains("alpaca 403: insufficient buying power"), "{events}");
    // The session's fills are the venue's, order by order (quantity and notional), at no cost.
    let mine = session_fills(&events);
    let theirs = server.filled();
    assert!(!theirs.is_empty());
    assert_eq!(mine.len(), theirs.len(), "orders with fills: {mine:?} vs {theirs:?}");
    for (cid, q, notional) in &theirs {
        let n: u64 = cid.rsplit('-').next().and_then(|n| n.parse().ok()).expect("SESSION-N");
        assert_eq!(mine.get(&n), Some(&(*q, *notional)), "order {cid}");
    }
    let fills = read(&out.join("fills.csv"));
    assert!(fills.lines().skip(1).all(|l| l.ends_with(",0")), "no commission: {fills}");
    // The portfolio's positions are the venue's.
    let venue: HashMap<String, Decimal> = server.positions().into_iter().collect();
    assert_eq!(positions(&fills), venue);
    assert!(res.counters.trade_updates > 0);
    server.stop().await;
    assert_no_secret(dir.path());
}
