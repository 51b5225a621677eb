//! The account: a book of cash and positions that applies fills and marks to closes
//! ([`Portfolio`]), and the run's figures computed from its equity curve ([`summarize`]).
//!
//! Not an actor: the portfolio actor keeps the account of record with it, and the strategy host
//! keeps the strategy's read-only view with the same code, from the same fills and closes.

mod book;
mod metrics;

pub use book::{borrow_fee, Portfolio, TradeStats};
pub use metrics::{compare, summarize, BenchmarkComparison, Summary};
