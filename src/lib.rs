//! # Kairos
//!
//! An actor-based, event-driven trading engine: exact money ([`rust_decimal`]), explicit fill
//! and cost semantics, deterministic replay, and one pipeline whose two ends are swapped between
//! a backtest and live trading.
//!
//! ## Components and data flow
//!
//! Every component is a [ractor](https://docs.rs/ractor) actor with a small synchronous core,
//! one folder each:
//!
//! | actor | folder | core | does |
//! |---|---|---|---|
//! | market-data feed | [`feed`] | [`data::ReplayCursor`] | emits one timestamp's bars at a time from a [`feed::MarketSource`]; owns the simulated clock; flow control |
//! | feature | [`feature`] | [`feature::FeatureEngine`] | the feature library, O(1) per bar (or forwards) |
//! | model inference | [`model`] | [`model::infer::InferenceThread`] | batched LSTM / TorchScript scores on a dedicated thread |
//! | strategy host | [`strategy`] | [`strategy::StrategyHost`] | runs a user [`strategy::Strategy`] at each close |
//! | broker | [`broker`] | [`broker::ExecutionVenue`] ([`broker::BrokerSim`]) | accepts, matches and fills orders with costs |
//! | portfolio | [`portfolio`] | [`account::Portfolio`] | the account of record; equity; outputs |
//!
//! ```text
//! feed ─► feature ─► model ─► strategy ─orders─► broker ─reports─► portfolio
//!   └──────────────── bars ──────────────────────►┘ └─reports─► strategy   (subscribed)
//!   ▲───────────────────────── credits ───────────────────────────┘        (subscribed)
//! ```
//!
//! ## Wiring
//! Every message type is in [`messages`], which depends only on [`types`] and [`events`]; no
//! actor module imports another (a test reads the sources to hold that). [`supervisor`] spawns
//! the actors back to front, handing each the typed [`ractor::ActorRef`]s of the actors it sends
//! to (the feature and model stages only when the run computes features or has a model: a
//! stage that would only forward is not spawned, [`messages::MarketRoute`],
//! [`messages::SignalRoute`]); the two backward edges (execution reports to the strategy,
//! credits to the feed) are subscriptions made before the feed starts. The two ends are chosen
//! there and only there:
//! [`supervisor::Feed`] (historical replay, or bars pushed through a channel: live feeds and
//! tests) and [`supervisor::Venue`] (the broker simulator, or any other
//! [`broker::ExecutionVenue`]). Feature, model, strategy and portfolio are the same code in every
//! mode. Each run and each actor has a tracing span: `RUST_LOG=kairos=debug` shows which actor
//! did what at which step.
//!
//! A backtest runs on [`supervisor::Lanes`]: `engine.worker_threads` single-threaded runtimes
//! (at most four), each actor spawned on its stage's lane and kept there
//! ([`supervisor::Stage::lane`]). From two lanes on, the strategy and the broker, the run's one
//! sequential path, have lane 0 to themselves. Paper trading, and a backtest with a custom
//! venue (which may block), run on a multi-threaded runtime instead.
//!
//! ## Runs and strategies
//! [`strategy::Strategies`] is the registry of strategies a run may name: the built-ins
//! ([`strategies`]) and a user's own, each with typed parameters. [`run`] assembles every run in
//! one place (prepare: the configuration checked and the parameters parsed once; load; execute;
//! finish: staging, `output.start`, summary, report); every entrance takes the registry (backtest,
//! [`sweep`], [`audit`], [`research`], paper trading, the cluster worker). [`cli`] is the command
//! line, for the `kairos` binary and a user's own (`cli::main_with`, scaffolded by `kairos new`).
//!
//! ## Determinism
//! ractor orders messages only per sender, so each actor joins its inputs by replay step
//! (see [`events`]): the broker matches bar `t` only after the strategy's orders of `t - 1`, the
//! strategy decides at `t` only after the broker's fills of `t`. Results do not depend on the
//! number of lanes or worker threads, or on scheduling. No actor reads the wall clock ([`clock`]).
//! [`audit`] checks no look-ahead for any strategy as a command: the run again with every bar
//! after a cut replaced must decide the same up to the cut.
//!
//! ## Paper trading
//! [`live`] is the live end of the same pipeline: venue protocols (Binance, Alpaca), bar
//! assembly per timestamp, the SQLite journal (crash recovery by replay), the feed task
//! (warm-up, backfill, reconnects), orders at Alpaca's paper API ([`live::orders`]) and the
//! session (`kairos paper`). [`loopback`] serves a
//! recorded market over the venues' real protocols, for tests and for `kairos serve-market`.
//!
//! ## Data
//! [`feeds`] loads per-symbol CSV directories, long CSV/Parquet tables and Parquet catalogs with
//! row-level validation (and reference series from other files, [`feeds::Reference`]); [`data`]
//! keeps them as a compact column store per symbol, plus the same bars in time order for replay
//! ([`data::Tape`], built as loading ends); [`data::synth`] makes a seeded synthetic market. Built-in strategies live in [`strategies`].
//!
//! ## Models and research
//! [`model`] is the inference runtime: the artifact format, the networks, the scaler, the
//! device. [`research`] builds datasets, trains ([`research::job`]), evaluates out of sample
//! ([`research::walkforward`]) and ranks inputs; it depends on [`model`], never the reverse.
//! `research::pipeline` (`kairos research`) runs the whole workflow: walk-forward scores, a
//! backtest over the out-of-sample years on them and on the ridge baseline's, and the report.
//! [`report`] writes `report.html` (backtests, paper sessions, research runs, sweeps). Sweeps
//! ([`sweep`]) and walk-forward years also run on a Ray cluster (`python/kairos_ray`, over
//! long-lived `kairos worker` processes).
//! [`feature::library`] defines the features, [`feature::batch`] computes them through polars
//! for datasets, [`feature::labels`] the labels.
//!
//! ## Errors
//! Each layer has its own error type ([`config::ConfigError`], [`feeds::FeedError`],
//! [`strategy::StrategyError`], [`model::ModelError`], [`research::ResearchError`],
//! [`supervisor::EngineError`], [`run::RunError`]); only the command line ([`cli`]) uses `anyhow`.

pub mod account;
pub mod audit;
pub mod backtest;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod config;
pub mod data;
pub mod events;
pub mod feature;
pub mod feed;
#[path = "../feeds/mod.rs"]
pub mod feeds;
pub mod live;
pub mod loopback;
pub mod messages;
pub mod model;
pub mod output;
pub mod portfolio;
pub mod report;
pub mod research;
pub mod run;
#[path = "../strategies/mod.rs"]
pub mod strategies;
pub mod strategy;
pub mod supervisor;
pub mod sweep;
pub mod types;
