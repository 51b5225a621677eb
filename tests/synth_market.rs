//! The synthetic market has regimes and a weak, learnable cross-sectional signal.

use kairos::data::synth::{generate, SynthSpec};

fn spearman_free_ic(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

fn mean_t(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    (m, m / sd * n.sqrt())
}

#[test]
fn planted_signal_and_regimes() {
    let spec = SynthSpec {
        symbols: 80,
        days: 1000,
        ..SynthSpec::default()
    };
    let m = generate(&spec);
    let n = spec.symbols;
    let closes: Vec<Vec<f64>> = m.bars[..n]
        .iter()
        .map(|b| b.iter().map(|x| x.close).collect())
        .collect();
    let h = 5;
    let (mut ic_latent, mut ic_momentum) = (Vec::new(), Vec::new());
    for t in 20..(spec.days - h) {
        let fwd: Vec<f64> = (0..n).map(|i| (closes[i][t + h] / closes[i][t]).ln()).collect();
        let lat: Vec<f64> = (0..n).map(|i| m.latent[i][t]).collect();
        let mom: Vec<f64> = (0..n).map(|i| (closes[i][t] / closes[i][t - 20]).ln()).collect();
        ic_latent.push(spearman_free_ic(&lat, &fwd));
        ic_momentum.push(spearman_free_ic(&mom, &fwd));
    }
    let (ic, t) = mean_t(&ic_latent);
    assert!(ic > 0.05 && t > 5.0, "latent IC {ic} t {t}");
    // Observable from past prices alone: 20-day momentum predicts the next 5 days, weakly.
    let (ic, t) = mean_t(&ic_momentum);
    assert!(ic > 0.01 && t > 2.0, "momentum IC {ic} t {t}");
    assert!(ic < 0.2, "the signal is weak, not obvious: {ic}");
    // Every regime occurs; bull regimes drift up and bear down, volatile ones are wilder
    // (pooled, measured on the benchmark, which is the market factor).
    let long = generate(&SynthSpec {
        symbols: 1,
        days: 3000,
        ..SynthSpec::default()
    });
    let spy: Vec<f64> = long.bars[1].iter().map(|b| b.close).collect();
    let mut by: [Vec<f64>; 4] = Default::default();
    for t in 1..spy.len() {
        by[long.regimes[t] as usize].push((spy[t] / spy[t - 1]).ln());
    }
    assert!(by.iter().all(|v| v.len() > 20), "every regime visited");
    let pooled = |a: usize, b: usize| -> Vec<f64> { by[a].iter().chain(&by[b]).copied().collect() };
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let sd = |v: &[f64]| (v.iter().map(|x| (x - mean(v)).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    assert!(
        mean(&pooled(0, 1)) > 0.0 && mean(&pooled(2, 3)) < 0.0,
        "bull up, bear down"
    );
    assert!(
        sd(&pooled(1, 3)) > 1.5 * sd(&pooled(0, 2)),
        "volatile regimes are wilder"
    );
}
