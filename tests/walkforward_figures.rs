//! Walk-forward figures are what its predictions say, and each test year's model sees nothing of
//! that year: RMSE, directional accuracy and rank IC recomputed here from `oos_predictions.csv`
//! equal `walkforward.json`; changing every bar from a test year on (a random factor per symbol
//! and day) leaves that year's model and every earlier prediction unchanged, while the same kind
//! of change inside its training years changes it.
#![cfg(feature = "torch")]

mod common;

use kairos::data::synth::{self, SynthSpec};
use kairos::research::walkforward::{self, WalkForwardConfig};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn config(data: &Path, out: &Path) -> WalkForwardConfig {
    let text = format!(
        "[data]\npath = \"{}\"\n[model]\nwindow = 10\nhidden = 8\nlayers = 1\n[train]\nepochs = 3\nprogress = false\n\
         [walkforward]\nfirst_test_year = 2017\nlast_test_year = 2018\nval_months = 6\n[output]\ndir = \"{}\"\n",
        data.display(),
        out.display()
    );
    toml::from_str(&text).expect("config")
}

fn run(data: &Path, out: &Path) -> walkforward::WalkForward {
    let d = Arc::new(kairos::feeds::load(data, &Default::default()).expect("load"));
    walkforward::run(&config(data, out), &d).expect("walk-forward")
}

/// `(symbol, date, year, model, baseline, label)` rows.
type Row = (String, String, i32, f64, f64, f64);

fn predictions(out: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(out.join("oos_predictions.csv")).expect("csv");
    assert!(text.starts_with("symbol,date,year,model,baseline,label\n"));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let x = |k: usize| f[k].parse::<f64>().expect("number");
            // A window whose label does not exist yet has an empty label (NaN here).
            let label = if f[5].is_empty() { f64::NAN } else { x(5) };
            (f[0].into(), f[1].into(), f[2].parse().expect("year"), x(3), x(4), label)
        })
        .collect()
}

/// Average ranks (1-based), ties sharing their mean rank.
fn ranks(v: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; v.len()];
    for (i, x) in v.iter().enumerate() {
        let below = v.iter().filter(|y| *y < x).count() as f64;
        let equal = v.iter().filter(|y| *y == x).count() as f64;
        out[i] = below + (equal + 1.0) / 2.0;
    }
    out
}

fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

/// `(n, rmse, directional accuracy, rank IC mean, rank IC t, dates)` of `(pred, label, date)`.
fn figures(rows: &[(f64, f64, &str)]) -> (usize, f64, f64, f64, f64, usize) {
    let n = rows.len();
    let rmse = (rows.iter().map(|r| (r.0 - r.1).powi(2)).sum::<f64>() / n as f64).sqrt();
    let hits = rows.iter().filter(|r| (r.0 > 0.0) == (r.1 > 0.0)).count() as f64 / n as f64;
    let mut by_date: BTreeMap<&str, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in rows {
        let e = by_date.entry(r.2).or_default();
        e.0.push(r.0);
        e.1.push(r.1);
    }
    let ics: Vec<f64> = by_date
        .values()
        .filter(|(p, _)| p.len() >= 3)
        .filter_map(|(p, l)| correlation(&ranks(p), &ranks(l)))
        .collect();
    let k = ics.len() as f64;
    let mean = ics.iter().sum::<f64>() / k;
    let sd = (ics.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0)).sqrt();
    (n, rmse, hits, mean, mean / sd * k.sqrt(), ics.len())
}

fn assert_figures(what: &str, json: &serde_json::Value, want: (usize, f64, f64, f64, f64, usize)) {
    let close = |key: &str, w: f64| {
        let g = json[key].as_f64().expect(key);
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1.0),
            "{what} {key}: json {g} recomputed {w}"
        );
    };
    assert_eq!(json["n"].as_u64(), Some(want.0 as u64), "{what} n");
    close("rmse", want.1);
    close("directional_accuracy", want.2);
    close("rank_ic_mean", want.3);
    close("rank_ic_t", want.4);
    assert_eq!(json["dates"].as_u64(), Some(want.5 as u64), "{what} dates");
}

#[test]
fn figures_recomputed_from_the_predictions_and_no_test_year_leaks() {
    let dir = tempfile::tempdir().expect("tmp");
    let a = dir.path().join("a");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 12,
            days: 1000,
            kappa: 0.004,
            ..SynthSpec::default()
        },
        &a,
    )
    .expect("synth");
    let wa = dir.path().join("wa");
    run(&a, &wa);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(wa.join("walkforward.json")).expect("json")).expect("parse");
    let with_unlabeled = predictions(&wa);
    // The data's last 5 sessions (the label horizon) are scored without a label: a backtest
    // has scores to its last day; the figures use labeled rows only.
    let last_dates: std::collections::BTreeSet<&str> = with_unlabeled.iter().map(|r| r.1.as_str()).collect();
    let tail: Vec<&str> = last_dates.iter().rev().take(5).copied().collect();
    let unlabeled: Vec<&Row> = with_unlabeled.iter().filter(|r| r.5.is_nan()).collect();
    assert_eq!(unlabeled.len(), 12 * 5, "each symbol's last 5 windows");
    assert!(unlabeled.iter().all(|r| tail.contains(&r.1.as_str())));
    let rows: Vec<Row> = with_unlabeled.iter().filter(|r| !r.5.is_nan()).cloned().collect();
    for (k, year) in [2017, 2018].into_iter().enumerate() {
        let y: Vec<&Row> = rows.iter().filter(|r| r.2 == year).collect();
        assert!(y.len() > 1000, "{year}: {}", y.len());
        assert!(
            y.iter().all(|r| r.1.starts_with(&year.to_string())),
            "{year}: out of its year"
        );
        let model: Vec<(f64, f64, &str)> = y.iter().map(|r| (r.3, r.5, r.1.as_str())).collect();
        let base: Vec<(f64, f64, &str)> = y.iter().map(|r| (r.4, r.5, r.1.as_str())).collect();
        assert_eq!(json["years"][k]["year"], year);
        assert_figures(&format!("{year} model"), &json["years"][k]["model"], figures(&model));
        assert_figures(
            &format!("{year} baseline"),
            &json["years"][k]["baseline"],
            figures(&base),
        );
    }
    let all: Vec<(f64, f64, &str)> = rows.iter().map(|r| (r.3, r.5, r.1.as_str())).collect();
    assert_figures("overall model", &json["overall_model"], figures(&all));
    let all_base: Vec<(f64, f64, &str)> = rows.iter().map(|r| (r.4, r.5, r.1.as_str())).collect();
    assert_figures("overall baseline", &json["overall_baseline"], figures(&all_base));

    // B: every bar from 2018 on rescaled by its own random factor.
    let b = dir.path().join("b");
    common::perturb_market(&a, &b, 9, |d| d >= "2018-01-01");
    let wb = dir.path().join("wb");
    run(&b, &wb);
    let weights =
        |w: &Path, year: i32| std::fs::read(w.join(format!("year_{year}/weights.safetensors"))).expect("weights");
    for year in [2017, 2018] {
        assert!(
            weights(&wa, year) == weights(&wb, year),
            "the {year} model changed when data from 2018 on changed"
        );
    }
    let (pa, pb) = (predictions(&wa), predictions(&wb));
    assert_eq!(pa.len(), pb.len());
    for (x, y) in pa.iter().zip(&pb).filter(|(x, _)| x.2 == 2017) {
        assert_eq!((x.3, x.4), (y.3, y.4), "{} {}: a 2017 prediction changed", x.0, x.1);
    }
    assert!(
        pa.iter().zip(&pb).any(|(x, y)| x.2 == 2018 && x.3 != y.3),
        "2018's predictions see 2018's (changed) features"
    );

    // The control: the same change inside 2016 (a training year of both models) changes them.
    let c = dir.path().join("c");
    common::perturb_market(&a, &c, 9, |d| ("2016-02-01".."2016-06-01").contains(&d));
    let wc = dir.path().join("wc");
    run(&c, &wc);
    for year in [2017, 2018] {
        assert!(
            weights(&wa, year) != weights(&wc, year),
            "{year}: a change in training data went unseen"
        );
    }
}
