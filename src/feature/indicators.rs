//! Incremental indicators: each update is O(1) (amortized for the rolling maximum), and a value
//! is `None` until its inputs exist.

use std::collections::VecDeque;

/// A fixed-window ring buffer of `f64`.
#[derive(Clone, Debug)]
pub struct Ring {
    buf: Vec<f64>,
    head: usize,
    len: usize,
}

impl Ring {
    pub fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)],
            head: 0,
            len: 0,
        }
    }
    /// Appends `x`; returns the value it evicts once full.
    pub fn push(&mut self, x: f64) -> Option<f64> {
        let cap = self.buf.len();
        let out = (self.len == cap).then(|| self.buf[self.head]);
        self.buf[self.head] = x;
        self.head = (self.head + 1) % cap;
        self.len = (self.len + 1).min(cap);
        out
    }
    /// The `k`-th most recent value (0 = newest).
    pub fn back(&self, k: usize) -> Option<f64> {
        (k < self.len).then(|| {
            let cap = self.buf.len();
            self.buf[(self.head + cap - 1 - k) % cap]
        })
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }
}

/// Rolling mean and variance over a fixed window: sliding Welford updates, refreshed by an
/// exact two-pass computation every `window` pushes, so rounding never accumulates beyond one
/// window (amortized O(1) per update).
#[derive(Clone, Debug)]
pub struct Rolling {
    ring: Ring,
    mean: f64,
    m2: f64,
    since_refresh: usize,
}

impl Rolling {
    pub fn new(window: usize) -> Self {
        Self {
            ring: Ring::new(window),
            mean: 0.0,
            m2: 0.0,
            since_refresh: 0,
        }
    }

    fn refresh(&mut self) {
        let n = self.ring.len();
        let mean = (0..n).filter_map(|k| self.ring.back(k)).sum::<f64>() / n as f64;
        self.m2 = (0..n)
            .filter_map(|k| self.ring.back(k))
            .map(|x| (x - mean) * (x - mean))
            .sum();
        self.mean = mean;
        self.since_refresh = 0;
    }

    pub fn push(&mut self, x: f64) {
        self.since_refresh += 1;
        if let Some(y) = self.ring.push(x) {
            // Replace y by x in a window of constant size n.
            let n = self.ring.len() as f64;
            let old_mean = self.mean;
            self.mean += (x - y) / n;
            self.m2 += (x - y) * (x - self.mean + y - old_mean);
        } else {
            let n = self.ring.len() as f64;
            let d = x - self.mean;
            self.mean += d / n;
            self.m2 += d * (x - self.mean);
        }
        if self.since_refresh >= self.ring.buf.len() && self.ring.is_full() {
            self.refresh();
        }
        if self.m2 < 0.0 {
            self.m2 = 0.0;
        }
    }
    pub fn full(&self) -> bool {
        self.ring.is_full()
    }
    /// Mean of a full window.
    pub fn mean(&self) -> Option<f64> {
        self.full().then_some(self.mean)
    }
    /// Population standard deviation of a full window.
    pub fn std_pop(&self) -> Option<f64> {
        self.full().then(|| (self.m2 / self.ring.len() as f64).sqrt())
    }
    /// Sample standard deviation of a full window.
    pub fn std_sample(&self) -> Option<f64> {
        (self.full() && self.ring.len() > 1).then(|| (self.m2 / (self.ring.len() - 1) as f64).sqrt())
    }
}

/// Exponential moving average with `alpha = 2 / (span + 1)`, started at the first value.
#[derive(Clone, Debug)]
pub struct Ema {
    alpha: f64,
    value: Option<f64>,
}

impl Ema {
    pub fn span(span: usize) -> Self {
        Self {
            alpha: 2.0 / (span as f64 + 1.0),
            value: None,
        }
    }
    pub fn push(&mut self, x: f64) -> f64 {
        let v = match self.value {
            None => x,
            Some(v) => self.alpha * x + (1.0 - self.alpha) * v,
        };
        self.value = Some(v);
        v
    }
    pub fn value(&self) -> Option<f64> {
        self.value
    }
}

/// Wilder's RSI as TA-Lib defines it: the first average gain and loss are simple means of the
/// first `n` changes, then smoothed with `alpha = 1/n`; `100 * gain / (gain + loss)`, or 0 when
/// both are 0.
#[derive(Clone, Debug)]
pub struct Rsi {
    n: usize,
    prev: Option<f64>,
    changes: usize,
    gain: f64,
    loss: f64,
}

impl Rsi {
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1),
            prev: None,
            changes: 0,
            gain: 0.0,
            loss: 0.0,
        }
    }
    /// Updates with a close; returns the RSI (0..100) once `n` changes exist.
    pub fn push(&mut self, close: f64) -> Option<f64> {
        let prev = self.prev.replace(close)?;
        let ch = close - prev;
        let (g, l) = (ch.max(0.0), (-ch).max(0.0));
        let n = self.n as f64;
        self.changes += 1;
        if self.changes <= self.n {
            self.gain += g;
            self.loss += l;
            if self.changes < self.n {
                return None;
            }
            self.gain /= n;
            self.loss /= n;
        } else {
            self.gain = (self.gain * (n - 1.0) + g) / n;
            self.loss = (self.loss * (n - 1.0) + l) / n;
        }
        let total = self.gain + self.loss;
        Some(if total != 0.0 { 100.0 * self.gain / total } else { 0.0 })
    }
}

/// Wilder's average true range (TA-Lib seeding: the mean of the first `n` true ranges, which
/// start at the second bar).
#[derive(Clone, Debug)]
pub struct Atr {
    n: usize,
    prev_close: Option<f64>,
    count: usize,
    value: f64,
}

impl Atr {
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1),
            prev_close: None,
            count: 0,
            value: 0.0,
        }
    }
    pub fn push(&mut self, high: f64, low: f64, close: f64) -> Option<f64> {
        let pc = self.prev_close.replace(close)?;
        let tr = (high - low).max((high - pc).abs()).max((low - pc).abs());
        let n = self.n as f64;
        self.count += 1;
        if self.count <= self.n {
            self.value += tr;
            if self.count < self.n {
                return None;
            }
            self.value /= n;
        } else {
            self.value = (self.value * (n - 1.0) + tr) / n;
        }
        Some(self.value)
    }
}

/// Drawdown from the highest close of the last `n` bars: `close / max - 1` (<= 0).
#[derive(Clone, Debug)]
pub struct RollingDrawdown {
    n: usize,
    t: usize,
    /// (index, close), closes decreasing: the front is the window maximum.
    maxima: VecDeque<(usize, f64)>,
}

impl RollingDrawdown {
    pub fn new(n: usize) -> Self {
        Self {
            n: n.max(1),
            t: 0,
            maxima: VecDeque::new(),
        }
    }
    pub fn push(&mut self, close: f64) -> f64 {
        while self.maxima.back().is_some_and(|(_, c)| *c <= close) {
            self.maxima.pop_back();
        }
        self.maxima.push_back((self.t, close));
        while self.maxima.front().is_some_and(|(i, _)| *i + self.n <= self.t) {
            self.maxima.pop_front();
        }
        self.t += 1;
        let max = self.maxima.front().map_or(close, |m| m.1);
        close / max - 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_std(v: &[f64], ddof: f64) -> f64 {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - ddof)).sqrt()
    }

    #[test]
    fn rolling_matches_fresh_computation() {
        let xs: Vec<f64> = (0..500)
            .map(|i| 100.0 + ((i * 37) % 17) as f64 * 0.31 - (i as f64).sin())
            .collect();
        let mut r = Rolling::new(20);
        for (i, &x) in xs.iter().enumerate() {
            r.push(x);
            if i >= 19 {
                let w = &xs[i - 19..=i];
                let m = w.iter().sum::<f64>() / 20.0;
                assert!((r.mean().unwrap_or(f64::NAN) - m).abs() < 1e-11);
                assert!((r.std_pop().unwrap_or(f64::NAN) - naive_std(w, 0.0)).abs() < 1e-10);
                assert!((r.std_sample().unwrap_or(f64::NAN) - naive_std(w, 1.0)).abs() < 1e-10);
            } else {
                assert!(r.mean().is_none());
            }
        }
    }

    #[test]
    fn rsi_seeds_with_simple_means_then_smooths() {
        // Changes +1, -1, +2 with n = 2: first averages (1 + 0)/2 and (0 + 1)/2 -> 50;
        // then gain (0.5 + 2)/2 = 1.25, loss (0.5 + 0)/2 = 0.25 -> 100 * 1.25 / 1.5.
        let mut r = Rsi::new(2);
        assert_eq!(r.push(10.0), None);
        assert_eq!(r.push(11.0), None);
        assert_eq!(r.push(10.0), Some(50.0));
        let v = r.push(12.0).unwrap_or(f64::NAN);
        assert!((v - 100.0 * 1.25 / 1.5).abs() < 1e-12);
        let mut flat = Rsi::new(2);
        for _ in 0..4 {
            flat.push(5.0);
        }
        assert_eq!(flat.push(5.0), Some(0.0));
    }

    #[test]
    fn drawdown_and_atr() {
        let mut d = RollingDrawdown::new(3);
        let out: Vec<f64> = [10.0, 12.0, 9.0, 9.0, 8.0].iter().map(|&c| d.push(c)).collect();
        assert_eq!(out[2], 9.0 / 12.0 - 1.0);
        assert_eq!(out[4], 8.0 / 9.0 - 1.0, "12 left the window");
        let mut a = Atr::new(2);
        assert_eq!(a.push(11.0, 9.0, 10.0), None);
        assert_eq!(a.push(12.0, 10.0, 11.0), None); // TR 2
        assert_eq!(a.push(11.5, 10.5, 11.0), Some(1.5)); // TR 1 -> mean 1.5
        assert_eq!(a.push(14.0, 11.0, 13.0), Some(2.25)); // TR 3 -> (1.5 + 3) / 2
    }
}
