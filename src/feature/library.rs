//! The feature library of the reference project (seeds 000 and 001), computed incrementally.
//!
//! Definitions (close C, open O, high H, low L, volume V; the benchmark is a symbol of the
//! data, `SPY` by default). A feature is `None` (missing, not zero) until its inputs exist.
//!
//! | name | definition | first defined at bar |
//! |---|---|---|
//! | `{1,5,10,20}d_close_log_ret` | ln(C_t / C_{t-n}) | n |
//! | `1d_vol_log_ret` | ln((V_t + 1e-8)/(V_{t-1} + 1e-8)) clipped to [-5, 5] | 1 |
//! | `vol_ratio` | V_t / mean of the last 20 V (missing when that mean is 0) | 19 |
//! | `k_body`, `k_upper`, `k_lower` | (C-O)/O, (H - max(O,C))/C, (min(O,C) - L)/C | 0 |
//! | `ema{10,20,30}_gap` | (C - EMA)/EMA, alpha 2/(span+1), EMA started at the first close | 0 |
//! | `sma{60,100,200}_gap` | (C - SMA)/SMA | n-1 |
//! | `rsi{7,14,26}` | Wilder RSI (TA-Lib seeding) / 100 | n |
//! | `macd_dif` | (EMA12 - EMA26)/(C + 1e-8) | 0 |
//! | `macd_hist` | 2 (DIF - DEA)/(C + 1e-8), DIF = EMA12 - EMA26, DEA = EMA9 of DIF | 0 |
//! | `bb_position`, `bb_width` | (C - lower)/((upper - lower) + 1e-8), (upper - lower)/(middle + 1e-8); 20 bars, 2 population sd | 19 |
//! | `obv_momentum` | (OBV - SMA20(OBV))/(\|SMA20(OBV)\| + 1e-8), OBV = running sum of sign(C_t - C_{t-1}) V_t from 0 | 19 |
//! | `hv_ratio` | HV10/(HV60 + 1e-8), HV = sample sd of 1-bar log returns | 60 |
//! | `{1,5,10,20}d_spy_ret` | the benchmark's ln(C_t / C_{t-n}) | n (benchmark bars) |
//! | `spy_vol` | 20-bar sample sd of `1d_spy_ret` | 20 |
//! | `{1,5,10,20}d_relative_ret` | the stock's log return minus the benchmark's | both defined |

use super::indicators::{Ema, Ring, Rolling, Rsi};

/// Feature names, in column order.
pub const FEATURE_NAMES: [&str; 33] = [
    "1d_close_log_ret",
    "5d_close_log_ret",
    "10d_close_log_ret",
    "20d_close_log_ret",
    "1d_vol_log_ret",
    "vol_ratio",
    "k_body",
    "k_upper",
    "k_lower",
    "ema10_gap",
    "ema20_gap",
    "ema30_gap",
    "sma60_gap",
    "sma100_gap",
    "sma200_gap",
    "rsi7",
    "rsi14",
    "rsi26",
    "macd_dif",
    "macd_hist",
    "bb_position",
    "bb_width",
    "obv_momentum",
    "hv_ratio",
    "1d_spy_ret",
    "5d_spy_ret",
    "10d_spy_ret",
    "20d_spy_ret",
    "spy_vol",
    "1d_relative_ret",
    "5d_relative_ret",
    "10d_relative_ret",
    "20d_relative_ret",
];

/// Number of features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// Lags of the return features.
pub const RET_LAGS: [usize; 4] = [1, 5, 10, 20];

/// One row of features.
pub type FeatureRow = [Option<f64>; N_FEATURES];

/// The benchmark's state: its returns at the current bar and their 20-bar volatility.
#[derive(Clone, Debug)]
pub struct BenchmarkState {
    closes: Ring,
    vol: Rolling,
    /// `ln(C_t / C_{t-n})` for n in [`RET_LAGS`], at the benchmark's latest bar.
    pub rets: [Option<f64>; 4],
    pub vol20: Option<f64>,
}

impl Default for BenchmarkState {
    fn default() -> Self {
        Self {
            closes: Ring::new(21),
            vol: Rolling::new(20),
            rets: [None; 4],
            vol20: None,
        }
    }
}

impl BenchmarkState {
    /// Updates with the benchmark's close at a new bar.
    pub fn push(&mut self, close: f64) {
        self.closes.push(close);
        self.rets = lagged_log_rets(&self.closes);
        if let Some(r1) = self.rets[0] {
            self.vol.push(r1);
        }
        self.vol20 = self.vol.std_sample();
    }
    /// No benchmark bar at this timestamp: its features are missing here.
    pub fn clear_current(&mut self) {
        self.rets = [None; 4];
        self.vol20 = None;
    }
}

fn lagged_log_rets(closes: &Ring) -> [Option<f64>; 4] {
    let c = closes.back(0);
    RET_LAGS.map(|n| Some((c? / closes.back(n)?).ln()))
}

/// One symbol's incremental feature state.
#[derive(Clone, Debug)]
pub struct SymbolFeatures {
    closes: Ring,
    prev_volume: Option<f64>,
    volume20: Rolling,
    ema: [Ema; 3],
    sma: [Rolling; 3],
    rsi: [Rsi; 3],
    ema12: Ema,
    ema26: Ema,
    dea: Ema,
    bb: Rolling,
    obv: f64,
    obv20: Rolling,
    hv10: Rolling,
    hv60: Rolling,
}

impl Default for SymbolFeatures {
    fn default() -> Self {
        Self {
            closes: Ring::new(21),
            prev_volume: None,
            volume20: Rolling::new(20),
            ema: [Ema::span(10), Ema::span(20), Ema::span(30)],
            sma: [Rolling::new(60), Rolling::new(100), Rolling::new(200)],
            rsi: [Rsi::new(7), Rsi::new(14), Rsi::new(26)],
            ema12: Ema::span(12),
            ema26: Ema::span(26),
            dea: Ema::span(9),
            bb: Rolling::new(20),
            obv: 0.0,
            obv20: Rolling::new(20),
            hv10: Rolling::new(10),
            hv60: Rolling::new(60),
        }
    }
}

fn gap(c: f64, base: Option<f64>) -> Option<f64> {
    base.map(|b| (c - b) / b)
}

impl SymbolFeatures {
    /// Updates with one bar and returns the features at that bar; `bench` is the benchmark's
    /// state at the same timestamp (already updated), if any.
    pub fn push(&mut self, o: f64, h: f64, l: f64, c: f64, v: f64, bench: Option<&BenchmarkState>) -> FeatureRow {
        let mut f: FeatureRow = [None; N_FEATURES];
        let prev_close = self.closes.back(0);
        self.closes.push(c);
        let rets = lagged_log_rets(&self.closes);
        f[..4].copy_from_slice(&rets);
        f[4] = self
            .prev_volume
            .map(|pv| ((v + 1e-8) / (pv + 1e-8)).ln().clamp(-5.0, 5.0));
        self.prev_volume = Some(v);
        self.volume20.push(v);
        f[5] = self.volume20.mean().filter(|m| *m != 0.0).map(|m| v / m);
        f[6] = Some((c - o) / o);
        f[7] = Some((h - o.max(c)) / c);
        f[8] = Some((o.min(c) - l) / c);
        for k in 0..3 {
            f[9 + k] = gap(c, Some(self.ema[k].push(c)));
            self.sma[k].push(c);
            f[12 + k] = gap(c, self.sma[k].mean());
            f[15 + k] = self.rsi[k].push(c).map(|r| r / 100.0);
        }
        let dif = self.ema12.push(c) - self.ema26.push(c);
        let dea = self.dea.push(dif);
        f[18] = Some(dif / (c + 1e-8));
        f[19] = Some(2.0 * (dif - dea) / (c + 1e-8));
        self.bb.push(c);
        if let (Some(mid), Some(sd)) = (self.bb.mean(), self.bb.std_pop()) {
            let (upper, lower) = (mid + 2.0 * sd, mid - 2.0 * sd);
            f[20] = Some((c - lower) / ((upper - lower) + 1e-8));
            f[21] = Some((upper - lower) / (mid + 1e-8));
        }
        if let Some(pc) = prev_close {
            let sign = if c > pc {
                1.0
            } else if c < pc {
                -1.0
            } else {
                0.0
            };
            self.obv += sign * v;
            let r1 = (c / pc).ln();
            self.hv10.push(r1);
            self.hv60.push(r1);
        }
        self.obv20.push(self.obv);
        f[22] = self.obv20.mean().map(|m| (self.obv - m) / (m.abs() + 1e-8));
        if let (Some(h10), Some(h60)) = (self.hv10.std_sample(), self.hv60.std_sample()) {
            f[23] = Some(h10 / (h60 + 1e-8));
        }
        if let Some(b) = bench {
            for k in 0..4 {
                f[24 + k] = b.rets[k];
                f[29 + k] = rets[k].zip(b.rets[k]).map(|(s, m)| s - m);
            }
            f[28] = b.vol20;
        }
        f
    }
}

/// A feature name the library does not define.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown feature {0:?}")]
pub struct UnknownFeature(pub String);

/// The library indices of `names`, in their order.
///
/// # Errors
/// The first name the library does not define.
pub fn feature_indices(names: &[String]) -> Result<Vec<usize>, UnknownFeature> {
    names
        .iter()
        .map(|n| {
            FEATURE_NAMES
                .iter()
                .position(|f| f == n)
                .ok_or_else(|| UnknownFeature(n.clone()))
        })
        .collect()
}
