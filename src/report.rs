//! `report.html`: one self-contained page (inline SVG drawn by plotters, no script, no network)
//! from a run's outputs.
//!
//! - A backtest or paper session (`summary.json`, `equity.csv`, `fills.csv`, and when present
//!   `benchmark.csv` and `prices.csv`): headline metrics, the comparison with each benchmark
//!   (alpha, beta, information ratio, the benchmark's own figures, a risk-matched benchmark),
//!   equity against the benchmarks (log scale on request), drawdown, rolling Sharpe, gross and
//!   net exposure, monthly returns, a price chart of one symbol with its entries and exits, and
//!   the fills.
//! - A research run (`kairos research`) adds its model section from `walkforward/`: rank IC per
//!   test year and month by month, the model beside the ridge baseline (figures and, from
//!   `baseline/`, the same strategy traded on the baseline's scores), and permutation importance.
//! - A sweep (`sweep.csv`, no `summary.json`): a heat map of a metric over the grid.
//!
//! Written by every backtest, paper session, sweep and research run, and by
//! `kairos report --run DIR`. Each figure that `summary.json` (or `walkforward.json`,
//! `sweep.csv`) holds carries a `data-metric` attribute with the value as that file has it
//! (tested).

use crate::account::BenchmarkComparison;
use crate::data::MarketData;
use crate::output::TimeFormat;
use crate::research::eval::spearman;
use crate::types::{Decimal, UnixNanos};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A report that cannot be written, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("report: {path}: {message}")]
pub struct ReportError {
    pub path: PathBuf,
    pub message: String,
}

fn err(path: &Path, message: impl ToString) -> ReportError {
    ReportError {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// `[report]`: what the page compares and shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportConfig {
    /// Symbols of the data (or of `[[data.reference]]`) to compare with; empty: `data.benchmark`.
    pub benchmarks: Vec<String>,
    /// The symbol of the price chart with trade marks; default: the one with the most fills.
    pub symbol: Option<String>,
    /// Draw the equity chart on a log scale.
    pub log_scale: bool,
    /// Window of the rolling Sharpe in timestamps (0: half a year of them).
    pub rolling_window: usize,
}

/// How the page is drawn (from `[report]`, or `kairos report`'s flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub log_scale: bool,
    pub rolling_window: usize,
}

impl From<&ReportConfig> for Options {
    fn from(c: &ReportConfig) -> Self {
        Self {
            log_scale: c.log_scale,
            rolling_window: c.rolling_window,
        }
    }
}

/// The benchmarks a run compares with: `[report] benchmarks`, else `data.benchmark`.
///
/// # Errors
/// A benchmark the data does not have.
pub fn benchmarks_of(cfg: &ReportConfig, default: &str, data: &MarketData) -> Result<Vec<usize>, String> {
    let names: Vec<&str> = if cfg.benchmarks.is_empty() {
        (!default.is_empty()).then_some(default).into_iter().collect()
    } else {
        cfg.benchmarks.iter().map(String::as_str).collect()
    };
    names
        .iter()
        .map(|n| {
            data.instruments
                .iter()
                .position(|i| i.symbol == *n)
                .ok_or_else(|| format!("report.benchmarks: {n:?} is not in the data (add a [[data.reference]])"))
        })
        .collect()
}

/// Checks `[report]` against the data before a run: benchmarks and the chart symbol exist.
///
/// # Errors
/// `report.KEY: reason`.
pub fn check(cfg: &ReportConfig, default: &str, data: &MarketData) -> Result<(), String> {
    benchmarks_of(cfg, default, data)?;
    match &cfg.symbol {
        Some(s) if data.instrument_by_symbol(s).is_none() => Err(format!("report.symbol: {s:?} is not in the data")),
        _ => Ok(()),
    }
}

/// Each instrument's close at each curve timestamp (`None` where it has no bar there).
fn closes_at(data: &MarketData, i: usize, curve: &[(UnixNanos, Decimal)]) -> Vec<Option<f64>> {
    let s = &data.series[i];
    let closes = s.closes_f64();
    let mut k = 0usize;
    curve
        .iter()
        .map(|(ts, _)| {
            let step = data.timestamps.partition_point(|t| t < ts);
            while k < s.len() && (s.step[k] as usize) < step {
                k += 1;
            }
            (k < s.len() && s.step[k] as usize == step && data.timestamps[step] == *ts).then(|| closes[k])
        })
        .collect()
}

/// Writes the report's inputs beside a run's outputs in `dir` (`benchmark.csv`: each
/// benchmark's close at every timestamp of `equity.csv`; `prices.csv`: the chart symbol's bars)
/// and returns the comparisons for `summary.json`.
///
/// # Errors
/// A benchmark or chart symbol the data lacks, or a file that cannot be written.
pub fn write_inputs(
    dir: &Path,
    data: &MarketData,
    curve: &[(UnixNanos, Decimal)],
    cfg: &ReportConfig,
    default_benchmark: &str,
    fmt: TimeFormat,
) -> Result<Vec<BenchmarkComparison>, ReportError> {
    let benches = benchmarks_of(cfg, default_benchmark, data).map_err(|m| err(dir, m))?;
    let eq: Vec<(UnixNanos, f64)> = curve.iter().map(|(t, e)| (*t, crate::types::dec_to_f64(*e))).collect();
    let mut out = Vec::new();
    if !benches.is_empty() && !curve.is_empty() {
        let cols: Vec<Vec<Option<f64>>> = benches.iter().map(|&i| closes_at(data, i, curve)).collect();
        let mut csv = String::from("date");
        for &i in &benches {
            let _ = write!(csv, ",{}", data.instruments[i].symbol);
        }
        csv.push('\n');
        for (r, (ts, _)) in curve.iter().enumerate() {
            csv.push_str(&fmt.format(*ts));
            for c in &cols {
                csv.push(',');
                if let Some(v) = c[r] {
                    let _ = write!(csv, "{v}");
                }
            }
            csv.push('\n');
        }
        let path = dir.join("benchmark.csv");
        std::fs::write(&path, csv).map_err(|e| err(&path, e))?;
        for (&i, c) in benches.iter().zip(&cols) {
            out.push(crate::account::compare(&data.instruments[i].symbol, &eq, c));
        }
    }
    // The price chart's symbol: configured, else the most traded (first in fills.csv on a tie).
    let symbol = match &cfg.symbol {
        Some(s) => Some(
            data.instruments
                .iter()
                .position(|i| &i.symbol == s)
                .ok_or_else(|| err(dir, format!("report.symbol: {s:?} is not in the data")))?,
        ),
        None => {
            let fills = std::fs::read_to_string(dir.join("fills.csv")).unwrap_or_default();
            let mut count: Vec<(String, usize, usize)> = Vec::new();
            for (n, l) in fills.lines().skip(1).enumerate() {
                let sym = split_csv(l).get(1).cloned().unwrap_or_default();
                match count.iter_mut().find(|c| c.0 == sym) {
                    Some(c) => c.1 += 1,
                    None => count.push((sym, 1, n)),
                }
            }
            count.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
            count
                .first()
                .and_then(|(s, _, _)| data.instruments.iter().position(|i| &i.symbol == s))
        }
    };
    if let (Some(i), Some(first), Some(last)) = (symbol, curve.first(), curve.last()) {
        let s = &data.series[i];
        let p = s.price_scale;
        let mut csv = String::from("date,symbol,open,high,low,close\n");
        let sym = crate::output::csv_field(&data.instruments[i].symbol);
        for k in 0..s.len() {
            let ts = data.timestamps[s.step[k] as usize];
            if ts < first.0 || ts > last.0 {
                continue;
            }
            let d = |m: i64| Decimal::new(m, p).normalize();
            let _ = writeln!(
                csv,
                "{},{sym},{},{},{},{}",
                fmt.format(ts),
                d(s.open[k]),
                d(s.high[k]),
                d(s.low[k]),
                d(s.close[k])
            );
        }
        let path = dir.join("prices.csv");
        std::fs::write(&path, csv).map_err(|e| err(&path, e))?;
    }
    Ok(out)
}

/// Splits a CSV line, honoring quoted fields.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn read(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| err(path, e))
}

fn read_json(path: &Path) -> Result<serde_json::Value, ReportError> {
    serde_json::from_str(&read(path)?).map_err(|e| err(path, e))
}

/// One row of `equity.csv`.
struct Row {
    date: String,
    equity: f64,
    gross: f64,
    net: f64,
}

fn equity_rows(path: &Path) -> Result<Vec<Row>, ReportError> {
    let text = read(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |k: usize| -> Result<f64, ReportError> {
            f.get(k)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| err(path, format!("line {}: not a number in column {}", i + 1, k + 1)))
        };
        out.push(Row {
            date: f.first().copied().unwrap_or("").to_string(),
            equity: num(2)?,
            gross: num(3)?,
            net: num(4)?,
        });
    }
    Ok(out)
}

/// How a chart labels its values.
#[derive(Clone, Copy, PartialEq)]
enum YFmt {
    Money,
    Percent,
    Number,
    /// Values are log10 of money.
    LogMoney,
}

/// A named, colored line; non-finite values are gaps.
struct Line {
    name: String,
    color: RGBColor,
    values: Vec<f64>,
}

/// Buy and sell marks `(x, price)` on a chart.
#[derive(Default)]
struct Marks {
    buys: Vec<(usize, f64)>,
    sells: Vec<(usize, f64)>,
}

/// An SVG line chart over the row index, labeled by dates.
fn chart(title: &str, dates: &[String], lines: &[Line], fmt: YFmt, marks: Option<&Marks>) -> String {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in lines.iter().flat_map(|l| l.values.iter()).filter(|v| v.is_finite()) {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    let mut svg = String::new();
    if !lo.is_finite() || !hi.is_finite() {
        return svg;
    }
    if (hi - lo).abs() < 1e-12 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.05;
    let n = dates.len().max(2);
    // Intraday rows: the time of day (and the day when the chart spans several).
    let label = |d: &String| -> String {
        let one_day = dates.first().map(|f| f.get(..10)) == dates.last().map(|l| l.get(..10));
        match (d.len() > 10, one_day) {
            (false, _) => d.clone(),
            (true, true) => d.get(11..16).unwrap_or(d).to_string(),
            (true, false) => d.get(5..16).unwrap_or(d).replace('T', " "),
        }
    };
    // Plain numbers: enough decimals to tell the ticks of the range apart.
    let num_decimals = (1.0 - (hi - lo).log10().floor()).clamp(0.0, 6.0) as usize;
    // Percent labels with as many decimals as the range needs.
    let decimals = match (hi - lo) * 100.0 {
        r if r < 2.0 => 2,
        r if r < 20.0 => 1,
        _ => 0,
    };
    {
        let root = SVGBackend::with_string(&mut svg, (900, 280)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let built = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(70)
            .build_cartesian_2d(0..n - 1, (lo - pad)..(hi + pad));
        if let Ok(mut chart) = built {
            let _ = chart
                .configure_mesh()
                .x_labels(6)
                .x_label_formatter(&|i| dates.get(*i).map(label).unwrap_or_default())
                .y_label_formatter(&|v| match fmt {
                    YFmt::Percent => format!("{:.*} %", decimals, v * 100.0),
                    YFmt::Money => format!("{v:.0}"),
                    YFmt::Number => format!("{:.*}", num_decimals, v),
                    YFmt::LogMoney => format!("{:.0}", 10f64.powf(*v)),
                })
                .light_line_style(RGBColor(235, 235, 235))
                .draw();
            for l in lines {
                let color = l.color;
                // Each run of finite values is one path; the legend names the line once.
                let mut runs: Vec<Vec<(usize, f64)>> = vec![Vec::new()];
                for (i, v) in l.values.iter().enumerate() {
                    if v.is_finite() {
                        if let Some(r) = runs.last_mut() {
                            r.push((i, *v));
                        }
                    } else if runs.last().is_some_and(|r| !r.is_empty()) {
                        runs.push(Vec::new());
                    }
                }
                for (k, run) in runs.into_iter().filter(|r| !r.is_empty()).enumerate() {
                    if let Ok(s) = chart.draw_series(LineSeries::new(run, color)) {
                        if k == 0 {
                            s.label(l.name.clone())
                                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
                        }
                    }
                }
            }
            if let Some(m) = marks {
                let green = RGBColor(0, 150, 60);
                if let Ok(s) = chart.draw_series(
                    m.buys
                        .iter()
                        .map(|&(x, y)| TriangleMarker::new((x, y), 6, green.filled())),
                ) {
                    s.label("buy")
                        .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 5, green.filled()));
                }
                if let Ok(s) =
                    chart.draw_series(m.sells.iter().map(|&(x, y)| Cross::new((x, y), 5, RED.stroke_width(2))))
                {
                    s.label("sell")
                        .legend(|(x, y)| Cross::new((x + 8, y), 4, RED.stroke_width(2)));
                }
            }
            if lines.len() > 1 || marks.is_some() {
                let _ = chart
                    .configure_series_labels()
                    .position(SeriesLabelPosition::UpperLeft)
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw();
            }
        }
        let _ = root.present();
    }
    svg
}

/// An SVG chart of grouped bars: one group of bars per label.
fn bars(title: &str, labels: &[String], groups: &[(&str, RGBColor, Vec<f64>)]) -> String {
    let mut svg = String::new();
    let g = groups.len().max(1);
    let n = labels.len();
    let values = groups.iter().flat_map(|(_, _, v)| v.iter()).filter(|v| v.is_finite());
    let (lo, hi) = values.fold((0f64, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if n == 0 || (hi - lo).abs() < 1e-15 {
        return svg;
    }
    let pad = (hi - lo) * 0.08;
    {
        let root = SVGBackend::with_string(&mut svg, (900, 300)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let built = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0..n * g - 1).into_segmented(), (lo - pad)..(hi + pad));
        if let Ok(mut chart) = built {
            let _ = chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n * g)
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(k) if k % g == 0 => labels.get(k / g).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .y_label_formatter(&|v| format!("{v:.3}"))
                .light_line_style(RGBColor(235, 235, 235))
                .draw();
            for (j, (name, color, vals)) in groups.iter().enumerate() {
                let color = *color;
                let rects = vals.iter().enumerate().filter(|(_, v)| v.is_finite()).map(|(i, v)| {
                    let k = i * g + j;
                    let mut r = Rectangle::new(
                        [(SegmentValue::Exact(k), 0.0), (SegmentValue::Exact(k + 1), *v)],
                        color.filled(),
                    );
                    r.set_margin(0, 0, 2, 2);
                    r
                });
                if let Ok(s) = chart.draw_series(rects) {
                    s.label(*name)
                        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
                }
            }
            if groups.len() > 1 {
                let _ = chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK)
                    .draw();
            }
        }
        let _ = root.present();
    }
    svg
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:960px} \
table{border-collapse:collapse;margin:8px 0 20px} td,th{border:1px solid #ddd;padding:4px 8px;text-align:right} \
th{background:#f4f4f4} .m td:first-child{text-align:left} .neg{color:#b00} .pos{color:#070} \
p.note{color:#555;font-size:90%}";

fn head(html: &mut String, title: &str) {
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Kairos report: {t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>",
        t = esc(title)
    );
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.2} %", v * 100.0))
}
fn num(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// A table cell carrying a JSON value as its `data-value`.
fn cell(key: &str, value: &serde_json::Value, shown: &str) -> String {
    let data = match value {
        serde_json::Value::Null => String::new(),
        v => v.to_string().trim_matches('"').to_string(),
    };
    format!(
        "<td data-metric=\"{}\" data-value=\"{}\">{}</td>",
        esc(key),
        esc(&data),
        esc(shown)
    )
}

/// `kairos report`: a sweep's page ([`write_sweep`] over `metric`) for a directory with
/// `sweep.csv` and no `summary.json`, else a run's ([`write()`]).
///
/// # Errors
/// As [`write()`] and [`write_sweep`].
pub fn write_dir(dir: &Path, opts: Options, metric: &str) -> Result<PathBuf, ReportError> {
    if !dir.join("summary.json").exists() && dir.join("sweep.csv").exists() {
        write_sweep(dir, metric)
    } else {
        write(dir, opts)
    }
}

/// Writes `report.html` into `dir` from the run's outputs there; returns its path.
///
/// # Errors
/// An output that cannot be read, or the page that cannot be written.
pub fn write(dir: &Path, opts: Options) -> Result<PathBuf, ReportError> {
    let summary = read_json(&dir.join("summary.json"))?;
    let rows = equity_rows(&dir.join("equity.csv"))?;
    let fills = read(&dir.join("fills.csv"))?;
    let f = |k: &str| summary[k].as_f64();
    let raw = |k: &str| summary[k].to_string().trim_matches('"').to_string();
    let money = |k: &str| {
        raw(k)
            .parse::<Decimal>()
            .map_or_else(|_| raw(k), |d| d.round_dp(2).to_string())
    };
    let dates: Vec<String> = rows.iter().map(|r| r.date.clone()).collect();
    // Returns per timestamp and timestamps per year (as summary.json's figures use them).
    let rets: Vec<f64> = rows.windows(2).map(|w| w[1].equity / w[0].equity - 1.0).collect();
    let years = f("cagr")
        .zip(f("total_return"))
        .filter(|(c, _)| *c > -1.0 && c.abs() > 1e-12)
        .map(|(c, t)| (1.0 + t).ln() / (1.0 + c).ln());
    let per_year = years.filter(|y| *y > 0.0).map_or(252.0, |y| rows.len() as f64 / y);
    let metrics: Vec<(&str, &str, String)> = vec![
        ("final_equity_exact", "Final equity", money("final_equity_exact")),
        ("total_return", "Total return", pct(f("total_return"))),
        ("cagr", "CAGR", pct(f("cagr"))),
        ("volatility", "Volatility (annual)", pct(f("volatility"))),
        ("sharpe", "Sharpe", num(f("sharpe"))),
        ("sortino", "Sortino", num(f("sortino"))),
        ("max_drawdown", "Max drawdown", pct(f("max_drawdown"))),
        ("calmar", "Calmar", num(f("calmar"))),
        ("win_rate", "Win rate", pct(f("win_rate"))),
        ("profit_factor", "Profit factor", num(f("profit_factor"))),
        ("turnover", "Turnover", num(f("turnover"))),
        ("costs", "Costs", money("costs")),
        ("trades", "Fills", raw("trades")),
    ];
    let mut html = String::new();
    let strategy = summary["strategy"].as_str().unwrap_or("run").to_string();
    head(&mut html, &strategy);
    let sources: Vec<String> = ["equity.csv", "fills.csv", "benchmark.csv", "prices.csv"]
        .iter()
        .filter(|f| dir.join(f).exists())
        .map(|f| format!("<code>{f}</code>"))
        .collect();
    let _ = write!(
        html,
        "<p>{} to {}, {} timestamps. Figures from <code>summary.json</code>; charts from {}.</p><h2>Headline</h2><table class=\"m\">",
        esc(dates.first().map_or("", String::as_str)),
        esc(dates.last().map_or("", String::as_str)),
        rows.len(),
        sources.join(", ")
    );
    for (key, label, shown) in &metrics {
        let _ = write!(html, "<tr><td>{label}</td>{}</tr>", cell(key, &summary[*key], shown));
    }
    html.push_str("</table>");
    // Benchmarks: the comparison table, then equity against them.
    let benches = summary["benchmarks"].as_array().cloned().unwrap_or_default();
    let bench_cols = read_benchmarks(dir, rows.len())?;
    if !benches.is_empty() {
        html.push_str("<h2>Against the benchmarks</h2><table class=\"m\"><tr><th></th>");
        for b in &benches {
            let _ = write!(html, "<th>{}</th>", esc(b["symbol"].as_str().unwrap_or("")));
        }
        html.push_str("</tr>");
        let figures: [(&str, &str, bool); 12] = [
            ("alpha", "Alpha (annual)", true),
            ("beta", "Beta", false),
            ("information_ratio", "Information ratio", false),
            ("tracking_error", "Tracking error", true),
            ("correlation", "Correlation", false),
            ("total_return", "Benchmark total return", true),
            ("cagr", "Benchmark CAGR", true),
            ("volatility", "Benchmark volatility", true),
            ("sharpe", "Benchmark Sharpe", false),
            ("max_drawdown", "Benchmark max drawdown", true),
            ("risk_matched_scale", "Risk-matched scale", false),
            ("risk_matched_total_return", "Risk-matched total return", true),
        ];
        for (key, label, is_pct) in figures {
            let _ = write!(html, "<tr><td>{label}</td>");
            for b in &benches {
                let v = b[key].as_f64();
                let shown = if is_pct { pct(v) } else { num(v) };
                let sym = b["symbol"].as_str().unwrap_or("");
                html.push_str(&cell(&format!("benchmarks.{sym}.{key}"), &b[key], &shown));
            }
            html.push_str("</tr>");
        }
        html.push_str(
            "</table><p class=\"note\">From the benchmark's first bar to its last (its last close carried over timestamps it lacks in between); alpha and beta from a regression of \
             the strategy's returns on the benchmark's, no risk-free rate. The risk-matched benchmark is the \
             benchmark's returns scaled to the strategy's volatility.</p>",
        );
    }
    let log = |v: f64| if opts.log_scale { v.log10() } else { v };
    let mut lines = vec![Line {
        name: "strategy".into(),
        color: BLUE,
        values: rows.iter().map(|r| log(r.equity)).collect(),
    }];
    let palette = [RGBColor(110, 110, 110), RGBColor(230, 140, 0), RGBColor(150, 80, 170)];
    for (k, (sym, closes)) in bench_cols.iter().enumerate() {
        let color = palette[k % palette.len()];
        // The benchmark bought with the strategy's equity at its first close.
        let (base, base_eq) = match closes.iter().enumerate().find(|(_, v)| v.is_finite()) {
            Some((i, v)) => (*v, rows[i].equity),
            None => continue,
        };
        let filled = ffill(closes);
        lines.push(Line {
            name: sym.clone(),
            color,
            values: filled.iter().map(|v| log(v / base * base_eq)).collect(),
        });
        let scale = benches
            .iter()
            .find(|b| b["symbol"].as_str() == Some(sym))
            .and_then(|b| b["risk_matched_scale"].as_f64());
        if let Some(scale) = scale {
            let mut e = f64::NAN;
            let mut prev = f64::NAN;
            let values = filled
                .iter()
                .map(|v| {
                    if v.is_finite() {
                        e = if e.is_finite() {
                            e * (1.0 + scale * (v / prev - 1.0))
                        } else {
                            base_eq
                        };
                        prev = *v;
                        log(e)
                    } else {
                        f64::NAN
                    }
                })
                .collect();
            lines.push(Line {
                name: format!("{sym} risk-matched (x{scale:.2})"),
                color: RGBColor(color.0 / 2 + 120, color.1 / 2 + 120, color.2 / 2 + 120),
                values,
            });
        }
    }
    let title = if opts.log_scale { "Equity (log scale)" } else { "Equity" };
    html.push_str(&chart(
        title,
        &dates,
        &lines,
        if opts.log_scale { YFmt::LogMoney } else { YFmt::Money },
        None,
    ));
    let mut peak = f64::NEG_INFINITY;
    let dd: Vec<f64> = rows
        .iter()
        .map(|r| {
            peak = peak.max(r.equity);
            r.equity / peak - 1.0
        })
        .collect();
    html.push_str(&chart(
        "Drawdown",
        &dates,
        &[Line {
            name: "drawdown".into(),
            color: RED,
            values: dd,
        }],
        YFmt::Percent,
        None,
    ));
    // Rolling Sharpe over the last `w` returns.
    let w = if opts.rolling_window > 1 {
        opts.rolling_window
    } else {
        ((per_year / 2.0).round() as usize).max(10)
    };
    if rets.len() > w {
        let mut roll = vec![f64::NAN; rows.len()];
        for t in w..=rets.len() {
            let win = &rets[t - w..t];
            let m = win.iter().sum::<f64>() / w as f64;
            let sd = (win.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (w - 1) as f64).sqrt();
            if sd > 0.0 {
                roll[t] = m / sd * per_year.sqrt();
            }
        }
        html.push_str(&chart(
            &format!("Rolling Sharpe ({w} timestamps)"),
            &dates,
            &[Line {
                name: "rolling Sharpe".into(),
                color: RGBColor(0, 110, 140),
                values: roll,
            }],
            YFmt::Number,
            None,
        ));
    }
    html.push_str(&chart(
        "Exposure (share of equity)",
        &dates,
        &[
            Line {
                name: "gross".into(),
                color: RGBColor(120, 60, 160),
                values: rows.iter().map(|r| r.gross / r.equity).collect(),
            },
            Line {
                name: "net".into(),
                color: RGBColor(0, 130, 80),
                values: rows.iter().map(|r| r.net / r.equity).collect(),
            },
        ],
        YFmt::Percent,
        None,
    ));
    monthly_table(&mut html, &rows);
    price_chart(&mut html, dir, &fills)?;
    if dir.join("walkforward").join("walkforward.json").exists() {
        research_section(&mut html, dir, &rows)?;
    }
    let lines: Vec<&str> = fills.lines().skip(1).collect();
    let shown = lines.len().min(500);
    let _ = write!(
        html,
        "<h2>Fills</h2><p>{} fills{}.</p><table><tr><th>date</th><th>symbol</th><th>side</th><th>qty</th><th>price</th><th>commission</th></tr>",
        lines.len(),
        if shown < lines.len() { ", the first 500 shown (all in fills.csv)" } else { "" }
    );
    for l in &lines[..shown] {
        html.push_str("<tr>");
        for c in split_csv(l) {
            let _ = write!(html, "<td>{}</td>", esc(&c));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table></body></html>\n");
    finish(dir, html)
}

fn finish(dir: &Path, html: String) -> Result<PathBuf, ReportError> {
    let out = dir.join("report.html");
    std::fs::write(&out, html).map_err(|e| err(&out, e))?;
    Ok(out)
}

/// Forward-filled values between the first and the last finite one (NaN outside).
fn ffill(v: &[f64]) -> Vec<f64> {
    let end = v.iter().rposition(|x| x.is_finite()).map_or(0, |l| l + 1);
    let mut last = f64::NAN;
    v.iter()
        .enumerate()
        .map(|(i, x)| {
            if x.is_finite() {
                last = *x;
            }
            if i < end {
                last
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// `benchmark.csv`'s columns (NaN where empty), if the run has one.
fn read_benchmarks(dir: &Path, rows: usize) -> Result<Vec<(String, Vec<f64>)>, ReportError> {
    let path = dir.join("benchmark.csv");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = read(&path)?;
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().map(split_csv).unwrap_or_default();
    let mut cols: Vec<(String, Vec<f64>)> = header.into_iter().skip(1).map(|h| (h, Vec::new())).collect();
    for l in lines {
        for (k, v) in split_csv(l).into_iter().skip(1).enumerate() {
            if let Some(c) = cols.get_mut(k) {
                c.1.push(v.parse().unwrap_or(f64::NAN));
            }
        }
    }
    if cols.iter().any(|c| c.1.len() != rows) {
        return Err(err(&path, "not one row per row of equity.csv"));
    }
    Ok(cols)
}

fn monthly_table(html: &mut String, rows: &[Row]) {
    // The last equity of each month against the previous month's.
    let mut months: Vec<(String, f64)> = Vec::new();
    for r in rows {
        let m: String = r.date.chars().take(7).collect();
        match months.last_mut() {
            Some((k, e)) if *k == m => *e = r.equity,
            _ => months.push((m, r.equity)),
        }
    }
    let mut prev = rows.first().map_or(0.0, |r| r.equity);
    let mut years: BTreeMap<String, [Option<f64>; 12]> = BTreeMap::new();
    for (m, e) in &months {
        let (y, mo) = (
            m.get(..4).unwrap_or("").to_string(),
            m.get(5..7).and_then(|x| x.parse::<usize>().ok()),
        );
        if let Some(mo) = mo.filter(|mo| (1..=12).contains(mo)) {
            years.entry(y).or_insert([None; 12])[mo - 1] = Some(e / prev - 1.0);
        }
        prev = *e;
    }
    html.push_str("<h2>Monthly returns</h2><table><tr><th>year</th>");
    for m in [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ] {
        let _ = write!(html, "<th>{m}</th>");
    }
    html.push_str("<th>year</th></tr>");
    for (y, ms) in &years {
        let _ = write!(html, "<tr><th>{}</th>", esc(y));
        for v in ms {
            match v {
                Some(v) => {
                    let v = if v.abs() < 0.0005 { 0.0 } else { *v };
                    let class = if v < 0.0 { "neg" } else { "pos" };
                    let _ = write!(html, "<td class=\"{class}\">{:.1} %</td>", v * 100.0);
                }
                None => html.push_str("<td></td>"),
            }
        }
        let total = ms.iter().flatten().fold(1.0, |g, r| g * (1.0 + r)) - 1.0;
        let class = if total < 0.0 { "neg" } else { "pos" };
        let _ = write!(html, "<td class=\"{class}\"><b>{:.1} %</b></td></tr>", total * 100.0);
    }
    html.push_str("</table>");
}

/// The chart symbol's closes with its fills marked (from `prices.csv`, if the run has one).
fn price_chart(html: &mut String, dir: &Path, fills: &str) -> Result<(), ReportError> {
    let path = dir.join("prices.csv");
    if !path.exists() {
        return Ok(());
    }
    let text = read(&path)?;
    let rows: Vec<Vec<String>> = text.lines().skip(1).map(split_csv).collect();
    let Some(symbol) = rows.first().and_then(|r| r.get(1)).cloned() else {
        return Ok(());
    };
    let dates: Vec<String> = rows.iter().map(|r| r[0].clone()).collect();
    let closes: Vec<f64> = rows
        .iter()
        .map(|r| r.get(5).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN))
        .collect();
    let mut marks = Marks::default();
    let (mut nb, mut ns) = (0, 0);
    for l in fills.lines().skip(1) {
        let f = split_csv(l);
        if f.get(1) != Some(&symbol) {
            continue;
        }
        let (Some(x), Some(p)) = (
            dates.iter().position(|d| Some(d) == f.first()),
            f.get(4).and_then(|v| v.parse::<f64>().ok()),
        ) else {
            continue;
        };
        if f.get(2).is_some_and(|s| s.eq_ignore_ascii_case("buy")) {
            marks.buys.push((x, p));
            nb += 1;
        } else {
            marks.sells.push((x, p));
            ns += 1;
        }
    }
    let _ = write!(
        html,
        "<h2>Trades in {}</h2><p>{nb} buys and {ns} sells, marked at their fill prices when they filled.</p>",
        esc(&symbol)
    );
    html.push_str(&chart(
        &format!("{symbol}: close, buys and sells"),
        &dates,
        &[Line {
            name: format!("{symbol} close"),
            color: RGBColor(60, 60, 60),
            values: closes,
        }],
        YFmt::Number,
        Some(&marks),
    ));
    Ok(())
}

/// The model section of a research run: IC per year and per month, model beside baseline,
/// permutation importance.
fn research_section(html: &mut String, dir: &Path, rows: &[Row]) -> Result<(), ReportError> {
    let wdir = dir.join("walkforward");
    let wf = read_json(&wdir.join("walkforward.json"))?;
    html.push_str("<h2>Model: out-of-sample rank IC</h2><table class=\"m\"><tr><th>test year</th><th>model IC</th><th>model t</th><th>ridge IC</th><th>ridge t</th><th>model RMSE</th><th>ridge RMSE</th><th>model hit rate</th><th>ridge hit rate</th><th>samples</th></tr>");
    let years = wf["years"].as_array().cloned().unwrap_or_default();
    let mut labels = Vec::new();
    let (mut ic_m, mut ic_b) = (Vec::new(), Vec::new());
    let mut row = |label: String, m: &serde_json::Value, b: &serde_json::Value, key: &str| {
        let _ = write!(html, "<tr><td>{}</td>", esc(&label));
        for (v, k, f) in [
            (m, "rank_ic_mean", 4),
            (m, "rank_ic_t", 2),
            (b, "rank_ic_mean", 4),
            (b, "rank_ic_t", 2),
            (m, "rmse", 4),
            (b, "rmse", 4),
            (m, "directional_accuracy", 4),
            (b, "directional_accuracy", 4),
        ] {
            let who = if std::ptr::eq(v, m) { "model" } else { "baseline" };
            let shown = v[k].as_f64().map_or("-".into(), |x| format!("{x:.f$}"));
            html.push_str(&cell(&format!("{key}.{who}.{k}"), &v[k], &shown));
        }
        let _ = write!(html, "<td>{}</td></tr>", m["n"]);
    };
    for y in &years {
        let year = y["year"].to_string();
        row(year.clone(), &y["model"], &y["baseline"], &format!("ic.{year}"));
        labels.push(year);
        ic_m.push(y["model"]["rank_ic_mean"].as_f64().unwrap_or(f64::NAN));
        ic_b.push(y["baseline"]["rank_ic_mean"].as_f64().unwrap_or(f64::NAN));
    }
    row(
        "all test years".into(),
        &wf["overall_model"],
        &wf["overall_baseline"],
        "ic.all",
    );
    html.push_str("</table><p class=\"note\">Rank IC: the Spearman correlation of the scores with the realized label across the symbols of a date, averaged over dates; t = mean / sd x sqrt(dates). Each year's model is trained on the years before it (validation: the last months before the test year, an embargo of the label horizon before each split).</p>");
    html.push_str(&bars(
        "Rank IC per test year",
        &labels,
        &[("model", BLUE, ic_m), ("ridge baseline", RGBColor(230, 140, 0), ic_b)],
    ));
    // IC over time: per date from oos_predictions.csv, averaged per month.
    let oos = read(&wdir.join("oos_predictions.csv"))?;
    // Per date: the model's scores, the baseline's and the labels.
    type Day = (Vec<f64>, Vec<f64>, Vec<f64>);
    let mut by_date: BTreeMap<String, Day> = BTreeMap::new();
    for l in oos.lines().skip(1) {
        let f = split_csv(l);
        let p = |k: usize| f.get(k).and_then(|v| v.parse::<f64>().ok());
        if let (Some(m), Some(b), Some(y), Some(d)) = (p(3), p(4), p(5), f.get(1)) {
            let e = by_date.entry(d.clone()).or_default();
            e.0.push(m);
            e.1.push(b);
            e.2.push(y);
        }
    }
    let mut months: BTreeMap<String, (f64, f64, usize)> = BTreeMap::new();
    // As the walk-forward's figures: dates with at least 3 scored symbols.
    for (d, (m, b, y)) in by_date.iter().filter(|(_, (m, _, _))| m.len() >= 3) {
        if let (Some(im), Some(ib)) = (spearman(m, y), spearman(b, y)) {
            let e = months.entry(d.chars().take(7).collect()).or_insert((0.0, 0.0, 0));
            e.0 += im;
            e.1 += ib;
            e.2 += 1;
        }
    }
    if months.len() > 1 {
        let dates: Vec<String> = months.keys().cloned().collect();
        let (mut cm, mut cb) = (0.0, 0.0);
        let (mut vm, mut vb) = (Vec::new(), Vec::new());
        for (m, b, n) in months.values() {
            cm += m / *n as f64;
            cb += b / *n as f64;
            vm.push(cm);
            vb.push(cb);
        }
        html.push_str(&chart(
            "Cumulative monthly rank IC (sum of each month's mean daily IC)",
            &dates,
            &[
                Line {
                    name: "model".into(),
                    color: BLUE,
                    values: vm,
                },
                Line {
                    name: "ridge baseline".into(),
                    color: RGBColor(230, 140, 0),
                    values: vb,
                },
            ],
            YFmt::Number,
            None,
        ));
    }
    // The same strategy on the baseline's scores.
    let bdir = dir.join("baseline");
    if bdir.join("summary.json").exists() && bdir.join("equity.csv").exists() {
        let bs = read_json(&bdir.join("summary.json"))?;
        let ms = read_json(&dir.join("summary.json"))?;
        html.push_str("<h2>The strategy on the model's scores and on the ridge baseline's</h2><table class=\"m\"><tr><th></th><th>model</th><th>ridge baseline</th></tr>");
        for (k, label, is_pct) in [
            ("total_return", "Total return", true),
            ("cagr", "CAGR", true),
            ("sharpe", "Sharpe", false),
            ("max_drawdown", "Max drawdown", true),
            ("turnover", "Turnover", false),
        ] {
            let show = |v: &serde_json::Value| if is_pct { pct(v[k].as_f64()) } else { num(v[k].as_f64()) };
            let _ = write!(
                html,
                "<tr><td>{label}</td>{}{}</tr>",
                cell(&format!("model.{k}"), &ms[k], &show(&ms)),
                cell(&format!("baseline.{k}"), &bs[k], &show(&bs))
            );
        }
        html.push_str("</table>");
        let b_rows = equity_rows(&bdir.join("equity.csv"))?;
        if b_rows.len() == rows.len() {
            html.push_str(&chart(
                "Equity: model scores and ridge scores",
                &rows.iter().map(|r| r.date.clone()).collect::<Vec<_>>(),
                &[
                    Line {
                        name: "model".into(),
                        color: BLUE,
                        values: rows.iter().map(|r| r.equity).collect(),
                    },
                    Line {
                        name: "ridge baseline".into(),
                        color: RGBColor(230, 140, 0),
                        values: b_rows.iter().map(|r| r.equity).collect(),
                    },
                ],
                YFmt::Money,
                None,
            ));
        }
    }
    // Permutation importance, the mean over the test years' models.
    let mut imp: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for y in &labels {
        let p = wdir.join(format!("year_{y}")).join("importance.csv");
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        for l in text.lines().skip(1) {
            let f = split_csv(l);
            if let (Some(name), Some(v)) = (f.first(), f.get(1).and_then(|v| v.parse::<f64>().ok())) {
                if !order.contains(name) {
                    order.push(name.clone());
                }
                let e = imp.entry(name.clone()).or_insert((0.0, 0));
                e.0 += v;
                e.1 += 1;
            }
        }
    }
    if !imp.is_empty() {
        let mut items: Vec<(String, f64)> = imp.into_iter().map(|(k, (s, n))| (k, s / n as f64)).collect();
        items.sort_by(|a, b| b.1.total_cmp(&a.1));
        html.push_str("<h2>Permutation importance</h2><p class=\"note\">The drop in validation rank IC when one feature's whole window is shuffled across samples, the mean over the test years' models.</p>");
        html.push_str(&bars(
            "Permutation importance (rank IC drop)",
            &items.iter().map(|i| i.0.clone()).collect::<Vec<_>>(),
            &[("IC drop", RGBColor(0, 110, 140), items.iter().map(|i| i.1).collect())],
        ));
        html.push_str("<table class=\"m\"><tr><th>feature</th><th>IC drop</th></tr>");
        for (k, v) in &items {
            let _ = write!(
                html,
                "<tr><td>{}</td>{}</tr>",
                esc(k),
                cell(&format!("importance.{k}"), &serde_json::json!(v), &format!("{v:.4}"))
            );
        }
        html.push_str("</table>");
    }
    Ok(())
}

/// A sweep's page: a heat map of `metric` over the grid's first two keys (the best value over
/// the other keys' values where there are more), and the table of cells.
///
/// # Errors
/// `sweep.csv` that cannot be read, or the page that cannot be written.
pub fn write_sweep(dir: &Path, metric: &str) -> Result<PathBuf, ReportError> {
    let path = dir.join("sweep.csv");
    let text = read(&path)?;
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap_or(""));
    let end = header
        .iter()
        .position(|h| h == "final_equity")
        .ok_or_else(|| err(&path, "no final_equity column"))?;
    let keys: Vec<String> = header[1..end].to_vec();
    let mcol = header
        .iter()
        .position(|h| h == metric)
        .ok_or_else(|| err(&path, format!("no {metric} column")))?;
    let cells: Vec<Vec<String>> = lines.map(split_csv).collect();
    let axis = |k: usize| {
        let mut v: Vec<String> = Vec::new();
        for c in &cells {
            if let Some(x) = c.get(1 + k) {
                if !v.contains(x) {
                    v.push(x.clone());
                }
            }
        }
        v
    };
    let xs = axis(0);
    let ys = if keys.len() > 1 { axis(1) } else { vec![String::new()] };
    let mut grid = vec![vec![f64::NAN; ys.len()]; xs.len()];
    for c in &cells {
        let v: f64 = c.get(mcol).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
        let i = xs.iter().position(|x| Some(x) == c.get(1));
        let j = if keys.len() > 1 {
            ys.iter().position(|y| Some(y) == c.get(2))
        } else {
            Some(0)
        };
        if let (Some(i), Some(j)) = (i, j) {
            if v.is_finite() && (grid[i][j].is_nan() || v > grid[i][j]) {
                grid[i][j] = v;
            }
        }
    }
    let best = cells
        .iter()
        .filter_map(|c| c.get(mcol).and_then(|v| v.parse::<f64>().ok()).map(|v| (v, c)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let mut html = String::new();
    head(&mut html, "sweep");
    let _ = write!(
        html,
        "<p>{} cells over {}. Figures from <code>sweep.csv</code>.</p>",
        cells.len(),
        esc(&keys.join(", "))
    );
    if let Some((v, c)) = best {
        let _ = write!(
            html,
            "<p>Best {metric}: <b data-metric=\"best.{metric}\" data-value=\"{}\">{v:.3}</b> at cell <span data-metric=\"best.cell\" data-value=\"{}\">{}</span> ({}).</p>",
            esc(&c[mcol]),
            esc(&c[0]),
            esc(&c[0]),
            esc(&keys.iter().zip(&c[1..end]).map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join(", "))
        );
    }
    if keys.len() > 2 {
        let _ = write!(
            html,
            "<p class=\"note\">Each square is the best {metric} over the values of {}.</p>",
            esc(&keys[2..].join(", "))
        );
    }
    let (lo, hi) = grid
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    let mut svg = String::new();
    if lo.is_finite() {
        let root = SVGBackend::with_string(&mut svg, (900, 120 + 50 * ys.len() as u32)).into_drawing_area();
        let _ = root.fill(&WHITE);
        let built = ChartBuilder::on(&root)
            .caption(format!("{metric} over the grid"), ("sans-serif", 16))
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(90)
            .build_cartesian_2d(
                (0..xs.len().saturating_sub(1).max(1)).into_segmented(),
                (0..ys.len().saturating_sub(1).max(1)).into_segmented(),
            );
        // An axis of one value is drawn over the range's two segments, its label in the middle.
        let (sx, sy) = (if xs.len() == 1 { 2 } else { 1 }, if ys.len() == 1 { 2 } else { 1 });
        let mid = |k: usize, span: usize| {
            if span == 2 {
                SegmentValue::Exact(1)
            } else {
                SegmentValue::CenterOf(k)
            }
        };
        if let Ok(mut chart) = built {
            let _ = chart
                .configure_mesh()
                .disable_mesh()
                .x_desc(keys[0].as_str())
                .y_desc(keys.get(1).map_or("", String::as_str))
                .x_labels(xs.len())
                .y_labels(ys.len())
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) if sx == 1 => xs.get(*i).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .y_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(j) if sy == 1 => ys.get(*j).cloned().unwrap_or_default(),
                    _ => String::new(),
                })
                .draw();
            let color = |v: f64| {
                if !v.is_finite() {
                    return RGBColor(220, 220, 220);
                }
                let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                // Red (worst) through pale yellow to green (best).
                let (r, g, b) = if t < 0.5 {
                    let u = t * 2.0;
                    (215.0 + 40.0 * u, 48.0 + 207.0 * u, 39.0 + 152.0 * u)
                } else {
                    let u = (t - 0.5) * 2.0;
                    (255.0 - 229.0 * u, 255.0 - 103.0 * u, 191.0 - 111.0 * u)
                };
                RGBColor(r as u8, g as u8, b as u8)
            };
            for (i, col) in grid.iter().enumerate() {
                for (j, v) in col.iter().enumerate() {
                    let _ = chart.draw_series(std::iter::once(Rectangle::new(
                        [
                            (SegmentValue::Exact(i * sx), SegmentValue::Exact(j * sy)),
                            (SegmentValue::Exact((i + 1) * sx), SegmentValue::Exact((j + 1) * sy)),
                        ],
                        color(*v).filled(),
                    )));
                    let label = if v.is_finite() { format!("{v:.3}") } else { "-".into() };
                    let _ = chart.draw_series(std::iter::once(Text::new(
                        label,
                        (mid(i, sx), mid(j, sy)),
                        ("sans-serif", 13)
                            .into_font()
                            .color(&BLACK)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    )));
                }
            }
        }
        let _ = root.present();
    }
    html.push_str(&svg);
    html.push_str("<h2>Cells</h2><div style=\"overflow-x:auto\"><table><tr>");
    for h in &header {
        let _ = write!(html, "<th>{}</th>", esc(h));
    }
    html.push_str("</tr>");
    for c in &cells {
        html.push_str("<tr>");
        for v in c {
            let v = v
                .parse::<f64>()
                .ok()
                .filter(|_| v.contains('.'))
                .map_or(v.clone(), |x| format!("{x:.4}"));
            let _ = write!(html, "<td>{}</td>", esc(&v));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table></div></body></html>\n");
    finish(dir, html)
}
