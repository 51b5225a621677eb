//! Labels for training, kept apart from features (they look forward; features never do).
//!
//! - `fwd_ret_{h}`: `C_{t+h} / C_t - 1`, the forward return over `h` bars;
//! - `alpha_{h}` (reference project): `(r_stock - r_benchmark) / sd_t`, clipped to [-3, 3], where
//!   `r = C_{t+h}/C_t - 1` and `sd_t` is the cross-sectional sample standard deviation of all
//!   tradable stocks' `r` on that date.
//!
//! Both are missing where the future bar does not exist (the last `h` bars of a series).

use super::batch::symbol_frame;
use crate::data::MarketData;
use crate::types::InstrumentId;
use polars::prelude::*;

/// Default horizons of the alpha label.
pub const HORIZONS: [usize; 3] = [5, 10, 20];

fn fwd(h: usize) -> Expr {
    col("close").shift(lit(-(h as i64))) / col("close") - lit(1.0)
}

/// A long frame `symbol, ts, fwd_ret_{h}..., alpha_{h}...` over the tradable symbols.
///
/// # Errors
/// Polars errors (none expected on validated data).
pub fn label_market(data: &MarketData, benchmark: Option<InstrumentId>, horizons: &[usize]) -> PolarsResult<DataFrame> {
    let fwd_cols =
        |prefix: &str| -> Vec<Expr> { horizons.iter().map(|&h| fwd(h).alias(format!("{prefix}{h}"))).collect() };
    let mut frames = Vec::new();
    for (i, inst) in data.instruments.iter().enumerate() {
        if !inst.tradable {
            continue;
        }
        let mut cols = vec![lit(inst.symbol.as_str()).alias("symbol"), col("ts")];
        cols.extend(fwd_cols("fwd_ret_"));
        frames.push(symbol_frame(data, i)?.lazy().select(cols));
    }
    let mut lf = concat(frames, UnionArgs::default())?;
    // Cross-sectional standard deviation of r per timestamp.
    let sd: Vec<Expr> = horizons
        .iter()
        .map(|h| col(format!("fwd_ret_{h}")).std(1).alias(format!("_sd_{h}")))
        .collect();
    let by_ts = lf.clone().group_by([col("ts")]).agg(sd);
    lf = lf.left_join(by_ts, col("ts"), col("ts"));
    match benchmark {
        Some(id) => {
            let mut bcols = vec![col("ts")];
            bcols.extend(fwd_cols("_bench_"));
            lf = lf.left_join(
                symbol_frame(data, id.index())?.lazy().select(bcols),
                col("ts"),
                col("ts"),
            );
        }
        None => {
            let zeros: Vec<Expr> = horizons.iter().map(|h| lit(0.0).alias(format!("_bench_{h}"))).collect();
            lf = lf.with_columns(zeros);
        }
    }
    let alpha: Vec<Expr> = horizons
        .iter()
        .map(|h| {
            ((col(format!("fwd_ret_{h}")) - col(format!("_bench_{h}"))) / col(format!("_sd_{h}")))
                .clip(lit(-3.0), lit(3.0))
                .alias(format!("alpha_{h}"))
        })
        .collect();
    let mut out = vec![col("symbol"), col("ts")];
    out.extend(horizons.iter().map(|h| col(format!("fwd_ret_{h}"))));
    out.extend(horizons.iter().map(|h| col(format!("alpha_{h}"))));
    lf.with_columns(alpha)
        .select(out)
        .sort(["symbol", "ts"], SortMultipleOptions::default())
        .collect()
}
