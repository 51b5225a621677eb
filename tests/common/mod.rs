//! Helpers shared by the integration tests.
#![allow(dead_code)]

use kairos::config::Config;
use std::path::Path;

/// Writes `SYMBOL.csv` with the given `(date, open, high, low, close, volume)` rows.
pub fn write_symbol(dir: &Path, symbol: &str, rows: &[(&str, f64, f64, f64, f64, u64)]) {
    let mut s = String::from("date,open,high,low,close,volume\n");
    for (d, o, h, l, c, v) in rows {
        s.push_str(&format!("{d},{o},{h},{l},{c},{v}\n"));
    }
    std::fs::write(dir.join(format!("{symbol}.csv")), s).expect("write fixture");
}

/// Business dates from 2021-01-04 (a Monday), `n` of them.
pub fn dates(n: usize) -> Vec<String> {
    let mut d = chrono::NaiveDate::from_ymd_opt(2021, 1, 4).expect("date");
    let mut out = Vec::new();
    while out.len() < n {
        use chrono::Datelike;
        if d.weekday().number_from_monday() <= 5 {
            out.push(d.format("%Y-%m-%d").to_string());
        }
        d = d.succ_opt().expect("date");
    }
    out
}

/// Writes a symbol from closes and opens: high/low bracket them by 0.5.
pub fn write_series(dir: &Path, symbol: &str, opens: &[f64], closes: &[f64]) {
    let ds = dates(closes.len());
    let rows: Vec<(&str, f64, f64, f64, f64, u64)> = ds
        .iter()
        .zip(opens.iter().zip(closes))
        .map(|(d, (&o, &c))| (d.as_str(), o, o.max(c) + 0.5, o.min(c) - 0.5, c, 1_000_000))
        .collect();
    write_symbol(dir, symbol, &rows);
}

/// A configuration from TOML text with `{data}` and `{out}` filled in.
pub fn config(toml: &str, data: &Path, out: &Path) -> Config {
    let text = toml
        .replace("{data}", &data.display().to_string())
        .replace("{out}", &out.display().to_string());
    Config::parse(&text, Path::new("test.toml")).expect("valid config")
}

/// Reads `fills.csv` rows as string vectors (header dropped).
pub fn fills(out: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(out.join("fills.csv"))
        .expect("fills.csv")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// Copies every `.csv` of `src` into `dst`, passing each data row `(index from 0, fields)` through
/// `f` (the header is kept).
pub fn rewrite_market(src: &Path, dst: &Path, f: impl Fn(usize, &[&str]) -> String) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("dir") {
        let p = e.expect("entry").path();
        if p.extension().and_then(|x| x.to_str()) != Some("csv") {
            continue;
        }
        let text = std::fs::read_to_string(&p).expect("read");
        let mut lines = text.lines();
        let mut out = vec![lines.next().expect("header").to_string()];
        for (i, l) in lines.enumerate() {
            out.push(f(i, &l.split(',').collect::<Vec<_>>()));
        }
        std::fs::write(dst.join(p.file_name().expect("name")), out.join("\n") + "\n").expect("write");
    }
}

/// A `date,open,high,low,close,volume` row with prices times `p` and volume times `v`.
pub fn scaled(f: &[&str], p: f64, v: u64) -> String {
    let x = |s: &str| format!("{:.2}", s.parse::<f64>().expect("price") * p);
    let vol = f[5].parse::<u64>().expect("volume") * v;
    format!("{},{},{},{},{},{vol}", f[0], x(f[1]), x(f[2]), x(f[3]), x(f[4]))
}
