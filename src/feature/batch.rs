//! Batch features through polars over whole histories, for datasets.
//!
//! An independent implementation of [`super::library`] with polars expressions (shifts,
//! rolling means and standard deviations, exponentially weighted means, cumulative sums) over
//! each symbol's full series; `tests/feature_parity.rs` proves that it agrees with the
//! streaming computation. Wilder's RSI is an EWM with `alpha = 1/n` whose first value is the
//! simple mean of the first `n` changes (TA-Lib's seeding).

use super::library::{FEATURE_NAMES, RET_LAGS};
use crate::data::MarketData;
use polars::prelude::*;

fn window(n: usize) -> RollingOptionsFixedWindow {
    RollingOptionsFixedWindow {
        window_size: n,
        min_periods: n,
        ..Default::default()
    }
}

fn window_std(n: usize, ddof: u8) -> RollingOptionsFixedWindow {
    RollingOptionsFixedWindow {
        fn_params: Some(RollingFnParams::Var(RollingVarParams { ddof })),
        ..window(n)
    }
}

fn ewm(alpha: f64) -> EWMOptions {
    EWMOptions {
        alpha,
        adjust: false,
        bias: false,
        min_periods: 1,
        ignore_nulls: true,
    }
}

fn ln(e: Expr) -> Expr {
    e.log(lit(std::f64::consts::E))
}

fn ema_span(e: Expr, span: usize) -> Expr {
    e.ewm_mean(ewm(2.0 / (span as f64 + 1.0)))
}

/// -1, 0 or 1 (0 for a missing value: the first bar's OBV step).
fn sign(x: Expr) -> Expr {
    when(x.clone().gt(lit(0.0)))
        .then(lit(1.0))
        .when(x.lt(lit(0.0)))
        .then(lit(-1.0))
        .otherwise(lit(0.0))
}

/// `(x - base) / base`.
fn gap(x: Expr, base: Expr) -> Expr {
    (x - base.clone()) / base
}

/// TA-Lib RSI / 100 of `close`, with `idx` the 0-based bar index.
fn rsi(n: usize, idx: Expr) -> Expr {
    let change = col("close") - col("close").shift(lit(1));
    let gain = change.clone().clip(lit(0.0), lit(f64::MAX));
    let loss = (lit(0.0) - change).clip(lit(0.0), lit(f64::MAX));
    let seeded = |x: Expr| {
        when(idx.clone().eq(lit(n as u32)))
            .then(x.clone().rolling_mean(window(n)))
            .when(idx.clone().gt(lit(n as u32)))
            .then(x)
            .otherwise(lit(NULL))
            .ewm_mean(ewm(1.0 / n as f64))
    };
    let (g, l) = (seeded(gain), seeded(loss));
    let total = g.clone() + l;
    when(total.clone().eq(lit(0.0))).then(lit(0.0)).otherwise(g / total)
}

/// One symbol's bars as a frame: `ts, open, high, low, close, volume` (f64 prices).
pub fn symbol_frame(data: &MarketData, i: usize) -> PolarsResult<DataFrame> {
    let s = &data.series[i];
    let (ps, vs) = (s.price_scale, s.volume_scale);
    let f = crate::data::to_f64;
    let ts: Vec<i64> = s.step.iter().map(|&k| data.timestamps[k as usize]).collect();
    df!(
        "ts" => ts,
        "open" => f(&s.open, ps),
        "high" => f(&s.high, ps),
        "low" => f(&s.low, ps),
        "close" => f(&s.close, ps),
        "volume" => f(&s.volume, vs),
    )
}

/// The benchmark's return columns (`1d_spy_ret` ... `spy_vol`) keyed by `ts`.
fn benchmark_frame(bars: DataFrame) -> LazyFrame {
    let c = col("close");
    let mut cols: Vec<Expr> = RET_LAGS
        .iter()
        .map(|&n| ln(c.clone() / c.clone().shift(lit(n as i64))).alias(format!("{n}d_spy_ret")))
        .collect();
    cols.insert(0, col("ts"));
    bars.lazy()
        .select(cols)
        .with_column(col("1d_spy_ret").rolling_std(window_std(20, 1)).alias("spy_vol"))
}

/// Features of one symbol's frame (see [`symbol_frame`]), joined with the benchmark's.
pub fn symbol_features(bars: DataFrame, bench: Option<LazyFrame>) -> PolarsResult<DataFrame> {
    let (o, h, l, c, v) = (col("open"), col("high"), col("low"), col("close"), col("volume"));
    let idx = c.clone().cum_count(false) - lit(1u32);
    let r1 = ln(c.clone() / c.clone().shift(lit(1)));
    let mut stage1: Vec<Expr> = RET_LAGS
        .iter()
        .map(|&n| ln(c.clone() / c.clone().shift(lit(n as i64))).alias(format!("{n}d_close_log_ret")))
        .collect();
    let vm = v.clone().rolling_mean(window(20));
    let hi_oc = when(o.clone().gt(c.clone())).then(o.clone()).otherwise(c.clone());
    let lo_oc = when(o.clone().lt(c.clone())).then(o.clone()).otherwise(c.clone());
    stage1.extend([
        ln((v.clone() + lit(1e-8)) / (v.clone().shift(lit(1)) + lit(1e-8)))
            .clip(lit(-5.0), lit(5.0))
            .alias("1d_vol_log_ret"),
        when(vm.clone().neq(lit(0.0)))
            .then(v.clone() / vm)
            .otherwise(lit(NULL))
            .alias("vol_ratio"),
        ((c.clone() - o.clone()) / o.clone()).alias("k_body"),
        ((h.clone() - hi_oc) / c.clone()).alias("k_upper"),
        ((lo_oc - l.clone()) / c.clone()).alias("k_lower"),
    ]);
    for span in [10, 20, 30] {
        stage1.push(gap(c.clone(), ema_span(c.clone(), span)).alias(format!("ema{span}_gap")));
    }
    for n in [60, 100, 200] {
        stage1.push(gap(c.clone(), c.clone().rolling_mean(window(n))).alias(format!("sma{n}_gap")));
    }
    for n in [7, 14, 26] {
        stage1.push(rsi(n, idx.clone()).alias(format!("rsi{n}")));
    }
    let mid = c.clone().rolling_mean(window(20));
    let sd = c.clone().rolling_std(window_std(20, 0));
    let (upper, lower) = (mid.clone() + lit(2.0) * sd.clone(), mid.clone() - lit(2.0) * sd);
    stage1.extend([
        (ema_span(c.clone(), 12) - ema_span(c.clone(), 26)).alias("_dif"),
        ((c.clone() - lower.clone()) / ((upper.clone() - lower.clone()) + lit(1e-8))).alias("bb_position"),
        ((upper - lower) / (mid + lit(1e-8))).alias("bb_width"),
        (sign(c.clone() - c.clone().shift(lit(1))) * v)
            .cum_sum(false)
            .alias("_obv"),
        (r1.clone().rolling_std(window_std(10, 1)) / (r1.rolling_std(window_std(60, 1)) + lit(1e-8))).alias("hv_ratio"),
    ]);
    let dif = col("_dif");
    let obv_sma = col("_obv").rolling_mean(window(20));
    let stage2 = [
        (dif.clone() / (c.clone() + lit(1e-8))).alias("macd_dif"),
        (lit(2.0) * (dif.clone() - dif.ewm_mean(ewm(0.2))) / (c + lit(1e-8))).alias("macd_hist"),
        ((col("_obv") - obv_sma.clone()) / (obv_sma.abs() + lit(1e-8))).alias("obv_momentum"),
    ];
    let mut lf = bars.lazy().with_columns(stage1).with_columns(stage2);
    match bench {
        Some(b) => {
            lf = lf.left_join(b, col("ts"), col("ts"));
            let rel: Vec<Expr> = RET_LAGS
                .iter()
                .map(|&n| {
                    (col(format!("{n}d_close_log_ret")) - col(format!("{n}d_spy_ret")))
                        .alias(format!("{n}d_relative_ret"))
                })
                .collect();
            lf = lf.with_columns(rel);
        }
        None => {
            let missing: Vec<Expr> = FEATURE_NAMES[24..]
                .iter()
                .map(|n| lit(NULL).cast(DataType::Float64).alias(*n))
                .collect();
            lf = lf.with_columns(missing);
        }
    }
    let mut out = vec![col("ts")];
    out.extend(FEATURE_NAMES.iter().map(|n| col(*n)));
    lf.select(out).collect()
}

/// Features of every symbol: a long frame `symbol, ts, <features>`, symbols in id order.
///
/// # Errors
/// Polars errors (none expected on validated data).
pub fn batch_market(data: &MarketData, benchmark: Option<crate::types::InstrumentId>) -> PolarsResult<DataFrame> {
    let bench = match benchmark {
        Some(id) => Some(benchmark_frame(symbol_frame(data, id.index())?).collect()?),
        None => None,
    };
    let mut frames = Vec::with_capacity(data.series.len());
    for (i, inst) in data.instruments.iter().enumerate() {
        let mut f = symbol_features(symbol_frame(data, i)?, bench.clone().map(DataFrame::lazy))?;
        let n = f.height();
        f.insert_column(0, Column::new("symbol".into(), vec![inst.symbol.as_str(); n]))?;
        frames.push(f.lazy());
    }
    concat(frames, UnionArgs::default())?.collect()
}
