//! Performance figures of a run, from its equity curve and trade statistics.

use super::book::Portfolio;
use crate::types::{dec_to_f64, Decimal, UnixNanos};
use serde::Serialize;

const YEAR_NANOS: f64 = 365.25 * 86_400e9;

/// The `summary.json` of a run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub strategy: String,
    pub initial_cash: Decimal,
    pub final_equity: f64,
    /// The exact final equity.
    pub final_equity_exact: Decimal,
    pub total_return: f64,
    pub cagr: Option<f64>,
    pub sharpe: Option<f64>,
    pub sortino: Option<f64>,
    /// Annualized standard deviation of the timestamps' returns.
    pub volatility: Option<f64>,
    pub max_drawdown: f64,
    /// CAGR over the maximum drawdown.
    pub calmar: Option<f64>,
    pub win_rate: Option<f64>,
    pub profit_factor: Option<f64>,
    /// Executions (fills).
    pub trades: u64,
    /// Closed round trips, the basis of `win_rate` and `profit_factor`.
    pub closed_trades: u64,
    /// Traded notional divided by mean equity.
    pub turnover: f64,
    /// Commissions plus slippage.
    pub costs: Decimal,
    pub commissions: Decimal,
    pub slippage: Decimal,
    /// Fees for borrowing shares sold short (`[broker] borrow_rate`), not in `costs`.
    pub borrow_costs: Decimal,
    /// Realized PnL before commissions, rounded to 8 decimals.
    pub realized_pnl: Decimal,
    /// Unrealized PnL at the last marks, rounded to 8 decimals.
    pub unrealized_pnl: Decimal,
    pub bars: u64,
    pub timestamps: u64,
    pub fill_policy: String,
    /// Warnings about the run's realism (look-ahead prone settings).
    pub warnings: Vec<String>,
    /// What loading found: rows read, kept, skipped by reason, missing bars.
    pub data: crate::data::LoadReport,
    pub load_seconds: f64,
    pub run_seconds: f64,
    /// The strategy against each benchmark over the same timestamps (`[report] benchmarks`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub benchmarks: Vec<BenchmarkComparison>,
}

/// The strategy against one benchmark, from the returns of the timestamps where both exist
/// (a benchmark without a bar at a timestamp keeps its last close). Annualized with the
/// strategy's timestamps per year, no risk-free rate.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BenchmarkComparison {
    pub symbol: String,
    /// The benchmark's own figures over those timestamps.
    pub total_return: f64,
    pub cagr: Option<f64>,
    pub volatility: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown: f64,
    /// Regression of the strategy's returns on the benchmark's: `r = alpha + beta r_b`; alpha
    /// annualized.
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
    pub correlation: Option<f64>,
    /// Annualized standard deviation of the return differences.
    pub tracking_error: Option<f64>,
    /// Annualized mean return difference over the tracking error.
    pub information_ratio: Option<f64>,
    /// The benchmark scaled to the strategy's volatility (returns x `risk_matched_scale`).
    pub risk_matched_scale: Option<f64>,
    pub risk_matched_total_return: Option<f64>,
    pub risk_matched_cagr: Option<f64>,
}

/// Mean and sample standard deviation (0 for fewer than two values).
fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n.max(1.0);
    let v = x.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (m, v.sqrt())
}

/// Compares an equity curve `(ts, equity)` with a benchmark's closes at the same timestamps
/// (`None` where it has no bar), from the benchmark's first bar to its last.
pub fn compare(symbol: &str, curve: &[(UnixNanos, f64)], bench: &[Option<f64>]) -> BenchmarkComparison {
    let equity: Vec<f64> = curve.iter().map(|c| c.1).collect();
    // Forward-filled closes from the benchmark's first bar to its last; the strategy over the
    // same rows.
    let first = bench.iter().position(Option::is_some).unwrap_or(bench.len());
    let end = bench.iter().rposition(Option::is_some).map_or(first, |l| l + 1);
    let mut b = Vec::with_capacity(end - first);
    let mut last = 0.0;
    for v in &bench[first..end] {
        if let Some(v) = v {
            last = *v;
        }
        b.push(last);
    }
    let e = &equity[first.min(equity.len())..];
    let n = b.len().min(e.len());
    let ret = |x: &[f64]| -> Vec<f64> {
        x.windows(2)
            .map(|w| if w[0] != 0.0 { w[1] / w[0] - 1.0 } else { 0.0 })
            .collect()
    };
    let (rb, rs) = (ret(&b[..n]), ret(&e[..n]));
    let span = if n > 1 {
        (curve[first + n - 1].0 - curve[first].0) as f64 / YEAR_NANOS
    } else {
        0.0
    };
    let periods = if span > 0.0 { (n - 1) as f64 / span } else { 252.0 };
    let growth = |r: &[f64]| r.iter().fold(1.0, |g, x| g * (1.0 + x));
    let cagr_of = |g: f64| (span > 0.0 && g > 0.0).then(|| g.powf(1.0 / span) - 1.0);
    let enough = rb.len() > 1;
    let (mb, sb) = mean_sd(&rb);
    let (ms, ss) = mean_sd(&rs);
    let cov = if enough {
        rb.iter().zip(&rs).map(|(x, y)| (x - mb) * (y - ms)).sum::<f64>() / (rb.len() - 1) as f64
    } else {
        0.0
    };
    let beta = (enough && sb > 0.0).then(|| cov / (sb * sb));
    let diff: Vec<f64> = rs.iter().zip(&rb).map(|(s, b)| s - b).collect();
    let (md, sd) = mean_sd(&diff);
    let te = (enough && sd > 0.0).then(|| sd * periods.sqrt());
    let scale = (enough && sb > 0.0 && ss > 0.0).then(|| ss / sb);
    let matched = scale.map(|k| growth(&rb.iter().map(|r| r * k).collect::<Vec<_>>()));
    let mut peak = f64::NEG_INFINITY;
    let mut max_dd: f64 = 0.0;
    for &v in &b[..n] {
        peak = peak.max(v);
        if peak > 0.0 {
            max_dd = max_dd.max(1.0 - v / peak);
        }
    }
    let g = growth(&rb);
    BenchmarkComparison {
        symbol: symbol.to_string(),
        total_return: g - 1.0,
        cagr: cagr_of(g),
        volatility: (enough && sb > 0.0).then(|| sb * periods.sqrt()),
        sharpe: (enough && sb > 0.0).then(|| mb / sb * periods.sqrt()),
        max_drawdown: max_dd,
        alpha: beta.map(|bt| (ms - bt * mb) * periods),
        beta,
        correlation: (enough && sb > 0.0 && ss > 0.0).then(|| cov / (sb * ss)),
        tracking_error: te,
        information_ratio: te.map(|te| md * periods / te),
        risk_matched_scale: scale,
        risk_matched_total_return: matched.map(|g| g - 1.0),
        risk_matched_cagr: matched.and_then(cagr_of),
    }
}

/// Computes the summary from the equity curve `(ts, equity)` and the final portfolio.
pub fn summarize(
    strategy: &str,
    curve: &[(UnixNanos, Decimal)],
    book: &Portfolio,
    bars: u64,
    fill_policy: &str,
) -> Summary {
    let init = dec_to_f64(book.initial_cash);
    let eq: Vec<f64> = curve.iter().map(|(_, e)| dec_to_f64(*e)).collect();
    let final_exact = curve.last().map_or(book.initial_cash, |(_, e)| *e);
    let fin = dec_to_f64(final_exact);
    let total_return = fin / init - 1.0;
    let years = match (curve.first(), curve.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (b.0 - a.0) as f64 / YEAR_NANOS,
        _ => 0.0,
    };
    let cagr = (years > 0.0 && fin > 0.0).then(|| (fin / init).powf(1.0 / years) - 1.0);
    let mut prev = init;
    let rets: Vec<f64> = eq
        .iter()
        .map(|&e| {
            let r = if prev != 0.0 { e / prev - 1.0 } else { 0.0 };
            prev = e;
            r
        })
        .collect();
    let periods = if years > 0.0 {
        (eq.len().saturating_sub(1)) as f64 / years
    } else {
        252.0
    };
    let n = rets.len() as f64;
    let (mean, sd) = mean_sd(&rets);
    let down = (rets.iter().map(|r| r.min(0.0).powi(2)).sum::<f64>() / n.max(1.0)).sqrt();
    let sharpe = (rets.len() > 1 && sd > 0.0).then(|| mean / sd * periods.sqrt());
    let sortino = (rets.len() > 1 && down > 0.0).then(|| mean / down * periods.sqrt());
    let mut peak = init;
    let mut max_dd: f64 = 0.0;
    for &e in &eq {
        peak = peak.max(e);
        if peak > 0.0 {
            max_dd = max_dd.max(1.0 - e / peak);
        }
    }
    let t = &book.trades;
    let mean_equity = if eq.is_empty() {
        init
    } else {
        eq.iter().sum::<f64>() / eq.len() as f64
    };
    let mut warnings = Vec::new();
    if fill_policy == "same_close" {
        warnings.push(
            "fill_policy same_close fills market orders at the close of the bar that produced the decision: prone to look-ahead".into(),
        );
    }
    let volatility = (rets.len() > 1 && sd > 0.0).then(|| sd * periods.sqrt());
    Summary {
        strategy: strategy.to_string(),
        initial_cash: book.initial_cash,
        final_equity: fin,
        final_equity_exact: final_exact,
        total_return,
        cagr,
        sharpe,
        sortino,
        volatility,
        max_drawdown: max_dd,
        calmar: cagr.filter(|_| max_dd > 0.0).map(|c| c / max_dd),
        win_rate: (t.closed > 0).then(|| t.wins as f64 / t.closed as f64),
        profit_factor: (t.gross_loss > Decimal::ZERO).then(|| dec_to_f64(t.gross_profit) / dec_to_f64(t.gross_loss)),
        trades: book.fills,
        closed_trades: t.closed,
        turnover: if mean_equity != 0.0 {
            dec_to_f64(book.traded_notional) / mean_equity
        } else {
            0.0
        },
        costs: book.commissions + book.slippage,
        commissions: book.commissions,
        slippage: book.slippage,
        borrow_costs: book.borrow_costs,
        // PnL splits go through the average entry price, a 28-digit quotient: round for display.
        realized_pnl: book.realized_pnl().round_dp(8).normalize(),
        unrealized_pnl: book.unrealized_pnl().round_dp(8).normalize(),
        bars,
        timestamps: curve.len() as u64,
        fill_policy: fill_policy.to_string(),
        warnings,
        data: crate::data::LoadReport::default(),
        load_seconds: 0.0,
        run_seconds: 0.0,
        benchmarks: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn a_benchmark_is_compared_from_its_first_bar_to_its_last() {
        let day = 86_400_000_000_000i64;
        let curve: Vec<(i64, f64)> = (0..6).map(|i| (i * day, 100.0 + i as f64)).collect();
        // No bar at the first timestamp and after the fifth; a gap at the third.
        let bench = [None, Some(10.0), None, Some(11.0), Some(12.1), None];
        let c = compare("B", &curve, &bench);
        assert!((c.total_return - 0.21).abs() < 1e-12, "{c:?}");
        // Strategy returns over rows 1..=4: 102/101, 103/102, 104/103; benchmark 0, 0.1, 0.1.
        let rs = [102.0 / 101.0 - 1.0, 103.0 / 102.0 - 1.0, 104.0 / 103.0 - 1.0];
        let rb = [0.0, 0.1, 0.1];
        let (mb, ms) = (rb.iter().sum::<f64>() / 3.0, rs.iter().sum::<f64>() / 3.0);
        let cov: f64 = rb.iter().zip(&rs).map(|(b, s)| (b - mb) * (s - ms)).sum::<f64>() / 2.0;
        let var: f64 = rb.iter().map(|b| (b - mb).powi(2)).sum::<f64>() / 2.0;
        assert!((c.beta.expect("beta") - cov / var).abs() < 1e-12);
        // Three returns over three days: 365.25 a year.
        let alpha = (ms - cov / var * mb) * 365.25;
        assert!((c.alpha.expect("alpha") - alpha).abs() < 1e-9);
        assert!(c.max_drawdown.abs() < 1e-12);
    }

    #[test]
    fn figures_of_a_small_curve() {
        // Initial 100; closes 110, 99, 121 over two years (timestamps 0, 1y, 1.5y, 2y).
        let y = YEAR_NANOS as i64;
        let curve = vec![
            (0, dec!(110)),
            (y, dec!(99)),
            (y + y / 2, dec!(110)),
            (2 * y, dec!(121)),
        ];
        let book = Portfolio::new(dec!(100), 1);
        let s = summarize("x", &curve, &book, 4, "next_open");
        assert!((s.total_return - 0.21).abs() < 1e-12);
        assert!((s.cagr.expect("cagr") - (1.21f64.sqrt() - 1.0)).abs() < 1e-12);
        // Peak 110, trough 99: 10 % drawdown.
        assert!((s.max_drawdown - 0.1).abs() < 1e-12);
        // Returns 0.1, -0.1, 1/9, 0.1: mean and sample sd, 1.5 periods per year.
        let r = [0.1, -0.1, 1.0 / 9.0, 0.1];
        let m = r.iter().sum::<f64>() / 4.0;
        let sd = (r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / 3.0).sqrt();
        assert!((s.sharpe.expect("sharpe") - m / sd * 1.5f64.sqrt()).abs() < 1e-12);
        let down = (0.01f64 / 4.0).sqrt();
        assert!((s.sortino.expect("sortino") - m / down * 1.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(s.final_equity_exact, dec!(121));
        assert!(s.warnings.is_empty());
        assert_eq!(s.win_rate, None);
        let s = summarize("x", &curve, &book, 4, "same_close");
        assert!(s.warnings[0].contains("look-ahead"));
    }
}
