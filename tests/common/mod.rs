//! Helpers shared by the integration tests.
#![allow(dead_code)]

use kairos::config::Config;
use std::path::Path;

/// Whether `var=1` asks to skip `what` (printed); refused under CI (`CI` set), where a skipped
/// check would pass without running.
pub fn skipped(var: &str, what: &str) -> bool {
    if !std::env::var(var).is_ok_and(|v| v == "1") {
        return false;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{var}=1 is refused under CI: {what} must run there"
    );
    eprintln!("{var}=1: {what} skipped");
    true
}

/// The pinned Ray's Python (`scripts/setup_ray.sh`, or `KAIROS_RAY_VENV`); `None` only when
/// `KAIROS_SKIP_RAY=1` skips `what` (refused under CI).
pub fn ray_python(what: &str) -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    if skipped("KAIROS_SKIP_RAY", what) {
        return None;
    }
    let venv = std::env::var("KAIROS_RAY_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cache/kairos/ray-venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "Ray is not installed in {}: run scripts/setup_ray.sh (or set KAIROS_SKIP_RAY=1)",
        venv.display()
    );
    Some(py)
}

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

/// A deterministic number in [0, 1) from a seed and a text (SplitMix64 over FNV-1a).
pub fn unit(seed: u64, text: &str) -> f64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Copies the per-symbol market `src` into `dst`, rescaling every bar whose date satisfies
/// `touch` by its own seeded random factor: each symbol and each day gets a different price
/// factor in [0.7, 1.4] (the benchmark too) and a different volume factor in [0.3, 3]. Unlike one
/// common factor, this changes rankings, cross-sectional labels and relative returns.
pub fn perturb_market(src: &Path, dst: &Path, seed: u64, touch: impl Fn(&str) -> bool) {
    std::fs::create_dir_all(dst).expect("mkdir");
    for e in std::fs::read_dir(src).expect("dir") {
        let p = e.expect("entry").path();
        if p.extension().and_then(|x| x.to_str()) != Some("csv") {
            continue;
        }
        let symbol = p.file_stem().and_then(|s| s.to_str()).expect("symbol").to_string();
        let text = std::fs::read_to_string(&p).expect("read");
        let mut lines = text.lines();
        let mut out = vec![lines.next().expect("header").to_string()];
        for l in lines {
            let f: Vec<&str> = l.split(',').collect();
            if !touch(f[0]) {
                out.push(l.to_string());
                continue;
            }
            let key = format!("{symbol}/{}", f[0]);
            let pf = 0.7 * 2f64.powf(unit(seed, &key));
            let vf = 0.3 * 10f64.powf(unit(seed ^ 0x5555, &key));
            let x = |s: &str| format!("{:.2}", (s.parse::<f64>().expect("price") * pf).max(0.01));
            let vol = (f[5].parse::<f64>().expect("volume") * vf).round().max(1.0);
            out.push(format!(
                "{},{},{},{},{},{vol}",
                f[0],
                x(f[1]),
                x(f[2]),
                x(f[3]),
                x(f[4])
            ));
        }
        std::fs::write(dst.join(p.file_name().expect("name")), out.join("\n") + "\n").expect("write");
    }
}

/// The date of data row `i` (from 0) of `SYMBOL.csv` in `dir`.
pub fn date_of_row(dir: &Path, symbol: &str, i: usize) -> String {
    std::fs::read_to_string(dir.join(format!("{symbol}.csv")))
        .expect("symbol file")
        .lines()
        .nth(i + 1)
        .expect("row")[..10]
        .to_string()
}

/// Collects what a tracing subscriber writes (`with_writer(move || captured.clone())`).
#[derive(Clone, Default)]
pub struct Captured(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Captured {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Paper sessions against a loopback market the test steps itself ([`MarketSpec::manual`]):
/// each timestamp is published only once the session has journaled the one before, so a test
/// can stop the session at an exact point.
///
/// [`MarketSpec::manual`]: kairos::loopback::MarketSpec::manual
pub mod stepping {
    use kairos::loopback::Server;
    use std::path::Path;
    use std::time::{Duration, Instant};

    async fn pause() {
        tokio::time::timeout(Duration::from_millis(5), std::future::pending::<()>())
            .await
            .ok();
    }

    /// Timestamps journaled so far (0 before the journal has its tables), read through a
    /// read-only connection: opening it as a `Journal` would write (its schema, its pragmas, a
    /// checkpoint when dropped) beside the session that owns it.
    pub fn journal_steps(journal: &Path) -> usize {
        let Ok(conn) = rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        else {
            return 0;
        };
        conn.busy_timeout(Duration::from_secs(10)).ok();
        conn.query_row("SELECT COUNT(*) FROM timestamps", [], |r| r.get::<_, i64>(0))
            .map_or(0, |n| n as usize)
    }

    /// Waits (at most 60 s) until a session subscribes to the venue's bars: what is published
    /// from then on reaches it.
    pub async fn wait_for_subscriber(server: &Server) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.stats().subscribers.load(std::sync::atomic::Ordering::Acquire) == 0 {
            assert!(Instant::now() < deadline, "the session never subscribed to bars");
            pause().await;
        }
    }

    /// Waits until the session has journaled at least `n` timestamps; false when it has not
    /// within `within`.
    pub async fn journaled(journal: &Path, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while journal_steps(journal) < n {
            if Instant::now() >= deadline {
                return false;
            }
            pause().await;
        }
        true
    }

    /// Publishes the next timestamp (`published` counts them, history included) and waits (at
    /// most 30 s) until the session has journaled it.
    pub async fn publish_next(server: &Server, journal: &Path, published: &mut usize) {
        server.advance(1);
        *published += 1;
        assert!(
            journaled(journal, *published, Duration::from_secs(30)).await,
            "timestamp {published} not journaled within 30 s (journal {}, venue published {})",
            journal_steps(journal),
            server.published()
        );
    }
}
