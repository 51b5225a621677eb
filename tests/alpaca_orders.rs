//! Paper sessions whose orders go to Alpaca's paper trading API (the loopback venue speaks it:
//! `POST /v2/orders`, the `trade_updates` stream in binary frames, `GET /v2/orders`,
//! `/v2/positions`): fills come back into the same portfolio, a refused order is an event,
//! bracket legs are tracked, reconciliation at start reports each difference or adopts the
//! venue's state, and a session killed between an order's submission and its fill catches up on
//! restart without placing the order twice. Every wait is bounded; servers bind 127.0.0.1:0.

mod common;
use common::stepping;

use kairos::config::Config;
use kairos::data::synth::{self, Frequency, SynthSpec};
use kairos::data::MarketData;
use kairos::live::orders::AlpacaVenue;
use kairos::live::paper::{self, PaperOptions, PaperOutput};
use kairos::live::{Credentials, Interval, LiveCounters, VenueKind};
use kairos::loopback::{Faults, MarketSpec, Server};
use kairos::types::{Bracket, ClientOrderId, Decimal, OrderEvent, OrderRequest, Side, TimeInForce};
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
    let mut spec = MarketSpec::new(
        VenueKind::Alpaca,
        data.clone(),
        Interval::parse("1m").expect("1m"),
        HISTORY,
    );
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
    tokio::time::timeout(
        Duration::from_secs(60),
        paper::run(cfg, &kairos::strategy::Strategies::builtin(), opts, shutdown),
    )
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
    // The journal is closed when the session returns: its WAL folded in and removed.
    assert!(dir.path().join("j.sqlite").exists());
    assert!(!dir.path().join("j.sqlite-wal").exists(), "the journal is still open");
    let out = dir.path().join("paper");
    let events = read(&out.join("events.jsonl"));
    // Every order the strategy decided reached the venue once, with its SESSION-N id.
    let bodies = server.order_bodies();
    let submitted = events.matches("\"event\":\"submitted\"").count();
    assert!(bodies.len() >= 5, "{} orders", bodies.len());
    // Orders decided on the warm-up history are not sent: a broker cannot fill at those prices.
    let warmup = events
        .matches("warm-up: decided on history, not sent to the venue")
        .count();
    assert!(warmup > 0, "the warm-up decided no order: the rule is not exercised");
    assert_eq!(bodies.len() + warmup, submitted);
    let mut ids: Vec<&str> = bodies
        .iter()
        .map(|b| b["client_order_id"].as_str().expect("id"))
        .collect();
    assert!(
        ids.iter().all(|c| c.starts_with(&format!("{}-", res.session))),
        "{ids:?}"
    );
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
    assert!(
        fills.lines().skip(1).all(|l| l.ends_with(",0")),
        "no commission: {fills}"
    );
    // The portfolio's positions are the venue's.
    let venue: HashMap<String, Decimal> = server.positions().into_iter().collect();
    assert_eq!(positions(&fills), venue);
    assert!(res.counters.trade_updates > 0);
    server.stop().await;
    assert_no_secret(dir.path());
}

/// Waits (bounded) until `done` holds for the events the venue has handed over so far.
async fn until(venue: &mut AlpacaVenue, ev: &mut Vec<OrderEvent>, what: &str, done: impl Fn(&[OrderEvent]) -> bool) {
    use kairos::broker::ExecutionVenue;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !done(ev) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not within 10 s; events {ev:#?}"
        );
        venue.on_bars(&[], ev).expect("on_bars");
        tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>())
            .await
            .ok();
    }
}

fn filled(ev: &[OrderEvent], id: ClientOrderId) -> Decimal {
    ev.iter()
        .filter_map(|e| match e {
            OrderEvent::Filled(f) if f.order_id == id => Some(f.quantity),
            _ => None,
        })
        .sum()
}

async fn venue(server: &Server, data: &MarketData, dir: &Path, session: &str) -> AlpacaVenue {
    let cfg = Config::parse(&config_text(server, data, dir), Path::new("paper.toml")).expect("config");
    let live = cfg.live.clone().expect("live");
    let counters = Arc::new(Mutex::new(LiveCounters::default()));
    AlpacaVenue::connect(
        &live,
        keys(),
        session.into(),
        Arc::new(data.instruments.clone()),
        counters,
    )
    .await
    .expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_types_and_a_bracket_reach_the_venue_and_the_legs_cancel_each_other() {
    use kairos::broker::ExecutionVenue;
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("m"), 2, 160);
    let server = server(&data, None, Faults::default()).await;
    let mut v = venue(&server, &data, dir.path(), "T").await;
    let (adopted, diffs) = v
        .reconcile(false)
        .await
        .expect("a fresh account matches an empty journal");
    assert!(adopted.is_empty() && diffs.is_empty());
    let a = data.instruments[0].id;
    let last = data.timestamps[HISTORY - 1];
    let close = data.bar(0, HISTORY - 1, last, last, 0).close;
    let at = |f: Decimal| (close * f).round_dp(2);
    let bracket = OrderRequest::market(a, Side::Buy, dec!(10)).with_bracket(Bracket {
        take_profit: at(dec!(1.002)),
        stop_loss: at(dec!(0.998)),
        stop_loss_limit: None,
    });
    let orders = vec![
        (ClientOrderId(1), bracket),
        (
            ClientOrderId(2),
            OrderRequest::limit(a, Side::Buy, dec!(5), at(dec!(0.5))).with_time_in_force(TimeInForce::Day),
        ),
        (
            ClientOrderId(3),
            OrderRequest::stop(a, Side::Sell, dec!(5), at(dec!(0.5))),
        ),
        (
            ClientOrderId(4),
            OrderRequest::stop_limit(a, Side::Buy, dec!(5), at(dec!(2)), at(dec!(2.01))),
        ),
    ];
    let mut ev = Vec::new();
    v.submit(orders, last, &[], &mut ev).expect("submit");
    let accepted = ev.iter().filter(|e| matches!(e, OrderEvent::Accepted(_))).count();
    assert_eq!(accepted, 4, "{ev:#?}");
    // What the venue received, as Alpaca's API reads it.
    let b = server.order_bodies();
    let s = |k: usize, f: &str| b[k][f].as_str().map(str::to_string);
    assert_eq!(s(0, "client_order_id").as_deref(), Some("T-1"));
    assert_eq!(
        (s(0, "type"), s(0, "order_class"), s(0, "qty"), s(0, "side")),
        (
            Some("market".into()),
            Some("bracket".into()),
            Some("10".into()),
            Some("buy".into())
        )
    );
    assert_eq!(b[0]["take_profit"]["limit_price"], at(dec!(1.002)).to_string());
    assert_eq!(b[0]["stop_loss"]["stop_price"], at(dec!(0.998)).to_string());
    assert_eq!(
        (s(1, "type"), s(1, "time_in_force")),
        (Some("limit".into()), Some("day".into()))
    );
    assert_eq!(b[1]["limit_price"], at(dec!(0.5)).to_string());
    assert_eq!(
        (s(2, "type"), s(2, "time_in_force")),
        (Some("stop".into()), Some("gtc".into()))
    );
    assert_eq!(b[2]["stop_price"], at(dec!(0.5)).to_string());
    assert_eq!(s(3, "type").as_deref(), Some("stop_limit"));
    assert_eq!(
        (b[3]["stop_price"].clone(), b[3]["limit_price"].clone()),
        (at(dec!(2)).to_string().into(), at(dec!(2.01)).to_string().into())
    );
    // The next bar fills the entry; its legs start working.
    server.advance(1);
    let entry = ClientOrderId(1);
    let (tp, sl) = (
        entry.with_leg(kairos::types::Leg::TakeProfit),
        entry.with_leg(kairos::types::Leg::StopLoss),
    );
    until(&mut v, &mut ev, "entry filled, legs accepted", |ev| {
        filled(ev, entry) == dec!(10)
            && [tp, sl].iter().all(|l| {
                ev.iter()
                    .any(|e| matches!(e, OrderEvent::Accepted(a) if a.order_id == *l))
            })
    })
    .await;
    // Bars until one leg fills: the other is canceled, and the position is flat again.
    let leg_done = |ev: &[OrderEvent]| filled(ev, tp) + filled(ev, sl) == dec!(10);
    for _ in 0..(data.timestamps.len() - HISTORY - 1) {
        server.advance(1);
        let published = server.published();
        until(&mut v, &mut ev, "a bar published", |_| server.published() >= published).await;
        v.on_bars(&[], &mut ev).expect("on_bars");
        if leg_done(&ev) {
            break;
        }
    }
    until(&mut v, &mut ev, "one leg filled, the other canceled", |ev| {
        leg_done(ev)
            && ev
                .iter()
                .any(|e| matches!(e, OrderEvent::Canceled(c) if (c.order_id == tp || c.order_id == sl)))
    })
    .await;
    assert!(
        filled(&ev, tp).is_zero() || filled(&ev, sl).is_zero(),
        "both legs filled: {ev:#?}"
    );
    assert!(!server.positions().iter().any(|(s, _)| *s == data.instruments[0].symbol));
    // The far orders still work; the session's end leaves them at the venue.
    for id in [2, 3, 4] {
        assert!(!ev
            .iter()
            .any(|e| matches!(e, OrderEvent::Canceled(c) if c.order_id == ClientOrderId(id))));
    }
    v.finish(last, &mut ev).expect("finish");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_reports_each_difference_and_adopts_the_venues_state_on_request() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("m"), 2, 160);
    let server = Arc::new(server(&data, None, Faults::default()).await);
    let (s0, s1) = (data.instruments[0].symbol.clone(), data.instruments[1].symbol.clone());
    // Someone else trades on the account: a market buy (filled by the next bar), a far limit.
    let http = reqwest::Client::new();
    for body in [
        serde_json::json!({"symbol": s0, "qty": "7", "side": "buy", "type": "market", "time_in_force": "gtc", "client_order_id": "foreign-1"}),
        serde_json::json!({"symbol": s1, "qty": "3", "side": "buy", "type": "limit", "limit_price": "1.00", "time_in_force": "gtc", "client_order_id": "foreign-2"}),
    ] {
        let r = tokio::time::timeout(
            Duration::from_secs(10),
            http.post(format!("{}/v2/orders", server.rest_url()))
                .header("APCA-API-KEY-ID", KEY)
                .header("APCA-API-SECRET-KEY", SECRET)
                .json(&body)
                .send(),
        )
        .await
        .expect("in time")
        .expect("post");
        assert_eq!(r.status(), 200);
    }
    server.advance(1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.positions().is_empty() {
        assert!(std::time::Instant::now() < deadline, "the foreign order did not fill");
        tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>())
            .await
            .ok();
    }
    // A session with an empty journal does not start: each difference is named.
    let cfg = Config::parse(&config_text(&server, &data, dir.path()), Path::new("paper.toml")).expect("config");
    let err = session(&cfg, 5, false).await.expect_err("refused");
    assert!(err.contains("2 differences"), "{err}");
    assert!(
        err.contains(&format!("position {s0}: the journal has 0, the venue 7")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "open order foreign-2 at the venue, unknown to the journal: buy 3 {s1} limit"
        )),
        "{err}"
    );
    assert!(err.contains("--adopt-venue-state"), "{err}");
    // Adopting: the position through a fill at the venue's entry price, the order tracked.
    let mut v = venue(&server, &data, dir.path(), "T").await;
    let (adopted, diffs) = v.reconcile(true).await.expect("adopted");
    assert_eq!(diffs.len(), 2);
    assert_eq!(adopted.len(), 1);
    assert_eq!(adopted[0].0, "foreign-2");
    let mut ev = Vec::new();
    kairos::broker::ExecutionVenue::on_bars(&mut v, &[], &mut ev).expect("on_bars");
    let fill = ev
        .iter()
        .find_map(|e| match e {
            OrderEvent::Filled(f) => Some(f.clone()),
            _ => None,
        })
        .expect("an adoption fill");
    assert_eq!(
        (fill.order_id, fill.quantity, fill.side),
        (ClientOrderId::adopted(1), dec!(7), Side::Buy)
    );
    assert_eq!(fill.order_id.to_string(), "A1");
    assert!(ev
        .iter()
        .any(|e| matches!(e, OrderEvent::Accepted(a) if a.order_id == ClientOrderId::adopted(2))));
    drop(v);
    // The whole session, adopting: it runs, and its positions are the venue's at the end.
    let stepper = {
        let server = server.clone();
        tokio::spawn(async move {
            for _ in 0..200 {
                server.advance(1);
                tokio::time::timeout(Duration::from_millis(15), std::future::pending::<()>())
                    .await
                    .ok();
            }
        })
    };
    let res = session(&cfg, 40, true).await.expect("adopting session");
    stepper.abort();
    let fills = read(&dir.path().join("paper").join("fills.csv"));
    let venue: HashMap<String, Decimal> = server.positions().into_iter().collect();
    assert_eq!(positions(&fills), venue);
    assert!(res.run.summary.trades > 1);
    assert_no_secret(dir.path());
}

/// `kairos paper` killed (-9) while an order is journaled and not filled; the venue fills it
/// while the session is down. The restart replays the journal, asks the venue about the order
/// and takes its fill: the order was placed once, filled once, and the positions are the venue's.
/// The test steps the market, so the kill falls between the order's acceptance and the bar
/// that fills it every time (a poll at full speed could miss that one-bar window).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_submission_and_fill_the_restart_catches_up_without_placing_twice() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("m"), 3, 300);
    let server = server(&data, None, Faults::default()).await;
    let text = config_text(&server, &data, dir.path());
    let cfg_path = dir.path().join("paper.toml");
    std::fs::write(&cfg_path, &text).expect("write config");
    let journal = dir.path().join("j.sqlite");
    let live = (data.timestamps.len() - HISTORY - 5) as u64;
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Kill(
        std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
            .args(["paper", "--quiet", "--config"])
            .arg(&cfg_path)
            .args(["--max-bars", &live.to_string()])
            .env("APCA_API_KEY_ID", KEY)
            .env("APCA_API_SECRET_KEY", SECRET)
            // Its logs, as verbose as they go, are among the files searched for the secret.
            .env("RUST_LOG", "debug")
            .stdout(std::fs::File::create(dir.path().join("child.out")).expect("log file"))
            .stderr(std::fs::File::create(dir.path().join("child.log")).expect("log file"))
            .spawn()
            .expect("spawn kairos paper"),
    );
    // Once the session streams, one timestamp at a time, each journaled before the next is
    // published, until an accepted market order waits for the next bar.
    stepping::wait_for_subscriber(&server).await;
    let mut published = HISTORY;
    let pending = loop {
        assert!(
            published < data.timestamps.len(),
            "no order in flight before the data ended"
        );
        stepping::publish_next(&server, &journal, &mut published).await;
        // An order decided at an earlier close, placed and accepted as this timestamp was
        // taken (the same commit): it fills on the next bar, which the venue has not published.
        if let Some(id) = unfilled_market_order(&journal) {
            assert!(!server.filled().iter().any(|(c, _, _)| *c == id), "{id} filled early");
            break id;
        }
    };
    child.0.kill().expect("kill -9");
    child.0.wait().expect("reaped");
    // The venue goes on and fills it (on the next bar), and publishes the rest as fast as the
    // restarted session reads.
    server.advance(data.timestamps.len());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !server.filled().iter().any(|(c, _, _)| *c == pending) {
        assert!(std::time::Instant::now() < deadline, "the venue did not fill {pending}");
        tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>())
            .await
            .ok();
    }
    let cfg = Config::parse(&text, Path::new("paper.toml")).expect("config");
    let res = session(&cfg, live, false).await.expect("restart");
    assert!(res.counters.replayed_timestamps > 0);
    // Placed once (every client order id once), filled once.
    let bodies = server.order_bodies();
    let placed = bodies
        .iter()
        .filter(|b| b["client_order_id"] == pending.as_str())
        .count();
    assert_eq!(placed, 1, "{pending} placed {placed} times");
    let mut ids: Vec<&str> = bodies
        .iter()
        .map(|b| b["client_order_id"].as_str().expect("id"))
        .collect();
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    assert_eq!(ids.len(), n, "a client order id placed twice");
    let seq: u64 = pending
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("SESSION-N");
    let events = read(&dir.path().join("paper").join("events.jsonl"));
    let of = |kind: &str| {
        events
            .lines()
            .filter(|l| l.contains(&format!("\"event\":\"{kind}\",\"order_id\":{seq},")))
            .count()
    };
    assert_eq!((of("submitted"), of("filled")), (1, 1), "order {pending}");
    let fills = read(&dir.path().join("paper").join("fills.csv"));
    let venue: HashMap<String, Decimal> = server.positions().into_iter().collect();
    assert_eq!(positions(&fills), venue);
    let mine = session_fills(&events);
    for (cid, q, notional) in server.filled() {
        let n: u64 = cid.rsplit('-').next().and_then(|n| n.parse().ok()).expect("SESSION-N");
        assert_eq!(mine.get(&n), Some(&(q, notional)), "order {cid}");
    }
    server.stop().await;
    let log = read(&dir.path().join("child.log"));
    assert!(
        log.contains("alpaca trade stream listening"),
        "the child's log was captured: {log}"
    );
    assert_no_secret(dir.path());
}

/// The newest journaled market order the venue accepted and has not filled (by the journal), if
/// any.
fn unfilled_market_order(journal: &Path) -> Option<String> {
    let conn = rusqlite::Connection::open(journal).ok()?;
    conn.query_row(
        "SELECT client_order_id FROM orders o WHERE request LIKE '%\"market\"%' \
         AND EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.client_order_id AND e.event LIKE '%\"accepted\"%') \
         AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.client_order_id AND e.event LIKE '%\"filled\"%') \
         ORDER BY seq DESC LIMIT 1",
        [],
        |r| r.get(0),
    )
    .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_stop_the_venue_at_the_trade_stream_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("m"), 2, 60);
    let server = server(&data, None, Faults::default()).await;
    let cfg = Config::parse(&config_text(&server, &data, dir.path()), Path::new("paper.toml")).expect("config");
    let live = cfg.live.clone().expect("live");
    let wrong = Credentials {
        key_id: KEY.into(),
        secret: "not-the-secret".into(),
    };
    let counters = Arc::new(Mutex::new(LiveCounters::default()));
    let err = match AlpacaVenue::connect(&live, wrong, "T".into(), Arc::new(data.instruments.clone()), counters).await {
        Ok(_) => panic!("wrong keys accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("alpaca refused authentication") && err.contains("trade stream"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "the error shows the secret: {err}");
    assert!(server.stats().auth_refused.load(std::sync::atomic::Ordering::Acquire) >= 1);
    server.stop().await;
}
