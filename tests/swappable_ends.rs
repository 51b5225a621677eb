//! One pipeline with swappable ends: the same bars pushed by the test through a channel, at the
//! test's own pace, give exactly the replay's orders and fills; an execution venue other than
//! the simulator plugs in behind the same boundary; and a pushed market that ends without
//! marking its last timestamp still settles.

mod common;
use kairos::broker::{BrokerConfig, BrokerSim, ExecutionVenue, VenueError};
use kairos::data::synth::{self, SynthSpec};
use kairos::data::{MarketData, ReplayCursor};
use kairos::messages::PushedBars;
use kairos::supervisor::{run, Feed, RunSetup, Venue};
use kairos::types::{Bar, ClientOrderId, Decimal, OrderEvent, OrderRequest, UnixNanos};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn market(dir: &Path) -> Arc<MarketData> {
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 12,
            days: 260,
            ..SynthSpec::default()
        },
        dir,
    )
    .expect("synth");
    Arc::new(kairos::feeds::load(dir, &Default::default()).expect("load"))
}

fn broker() -> BrokerConfig {
    BrokerConfig {
        commission_bps: Decimal::from(5),
        slippage_bps: Decimal::from(1),
        cash_check: kairos::broker::CashCheck::AllowNegative,
        ..BrokerConfig::default()
    }
}

fn setup(data: Arc<MarketData>, feed: Feed, venue: Venue, out: &Path) -> RunSetup {
    RunSetup {
        data,
        feed,
        venue,
        strategy: kairos::strategies::build("topk", &toml::Table::new()).expect("topk"),
        features: Box::new(kairos::feature::NoFeatures),
        model: None,
        initial_cash: Decimal::from(1_000_000),
        window: 8,
        out_dir: out.to_path_buf(),
        event_log: true,
        progress: false,
        status: None,
    }
}

/// Every timestamp's bars, as the test pushes them (built from the column store, not by the
/// feed's replay).
fn timestamps(data: &MarketData) -> Vec<(UnixNanos, Vec<Bar>)> {
    let mut at = vec![0usize; data.series.len()];
    data.timestamps
        .iter()
        .enumerate()
        .map(|(step, &ts)| {
            let mut bars = Vec::new();
            for (i, s) in data.series.iter().enumerate() {
                if at[i] < s.len() && s.step[at[i]] as usize == step {
                    bars.push(data.bar(i, at[i], ts, ts, 0));
                    at[i] += 1;
                }
            }
            (ts, bars)
        })
        .collect()
}

/// The replay run every other run is compared with, writing into `dir/replay`.
async fn replay(data: &Arc<MarketData>, dir: &Path) -> (kairos::portfolio::RunOutput, std::path::PathBuf) {
    let out = dir.join("replay");
    let run = run(setup(data.clone(), Feed::Replay, Venue::Sim(broker()), &out))
        .await
        .expect("replay");
    (run, out)
}

fn read(out: &Path, file: &str) -> String {
    std::fs::read_to_string(out.join(file)).unwrap_or_else(|_| panic!("{file}"))
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn bars_pushed_through_a_channel_give_the_replays_fills() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("data"));
    let (replay, replay_out) = replay(&data, dir.path()).await;
    assert!(replay.summary.trades > 50, "{}", replay.summary.trades);

    // The pushed run: a bounded channel, one timestamp at a time, the test pausing on its own
    // (paused) clock between timestamps; the last one is marked.
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    let pushed_out = dir.path().join("pushed");
    let handle = tokio::spawn(run(setup(
        data.clone(),
        Feed::Pushed(rx),
        Venue::Sim(broker()),
        &pushed_out,
    )));
    let all = timestamps(&data);
    let n = all.len();
    for (k, (ts, bars)) in all.into_iter().enumerate() {
        let push = PushedBars {
            ts_event: ts,
            ts_init: ts,
            bars,
            last: k + 1 == n,
        };
        tokio::time::timeout(Duration::from_secs(10), tx.send(push))
            .await
            .expect("the pipeline takes bars")
            .expect("the feed is alive");
        tokio::time::advance(Duration::from_millis(if k % 7 == 0 { 50 } else { 1 })).await;
    }
    let pushed = tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .expect("the pushed run ends")
        .expect("join")
        .expect("pushed run");
    for file in ["fills.csv", "events.jsonl", "equity.csv"] {
        assert!(read(&replay_out, file) == read(&pushed_out, file), "{file} differs");
    }
    assert_eq!(replay.summary.final_equity_exact, pushed.summary.final_equity_exact);
    assert_eq!(replay.summary.trades, pushed.summary.trades);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_market_that_ends_by_closing_its_channel_settles() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("data"));
    let (replay, replay_out) = replay(&data, dir.path()).await;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let out = dir.path().join("pushed");
    let handle = tokio::spawn(run(setup(data.clone(), Feed::Pushed(rx), Venue::Sim(broker()), &out)));
    for (ts, bars) in timestamps(&data) {
        let push = PushedBars {
            ts_event: ts,
            ts_init: ts,
            bars,
            last: false,
        };
        tokio::time::timeout(Duration::from_secs(10), tx.send(push))
            .await
            .expect("send")
            .expect("alive");
    }
    drop(tx);
    let pushed = tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .expect("ends")
        .expect("join")
        .expect("run");
    // The same fills; orders still working at the end are canceled as at the end of a replay.
    assert_eq!(read(&replay_out, "fills.csv"), read(&out, "fills.csv"));
    assert_eq!(replay.summary.final_equity_exact, pushed.summary.final_equity_exact);
    let canceled = |p: &Path| read(p, "events.jsonl").matches("end of data").count();
    assert_eq!(canceled(&replay_out), canceled(&out));
}

/// A venue that is not the simulator: it records what reaches it and delegates the matching.
struct Recording {
    inner: BrokerSim,
    submitted: Arc<Mutex<Vec<ClientOrderId>>>,
}

impl ExecutionVenue for Recording {
    fn submit(
        &mut self,
        orders: Vec<(ClientOrderId, OrderRequest)>,
        ts: UnixNanos,
        bars: &[Bar],
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), VenueError> {
        self.submitted.lock().expect("lock").extend(orders.iter().map(|o| o.0));
        ExecutionVenue::submit(&mut self.inner, orders, ts, bars, out)
    }
    fn on_bars(&mut self, bars: &[Bar], out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        ExecutionVenue::on_bars(&mut self.inner, bars, out)
    }
    fn finish(&mut self, ts: UnixNanos, out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        ExecutionVenue::finish(&mut self.inner, ts, out)
    }
    fn fill_policy(&self) -> &str {
        "recorded next_open"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_execution_venue_plugs_in_behind_the_same_boundary() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("data"));
    let (_, replay_out) = replay(&data, dir.path()).await;
    let submitted = Arc::new(Mutex::new(Vec::new()));
    let venue = Recording {
        inner: BrokerSim::new(
            broker(),
            Arc::new(data.instruments.clone()),
            Decimal::from(1_000_000),
            data.daily,
        ),
        submitted: submitted.clone(),
    };
    let out = dir.path().join("custom");
    let custom = run(setup(data.clone(), Feed::Replay, Venue::Custom(Box::new(venue)), &out))
        .await
        .expect("custom venue");
    assert_eq!(read(&replay_out, "fills.csv"), read(&out, "fills.csv"));
    let n = submitted.lock().expect("lock").len();
    let in_log = read(&out, "events.jsonl").matches("\"submitted\"").count();
    assert!(n > 50 && n == in_log, "the venue saw every order: {n} vs {in_log}");
    assert_eq!(custom.summary.fill_policy, "recorded next_open");
    // The replay cursor and the test's own bars agree on what a timestamp holds.
    let mut cursor = ReplayCursor::new(data.clone(), kairos::clock::SimulatedClock::new(0));
    let first = cursor.next_event().expect("event");
    assert_eq!(first.bars.len(), timestamps(&data)[0].1.len());
}

/// A simulator that waits at its first `on_bars` until the test opens the gate (drops its
/// sender): no timestamp settles before then.
struct Gated {
    inner: BrokerSim,
    gate: Option<std::sync::mpsc::Receiver<()>>,
}

impl ExecutionVenue for Gated {
    fn submit(
        &mut self,
        orders: Vec<(ClientOrderId, OrderRequest)>,
        ts: UnixNanos,
        bars: &[Bar],
        out: &mut Vec<OrderEvent>,
    ) -> Result<(), VenueError> {
        ExecutionVenue::submit(&mut self.inner, orders, ts, bars, out)
    }
    fn on_bars(&mut self, bars: &[Bar], out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        if let Some(gate) = self.gate.take() {
            // Bounded: the test opens the gate well before this.
            let _ = gate.recv_timeout(Duration::from_secs(20));
        }
        ExecutionVenue::on_bars(&mut self.inner, bars, out)
    }
    fn finish(&mut self, ts: UnixNanos, out: &mut Vec<OrderEvent>) -> Result<(), VenueError> {
        ExecutionVenue::finish(&mut self.inner, ts, out)
    }
    fn fill_policy(&self) -> &str {
        "next_open"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn a_pusher_faster_than_the_pipeline_waits_instead_of_queueing_without_bound() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = market(&dir.path().join("data"));
    let (_, replay_out) = replay(&data, dir.path()).await;
    let (open, gate) = std::sync::mpsc::channel::<()>();
    let venue = Gated {
        inner: BrokerSim::new(
            broker(),
            Arc::new(data.instruments.clone()),
            Decimal::from(1_000_000),
            data.daily,
        ),
        gate: Some(gate),
    };
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let out = dir.path().join("gated");
    let s = setup(data.clone(), Feed::Pushed(rx), Venue::Custom(Box::new(venue)), &out);
    let window = s.window;
    let handle = tokio::spawn(run(s));
    let all = timestamps(&data);
    let n = all.len();
    let mut pushes = all.into_iter().enumerate().map(|(k, (ts, bars))| PushedBars {
        ts_event: ts,
        ts_init: ts,
        bars,
        last: k + 1 == n,
    });
    // Nothing settles: the feed takes `window` timestamps, the channel holds one more...
    for _ in 0..window + 1 {
        let p = pushes.next().expect("bars");
        tokio::time::timeout(Duration::from_secs(10), tx.send(p))
            .await
            .expect("room for a window and the channel")
            .expect("the feed is alive");
    }
    // ...and the next push waits (a real wait: the pipeline runs on its own threads).
    let next = pushes.next().expect("bars");
    let blocked = tokio::time::timeout(Duration::from_millis(300), tx.reserve()).await;
    assert!(blocked.is_err(), "the feed read past its window while nothing settled");
    drop(open);
    tokio::time::timeout(Duration::from_secs(10), tx.send(next))
        .await
        .expect("room once timestamps settle")
        .expect("the feed is alive");
    for p in pushes {
        tokio::time::timeout(Duration::from_secs(10), tx.send(p))
            .await
            .expect("the pipeline takes bars")
            .expect("the feed is alive");
    }
    tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .expect("the run ends")
        .expect("join")
        .expect("gated run");
    // Held back, nothing lost: the replay's fills.
    assert_eq!(read(&replay_out, "fills.csv"), read(&out, "fills.csv"));
}
