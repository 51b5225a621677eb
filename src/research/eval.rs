//! Out-of-sample figures: RMSE, directional accuracy, and rank IC (Spearman correlation of
//! predictions and labels across symbols on each date: mean and t-statistic).

pub use crate::model::meta::Evaluation;
use std::collections::BTreeMap;

/// One prediction with its label.
#[derive(Clone, Copy, Debug)]
pub struct Scored {
    pub ts: i64,
    pub symbol: usize,
    pub pred: f64,
    pub label: f64,
}

fn ranks(v: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation; `None` when a side is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// Spearman rank correlation (average ranks for ties).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    pearson(&ranks(x), &ranks(y))
}

/// Evaluates predictions; rank IC uses dates with at least 3 symbols.
pub fn evaluate(scored: &[Scored]) -> Evaluation {
    if scored.is_empty() {
        return Evaluation::default();
    }
    let n = scored.len();
    let mse = scored.iter().map(|s| (s.pred - s.label).powi(2)).sum::<f64>() / n as f64;
    let hits = scored.iter().filter(|s| (s.pred > 0.0) == (s.label > 0.0)).count();
    let mut by_date: BTreeMap<i64, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for s in scored {
        let e = by_date.entry(s.ts).or_default();
        e.0.push(s.pred);
        e.1.push(s.label);
    }
    let ics: Vec<f64> = by_date
        .values()
        .filter(|(p, _)| p.len() >= 3)
        .filter_map(|(p, l)| spearman(p, l))
        .collect();
    let m = ics.iter().sum::<f64>() / ics.len().max(1) as f64;
    let sd = if ics.len() > 1 {
        (ics.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (ics.len() - 1) as f64).sqrt()
    } else {
        0.0
    };
    Evaluation {
        n,
        rmse: mse.sqrt(),
        directional_accuracy: hits as f64 / n as f64,
        rank_ic_mean: m,
        rank_ic_t: if sd > 0.0 {
            m / sd * (ics.len() as f64).sqrt()
        } else {
            0.0
        },
        dates: ics.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_with_ties_and_figures() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 5.0]), vec![2.0, 3.5, 3.5, 1.0]);
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]).unwrap_or(0.0) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]).unwrap_or(0.0) + 1.0).abs() < 1e-12);
        let s: Vec<Scored> = (0..6)
            .map(|i| Scored {
                ts: i / 3,
                symbol: (i % 3) as usize,
                pred: (i % 3) as f64 - 1.0,
                label: (i % 3) as f64 - 0.5,
            })
            .collect();
        let e = evaluate(&s);
        assert_eq!(e.dates, 2);
        assert!((e.rank_ic_mean - 1.0).abs() < 1e-12);
        assert!((e.rmse - 0.5).abs() < 1e-12);
        // pred -1,0,1 vs label -0.5,0.5,1.5: signs agree for the first and last (0 > 0 is false, 0.5 > 0 true).
        assert!((e.directional_accuracy - 2.0 / 3.0).abs() < 1e-12);
    }
}
