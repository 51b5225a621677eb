//! The configuration is strict: unknown keys and bad values are rejected, naming the key.

use kairos::config::Config;
use std::path::Path;

const BASE: &str = r#"
[data]
path = "data"
[portfolio]
initial_cash = 1000
[strategy]
name = "topk"
"#;

fn err(extra_top: &str, section_edit: (&str, &str)) -> String {
    let text = format!("{extra_top}\n{}", BASE.replace(section_edit.0, section_edit.1));
    // Rejected when the file is read, or (`[strategy]`) when the run is prepared, before any
    // data is loaded.
    match Config::parse(&text, Path::new("x.toml")) {
        Err(e) => e.to_string(),
        Ok(cfg) => kairos::run::prepare(&cfg, &kairos::strategy::Strategies::builtin())
            .expect_err("must be rejected")
            .to_string(),
    }
}

#[test]
fn unknown_keys_are_rejected_by_name() {
    assert!(err("colour = 1", ("", "")).contains("colour"));
    let m = err("", ("[portfolio]", "[broker]\ncomission_bps = 5\n[portfolio]"));
    assert!(m.contains("comission_bps"), "{m}");
    let m = err("", ("name = \"topk\"", "name = \"topk\"\n[strategy.params]\nkk = 3"));
    assert!(m.contains("strategy.params") && m.contains("kk"), "{m}");
    let m = err("", ("[data]", "[data]\nfrobnicate = true"));
    assert!(m.contains("frobnicate"), "{m}");
}

#[test]
fn bad_values_are_rejected_by_key() {
    let cases = [
        (
            "[portfolio]",
            "[broker]\nfill_policy = \"tomorrow\"\n[portfolio]",
            "fill_policy",
        ),
        (
            "[portfolio]",
            "[broker]\ncommission_bps = -1\n[portfolio]",
            "broker.commission_bps",
        ),
        (
            "[portfolio]",
            "[broker]\nmax_volume_fraction = 1.5\n[portfolio]",
            "broker.max_volume_fraction",
        ),
        (
            "[portfolio]",
            "[engine]\nworker_threads = 0\n[portfolio]",
            "engine.worker_threads",
        ),
        ("initial_cash = 1000", "initial_cash = 0", "portfolio.initial_cash"),
        (
            "path = \"data\"",
            "path = \"data\"\ntime_zone = \"Mars/Olympus\"",
            "data.time_zone",
        ),
        (
            "path = \"data\"",
            "path = \"data\"\nsession_close = \"25:99\"",
            "data.session_close",
        ),
        (
            "path = \"data\"",
            "path = \"data\"\non_bad_row = \"ignore\"",
            "on_bad_row",
        ),
        ("name = \"topk\"", "name = \"magic\"", "strategy.name"),
        (
            "name = \"topk\"",
            "name = \"topk\"\n[strategy.params]\nband = 2",
            "strategy.params.band",
        ),
        ("initial_cash = 1000", "initial_cash = \"lots\"", "initial_cash"),
    ];
    for (from, to, key) in cases {
        let m = err("", (from, to));
        assert!(m.contains(key), "{key}: {m}");
    }
}

#[test]
fn shipped_configs_are_valid() {
    // Every configuration the repository ships, its strategy and parameters prepared as a run
    // would prepare them (the paper and seed configurations too; train.toml is a training job).
    let mut checked = 0;
    for e in std::fs::read_dir("config").expect("config/") {
        let f = e.expect("entry").path();
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !name.ends_with(".toml") || name == "train.toml" || name.starts_with("research_") {
            continue;
        }
        let c = Config::from_file(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert!(c.portfolio.initial_cash > rust_decimal::Decimal::ZERO);
        kairos::run::prepare(&c, &kairos::strategy::Strategies::builtin())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        checked += 1;
    }
    assert!(checked >= 9, "{checked} configurations");
    let s2 = Config::from_file(Path::new("config/topk.toml")).expect("topk");
    assert_eq!(s2.broker.commission_bps, rust_decimal::Decimal::from(5));
    assert_eq!(s2.broker.cash_check, kairos::broker::CashCheck::AllowNegative);
    assert_eq!(s2.broker.fill_policy, kairos::broker::FillPolicy::NextOpen);
}
