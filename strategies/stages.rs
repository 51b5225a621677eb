//! Building blocks of strategies: small synchronous types a strategy (built-in or a user's) is
//! assembled from. Each reads only what it is given, so a decision at `t` that feeds them data
//! up to `t` sees nothing after it.
//!
//! | stage | block | does |
//! |---|---|---|
//! | history | [`Closes`] | trailing closes per instrument (a ring of `n + 1`) |
//! | regime | [`RegimeModel`] → [`Regime`] | six regimes (bear / neutral / bull x low / high volatility) from a series' trailing return and annualized volatility |
//! | regime | [`trend_up`] | close above its N-bar simple moving average |
//! | stops | [`StopRule`] | stop-loss / take-profit as fractions of the entry: checked at the close, or as a resting [`Bracket`] (one-cancels-other at the broker) |
//! | stops | [`TrailingStop`] | exit when the close falls a fraction below the highest close since entry |
//! | selection | [`top_k_hysteresis`] | keep held names ranked within `k + buffer`, enter only within the top `k` |
//! | selection | [`above_threshold`] | names whose score exceeds a threshold |
//! | selection | [`Review`] | each position reviewed every `n` bars after its entry |
//! | sizing | [`Weighting`] | equal, rank (best ranked heaviest) or inverse-volatility weights |
//! | risk | [`realized_vol`], [`VolTarget`] | trailing annualized volatility; exposure scaled to a target, capped by a leverage limit |
//! | risk | [`portfolio_vol`] | the trailing volatility of a weighted basket |
//! | sizing | [`target_quantity`] | a weight of equity at a price, in whole lots (equity at the decision's close) |
//! | sizing | [`crate::types::OrderRequest::equity_fraction`] | a fraction of equity valued at the open the order executes at, sized by the broker |

use crate::types::{Bracket, Decimal, InstrumentId, Side};
use std::collections::{HashMap, VecDeque};

/// Bars per year, for annualizing daily volatility.
pub const BARS_PER_YEAR: f64 = 252.0;

/// Trailing closes per instrument: the last `n + 1` (enough for `n` returns).
#[derive(Clone, Debug, Default)]
pub struct Closes {
    n: usize,
    closes: Vec<VecDeque<f64>>,
}

impl Closes {
    pub fn new(n: usize) -> Self {
        Self { n, closes: Vec::new() }
    }
    /// Adds instrument `i`'s close.
    pub fn push(&mut self, i: usize, close: f64) {
        if self.closes.len() <= i {
            self.closes.resize(i + 1, VecDeque::new());
        }
        let c = &mut self.closes[i];
        if c.len() == self.n + 1 {
            c.pop_front();
        }
        c.push_back(close);
    }
    /// Instrument `i`'s closes, oldest first (at most `n + 1`).
    pub fn of(&self, i: usize) -> Vec<f64> {
        self.closes
            .get(i)
            .map(|c| c.iter().copied().collect())
            .unwrap_or_default()
    }
    /// True when instrument `i` has `n + 1` closes.
    pub fn full(&self, i: usize) -> bool {
        self.closes.get(i).is_some_and(|c| c.len() == self.n + 1)
    }
}

/// The six market regimes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Regime {
    BearLowVol,
    BearHighVol,
    NeutralLowVol,
    NeutralHighVol,
    BullLowVol,
    BullHighVol,
}

impl Regime {
    pub fn is_bearish(self) -> bool {
        matches!(self, Regime::BearLowVol | Regime::BearHighVol)
    }
    pub fn is_bullish(self) -> bool {
        matches!(self, Regime::BullLowVol | Regime::BullHighVol)
    }
    pub fn is_high_vol(self) -> bool {
        matches!(self, Regime::BearHighVol | Regime::NeutralHighVol | Regime::BullHighVol)
    }
}

/// Classifies a series by its trailing `lookback`-bar return (bear below `bear_return`, bull
/// above `bull_return`) and its annualized volatility of daily returns (high above `high_vol`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegimeModel {
    pub lookback: usize,
    pub bull_return: f64,
    pub bear_return: f64,
    pub high_vol: f64,
}

impl Default for RegimeModel {
    fn default() -> Self {
        Self {
            lookback: 60,
            bull_return: 0.05,
            bear_return: -0.05,
            high_vol: 0.25,
        }
    }
}

impl RegimeModel {
    /// The regime at the last of `closes` (oldest first); `None` with fewer than `lookback + 1`.
    pub fn classify(&self, closes: &[f64]) -> Option<Regime> {
        if closes.len() < self.lookback + 1 {
            return None;
        }
        let w = &closes[closes.len() - self.lookback - 1..];
        let ret = w[w.len() - 1] / w[0] - 1.0;
        let high = realized_vol(w)? > self.high_vol;
        Some(match (ret < self.bear_return, ret > self.bull_return, high) {
            (true, _, false) => Regime::BearLowVol,
            (true, _, true) => Regime::BearHighVol,
            (false, true, false) => Regime::BullLowVol,
            (false, true, true) => Regime::BullHighVol,
            (false, false, false) => Regime::NeutralLowVol,
            (false, false, true) => Regime::NeutralHighVol,
        })
    }
}

/// Whether the last close is above the mean of the last `n` closes; `None` with fewer.
pub fn trend_up(closes: &[f64], n: usize) -> Option<bool> {
    if n == 0 || closes.len() < n {
        return None;
    }
    let w = &closes[closes.len() - n..];
    let sma = w.iter().sum::<f64>() / n as f64;
    Some(w[n - 1] > sma)
}

/// Annualized volatility of the daily log returns of `closes`; `None` with fewer than 3.
pub fn realized_vol(closes: &[f64]) -> Option<f64> {
    if closes.len() < 3 {
        return None;
    }
    let r: Vec<f64> = closes.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
    Some(std(&r) * BARS_PER_YEAR.sqrt())
}

fn std(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Annualized volatility of a basket: `weights` over instruments whose closes (same length,
/// oldest first) are `closes`; its daily return is the weighted sum of theirs.
pub fn portfolio_vol(weights: &[f64], closes: &[Vec<f64>]) -> Option<f64> {
    let len = closes.iter().map(Vec::len).min()?;
    if len < 3 || weights.len() != closes.len() {
        return None;
    }
    let r: Vec<f64> = (1..len)
        .map(|t| {
            weights
                .iter()
                .zip(closes)
                .map(|(w, c)| w * (c[c.len() - len + t] / c[c.len() - len + t - 1] - 1.0))
                .sum()
        })
        .collect();
    Some(std(&r) * BARS_PER_YEAR.sqrt())
}

/// Stop-loss and take-profit as fractions of the entry price (0: off).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StopRule {
    pub stop_loss: f64,
    pub take_profit: f64,
}

impl StopRule {
    /// Checked at the close: a long entered at `entry` exits at `close` (1e-9 tolerance, as
    /// SPEC.md S2).
    pub fn hit(&self, entry: f64, close: f64) -> bool {
        (self.stop_loss > 0.0 && close <= entry * (1.0 - self.stop_loss) + 1e-9)
            || (self.take_profit > 0.0 && close >= entry * (1.0 + self.take_profit) - 1e-9)
    }
    /// As resting legs at the broker for an entry at about `price` on `side`, on the `tick`
    /// (the stop rounded away from the price, the target toward it); `None` unless both are on.
    pub fn bracket(&self, side: Side, price: Decimal, tick: Decimal) -> Option<Bracket> {
        if self.stop_loss <= 0.0 || self.take_profit <= 0.0 {
            return None;
        }
        let f = |x: f64| Decimal::from_f64_retain(x).unwrap_or_default();
        let (sl, tp) = match side {
            Side::Buy => (Decimal::ONE - f(self.stop_loss), Decimal::ONE + f(self.take_profit)),
            Side::Sell => (Decimal::ONE + f(self.stop_loss), Decimal::ONE - f(self.take_profit)),
        };
        let on_tick = |x: Decimal, up: bool| {
            let q = x / tick;
            (if up { q.ceil() } else { q.floor() }) * tick
        };
        let buy = side == Side::Buy;
        Some(Bracket {
            stop_loss: on_tick(price * sl, !buy),
            take_profit: on_tick(price * tp, !buy),
            stop_loss_limit: None,
        })
    }
}

/// Exit a long when its close falls `frac` below the highest close since it was entered.
#[derive(Clone, Debug, Default)]
pub struct TrailingStop {
    pub frac: f64,
    peaks: HashMap<InstrumentId, f64>,
}

impl TrailingStop {
    pub fn new(frac: f64) -> Self {
        Self {
            frac,
            peaks: HashMap::new(),
        }
    }
    /// Updates the peak of a held name with its close; true when the stop is hit. A name not
    /// held forgets its peak.
    pub fn update(&mut self, id: InstrumentId, close: f64, held: bool) -> bool {
        if !held || self.frac <= 0.0 {
            self.peaks.remove(&id);
            return false;
        }
        let peak = self.peaks.entry(id).or_insert(close);
        *peak = peak.max(close);
        close <= *peak * (1.0 - self.frac) + 1e-12
    }
}

/// Top-K with a hysteresis buffer: `ranked` best first; held names stay while ranked within
/// `k + buffer`, then the best others fill up to `k`. Returns the selection, best first.
pub fn top_k_hysteresis(
    ranked: &[(f64, InstrumentId)],
    held: &[InstrumentId],
    k: usize,
    buffer: usize,
) -> Vec<InstrumentId> {
    let mut out: Vec<InstrumentId> = ranked
        .iter()
        .take(k + buffer)
        .map(|(_, id)| *id)
        .filter(|id| held.contains(id))
        .take(k)
        .collect();
    for (_, id) in ranked.iter().take(k) {
        if out.len() >= k {
            break;
        }
        if !out.contains(id) {
            out.push(*id);
        }
    }
    let pos = |id: &InstrumentId| ranked.iter().position(|(_, x)| x == id);
    out.sort_by_key(pos);
    out
}

/// The names whose score exceeds `x`, best first.
pub fn above_threshold(ranked: &[(f64, InstrumentId)], x: f64) -> Vec<InstrumentId> {
    ranked.iter().filter(|(s, _)| *s > x).map(|(_, id)| *id).collect()
}

/// Each position reviewed every `every` bars after its entry.
#[derive(Clone, Debug, Default)]
pub struct Review {
    pub every: u64,
    entered: HashMap<InstrumentId, u64>,
}

impl Review {
    pub fn new(every: u64) -> Self {
        Self {
            every: every.max(1),
            entered: HashMap::new(),
        }
    }
    pub fn entered(&mut self, id: InstrumentId, step: u64) {
        self.entered.insert(id, step);
    }
    pub fn exited(&mut self, id: InstrumentId) {
        self.entered.remove(&id);
    }
    /// Whether the name's entry is known.
    pub fn knows(&self, id: InstrumentId) -> bool {
        self.entered.contains_key(&id)
    }
    /// Whether a held name is due for review at `step`.
    pub fn due(&self, id: InstrumentId, step: u64) -> bool {
        self.entered
            .get(&id)
            .is_some_and(|&e| step > e && (step - e) % self.every == 0)
    }
}

/// How a selection (best first) is weighted; weights sum to 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    Equal,
    /// The i-th best of n weighs `n - i` (then normalized).
    Rank,
    /// Proportional to 1 / trailing volatility.
    InverseVol,
}

impl Weighting {
    /// Weights of `n` names, best first; `vols` (same order) for inverse volatility.
    pub fn weights(self, n: usize, vols: &[f64]) -> Vec<f64> {
        if n == 0 {
            return Vec::new();
        }
        let raw: Vec<f64> = match self {
            Weighting::Equal => vec![1.0; n],
            Weighting::Rank => (0..n).map(|i| (n - i) as f64).collect(),
            Weighting::InverseVol => vols.iter().map(|v| if *v > 0.0 { 1.0 / v } else { 0.0 }).collect(),
        };
        let total: f64 = raw.iter().sum();
        if total <= 0.0 {
            return vec![1.0 / n as f64; n];
        }
        raw.iter().map(|w| w / total).collect()
    }
}

/// Scales exposure so that a basket of trailing volatility `vol` runs at `target` (annual),
/// never above `max_leverage`; `target = 0` turns it off (scale 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VolTarget {
    pub target: f64,
    pub max_leverage: f64,
}

impl VolTarget {
    pub fn scale(&self, vol: Option<f64>) -> f64 {
        match vol {
            _ if self.target <= 0.0 => 1.0,
            Some(v) if v > 0.0 => (self.target / v).min(self.max_leverage),
            _ => 1.0f64.min(self.max_leverage),
        }
    }
}

/// A `weight` of `equity` at `price`, in whole lots (rounded down).
pub fn target_quantity(weight: f64, equity: Decimal, price: Decimal, lot: Decimal) -> Decimal {
    if weight <= 0.0 || price <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    let w = Decimal::from_f64_retain(weight).unwrap_or_default();
    super::whole_lots(equity * w / price, lot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn id(i: u32) -> InstrumentId {
        InstrumentId(i)
    }

    #[test]
    fn closes_keep_n_plus_one() {
        let mut c = Closes::new(2);
        for x in [1.0, 2.0, 3.0, 4.0] {
            c.push(1, x);
        }
        assert_eq!(c.of(1), vec![2.0, 3.0, 4.0]);
        assert!(c.full(1) && !c.full(0));
    }

    #[test]
    fn six_regimes_from_return_and_volatility() {
        let m = RegimeModel {
            lookback: 4,
            bull_return: 0.05,
            bear_return: -0.05,
            high_vol: 0.5,
        };
        assert_eq!(
            m.classify(&[100.0, 101.0, 102.0, 104.0, 106.0]),
            Some(Regime::BullLowVol)
        );
        assert_eq!(m.classify(&[100.0, 99.0, 98.0, 96.0, 94.0]), Some(Regime::BearLowVol));
        assert_eq!(
            m.classify(&[100.0, 100.5, 100.0, 100.5, 101.0]),
            Some(Regime::NeutralLowVol)
        );
        assert_eq!(
            m.classify(&[100.0, 130.0, 90.0, 120.0, 110.0]),
            Some(Regime::BullHighVol)
        );
        assert_eq!(m.classify(&[100.0, 70.0, 110.0, 80.0, 90.0]), Some(Regime::BearHighVol));
        assert_eq!(
            m.classify(&[100.0, 130.0, 80.0, 120.0, 101.0]),
            Some(Regime::NeutralHighVol)
        );
        assert_eq!(m.classify(&[100.0, 101.0]), None);
        // Only the last lookback + 1 closes count: a crash before them is not seen.
        assert_eq!(
            m.classify(&[500.0, 100.0, 101.0, 102.0, 104.0, 106.0]),
            Some(Regime::BullLowVol)
        );
        assert!(
            Regime::BearHighVol.is_bearish() && Regime::BullLowVol.is_bullish() && Regime::NeutralHighVol.is_high_vol()
        );
    }

    #[test]
    fn trend_is_the_close_against_its_sma() {
        assert_eq!(trend_up(&[1.0, 2.0, 3.0], 3), Some(true));
        assert_eq!(trend_up(&[3.0, 2.0, 1.0], 3), Some(false));
        assert_eq!(trend_up(&[1.0, 2.0], 3), None);
    }

    #[test]
    fn stops_at_the_close_and_as_brackets() {
        let r = StopRule {
            stop_loss: 0.03,
            take_profit: 0.05,
        };
        assert!(r.hit(100.0, 97.0) && r.hit(100.0, 105.0) && !r.hit(100.0, 101.0));
        let b = r.bracket(Side::Buy, dec!(100.005), dec!(0.01)).expect("bracket");
        assert_eq!((b.stop_loss, b.take_profit), (dec!(97.00), dec!(105.00)));
        let s = r.bracket(Side::Sell, dec!(100), dec!(0.01)).expect("bracket");
        assert_eq!((s.stop_loss, s.take_profit), (dec!(103.00), dec!(95.00)));
        assert!(StopRule {
            stop_loss: 0.0,
            take_profit: 0.05
        }
        .bracket(Side::Buy, dec!(1), dec!(0.01))
        .is_none());
    }

    #[test]
    fn trailing_stop_follows_the_peak() {
        let mut t = TrailingStop::new(0.1);
        assert!(!t.update(id(1), 100.0, true));
        assert!(!t.update(id(1), 120.0, true));
        assert!(!t.update(id(1), 109.0, true));
        assert!(t.update(id(1), 108.0, true));
        // Not held: forgotten; a new entry starts from its own close.
        assert!(!t.update(id(1), 50.0, false));
        assert!(!t.update(id(1), 50.0, true));
    }

    #[test]
    fn top_k_keeps_held_names_within_the_buffer() {
        let ranked: Vec<(f64, InstrumentId)> = (0..8).map(|i| (8.0 - i as f64, id(i))).collect();
        // Held 5 (rank 6) stays with k = 3, buffer = 3; held 7 (rank 8) goes.
        assert_eq!(
            top_k_hysteresis(&ranked, &[id(5), id(7)], 3, 3),
            vec![id(0), id(1), id(5)]
        );
        assert_eq!(top_k_hysteresis(&ranked, &[], 3, 3), vec![id(0), id(1), id(2)]);
        // More held within the buffer than k: the best k of them.
        assert_eq!(
            top_k_hysteresis(&ranked, &[id(3), id(4), id(5), id(1)], 3, 3),
            vec![id(1), id(3), id(4)]
        );
        assert_eq!(above_threshold(&ranked, 6.5), vec![id(0), id(1)]);
    }

    #[test]
    fn review_every_n_bars_after_entry() {
        let mut r = Review::new(7);
        r.entered(id(2), 10);
        assert!(!r.due(id(2), 10) && !r.due(id(2), 16) && r.due(id(2), 17) && r.due(id(2), 24));
        r.exited(id(2));
        assert!(!r.due(id(2), 17));
    }

    #[test]
    fn weights_and_vol_targeting() {
        assert_eq!(Weighting::Equal.weights(4, &[]), vec![0.25; 4]);
        let w = Weighting::Rank.weights(3, &[]);
        assert!((w[0] - 0.5).abs() < 1e-12 && (w[2] - 1.0 / 6.0).abs() < 1e-12);
        let w = Weighting::InverseVol.weights(2, &[0.1, 0.3]);
        assert!((w[0] - 0.75).abs() < 1e-12);
        let v = VolTarget {
            target: 0.10,
            max_leverage: 1.5,
        };
        assert!((v.scale(Some(0.20)) - 0.5).abs() < 1e-12);
        assert!(
            (v.scale(Some(0.05)) - 1.5).abs() < 1e-12,
            "capped by the leverage limit"
        );
        assert_eq!(
            VolTarget {
                target: 0.0,
                max_leverage: 1.0
            }
            .scale(Some(0.5)),
            1.0
        );
        // A constant 1 % a day has no volatility; alternating +-1 % has about 16 % a year.
        let flat: Vec<f64> = (0..30).map(|i| 100.0 * 1.01f64.powi(i)).collect();
        assert!(realized_vol(&flat).expect("vol") < 1e-9);
        let alt: Vec<f64> = (0..31).map(|i| if i % 2 == 0 { 100.0 } else { 101.0 }).collect();
        let v = realized_vol(&alt).expect("vol");
        assert!(v > 0.15 && v < 0.17, "{v}");
        // A basket of an asset and its mirror has less volatility than either.
        let up: Vec<f64> = alt.clone();
        let down: Vec<f64> = alt.iter().map(|x| 201.0 - x).collect();
        let pv = portfolio_vol(&[0.5, 0.5], &[up, down]).expect("vol");
        assert!(pv < v / 10.0, "{pv}");
        assert_eq!(target_quantity(0.25, dec!(10000), dec!(33), dec!(10)), dec!(70));
    }
}
