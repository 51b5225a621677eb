//! `report.html`: one self-contained page (inline SVG drawn by plotters, no script, no network)
//! from a run's outputs (`summary.json`, `equity.csv`, `fills.csv`): headline metrics, the
//! equity curve, the drawdown, gross and net exposure, monthly returns and the fills.
//!
//! Written by every backtest and by `kairos report --run DIR`. Each headline figure carries a
//! `data-metric` attribute holding the value as `summary.json` has it (tested).

use plotters::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A report that cannot be written, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("report: {path}: {message}")]
pub struct ReportError {
    pub path: PathBuf,
    pub message: String,
}

/// One row of `equity.csv`.
struct Row {
    date: String,
    equity: f64,
    gross: f64,
    net: f64,
}

fn read(path: &Path) -> Result<String, ReportError> {
    std::fs::read_to_string(path).map_err(|e| ReportError {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn equity_rows(dir: &Path) -> Result<Vec<Row>, ReportError> {
    let path = dir.join("equity.csv");
    let text = read(&path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let num = |k: usize| -> Result<f64, ReportError> {
            f.get(k).and_then(|v| v.parse().ok()).ok_or_else(|| ReportError {
                path: path.clone(),
                message: format!("line {}: not a number in column {}", i + 1, k + 1),
            })
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

/// A named, colored series of a chart: its value at each row.
type Series<'a> = (&'a str, RGBColor, &'a dyn Fn(&Row) -> f64);

/// An SVG chart of one or two series over the row index, labeled by dates.
fn chart(title: &str, rows: &[Row], series: &[Series<'_>], percent: bool) -> String {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for (_, _, f) in series {
        for r in rows {
            let v = f(r);
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
    }
    let mut svg = String::new();
    if !lo.is_finite() || !hi.is_finite() {
        return svg;
    }
    if (hi - lo).abs() < 1e-12 {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.05;
    let n = rows.len().max(2);
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
                .x_label_formatter(&|i| {
                    rows.get(*i)
                        .map(|r| r.date.chars().take(10).collect())
                        .unwrap_or_default()
                })
                .y_label_formatter(&|v| {
                    if percent {
                        format!("{:.0} %", v * 100.0)
                    } else {
                        format!("{v:.0}")
                    }
                })
                .light_line_style(RGBColor(235, 235, 235))
                .draw();
            for (name, color, f) in series {
                let color = *color;
                if let Ok(s) =
                    chart.draw_series(LineSeries::new(rows.iter().enumerate().map(|(i, r)| (i, f(r))), color))
                {
                    s.label(*name)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
                }
            }
            if series.len() > 1 {
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
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes `report.html` into `dir` from the run's outputs there; returns its path.
///
/// # Errors
/// An output that cannot be read, or the page that cannot be written.
pub fn write(dir: &Path) -> Result<PathBuf, ReportError> {
    let summary_path = dir.join("summary.json");
    let summary: serde_json::Value = serde_json::from_str(&read(&summary_path)?).map_err(|e| ReportError {
        path: summary_path.clone(),
        message: e.to_string(),
    })?;
    let rows = equity_rows(dir)?;
    let fills = read(&dir.join("fills.csv"))?;
    let f = |k: &str| summary[k].as_f64();
    // Volatility of the equity curve's returns, a year of rows being the span's rows per year.
    let rets: Vec<f64> = rows.windows(2).map(|w| w[1].equity / w[0].equity - 1.0).collect();
    let years = f("cagr")
        .and_then(|c| f("total_return").map(|t| (c, t)))
        .filter(|(c, _)| *c > -1.0 && c.abs() > 1e-12)
        .map(|(c, t)| (1.0 + t).ln() / (1.0 + c).ln());
    let per_year = years.filter(|y| *y > 0.0).map_or(252.0, |y| rets.len() as f64 / y);
    let vol = if rets.len() > 2 {
        let m = rets.iter().sum::<f64>() / rets.len() as f64;
        let var = rets.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (rets.len() - 1) as f64;
        Some(var.sqrt() * per_year.sqrt())
    } else {
        None
    };
    let calmar = match (f("cagr"), f("max_drawdown")) {
        (Some(c), Some(d)) if d > 0.0 => Some(c / d),
        _ => None,
    };
    let pct = |v: Option<f64>| v.map_or("-".into(), |v| format!("{:.2} %", v * 100.0));
    let num = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
    let raw = |k: &str| summary[k].to_string().trim_matches('"').to_string();
    let money = |k: &str| {
        raw(k)
            .parse::<rust_decimal::Decimal>()
            .map_or_else(|_| raw(k), |d| d.round_dp(2).to_string())
    };
    let metrics: Vec<(&str, String, String)> = vec![
        ("final_equity_exact", "Final equity".into(), money("final_equity_exact")),
        ("total_return", "Total return".into(), pct(f("total_return"))),
        ("cagr", "CAGR".into(), pct(f("cagr"))),
        ("volatility", "Volatility (annual)".into(), pct(vol)),
        ("sharpe", "Sharpe".into(), num(f("sharpe"))),
        ("sortino", "Sortino".into(), num(f("sortino"))),
        ("max_drawdown", "Max drawdown".into(), pct(f("max_drawdown"))),
        ("calmar", "Calmar".into(), num(calmar)),
        ("win_rate", "Win rate".into(), pct(f("win_rate"))),
        ("profit_factor", "Profit factor".into(), num(f("profit_factor"))),
        ("turnover", "Turnover".into(), num(f("turnover"))),
        ("costs", "Costs".into(), money("costs")),
        ("trades", "Fills".into(), raw("trades")),
    ];
    let mut html = String::new();
    let strategy = esc(summary["strategy"].as_str().unwrap_or("run"));
    let (first, last) = (
        rows.first().map_or(String::new(), |r| r.date.clone()),
        rows.last().map_or(String::new(), |r| r.date.clone()),
    );
    let _ = write!(
        html,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Kairos report: {strategy}</title><style>\
         body{{font-family:sans-serif;margin:24px;color:#222}} table{{border-collapse:collapse;margin:8px 0 20px}} \
         td,th{{border:1px solid #ddd;padding:4px 8px;text-align:right}} th{{background:#f4f4f4}} \
         .m td:first-child{{text-align:left}} .neg{{color:#b00}} .pos{{color:#070}}</style></head><body>\
         <h1>{strategy}</h1><p>{} to {}, {} timestamps. Figures from <code>summary.json</code>; charts from \
         <code>equity.csv</code>.</p><h2>Headline</h2><table class=\"m\">",
        esc(&first),
        esc(&last),
        rows.len()
    );
    for (key, label, value) in &metrics {
        let data = match summary.get(*key) {
            Some(v) if !v.is_null() => v.to_string().trim_matches('"').to_string(),
            _ => match *key {
                "volatility" => vol.map_or(String::new(), |v| v.to_string()),
                "calmar" => calmar.map_or(String::new(), |v| v.to_string()),
                _ => String::new(),
            },
        };
        let _ = write!(
            html,
            "<tr><td>{label}</td><td data-metric=\"{key}\" data-value=\"{}\">{}</td></tr>",
            esc(&data),
            esc(value)
        );
    }
    html.push_str("</table>");
    let peak = {
        let mut m = f64::NEG_INFINITY;
        rows.iter()
            .map(|r| {
                m = m.max(r.equity);
                r.equity / m - 1.0
            })
            .collect::<Vec<f64>>()
    };
    html.push_str(&chart("Equity", &rows, &[("equity", BLUE, &|r: &Row| r.equity)], false));
    let dd_rows: Vec<Row> = rows
        .iter()
        .zip(&peak)
        .map(|(r, d)| Row {
            date: r.date.clone(),
            equity: *d,
            gross: 0.0,
            net: 0.0,
        })
        .collect();
    html.push_str(&chart(
        "Drawdown",
        &dd_rows,
        &[("drawdown", RED, &|r: &Row| r.equity)],
        true,
    ));
    html.push_str(&chart(
        "Exposure (share of equity)",
        &rows,
        &[
            ("gross", RGBColor(120, 60, 160), &|r: &Row| r.gross / r.equity),
            ("net", RGBColor(0, 130, 80), &|r: &Row| r.net / r.equity),
        ],
        true,
    ));
    // Monthly returns: the last equity of each month against the previous month's.
    let mut months: Vec<(String, f64)> = Vec::new();
    for r in &rows {
        let m: String = r.date.chars().take(7).collect();
        match months.last_mut() {
            Some((k, e)) if *k == m => *e = r.equity,
            _ => months.push((m, r.equity)),
        }
    }
    let start = rows.first().map_or(0.0, |r| r.equity);
    let mut years: std::collections::BTreeMap<String, [Option<f64>; 12]> = Default::default();
    let mut prev = start;
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
    html.push_str("</tr>");
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
        html.push_str("</tr>");
    }
    html.push_str("</table>");
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
        for c in l.split(',') {
            let _ = write!(html, "<td>{}</td>", esc(c));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table></body></html>\n");
    let out = dir.join("report.html");
    std::fs::write(&out, html).map_err(|e| ReportError {
        path: out.clone(),
        message: e.to_string(),
    })?;
    Ok(out)
}
