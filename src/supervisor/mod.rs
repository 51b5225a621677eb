//! The wiring: spawns the pipeline actors linked to a supervisor, hands each the typed
//! references of the actors it sends to, makes the two subscriptions, starts the feed, and ends
//! the run when the portfolio hands over its result or any actor fails. The feature and model
//! stages are spawned only when the run computes features or has a model; otherwise the stage
//! before sends straight to the one after ([`MarketRoute`], [`SignalRoute`]).
//!
//! ```text
//!   feed ──► feature ──► model ──► strategy ──orders──► broker ──reports──► portfolio
//!     └───────────────── bars ────────────────────────────►┘ └──reports──► strategy (subscribed)
//!     ▲──────────────────────────── credit (subscribed) ───────────────────┘
//! ```
//!
//! The two ends are chosen here, and only here: [`Feed`] (where bars come from) and [`Venue`]
//! (where orders go). The feature, model, strategy and portfolio actors are the same in every
//! mode.
//!
//! Where each actor runs is chosen here too: in a backtest ([`run_blocking`]) on its stage's
//! lane ([`Lanes`], [`Stage::lane`]), otherwise on the runtime the run is awaited on.

mod lanes;

pub use lanes::{Lanes, Placement, Stage, MAX_LANES};

use crate::broker::{BrokerActor, BrokerArgs, BrokerConfig, BrokerSim, ExecutionVenue};
use crate::data::MarketData;
use crate::feature::{FeatureActor, FeatureArgs, FeatureEngine};
use crate::feed::{FeedActor, FeedArgs, MarketSource};
use crate::messages::{BrokerMsg, FeedMsg, MarketRoute, PortfolioMsg, PushedBars, SignalRoute};
use crate::model::{ModelActor, ModelArgs};
use crate::output::{OutputSink, TimeFormat};
use crate::portfolio::{PortfolioActor, PortfolioArgs, RunOutput, StatusHook};
use crate::strategy::{Strategy, StrategyActor, StrategyArgs, StrategyHost};
use crate::types::Decimal;
use ractor::{Actor, ActorProcessingErr, ActorRef, SupervisionEvent};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tracing::Instrument;

/// Where bars come from.
pub enum Feed {
    /// Replay `RunSetup::data`.
    Replay,
    /// Timestamps pushed through this channel (bars of `RunSetup::data`'s instruments), in time
    /// order, until one is marked last or the channel closes.
    Pushed(tokio::sync::mpsc::Receiver<PushedBars>),
}

/// Where orders go.
pub enum Venue {
    /// The broker simulator with these settings.
    Sim(BrokerConfig),
    /// Any other execution venue.
    Custom(Box<dyn ExecutionVenue>),
}

impl Default for Venue {
    fn default() -> Self {
        Venue::Sim(BrokerConfig::default())
    }
}

/// Everything a run needs.
pub struct RunSetup {
    /// The instruments and calendar kind; for [`Feed::Replay`], the bars too.
    pub data: Arc<MarketData>,
    pub feed: Feed,
    pub venue: Venue,
    pub strategy: Box<dyn Strategy>,
    pub features: Box<dyn FeatureEngine>,
    /// The model the model actor runs (`None`: no model stage; the features go straight to the
    /// strategy).
    pub model: Option<crate::model::ModelRuntime>,
    pub initial_cash: Decimal,
    /// Maximum number of timestamps in flight (flow control).
    pub window: usize,
    pub out_dir: PathBuf,
    pub event_log: bool,
    pub progress: bool,
    /// Called by the portfolio at every settled timestamp (paper trading's status line).
    pub status: Option<StatusHook>,
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

pub struct SupervisorActor;

pub struct SupervisorArgs {
    setup: RunSetup,
    sink: OutputSink,
    run: u64,
    done: oneshot::Sender<RunOutput>,
    failed: oneshot::Sender<String>,
    span: tracing::Span,
    placement: Placement,
}

pub struct SupervisorState {
    failed: Option<oneshot::Sender<String>>,
}

impl Actor for SupervisorActor {
    type Msg = ();
    type State = SupervisorState;
    type Arguments = SupervisorArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<()>,
        args: SupervisorArgs,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        let SupervisorArgs {
            setup,
            sink,
            run,
            done,
            failed,
            span: run_span,
            placement,
        } = args;
        let span = |actor: &'static str| tracing::debug_span!(parent: &run_span, "actor", actor);
        let data = setup.data;
        let instruments = Arc::new(data.instruments.clone());
        let sup = myself.get_cell();
        let progress = (setup.progress && data.timestamps.len() > 2_000).then(|| {
            let pb = indicatif::ProgressBar::new(data.timestamps.len() as u64);
            pb.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} timestamps {per_sec} eta {eta}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            pb
        });
        let venue: Box<dyn ExecutionVenue> = match setup.venue {
            Venue::Sim(cfg) => Box::new(BrokerSim::new(cfg, instruments.clone(), setup.initial_cash, data.daily)),
            Venue::Custom(v) => v,
        };
        let borrow_rate = venue.borrow_rate();
        // ractor registers names process-wide: the run id keeps overlapping runs apart.
        let name = |actor: &str| Some(format!("{actor}-{run}"));
        let portfolio = spawn(
            &placement,
            Stage::Portfolio,
            name("portfolio"),
            PortfolioActor,
            PortfolioArgs {
                initial_cash: setup.initial_cash,
                borrow_rate,
                instruments: instruments.clone(),
                sink,
                strategy_name: setup.strategy.name().to_string(),
                fill_policy: venue.fill_policy().to_string(),
                done: Some(done),
                status: setup.status,
                span: span("portfolio"),
            },
            sup.clone(),
        )
        .await?;
        let broker = spawn(
            &placement,
            Stage::Broker,
            name("broker"),
            BrokerActor,
            BrokerArgs {
                venue,
                portfolio: portfolio.clone(),
                span: span("broker"),
            },
            sup.clone(),
        )
        .await?;
        let host = StrategyHost::new(setup.strategy, instruments, setup.initial_cash, borrow_rate)
            .with_universe(data.universe.clone());
        let strategy = spawn(
            &placement,
            Stage::Strategy,
            name("strategy"),
            StrategyActor,
            StrategyArgs {
                host,
                broker: broker.clone(),
                span: span("strategy"),
            },
            sup.clone(),
        )
        .await?;
        // The model stage exists when there is a model to run; without one the features go
        // straight to the strategy (one hop less a timestamp, nothing else changes).
        let next = match setup.model {
            Some(runtime) => {
                let model = spawn(
                    &placement,
                    Stage::Model,
                    name("model"),
                    ModelActor,
                    ModelArgs {
                        runtime,
                        strategy: strategy.clone(),
                        span: span("model"),
                    },
                    sup.clone(),
                )
                .await?;
                SignalRoute::Model(model)
            }
            None => SignalRoute::Strategy(strategy.clone()),
        };
        // Likewise the feature stage, when the run computes features.
        let next = if setup.features.computes() {
            let feature = spawn(
                &placement,
                Stage::Feature,
                name("feature"),
                FeatureActor,
                FeatureArgs {
                    engine: setup.features,
                    next,
                    span: span("feature"),
                },
                sup.clone(),
            )
            .await?;
            MarketRoute::Features(feature)
        } else {
            MarketRoute::Signals(next)
        };
        let source = match setup.feed {
            Feed::Replay => MarketSource::Replay(data),
            Feed::Pushed(rx) => MarketSource::Pushed(rx),
        };
        let feed = spawn(
            &placement,
            Stage::Feed,
            name("feed"),
            FeedActor,
            FeedArgs {
                source,
                window: setup.window,
                next,
                broker: broker.clone(),
                progress,
                span: span("feed"),
            },
            sup,
        )
        .await?;
        // The two backward edges, subscribed before any bar flows.
        broker.send_message(BrokerMsg::SubscribeReports(strategy))?;
        portfolio.send_message(PortfolioMsg::SubscribeCredits(feed.clone()))?;
        feed.send_message(FeedMsg::Start)?;
        run_span.in_scope(|| tracing::debug!(run, "pipeline wired and started"));
        Ok(SupervisorState { failed: Some(failed) })
    }

    async fn handle(&self, _m: ActorRef<()>, _msg: (), _state: &mut SupervisorState) -> Result<(), ActorProcessingErr> {
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<()>,
        evt: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, err) = evt {
            let who = cell.get_name().unwrap_or_default();
            tracing::error!(actor = %who, %err, "actor failed; stopping the run");
            if let Some(tx) = state.failed.take() {
                let _ = tx.send(format!("actor {who} failed: {err}"));
            }
            myself.stop_children(None);
            myself.stop(None);
        }
        Ok(())
    }
}

/// Spawns `actor` linked to `sup` on the runtime `placement` gives `stage`, and waits until
/// it has started.
async fn spawn<A: Actor>(
    placement: &Placement,
    stage: Stage,
    name: Option<String>,
    actor: A,
    args: A::Arguments,
    sup: ractor::ActorCell,
) -> Result<ActorRef<A::Msg>, ActorProcessingErr> {
    let spawning = Actor::spawn_linked(name, actor, args, sup);
    let (actor, _) = match placement.runtime(stage) {
        Some(lane) => lane.spawn(spawning).await??,
        None => spawning.await?,
    };
    Ok(actor)
}

/// Runs on the current tokio runtime (which must be multi-threaded when the venue blocks, as
/// paper trading's Alpaca venue does).
///
/// # Errors
/// [`EngineError`] when a replay has no data, outputs cannot be written or an actor fails.
pub async fn run(setup: RunSetup) -> Result<RunOutput, EngineError> {
    run_placed(setup, Placement::default()).await
}

/// [`run`], each actor spawned where `placement` says.
async fn run_placed(setup: RunSetup, placement: Placement) -> Result<RunOutput, EngineError> {
    if matches!(setup.feed, Feed::Replay) && setup.data.timestamps.is_empty() {
        return Err(EngineError::NoData);
    }
    let fmt = TimeFormat {
        daily: setup.data.daily,
        tz: setup.data.instruments.first().map_or(chrono_tz::UTC, |i| i.time_zone),
    };
    let symbols = Arc::new(setup.data.instruments.iter().map(|i| i.symbol.clone()).collect());
    let sink =
        OutputSink::open(&setup.out_dir, setup.event_log, fmt, symbols).map_err(|source| EngineError::Output {
            dir: setup.out_dir.clone(),
            source,
        })?;
    let run = RUN_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let span = tracing::info_span!("run", run, strategy = %setup.strategy.name());
    async move {
        let (done, done_rx) = oneshot::channel();
        let (failed, failed_rx) = oneshot::channel();
        let args = SupervisorArgs {
            setup,
            sink,
            run,
            done,
            failed,
            span: tracing::Span::current(),
            placement,
        };
        let (sup, handle) = Actor::spawn(None, SupervisorActor, args)
            .await
            .map_err(|e| EngineError::Spawn(e.to_string()))?;
        let result = match done_rx.await {
            Ok(out) => Ok(out),
            // The portfolio went away without a result: the supervisor says why.
            Err(_) => Err(EngineError::Failed(
                failed_rx
                    .await
                    .unwrap_or_else(|_| "the run ended without a result".to_string()),
            )),
        };
        sup.stop_children(None);
        sup.stop(None);
        let _ = handle.await;
        tracing::debug!(ok = result.is_ok(), "run ended");
        result
    }
    .instrument(span)
    .await
}

/// Runs on `worker_threads` fresh [`Lanes`] (at most [`MAX_LANES`]), lane 0 on this thread.
///
/// A [`Venue::Custom`] may block on I/O inside the broker (the Alpaca venue does, through
/// `block_in_place`), which a single-threaded lane cannot allow: such a run gets a work-stealing
/// runtime of `worker_threads` workers instead, with the same outputs.
///
/// # Errors
/// As [`run`], and when the runtime cannot be built.
pub fn run_blocking(setup: RunSetup, worker_threads: usize) -> Result<RunOutput, EngineError> {
    if !matches!(setup.venue, Venue::Custom(_)) {
        let lanes = Lanes::start(worker_threads).map_err(EngineError::Runtime)?;
        let placement = lanes.placement();
        return lanes.block_on(run_placed(setup, placement));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads.max(1))
        .enable_all()
        .build()
        .map_err(EngineError::Runtime)?;
    rt.block_on(run(setup))
}
