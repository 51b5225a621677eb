//! The minimal single-threaded loops `kairos bench` compares the engine with, over the same
//! column arrays, and the minimal CSV parser the loader is measured against.
//!
//! The baselines implement SPEC.md S1 and S2 in plain `f64` with no actors, no decimals and no
//! outputs: the fastest honest way to compute the same decisions, so `engine / baseline` is the
//! price of the engine's guarantees.

use crate::data::MarketData;
use crate::strategies::{sma_cross, topk};

/// Result of a baseline loop.
#[derive(Clone, Copy, Debug)]
pub struct Baseline {
    pub final_equity: f64,
    pub fills: u64,
}

struct Arrays {
    open: Vec<Vec<f64>>,
    close: Vec<Vec<f64>>,
    /// Position in each series of the bar at each step, or `usize::MAX`.
    at: Vec<Vec<usize>>,
    tradable: Vec<bool>,
}

fn arrays(data: &MarketData) -> Arrays {
    let t = data.timestamps.len();
    let mut at = Vec::with_capacity(data.series.len());
    for s in &data.series {
        let mut v = vec![usize::MAX; t];
        for (k, &st) in s.step.iter().enumerate() {
            v[st as usize] = k;
        }
        at.push(v);
    }
    Arrays {
        open: data.series.iter().map(|s| s.opens_f64()).collect(),
        close: data.series.iter().map(|s| s.closes_f64()).collect(),
        at,
        tradable: data.instruments.iter().map(|i| i.tradable).collect(),
    }
}

/// Fills pending market orders at the open; returns the number of fills.
fn fill_at_open(
    a: &Arrays,
    t: usize,
    pending: &mut Vec<(usize, f64)>,
    cash: &mut f64,
    qty: &mut [f64],
    entry: &mut [f64],
    rate: f64,
) -> u64 {
    let mut n = 0;
    for (i, q) in pending.drain(..) {
        let k = a.at[i][t];
        if k == usize::MAX {
            continue;
        }
        let px = a.open[i][k];
        *cash -= q * px + rate * q.abs() * px;
        if q > 0.0 {
            entry[i] = (entry[i] * qty[i] + px * q) / (qty[i] + q);
        }
        qty[i] += q;
        if qty[i] == 0.0 {
            entry[i] = 0.0;
        }
        n += 1;
    }
    n
}

fn equity(a: &Arrays, t: usize, cash: f64, qty: &[f64], last: &mut [f64]) -> f64 {
    let mut e = cash;
    for i in 0..qty.len() {
        let k = a.at[i][t];
        if k != usize::MAX {
            last[i] = a.close[i][k];
        }
        if qty[i] != 0.0 {
            e += qty[i] * last[i];
        }
    }
    e
}

/// S2 `topk` over the raw arrays.
#[allow(clippy::needless_range_loop)]
pub fn baseline_topk(data: &MarketData, p: &topk::Params, cash0: f64, rate: f64) -> Baseline {
    let a = arrays(data);
    let n = a.close.len();
    let (mut cash, mut qty, mut entry, mut last) = (cash0, vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut pending: Vec<(usize, f64)> = Vec::new();
    let mut fills = 0;
    let mut seen = vec![0usize; n];
    let mut ranked: Vec<(f64, usize)> = Vec::with_capacity(n);
    let mut stopped = vec![false; n];
    let mut e = cash0;
    for t in 0..data.timestamps.len() {
        fills += fill_at_open(&a, t, &mut pending, &mut cash, &mut qty, &mut entry, rate);
        e = equity(&a, t, cash, &qty, &mut last);
        let (mut exits, mut sells, mut buys) = (Vec::new(), Vec::new(), Vec::new());
        stopped.iter_mut().for_each(|s| *s = false);
        for i in 0..n {
            let k = a.at[i][t];
            if k == usize::MAX {
                continue;
            }
            seen[i] += 1;
            if qty[i] > 0.0 {
                let c = a.close[i][k];
                if c <= entry[i] * (1.0 - p.stop_loss) + 1e-9 || c >= entry[i] * (1.0 + p.take_profit) - 1e-9 {
                    exits.push((i, -qty[i]));
                    stopped[i] = true;
                }
            }
        }
        if t >= p.lookback && (t as u64) % p.rebalance_every == 0 {
            ranked.clear();
            for i in 0..n {
                let k = a.at[i][t];
                if a.tradable[i] && k != usize::MAX && seen[i] > p.lookback {
                    ranked.push((a.close[i][k] / a.close[i][k - p.lookback] - 1.0, i));
                }
            }
            ranked.sort_unstable_by(|x, y| {
                y.0.partial_cmp(&x.0)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(x.1.cmp(&y.1))
            });
            let mut rank = vec![usize::MAX; n];
            for (r, &(_, i)) in ranked.iter().enumerate() {
                rank[i] = r + 1;
            }
            let mut target: Vec<usize> = (0..n)
                .filter(|&i| qty[i] > 0.0 && !stopped[i] && rank[i] <= p.band)
                .collect();
            for &(_, i) in ranked.iter().take(p.k) {
                if target.len() >= p.k {
                    break;
                }
                if !stopped[i] && !target.contains(&i) {
                    target.push(i);
                }
            }
            for i in 0..n {
                if qty[i] > 0.0 && !stopped[i] && !target.contains(&i) {
                    sells.push((i, -qty[i]));
                }
            }
            target.sort_unstable();
            for i in target {
                let c = a.close[i][a.at[i][t]];
                let d = (e / p.k as f64 / c).floor() - qty[i];
                if d < 0.0 {
                    sells.push((i, d));
                } else if d > 0.0 {
                    buys.push((i, d));
                }
            }
        }
        pending.extend(exits);
        pending.extend(sells);
        pending.extend(buys);
    }
    Baseline { final_equity: e, fills }
}

/// S1 `sma_cross` over the raw arrays.
#[allow(clippy::needless_range_loop)]
pub fn baseline_sma_cross(data: &MarketData, p: &sma_cross::Params, cash0: f64, rate: f64) -> Baseline {
    let a = arrays(data);
    let n = a.close.len();
    let tradable = a.tradable.iter().filter(|t| **t).count().max(1) as f64;
    let (mut cash, mut qty, mut entry, mut last) = (cash0, vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    let mut pending = Vec::new();
    let mut fills = 0;
    let mut seen = vec![0usize; n];
    let mut prev: Vec<Option<f64>> = vec![None; n];
    let mut e = cash0;
    for t in 0..data.timestamps.len() {
        fills += fill_at_open(&a, t, &mut pending, &mut cash, &mut qty, &mut entry, rate);
        e = equity(&a, t, cash, &qty, &mut last);
        for i in 0..n {
            let k = a.at[i][t];
            if k == usize::MAX || !a.tradable[i] {
                continue;
            }
            seen[i] += 1;
            if seen[i] < p.slow {
                continue;
            }
            let c = &a.close[i];
            let sf: f64 = c[k + 1 - p.fast..=k].iter().sum();
            let ss: f64 = c[k + 1 - p.slow..=k].iter().sum();
            let mut d = sf / p.fast as f64 - ss / p.slow as f64;
            if d.abs() < 1e-9 {
                d = 0.0;
            }
            if let Some(pd) = prev[i] {
                if pd <= 0.0 && d > 0.0 && qty[i] == 0.0 {
                    let q = (e / tradable / c[k]).floor();
                    if q > 0.0 {
                        pending.push((i, q));
                    }
                } else if pd >= 0.0 && d < 0.0 && qty[i] > 0.0 {
                    pending.push((i, -qty[i]));
                }
            }
            prev[i] = Some(d);
        }
    }
    Baseline { final_equity: e, fills }
}

/// The minimal single-threaded parser the loader is measured against: reads each `.csv` file of
/// `dir`, splits lines and fields, parses the date's year, month and day as integers and the
/// five numbers as `f64`. No validation, no exact decimals, no alignment. Returns the rows read
/// and a checksum (so nothing is optimized away).
pub fn minimal_parse(dir: &std::path::Path) -> std::io::Result<(usize, f64)> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("csv"))
        .collect();
    files.sort();
    let (mut rows, mut sum) = (0usize, 0.0f64);
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        for line in text.lines().skip(1) {
            let mut fields = line.split(',');
            let date = fields.next().unwrap_or("");
            for part in date.split('-') {
                sum += f64::from(part.parse::<u32>().unwrap_or(0));
            }
            for field in fields {
                sum += field.parse::<f64>().unwrap_or(0.0);
            }
            rows += 1;
        }
    }
    Ok((rows, sum))
}
