//! A seeded synthetic market, written in the per-symbol CSV layout.
//!
//! - **Regimes**: a Markov chain over {bull, bear} x {calm, volatile} drives the market
//!   factor's drift and volatility (expected stay about 120 bars per regime, daily bars).
//! - **Stocks**: `r_i = beta_i * m + alpha_i + e_i`, with idiosyncratic volatility drawn per stock.
//! - **Planted signal**: `alpha_i,t = kappa * a_i,t-1`, where `a_i` is a persistent AR(1) latent
//!   (rho 0.97) that also tilts volume. Past returns and volume carry information about future
//!   relative returns: weak (a daily IC of a few percent), but learnable.
//! - **Benchmark** (`SPY` by default): the market factor alone, never traded.
//!
//! The generator uses its own SplitMix64 stream, so a seed gives the same bytes on every
//! platform and version.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// Bar frequency of the synthetic market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Frequency {
    Daily,
    /// Intraday bars of this many minutes in a 09:30-16:00 session.
    Minutes(u32),
}

/// What to generate.
#[derive(Clone, Debug, Serialize)]
pub struct SynthSpec {
    pub symbols: usize,
    /// Number of sessions (business days).
    pub days: usize,
    pub seed: u64,
    pub frequency: Frequency,
    pub benchmark: String,
    /// Daily strength of the planted signal (return per unit of latent).
    pub kappa: f64,
}

impl Default for SynthSpec {
    fn default() -> Self {
        Self {
            symbols: 50,
            days: 1260,
            seed: 42,
            frequency: Frequency::Daily,
            benchmark: "SPY".into(),
            kappa: 0.0015,
        }
    }
}

/// The most bars `generate` keeps in memory (every symbol's series at once), about 2 GB.
pub const MAX_BARS: usize = 20_000_000;
/// The most sessions: from 2015-01-02 the last stays well inside the range of nanosecond
/// timestamps (which end in April 2262), so the loader can read every date written.
pub const MAX_DAYS: usize = 60_000;

/// A symbol used as a file name: letters, digits and `.`, `_`, `-`, `^`, `=`; not empty, not
/// starting with a dot, at most 64 characters. No path separator, so nothing is written outside
/// the output directory.
///
/// # Errors
/// What is wrong with the name.
pub fn check_symbol(name: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '^' | '=');
    if name.is_empty() || name.len() > 64 || name.starts_with('.') || !name.chars().all(ok_char) {
        return Err(format!(
            "symbol {name:?}: use 1 to 64 letters, digits, '.', '_', '-', '^' or '=' (not starting with '.')"
        ));
    }
    Ok(())
}

impl SynthSpec {
    /// Checks the sizes before anything is allocated, and the benchmark's name.
    ///
    /// # Errors
    /// A message naming the option.
    pub fn check(&self) -> Result<(), String> {
        if self.symbols == 0 || self.days == 0 {
            return Err("--symbols and --days must be at least 1".into());
        }
        if self.days > MAX_DAYS {
            return Err(format!(
                "--days {}: at most {MAX_DAYS} sessions (later dates do not fit nanosecond timestamps)",
                self.days
            ));
        }
        let per_day = match self.frequency {
            Frequency::Daily => 1,
            Frequency::Minutes(m) => (390 / m.clamp(1, 390)) as usize,
        };
        let bars = (self.symbols + 1).saturating_mul(self.days).saturating_mul(per_day);
        if bars > MAX_BARS {
            return Err(format!(
                "--symbols {} x --days {} x {per_day} bars a day = {bars} bars: at most {MAX_BARS} are generated at once",
                self.symbols, self.days
            ));
        }
        check_symbol(&self.benchmark).map_err(|e| format!("--benchmark: {e}"))
    }
}

/// SplitMix64: tiny, fast and fully specified.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare: None,
        }
    }
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        if let Some(v) = self.spare.take() {
            return v;
        }
        let (u1, u2) = (self.uniform(), self.uniform());
        let r = (-2.0 * u1.ln()).sqrt();
        let t = std::f64::consts::TAU * u2;
        self.spare = Some(r * t.sin());
        r * t.cos()
    }
}

/// One generated bar: local timestamp text and OHLCV.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthBar {
    pub time: String,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: u64,
}

/// The generated market: per-symbol bars, the regime path and the planted latent.
#[derive(Clone, Debug)]
pub struct SynthMarket {
    pub symbols: Vec<String>,
    pub bars: Vec<Vec<SynthBar>>,
    /// Regime index per bar: 0 bull-calm, 1 bull-volatile, 2 bear-calm, 3 bear-volatile.
    pub regimes: Vec<u8>,
    /// Latent `a_i,t` per stock and bar (benchmark excluded): what the signal plants.
    pub latent: Vec<Vec<f64>>,
}

const REGIME_DRIFT: [f64; 4] = [0.15, 0.10, -0.20, -0.30];
const REGIME_VOL: [f64; 4] = [0.12, 0.28, 0.14, 0.35];

fn business_days(n: usize) -> Vec<NaiveDate> {
    let mut d = NaiveDate::from_ymd_opt(2015, 1, 2).unwrap_or_default();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        if !matches!(d.weekday(), Weekday::Sat | Weekday::Sun) {
            out.push(d);
        }
        d += Duration::days(1);
    }
    out
}

fn bar_times(spec: &SynthSpec) -> Vec<String> {
    let days = business_days(spec.days);
    match spec.frequency {
        Frequency::Daily => days.iter().map(|d| d.format("%Y-%m-%d").to_string()).collect(),
        Frequency::Minutes(m) => {
            let m = m.clamp(1, 390);
            let open = NaiveTime::from_hms_opt(9, 30, 0).unwrap_or_default();
            let per_day = 390 / m;
            let mut out = Vec::with_capacity(days.len() * per_day as usize);
            for d in days {
                for k in 1..=per_day {
                    let t = open + Duration::minutes(i64::from(k * m));
                    out.push(format!("{} {}", d.format("%Y-%m-%d"), t.format("%H:%M:%S")));
                }
            }
            out
        }
    }
}

fn round2(x: f64) -> f64 {
    ((x * 100.0).round() / 100.0).max(0.01)
}

/// Generates the market in memory.
pub fn generate(spec: &SynthSpec) -> SynthMarket {
    let times = bar_times(spec);
    let n_bars = times.len();
    let bars_per_day = match spec.frequency {
        Frequency::Daily => 1.0,
        Frequency::Minutes(m) => f64::from(390 / m.clamp(1, 390)),
    };
    let dt = 1.0 / (252.0 * bars_per_day);
    let mut rng = Rng::new(spec.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x6B61_6972_6F73);

    // Regime path and market factor.
    let stay = 1.0 - 1.0 / (120.0 * bars_per_day);
    let mut regime = 0u8;
    let mut regimes = Vec::with_capacity(n_bars);
    let mut market = Vec::with_capacity(n_bars);
    for _ in 0..n_bars {
        if rng.uniform() > stay {
            regime = (regime + 1 + (rng.next_u64() % 3) as u8) % 4;
        }
        let (mu, vol) = (REGIME_DRIFT[regime as usize], REGIME_VOL[regime as usize]);
        market.push((mu - 0.5 * vol * vol) * dt + vol * dt.sqrt() * rng.normal());
        regimes.push(regime);
    }

    let kappa = spec.kappa / bars_per_day;
    let rho: f64 = 1.0 - 0.03 / bars_per_day;
    let innov = (1.0 - rho * rho).sqrt();
    let mut symbols = Vec::with_capacity(spec.symbols + 1);
    let mut all_bars = Vec::with_capacity(spec.symbols + 1);
    let mut latent = Vec::with_capacity(spec.symbols);
    for i in 0..=spec.symbols {
        let is_bench = i == spec.symbols;
        let mut r = Rng::new(spec.seed.wrapping_mul(1_000_003).wrapping_add(i as u64 + 1));
        let beta = if is_bench { 1.0 } else { r.range(0.6, 1.4) };
        let idio = if is_bench { 0.01 } else { r.range(0.15, 0.40) };
        let s0 = if is_bench { 200.0 } else { r.range(20.0, 200.0) };
        let base_vol = if is_bench { 5e7 } else { r.range(2e5, 5e6) } / bars_per_day;
        let isd = idio * dt.sqrt();
        let mut a = r.normal();
        let mut prev = s0;
        let mut lat = Vec::with_capacity(n_bars);
        let mut bars = Vec::with_capacity(n_bars);
        for (t, time) in times.iter().enumerate() {
            let alpha = if is_bench { 0.0 } else { kappa * a };
            let ret = beta * market[t] + alpha - 0.5 * isd * isd + isd * r.normal();
            let open = prev * (0.3 * isd * r.normal()).exp();
            let close = prev * ret.exp();
            let hi = open.max(close) * (0.5 * isd * r.normal()).abs().exp();
            let lo = open.min(close) * (-(0.5 * isd * r.normal()).abs()).exp();
            let volume = (base_vol * (0.4 * r.normal() + 0.3 * a.abs()).exp()).max(1.0) as u64;
            let (o, c) = (round2(open), round2(close));
            bars.push(SynthBar {
                time: time.clone(),
                open: o,
                high: round2(hi).max(o).max(c),
                low: round2(lo).min(o).min(c).max(0.01),
                close: c,
                volume,
            });
            lat.push(a);
            a = rho * a + innov * r.normal();
            prev = close;
        }
        if is_bench {
            symbols.push(spec.benchmark.clone());
        } else {
            symbols.push(format!("SYN{i:03}"));
            latent.push(lat);
        }
        all_bars.push(bars);
    }
    SynthMarket {
        symbols,
        bars: all_bars,
        regimes,
        latent,
    }
}

/// Generates the market and writes `SYMBOL.csv` files and `MANIFEST.json` into `dir`.
///
/// # Errors
/// A bad spec ([`SynthSpec::check`]), or I/O errors creating the directory or writing a file.
pub fn write_csv_dir(spec: &SynthSpec, dir: &Path) -> std::io::Result<SynthMarket> {
    spec.check()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    std::fs::create_dir_all(dir)?;
    let market = generate(spec);
    for (symbol, bars) in market.symbols.iter().zip(&market.bars) {
        let mut s = String::with_capacity(bars.len() * 48 + 40);
        s.push_str("date,open,high,low,close,volume\n");
        for b in bars {
            let _ = writeln!(
                s,
                "{},{:.2},{:.2},{:.2},{:.2},{}",
                b.time, b.open, b.high, b.low, b.close, b.volume
            );
        }
        std::fs::write(dir.join(format!("{symbol}.csv")), s)?;
    }
    let manifest = serde_json::json!({ "generator": "kairos data synth", "spec": spec });
    std::fs::write(
        dir.join("MANIFEST.json"),
        serde_json::to_string_pretty(&manifest)? + "\n",
    )?;
    Ok(market)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_market_other_seed_other_market() {
        let spec = SynthSpec {
            symbols: 3,
            days: 50,
            ..SynthSpec::default()
        };
        assert_eq!(generate(&spec).bars, generate(&spec).bars);
        let other = SynthSpec {
            seed: 7,
            ..spec.clone()
        };
        assert_ne!(generate(&spec).bars, generate(&other).bars);
    }

    #[test]
    fn bars_are_consistent() {
        let spec = SynthSpec {
            symbols: 5,
            days: 300,
            ..SynthSpec::default()
        };
        for bars in generate(&spec).bars {
            for b in bars {
                assert!(b.low > 0.0 && b.low <= b.open.min(b.close) && b.high >= b.open.max(b.close));
            }
        }
    }
}
