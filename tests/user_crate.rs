//! A user's own crate, as `kairos new` scaffolds it in a temporary directory outside the
//! repository: it builds against this checkout, its own test passes, and its binary runs its
//! strategy (`breakout`) in every mode through every command: a backtest, a sweep (each cell
//! equal to the same run alone), an audit, and a paper session against the loopback venue its
//! own `serve-market` serves. Every wait is bounded and names what it waited for; the venue is
//! stopped even when the test fails.
//!
//! The crate is built in this build's target directory, so it shares every compiled dependency
//! and compiles only kairos (engine-only, as the scaffold asks) and itself. It runs once per CI
//! run, in the default build's suite. Where Ray is set up (`scripts/setup_ray.sh`), the sweep
//! runs on a local Ray too, `python -m kairos_ray` with `--binary` pointing at the user's binary,
//! and equals the local sweep byte for byte.
#![cfg(feature = "torch")]

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` to its end within `limit`, or kills it: the output, or a panic naming `what`.
fn run(cmd: &mut Command, what: &str, limit: Duration) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    wait_for(child, what, limit)
}

/// Waits for `child` (its output piped) within `limit`, or kills it; it must succeed.
fn wait_for(mut child: Child, what: &str, limit: Duration) -> Output {
    // Drain both pipes on threads so a chatty child never blocks on a full pipe.
    let (mut out, mut err) = (
        child.stdout.take().expect("stdout"),
        child.stderr.take().expect("stderr"),
    );
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut b);
        b
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            let e = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
            panic!("{what}: no end within {limit:?}; stderr:\n{}", tail(&e));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}",
        output.status,
        tail(&String::from_utf8_lossy(&output.stderr))
    );
    output
}

/// The last 4,000 bytes of `s` or so (from a character boundary).
fn tail(s: &str) -> &str {
    let mut from = s.len().saturating_sub(4000);
    while !s.is_char_boundary(from) {
        from += 1;
    }
    &s[from..]
}

/// [`run`] for a command started in a process group of its own (a Ray driver and the Ray
/// processes it starts): the whole group is killed, and `ray stop` run, when it outlives
/// `limit` or fails.
fn run_group(mut cmd: Command, what: &str, limit: Duration, py: &Path) -> Output {
    struct Group(u32, PathBuf);
    impl Drop for Group {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let _ = Command::new("kill").args(["-9", &format!("-{}", self.0)]).status();
                let _ = Command::new(self.1.with_file_name("ray"))
                    .args(["stop", "--force"])
                    .output();
            }
        }
    }
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn();
    let child = child.unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let _group = Group(child.id(), py.to_path_buf());
    wait_for(child, what, limit)
}

/// A child process killed when dropped (the loopback venue, even when an assertion fails).
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The target directory of this build (where the scaffold is built too).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from)
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn a_scaffolded_crate_runs_its_own_strategy_with_every_command() {
    let tmp = tempfile::tempdir().expect("tmp");
    let krate = tmp.path().join("my-strategies");
    let kairos = env!("CARGO_BIN_EXE_kairos");
    run(
        Command::new(kairos).arg("new").arg(&krate),
        "kairos new",
        Duration::from_secs(30),
    );
    for f in [
        "Cargo.toml",
        "Cargo.lock",
        "src/main.rs",
        "config/backtest.toml",
        "config/paper.toml",
    ] {
        assert!(krate.join(f).exists(), "{f}");
    }
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).expect("Cargo.toml");
    assert!(manifest.contains("name = \"my_strategies\""), "{manifest}");
    // A second scaffold into the same (now full) directory is refused.
    let again = Command::new(kairos)
        .arg("new")
        .arg(&krate)
        .output()
        .expect("kairos new");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = target_dir();
    let build = |args: &[&str], what: &str| {
        let mut cmd = Command::new(&cargo);
        cmd.args(args)
            .arg("--manifest-path")
            .arg(krate.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&krate);
        // As from a user's shell: without what cargo sets for this test process (CARGO_PKG_NAME,
        // CARGO_MANIFEST_DIR, ...). Build scripts (ring's, through cc) rerun when those change,
        // and would rebuild everything above them here and again in the next `cargo test`.
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if (k.starts_with("CARGO_") && k != "CARGO_HOME") || k == "OUT_DIR" {
                cmd.env_remove(&*k);
            }
        }
        cmd.env("CARGO_TARGET_DIR", &target);
        run(&mut cmd, what, Duration::from_secs(900))
    };
    build(&["build", "--quiet"], "cargo build of the scaffolded crate");
    let test = build(&["test", "--quiet"], "cargo test of the scaffolded crate");
    let said = String::from_utf8_lossy(&test.stdout);
    assert!(said.contains("1 passed"), "its own test ran: {said}");
    let bin = target.join("debug/my_strategies");
    assert!(bin.exists(), "{}", bin.display());
    let user = |args: &[&str], what: &str| {
        run(
            Command::new(&bin).args(args).current_dir(&krate),
            what,
            Duration::from_secs(120),
        )
    };

    user(
        &[
            "data",
            "synth",
            "--out",
            "data/daily",
            "--symbols",
            "12",
            "--days",
            "400",
        ],
        "data synth",
    );
    // A backtest of the user's strategy, every output written.
    let bt = json(&user(&["backtest", "--config", "config/backtest.toml"], "backtest").stdout);
    assert_eq!(bt["strategy"], "breakout");
    assert!(bt["trades"].as_u64().unwrap_or(0) > 0, "{bt}");
    for f in ["summary.json", "report.html", "fills.csv", "equity.csv"] {
        assert!(krate.join("out/backtest").join(f).exists(), "{f}");
    }
    // A misspelt parameter is refused by name, naming the file, before any data is read.
    std::fs::write(
        krate.join("config/bad.toml"),
        std::fs::read_to_string(krate.join("config/backtest.toml"))
            .expect("config")
            .replace("lookback = 20", "lookbak = 20"),
    )
    .expect("bad config");
    let bad = Command::new(&bin)
        .args(["backtest", "--config", "config/bad.toml"])
        .current_dir(&krate)
        .output()
        .expect("backtest");
    let e = String::from_utf8_lossy(&bad.stderr);
    assert!(
        !bad.status.success() && e.contains("lookbak") && e.contains("bad.toml"),
        "{e}"
    );

    // A sweep: the cell with the backtest's parameters has its final equity.
    let sw = json(
        &user(
            &[
                "sweep",
                "--config",
                "config/backtest.toml",
                "--grid",
                "config/grid.toml",
                "--out",
                "out/sweep",
            ],
            "sweep",
        )
        .stdout,
    );
    assert_eq!(sw["cells"], 6);
    let csv = std::fs::read_to_string(krate.join("out/sweep/sweep.csv")).expect("sweep.csv");
    let cell = csv
        .lines()
        .find(|l| l.split(',').nth(1) == Some("20") && l.split(',').nth(2) == Some("0.05"))
        .unwrap_or_else(|| panic!("no cell lookback 20, weight 0.05:\n{csv}"));
    let equity = cell.split(',').nth(3).expect("final_equity");
    assert_eq!(
        equity.parse::<rust_decimal::Decimal>().expect("decimal"),
        bt["final_equity_exact"]
            .as_str()
            .expect("exact")
            .parse::<rust_decimal::Decimal>()
            .expect("decimal"),
        "the sweep's cell equals the backtest alone"
    );

    // The same sweep on a local Ray cluster, through the user's binary.
    if let Some(py) = common::ray_python("the sweep on Ray") {
        let scratch = tmp.path().join("ray-tmp");
        std::fs::create_dir_all(&scratch).expect("scratch");
        let mut driver = Command::new(&py);
        driver
            .args(["-m", "kairos_ray", "sweep", "--config", "config/backtest.toml"])
            .args(["--grid", "config/grid.toml", "--out", "out/ray-sweep", "--workers", "2"])
            .arg("--binary")
            .arg(&bin)
            .current_dir(&krate)
            .env("PYTHONPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("python"))
            .env("RAY_USAGE_STATS_ENABLED", "0")
            .env("RAY_TMPDIR", &scratch)
            .env("TMPDIR", &scratch)
            .process_group(0);
        let ray = run_group(
            driver,
            "python -m kairos_ray sweep --binary",
            Duration::from_secs(300),
            &py,
        );
        let result = json(&ray.stdout);
        assert_eq!(result["done"], 6, "{result}");
        let on_ray = std::fs::read_to_string(krate.join("out/ray-sweep/sweep.csv")).expect("ray sweep.csv");
        assert_eq!(on_ray, csv, "the sweep on Ray equals the local sweep");
    }

    // The audit: no look-ahead in the user's strategy.
    let au = json(&user(&["audit", "--config", "config/backtest.toml"], "audit").stdout);
    assert_eq!(au["strategy"], "breakout");
    assert_eq!(au["unchanged"], true, "{au}");
    assert!(au["decisions_compared"].as_u64().unwrap_or(0) > 0, "{au}");

    // A paper session against the crate's own loopback venue (port 0: its address read back).
    user(
        &[
            "data",
            "synth",
            "--out",
            "data/minute",
            "--symbols",
            "4",
            "--days",
            "1",
            "--minutes",
            "1",
            "--seed",
            "7",
        ],
        "data synth (minutes)",
    );
    let mut venue = Killed(
        Command::new(&bin)
            .args([
                "serve-market",
                "--venue",
                "binance",
                "--data",
                "data/minute",
                "--time-zone",
                "America/New_York",
                "--history",
                "40",
                "--speed",
                "0",
                "--listen",
                "127.0.0.1:0",
            ])
            .current_dir(&krate)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve-market"),
    );
    let stdout = venue.0.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let lines: Vec<String> = BufReader::new(stdout).lines().take(2).map_while(Result::ok).collect();
        let _ = tx.send(lines);
    });
    let urls = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("serve-market printed its addresses within 60 s");
    assert_eq!(urls.len(), 2, "{urls:?}");
    let paper = std::fs::read_to_string(krate.join("config/paper.toml")).expect("paper.toml");
    let paper: String = paper
        .lines()
        .map(|l| {
            if l.starts_with("ws_url") {
                urls[0].clone()
            } else if l.starts_with("rest_url") {
                urls[1].clone()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(krate.join("config/paper-test.toml"), paper).expect("paper config");
    user(
        &[
            "paper",
            "--config",
            "config/paper-test.toml",
            "--max-bars",
            "60",
            "--quiet",
        ],
        "paper session",
    );
    drop(venue);
    let summary = json(&std::fs::read(krate.join("out/paper/summary.json")).expect("summary.json"));
    assert_eq!(summary["strategy"], "breakout");
    assert_eq!(summary["live"]["counters"]["live_timestamps"], 60, "{summary}");
    assert!(
        summary["trades"].as_u64().unwrap_or(0) > 0,
        "the session traded: {summary}"
    );
}
