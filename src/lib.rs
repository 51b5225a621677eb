//! # Kairos
//!
//! An actor-based, event-driven trading engine: exact money ([`rust_decimal`]), explicit fill
//! and cost semantics, deterministic replay.
//!
//! ## Components and data flow
//!
//! Every component is a [ractor](https://docs.rs/ractor) actor with a small synchronous core:
//!
//! | actor | folder | core | does |
//! |---|---|---|---|
//! | market-data feed | [`feed`] | [`feed::ReplayCursor`] | replays bars one timestamp at a time; owns the simulated clock; flow control |
//! | feature | [`feature`] | [`feature::FeatureEngine`] | the feature library, O(1) per bar (or forwards) |
//! | model inference | [`model`] | [`model::infer::InferenceThread`] | batched LSTM / TorchScript scores on a dedicated thread |
//! | strategy host | [`strategy`] | [`strategy::StrategyHost`] | runs a user [`strategy::Strategy`] at each close |
//! | broker simulator | [`broker`] | [`broker::BrokerSim`] | accepts, matches and fills orders with costs |
//! | portfolio | [`portfolio`] | [`portfolio::Portfolio`] | the account of record; equity; outputs |
//! | supervisor | [`supervisor`] | | spawns, wires and watches the others |
//!
//! ```text
//! feed -> feature -> model -> strategy -> broker -> portfolio
//!   \------------- bars -------------------^   \-> fills back to strategy and portfolio
//! ```
//!
//! ## Determinism
//! ractor orders messages only per sender, so each actor joins its inputs by replay step
//! (see [`events`]): the broker matches bar `t` only after the strategy's orders of `t - 1`, the
//! strategy decides at `t` only after the broker's fills of `t`. Results do not depend on the
//! number of worker threads or on scheduling. No actor reads the wall clock ([`clock`]).
//!
//! ## Data
//! [`feeds`] loads per-symbol CSV directories and long CSV/Parquet tables through polars with
//! row-level validation; [`data`] keeps them as a compact column store; [`data::synth`] makes a
//! seeded synthetic market. Built-in strategies live in [`strategies`].
//!
//! ## Models
//! [`feature::library`] defines the features, [`feature::batch`] computes them through polars
//! for datasets, [`feature::labels`] the labels; [`model::job`] trains (tch), [`model::walkforward`]
//! evaluates out of sample, [`model::infer`] serves native and TorchScript models.

pub mod backtest;
pub mod bench;
pub mod broker;
pub mod clock;
pub mod config;
pub mod data;
pub mod events;
pub mod feature;
pub mod feed;
#[path = "../feeds/mod.rs"]
pub mod feeds;
pub mod model;
pub mod output;
pub mod portfolio;
#[path = "../strategies/mod.rs"]
pub mod strategies;
pub mod strategy;
pub mod supervisor;
pub mod types;
