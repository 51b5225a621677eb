//! The venues' official SDKs (alpaca-py, binance-sdk-spot; installed by
//! `scripts/setup_sdk.sh`) as real clients of the loopback venues: an implementation that is
//! not ours reads the REST history and the streams, and what it reads must be the market the
//! venue serves. Set `KAIROS_SKIP_SDK=1` to skip these tests on a machine without the SDKs
//! (refused under CI).

mod common;

use kairos::data::synth::{self, Frequency, SynthSpec};
use kairos::data::MarketData;
use kairos::live::{Credentials, Interval, VenueKind};
use kairos::loopback::{MarketSpec, Server};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

const HISTORY: usize = 30;

fn python() -> Option<PathBuf> {
    if common::skipped("KAIROS_SKIP_SDK", "the SDK checks") {
        return None;
    }
    let venv = std::env::var("KAIROS_SDK_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kairos/sdk-venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "the venue SDKs are not installed in {}: run scripts/setup_sdk.sh (or set KAIROS_SKIP_SDK=1)",
        venv.display()
    );
    Some(py)
}

fn market(dir: &Path) -> Arc<MarketData> {
    let spec = SynthSpec {
        symbols: 2,
        days: 1,
        seed: 5,
        frequency: Frequency::Minutes(1),
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, dir).expect("synth");
    let opts = kairos::feeds::LoadOptions {
        time_zone: chrono_tz::America::New_York,
        benchmark: None,
        ..Default::default()
    };
    Arc::new(kairos::feeds::load(dir, &opts).expect("load"))
}

/// Runs the SDK script (at most 90 s) and parses what it printed.
async fn run_sdk(py: &Path, args: &[String]) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/venue_clients.py");
    let child = tokio::process::Command::new(py)
        .arg(script)
        .args(args)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(90), child)
        .await
        .expect("the SDK client ended within 90 s")
        .expect("run python");
    assert!(
        out.status.success(),
        "SDK client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json from the SDK client")
}

fn dec(v: &serde_json::Value) -> kairos::types::Decimal {
    let text = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    kairos::types::Decimal::from_str(&text).expect("a number")
}

/// The bar of `symbol` closing at `ts` (nanoseconds): (open, high, low, close, volume).
fn bar_at(data: &MarketData, symbol: &str, ts: i64) -> [kairos::types::Decimal; 5] {
    let i = data
        .instruments
        .iter()
        .position(|x| x.symbol == symbol)
        .expect("symbol");
    let k = data.timestamps.binary_search(&ts).expect("a timestamp of the market");
    let pos = data.series[i].step.binary_search(&(k as u32)).expect("a bar");
    let b = data.bar(i, pos, ts, ts, 0);
    [b.open, b.high, b.low, b.close, b.volume]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpaca_py_reads_the_loopback_venue() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(dir.path());
    let m1 = Interval::parse("1m").expect("1m");
    let mut spec = MarketSpec::new(VenueKind::Alpaca, data.clone(), m1, HISTORY);
    spec.credentials = Some(Credentials {
        key_id: "sdk-key".into(),
        secret: "sdk-secret".into(),
    });
    let server = Server::start(spec, "127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("server");
    let symbols: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
    let n = 3 * symbols.len();
    let out = run_sdk(
        &py,
        &[
            "alpaca".into(),
            server.rest_url(),
            format!("{}/v2/iex", server.ws_url()),
            "sdk-key".into(),
            "sdk-secret".into(),
            symbols.join(","),
            n.to_string(),
        ],
    )
    .await;
    // REST: every history bar of every symbol, equal to the market (t is the bar's start).
    for s in &symbols {
        let rows = out["rest"][s].as_array().expect("rows");
        assert_eq!(rows.len(), HISTORY, "{s}: the history, through alpaca-py's pagination");
        for r in rows {
            let start = kairos::live::protocol::parse_rfc3339(r[0].as_str().expect("t")).expect("rfc3339");
            let want = bar_at(&data, s, start + m1.nanos);
            let got = [dec(&r[1]), dec(&r[2]), dec(&r[3]), dec(&r[4]), dec(&r[5])];
            assert_eq!(got, want, "{s} at {}", r[0]);
        }
    }
    // Stream (MessagePack, as alpaca-py asks for it): bars published after the history.
    let stream = out["stream"].as_array().expect("stream");
    assert!(stream.len() >= n, "{stream:?}");
    for r in stream {
        let s = r[0].as_str().expect("symbol");
        let start = kairos::live::protocol::parse_rfc3339(r[1].as_str().expect("t")).expect("t");
        let close = bar_at(&data, s, start + m1.nanos)[3];
        assert_eq!(dec(&r[2]), close, "{r:?}");
        assert!(
            start + m1.nanos > data.timestamps[HISTORY - 1],
            "streamed after the history"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_sdk_reads_the_loopback_venue() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(dir.path());
    let m1 = Interval::parse("1m").expect("1m");
    let server = Server::start(
        MarketSpec::new(VenueKind::Binance, data.clone(), m1, HISTORY),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("server");
    let symbols: Vec<String> = data.instruments.iter().map(|i| i.symbol.clone()).collect();
    let n = 3 * symbols.len();
    let out = run_sdk(
        &py,
        &[
            "binance".into(),
            server.rest_url(),
            server.ws_url(),
            symbols.join(","),
            n.to_string(),
        ],
    )
    .await;
    for s in &symbols {
        let rows = out["rest"][s].as_array().expect("rows");
        assert!(rows.len() >= HISTORY, "{s}: {} klines", rows.len());
        for r in rows {
            let close_ms = r[6].as_i64().expect("close time");
            assert_eq!(r[0].as_i64().expect("open time"), close_ms + 1 - m1.millis());
            let want = bar_at(&data, s, (close_ms + 1) * 1_000_000);
            let got = [dec(&r[1]), dec(&r[2]), dec(&r[3]), dec(&r[4]), dec(&r[5])];
            assert_eq!(got, want, "{s} at {close_ms}");
        }
    }
    let stream = out["stream"].as_array().expect("stream");
    assert!(stream.len() >= n, "{stream:?}");
    for r in stream {
        let s = r[0].as_str().expect("symbol");
        let close_ms = r[1].as_i64().expect("T");
        assert_eq!(dec(&r[2]), bar_at(&data, s, (close_ms + 1) * 1_000_000)[3], "{r:?}");
    }
    server.stop().await;
}

/// alpaca-py's `TradingClient` and `TradingStream` against the loopback venue's trading API:
/// a market order, a bracket order (its legs as Alpaca nests them), a DAY limit canceled by id,
/// a reused client order id refused, open orders, the fills on the `trade_updates` stream
/// (binary frames), and the positions after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alpaca_py_trades_on_the_loopback_venue() {
    use std::sync::atomic::Ordering;
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(dir.path());
    let m1 = Interval::parse("1m").expect("1m");
    let mut spec = MarketSpec::new(VenueKind::Alpaca, data.clone(), m1, HISTORY);
    spec.credentials = Some(Credentials {
        key_id: "sdk-key".into(),
        secret: "sdk-secret".into(),
    });
    spec.manual = true;
    let server = Arc::new(
        Server::start(spec, "127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("server"),
    );
    let symbol = data.instruments[0].symbol.clone();
    let last = data.timestamps[HISTORY - 1];
    let price = bar_at(&data, &symbol, last)[3];
    // Once the SDK's stream listens, the next bar is published: the market orders fill on it.
    let stepper = {
        let server = server.clone();
        async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while server.stats().trade_listeners.load(Ordering::Acquire) == 0 {
                assert!(std::time::Instant::now() < deadline, "the SDK never listened");
                tokio::time::timeout(Duration::from_millis(10), std::future::pending::<()>())
                    .await
                    .ok();
            }
            server.advance(1);
        }
    };
    let args = [
        "alpaca-trading".into(),
        server.rest_url(),
        format!("{}/stream", server.ws_url()),
        "sdk-key".into(),
        "sdk-secret".into(),
        symbol.clone(),
        price.to_string(),
    ];
    let (out, ()) = tokio::join!(run_sdk(&py, &args), stepper);
    assert_eq!(out["account"], serde_json::json!(["100000", "ACTIVE"]));
    assert_eq!(out["market"], serde_json::json!(["sdk-1", "new", "market", "5"]));
    let r = |x: f64| format!("{:.2}", x);
    let p: f64 = price.to_string().parse().expect("f64");
    let bracket = &out["bracket"];
    assert_eq!(bracket[0], "bracket");
    let legs = bracket[1].as_array().expect("legs");
    assert_eq!(legs.len(), 2, "{bracket}");
    assert_eq!(legs[0][0], "limit");
    assert_eq!(dec(&legs[0][1]), dec(&serde_json::json!(r(p * 1.5))));
    assert_eq!(legs[0][3], "sell");
    assert_eq!(legs[1][0], "stop");
    assert_eq!(dec(&legs[1][2]), dec(&serde_json::json!(r(p * 0.5))));
    let dup = out["duplicate"].as_array().expect("refused");
    assert_eq!(dup[0], 422);
    assert!(dup[1].as_str().expect("msg").contains("client_order_id must be unique"));
    // Not nested: the bracket's two held legs are listed beside the three orders.
    let open: Vec<&str> = out["open"]
        .as_array()
        .expect("open")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(open.len(), 5, "{open:?}");
    assert!(["sdk-1", "sdk-2", "sdk-3"].iter().all(|c| open.contains(c)), "{open:?}");
    assert_eq!(out["canceled"], "canceled");
    // The stream: both market orders filled at the next bar's open, positions after each.
    let open = bar_at(&data, &symbol, data.timestamps[HISTORY])[0];
    let fills: Vec<&serde_json::Value> = out["updates"]
        .as_array()
        .expect("updates")
        .iter()
        .filter(|u| u[0] == "fill")
        .collect();
    assert_eq!(fills.len(), 2, "{}", out["updates"]);
    assert_eq!(
        (fills[0][1].as_str(), dec(&fills[0][2]), dec(&fills[0][3])),
        (Some("sdk-1"), open, 5.into())
    );
    assert_eq!(dec(&fills[0][4]), 5.into());
    assert_eq!((fills[1][1].as_str(), dec(&fills[1][4])), (Some("sdk-2"), 7.into()));
    let positions = out["positions"].as_array().expect("positions");
    assert_eq!(positions.len(), 1);
    assert_eq!(
        (positions[0][0].as_str(), dec(&positions[0][1])),
        (Some(symbol.as_str()), 7.into())
    );
    assert_eq!(dec(&positions[0][2]), open);
    assert_eq!(positions[0][3], "long");
    drop(Arc::try_unwrap(server).map(|s| s.stop()));
}
