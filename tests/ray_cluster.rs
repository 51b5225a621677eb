//! Sweeps and walk-forward years on a Ray cluster of three nodes on loopback (a head and two
//! workers), one worker process killed mid-run: `python/tests/test_cluster.py` (see its
//! docstring), run here with the pinned Ray of `scripts/setup_ray.sh`. The results equal the
//! local commands' byte for byte. Bounded: the script has 9 minutes, then its process group is
//! killed and `ray stop` run.
#![cfg(feature = "torch")]

mod common;

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn a_sweep_and_a_walkforward_on_a_three_node_cluster_equal_the_local_runs() {
    let Some(py) = common::ray_python("the Ray cluster test") else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tmp");
    let log = tmp.path().join("test_cluster.log");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    let mut child = std::process::Command::new(&py)
        .arg(root.join("python/tests/test_cluster.py"))
        .arg(env!("CARGO_BIN_EXE_kairos"))
        .arg(tmp.path())
        .env("PYTHONPATH", root.join("python"))
        .env("RAY_USAGE_STATS_ENABLED", "0")
        // Ray's session files (logs, sockets) and the workers' folders go with the test's
        // directory.
        .env("RAY_TMPDIR", tmp.path())
        .env("TMPDIR", &scratch)
        .stdout(std::fs::File::create(tmp.path().join("result.json")).expect("out"))
        .stderr(std::fs::File::create(&log).expect("log"))
        .process_group(0)
        .spawn()
        .expect("python");
    let deadline = Instant::now() + Duration::from_secs(540);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break Some(s);
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let stopped = status.is_none();
    if stopped {
        // The script's own cleanup did not run: stop everything it started.
        let _ = std::process::Command::new("kill")
            .args(["-9", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        let _ = std::process::Command::new(py.with_file_name("ray"))
            .args(["stop", "--force"])
            .status();
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let tail = &text[text.len().saturating_sub(4000)..];
    assert!(!stopped, "the cluster test did not finish in 9 minutes:\n{tail}");
    assert!(status.is_some_and(|s| s.success()), "the cluster test failed:\n{tail}");
    let out = std::fs::read_to_string(tmp.path().join("result.json")).expect("result");
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in: {out}"));
    let result: serde_json::Value = serde_json::from_str(line).expect("json");
    assert_eq!(result["sweep"]["done"], 8);
    assert_eq!(result["sweep"]["nodes"], 2);
    assert!(result["killed"]["unfinished"].as_u64() >= Some(1));
    assert_eq!(result["bad"]["failed"], serde_json::json!([0]));
    assert_eq!(result["walkforward"]["done"], serde_json::json!([2016, 2017]));
}
