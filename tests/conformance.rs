//! SPEC.md conformance: on `gen_data.py --symbols 50 --days 2520 --seed 7` data, S1 and S2 give
//! exactly the fills of an independent reference (scripts/spec_check.py, plain Python written
//! from the SPEC text) and the same final equity to the cent.

use std::path::Path;
use std::process::Command;

fn python() -> &'static str {
    "python3"
}

#[test]
fn s1_and_s2_match_the_independent_reference() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("bench50");
    let st = Command::new(python())
        .args([
            "scripts/gen_data.py",
            "--symbols",
            "50",
            "--days",
            "2520",
            "--seed",
            "7",
            "--out",
        ])
        .arg(&data)
        .status()
        .expect("python3 is on every machine of this project");
    assert!(st.success());
    for (strategy, config) in [("sma_cross", "config/sma_cross.toml"), ("topk", "config/topk.toml")] {
        let mut cfg = kairos::config::Config::from_file(Path::new(config)).expect("config");
        cfg.data.path = data.clone();
        cfg.output.dir = dir.path().join(strategy);
        cfg.engine.progress = false;
        let run = kairos::backtest::run(&cfg).expect("run");
        assert!(run.summary.trades > 1000, "{strategy}: {}", run.summary.trades);
        let o = Command::new(python())
            .args(["scripts/spec_check.py", "--strategy", strategy, "--data"])
            .arg(&data)
            .arg("--run")
            .arg(&cfg.output.dir)
            .output()
            .expect("spec_check");
        let report = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{strategy} differs from the reference:\n{report}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(report.contains("same to the cent"), "{report}");
    }
}
