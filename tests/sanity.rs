//! No silent success on nothing, and sizes and ranges checked before they hurt: a training or
//! walk-forward job with an empty split fails for every model kind; settings outside sane
//! ranges are refused or warned about, naming the key; `data synth` checks sizes and names
//! before allocating or writing; `kairos features` never writes over its input; CI's shared
//! build cache does not grow by a build of the package per run (`scripts/prune_target.sh`).

use kairos::data::synth::{self, SynthSpec};
use std::path::{Path, PathBuf};
use std::process::Command;

fn kairos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
}

#[cfg(feature = "torch")]
#[test]
fn an_empty_split_fails_for_every_model_kind() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 4,
            days: 400,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let data = std::sync::Arc::new(kairos::feeds::load(&d, &Default::default()).expect("load"));
    // The test period starts after the data ends.
    for kind in ["ridge", "lstm", "attention_lstm"] {
        let text = format!(
            "[data]\npath = \"{}\"\n[model]\nkind = \"{kind}\"\nwindow = 5\nhidden = 4\nlayers = 1\n[train]\nepochs = 1\nprogress = false\n\
             [split]\nval_start = \"2016-01-01\"\ntest_start = \"2030-01-01\"\n[output]\ndir = \"{}\"\n",
            d.display(),
            dir.path().join(kind).display()
        );
        let cfg: kairos::research::job::TrainConfig = toml::from_str(&text).expect("config");
        let err = kairos::research::job::run(&cfg, &data).expect_err(kind);
        assert!(err.to_string().contains("no sample in the test split"), "{kind}: {err}");
    }
    let text = format!(
        "[data]\npath = \"{}\"\n[model]\nkind = \"ridge\"\nwindow = 5\n[train]\nprogress = false\n\
         [walkforward]\nfirst_test_year = 2016\nlast_test_year = 2031\nval_months = 6\n[output]\ndir = \"{}\"\n",
        d.display(),
        dir.path().join("wf").display()
    );
    let cfg: kairos::research::walkforward::WalkForwardConfig = toml::from_str(&text).expect("config");
    let err = kairos::research::walkforward::run(&cfg, &data).expect_err("a year without data");
    assert!(err.to_string().contains("no sample"), "{err}");
}

#[test]
fn settings_outside_sane_ranges_are_refused_or_warned_naming_the_key() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 4,
            days: 60,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let base = format!(
        "[data]\npath = \"{}\"\n[engine]\nprogress = false\n[portfolio]\ninitial_cash = 100000\n",
        d.display()
    );
    let bad = format!("{base}[broker]\ncommission_bps = 20000\n[strategy]\nname = \"topk\"\n");
    let err = kairos::config::Config::parse(&bad, Path::new("c.toml")).expect_err("refused");
    assert!(err.to_string().contains("broker.commission_bps"), "{err}");
    let odd = format!(
        "{base}[strategy]\nname = \"topk\"\n[strategy.params]\nk = 9\nband = 9\nlookback = 80\n[output]\ndir = \"{}\"\n",
        dir.path().join("out").display()
    );
    let cfg = kairos::config::Config::parse(&odd, Path::new("c.toml")).expect("valid alone");
    let out = kairos::backtest::run(&cfg).expect("runs, with warnings");
    let w = out.summary.warnings.join("\n");
    assert!(
        w.contains("strategy.params.k = 9 is above the 4 tradable symbols"),
        "{w}"
    );
    assert!(w.contains("strategy.params.lookback = 80"), "{w}");
    assert_eq!(out.summary.trades, 0);
}

#[test]
fn synth_checks_sizes_and_names_before_writing() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("m");
    for (args, words) in [
        (vec!["--symbols", "1000000"], "at most"),
        (vec!["--days", "100000"], "--days"),
        (vec!["--benchmark", "../escape"], "--benchmark"),
        (vec!["--benchmark", "a/b"], "--benchmark"),
        (vec!["--symbols", "0"], "at least 1"),
    ] {
        let o = kairos()
            .env("RUST_LOG", "off")
            .args(["data", "synth", "--out"])
            .arg(&out)
            .args(&args)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(words) && err.lines().count() == 1, "{args:?}: {err}");
        assert!(
            !out.exists() && !dir.path().join("escape.csv").exists(),
            "{args:?}: nothing written"
        );
    }
    // The largest number of sessions writes dates the loader reads back.
    let spec = SynthSpec {
        symbols: 1,
        days: synth::MAX_DAYS,
        ..SynthSpec::default()
    };
    synth::write_csv_dir(&spec, &out).expect("max days");
    let data = kairos::feeds::load(&out, &Default::default()).expect("the loader reads every date");
    assert_eq!(data.timestamps.len(), synth::MAX_DAYS);
}

#[test]
fn features_never_write_over_their_input() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols: 2,
            days: 40,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    let spy = d.join("SPY.csv");
    let before = std::fs::read(&spy).expect("spy");
    for out in [spy.clone(), d.join("features.csv"), d.clone()] {
        let o = kairos()
            .env("RUST_LOG", "off")
            .args(["features", "--data"])
            .arg(&d)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run");
        assert_eq!(o.status.code(), Some(1), "{}", out.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("data"), "{err}");
    }
    assert_eq!(std::fs::read(&spy).expect("spy"), before);
    assert!(!d.join("features.csv").exists());
}

/// `scripts/prune_target.sh` (run by `.ci/run`) deletes the package's artifacts older than the
/// run's marker, in every place cargo keeps them, and nothing else: not what the run built, not
/// a third-party crate's, not one of a crate whose name only begins with the package's. (Its
/// guard for a test named like a dependency reads the real `Cargo.lock`, so it is not exercised
/// here: no test of this package shares a dependency's name.)
#[test]
fn the_ci_cache_keeps_this_runs_builds_and_every_dependency() {
    let dir = tempfile::tempdir().expect("tmp");
    let t = dir.path();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let old = [
        "debug/deps/libkairos-0123456789abcdef.rlib",
        "debug/deps/kairos-0123456789abcdef",
        "debug/deps/sanity-0123456789abcdef",
        "debug/examples/mean_reversion-0123456789abcdef",
        "release/deps/kairos-0123456789abcdef",
        "debug/incremental/conformance-0123456789abcdef/s-1/a.bin",
        "debug/.fingerprint/kairos-0123456789abcdef/lib-kairos",
    ];
    // Dependencies' artifacts, and a crate whose name only begins with the package's.
    let kept_old = [
        "debug/deps/libserde-0123456789abcdef.rlib",
        "debug/deps/libtokio-0123456789abcdef.rmeta",
        "debug/.fingerprint/polars-0123456789abcdef/lib-polars",
        "debug/deps/kairos_extra-0123456789abcdef",
    ];
    let touch = |rel: &str| {
        let p = t.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, b"x").expect("write");
    };
    for rel in old.iter().chain(&kept_old) {
        touch(rel);
    }
    // The old files dated 2001, the marker written now, the run's build after it.
    let past = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    for rel in old.iter().chain(&kept_old) {
        let f = std::fs::File::options().write(true).open(t.join(rel)).expect("open");
        f.set_modified(past).expect("mtime");
    }
    for d in [
        "debug/incremental/conformance-0123456789abcdef/s-1",
        "debug/incremental/conformance-0123456789abcdef",
        "debug/.fingerprint/kairos-0123456789abcdef",
    ] {
        let f = std::fs::File::open(t.join(d)).expect("dir");
        f.set_modified(past).expect("dir mtime");
    }
    let marker = t.join("marker");
    std::fs::write(&marker, b"").expect("marker");
    let new = [
        "debug/deps/kairos-fedcba9876543210",
        "debug/deps/libkairos-fedcba9876543210.rlib",
    ];
    for rel in new {
        touch(rel);
    }
    let out = Command::new("bash")
        .arg(root.join("scripts/prune_target.sh"))
        .arg(&marker)
        .env("CARGO_TARGET_DIR", t)
        .env_remove("KAIROS_PRUNE_DRY")
        .output()
        .expect("run the script");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    for rel in old {
        let top: PathBuf = rel.split('/').take(3).collect();
        assert!(!t.join(&top).exists(), "{rel} should be pruned: {text}");
    }
    for rel in kept_old.iter().chain(&new) {
        assert!(t.join(rel).exists(), "{rel} should be kept: {text}");
    }
    assert!(text.contains("prune_target: 7 stale artifacts"), "{text}");
}
