//! The supervisor: spawns the six pipeline actors linked to itself, wires them, starts the
//! replay, and ends the run when the portfolio reports completion or any actor fails.
//!
//! ```text
//!   feed ──► feature ──► model ──► strategy ──orders──► broker ──reports──► portfolio
//!     └───────────────── bars ────────────────────────────►┘ └──fills──► strategy
//!     ▲──────────────────────────── credit (flow control) ─────────────────┘
//! ```

use crate::broker::{BrokerActor, BrokerConfig, BrokerMsg, BrokerSim};
use crate::clock::SimulatedClock;
use crate::data::MarketData;
use crate::feature::{FeatureActor, FeatureEngine, FeatureMsg};
use crate::feed::{FeedActor, FeedArgs, FeedMsg};
use crate::model::{ModelActor, ModelMsg};
use crate::output::{OutputSink, TimeFormat};
use crate::portfolio::{PortfolioActor, PortfolioArgs, PortfolioMsg, RunOutput};
use crate::strategy::{Strategy, StrategyActor, StrategyHost, StrategyMsg};
use crate::types::Decimal;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;

/// Addresses of every actor of a run.
#[derive(Clone)]
pub struct Peers {
    pub feed: ActorRef<FeedMsg>,
    pub feature: ActorRef<FeatureMsg>,
    pub model: ActorRef<ModelMsg>,
    pub strategy: ActorRef<StrategyMsg>,
    pub broker: ActorRef<BrokerMsg>,
    pub portfolio: ActorRef<PortfolioMsg>,
    pub supervisor: ActorRef<SupervisorMsg>,
}

/// Everything a backtest run needs.
pub struct RunSetup {
    pub data: Arc<MarketData>,
    pub strategy: Box<dyn Strategy>,
    pub features: Box<dyn FeatureEngine>,
    /// The model the model actor runs (`None`: it passes events through).
    pub model: Option<crate::model::ModelRuntime>,
    pub broker: BrokerConfig,
    pub initial_cash: Decimal,
    /// Maximum number of timestamps in flight (flow control).
    pub window: usize,
    pub out_dir: PathBuf,
    pub event_log: bool,
    pub progress: bool,
}

/// Errors of a run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the data has no timestamp")]
    NoData,
    #[error("cannot write outputs in {dir}: {source}")]
    Output { dir: PathBuf, source: std::io::Error },
    #[error("actor system failed to start: {0}")]
    Spawn(String),
    #[error("run failed: {0}")]
    Failed(String),
    #[error("cannot build the runtime: {0}")]
    Runtime(std::io::Error),
}

static RUN_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

pub enum SupervisorMsg {
    Done(Box<RunOutput>),
}

pub struct SupervisorActor;

pub struct SupervisorState {
    done: Option<oneshot::Sender<Result<RunOutput, String>>>,
}

impl Actor for SupervisorActor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = (RunSetup, OutputSink, oneshot::Sender<Result<RunOutput, String>>);

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        (setup, sink, done): Self::Arguments,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let data = setup.data;
        let instruments = Arc::new(data.instruments.clone());
        let tz = instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone);
        let first_ts = data.timestamps.first().copied().unwrap_or_default();
        let sup = myself.get_cell();
        // ractor registers names process-wide: suffix them with a run id so runs can overlap.
        let run = RUN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let progress = (setup.progress && data.timestamps.len() > 2_000).then(|| {
            let pb = indicatif::ProgressBar::new(data.timestamps.len() as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} timestamps {per_sec} eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });
        let fill_policy = setup.broker.fill_policy.as_str().to_string();
        let strategy_name = setup.strategy.name().to_string();
        let (portfolio, _) = Actor::spawn_linked(
            Some(format!("portfolio-{run}")),
            PortfolioActor,
            PortfolioArgs {
                initial_cash: setup.initial_cash,
                instruments: instruments.clone(),
                time_format: TimeFormat { daily: data.daily, tz },
                sink,
                strategy_name,
                fill_policy,
                log_events: setup.event_log,
            },
            sup.clone(),
        )
        .await?;
        let broker_sim = BrokerSim::new(setup.broker, instruments.clone(), setup.initial_cash, data.daily);
        let (broker, _) =
            Actor::spawn_linked(Some(format!("broker-{run}")), BrokerActor, broker_sim, sup.clone()).await?;
        let host = StrategyHost::new(setup.strategy, instruments, setup.initial_cash);
        let (strategy, _) =
            Actor::spawn_linked(Some(format!("strategy-{run}")), StrategyActor, host, sup.clone()).await?;
        let (model, _) =
            Actor::spawn_linked(Some(format!("model-{run}")), ModelActor, setup.model, sup.clone()).await?;
        let (feature, _) = Actor::spawn_linked(
            Some(format!("feature-{run}")),
            FeatureActor,
            setup.features,
            sup.clone(),
        )
        .await?;
        let feed_args = FeedArgs {
            data,
            clock: SimulatedClock::new(first_ts),
            window: setup.window,
            progress,
        };
        let (feed, _) = Actor::spawn_linked(Some(format!("feed-{run}")), FeedActor, feed_args, sup).await?;
        let peers = Peers {
            feed,
            feature,
            model,
            strategy,
            broker,
            portfolio,
            supervisor: myself.clone(),
        };
        // Every Connect is enqueued before Start, and data flows only after Start.
        peers
            .portfolio
            .send_message(PortfolioMsg::Connect(Box::new(peers.clone())))?;
        peers.broker.send_message(BrokerMsg::Connect(Box::new(peers.clone())))?;
        peers
            .strategy
            .send_message(StrategyMsg::Connect(Box::new(peers.clone())))?;
        peers.model.send_message(ModelMsg::Connect(Box::new(peers.clone())))?;
        peers
            .feature
            .send_message(FeatureMsg::Connect(Box::new(peers.clone())))?;
        peers.feed.send_message(FeedMsg::Connect(Box::new(peers.clone())))?;
        peers.feed.send_message(FeedMsg::Start)?;
        Ok(SupervisorState { done: Some(done) })
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Done(out) => {
                if let Some(tx) = state.done.take() {
                    let _ = tx.send(Ok(*out));
                }
                myself.stop_children(None);
                myself.stop(None);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        evt: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, err) = evt {
            let who = cell.get_name().unwrap_or_default();
            tracing::error!(actor = %who, %err, "actor failed; stopping the run");
            if let Some(tx) = state.done.take() {
                let _ = tx.send(Err(format!("actor {who} failed: {err}")));
            }
            myself.stop_children(None);
            myself.stop(None);
        }
        Ok(())
    }
}

/// Runs a backtest on the current tokio runtime.
///
/// # Errors
/// [`EngineError`] when the data is empty, outputs cannot be written or an actor fails.
pub async fn run(setup: RunSetup) -> Result<RunOutput, EngineError> {
    if setup.data.timestamps.is_empty() {
        return Err(EngineError::NoData);
    }
    let sink = OutputSink::open(&setup.out_dir, setup.event_log).map_err(|source| EngineError::Output {
        dir: setup.out_dir.clone(),
        source,
    })?;
    let (tx, rx) = oneshot::channel();
    let (_sup, handle) = Actor::spawn(None, SupervisorActor, (setup, sink, tx))
        .await
        .map_err(|e| EngineError::Spawn(e.to_string()))?;
    let result = rx
        .await
        .map_err(|_| EngineError::Failed("the run ended without a result".into()))?;
    let _ = handle.await;
    result.map_err(EngineError::Failed)
}

/// Runs a backtest on a fresh multi-threaded runtime with `worker_threads` workers.
///
/// # Errors
/// As [`run`], and when the runtime cannot be built.
pub fn run_blocking(setup: RunSetup, worker_threads: usize) -> Result<RunOutput, EngineError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;
    rt.block_on(run(setup))
}
