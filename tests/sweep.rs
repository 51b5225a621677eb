//! `kairos sweep`: a grid over one loaded market, run in parallel; every cell equals the same
//! configuration run alone, and `sweep.csv` lists the cells in order.

mod common;
use kairos::config::Overrides;
use kairos::data::synth::{self, SynthSpec};
use kairos::sweep::{Grid, SweepOptions};
use std::path::Path;
use std::sync::Arc;

const BASE: &str = r#"
[data]
path = "{data}"
[engine]
progress = false
[portfolio]
initial_cash = 1000000
[broker]
commission_bps = 5
cash_check = "allow_negative"
[strategy]
name = "topk"
[output]
dir = "{out}"
"#;

const GRID: &str = r#"
[grid]
"strategy.params.k" = [3, 5]
"strategy.params.band" = [6, 10]
"broker.commission_bps" = [0, 10]
"#;

/// A synthetic market of `symbols` x `days` in `dir/data`.
fn market(dir: &Path, symbols: usize, days: usize) -> std::path::PathBuf {
    let d = dir.join("data");
    synth::write_csv_dir(
        &SynthSpec {
            symbols,
            days,
            ..SynthSpec::default()
        },
        &d,
    )
    .expect("synth");
    d
}

#[test]
fn every_cell_equals_its_configuration_run_alone() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = market(dir.path(), 20, 300);
    let text = BASE
        .replace("{data}", &d.display().to_string())
        .replace("{out}", &dir.path().join("base").display().to_string());
    let cfg_path = dir.path().join("topk.toml");
    std::fs::write(&cfg_path, &text).expect("config");
    let base: toml::Table = toml::from_str(&text).expect("table");
    let grid = Grid::parse(GRID, Path::new("grid.toml")).expect("grid");
    assert_eq!(grid.cells().len(), 8);
    let cfg = kairos::config::Config::parse(&text, &cfg_path).expect("cfg");
    let data = Arc::new(kairos::backtest::load_data(&cfg).expect("load"));
    let out = dir.path().join("sweep");
    let opts = SweepOptions {
        threads: 3,
        keep_outputs: true,
        progress: false,
    };
    let results = kairos::sweep::run(
        &base,
        &cfg_path,
        &grid,
        &Overrides::default(),
        &kairos::strategy::Strategies::builtin(),
        data,
        &out,
        &opts,
    )
    .expect("sweep");
    assert_eq!(results.len(), 8);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).expect("csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert!(rows[0].starts_with("cell,broker.commission_bps,strategy.params.band,strategy.params.k,final_equity"));
    assert_eq!(rows.len(), 9);
    // Keys in name order, the last varying fastest.
    assert!(
        rows[1].starts_with("0,0,6,3,") && rows[2].starts_with("1,0,6,5,") && rows[8].starts_with("7,10,10,5,"),
        "{csv}"
    );
    let equities: std::collections::HashSet<&str> =
        rows[1..].iter().map(|r| r.split(',').nth(4).expect("equity")).collect();
    assert!(equities.len() > 4, "the grid changed little: {csv}");
    // The sweep's page: a heat map over the first two keys (best over the third), and the best
    // cell as sweep.csv has it.
    let html = std::fs::read_to_string(out.join("report.html")).expect("report.html");
    let sharpe_col = rows[0].split(',').position(|h| h == "sharpe").expect("sharpe");
    let (best_cell, best) = rows[1..]
        .iter()
        .map(|r| {
            let f: Vec<&str> = r.split(',').collect();
            (f[0].to_string(), f[sharpe_col].parse::<f64>().expect("sharpe"))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("cells");
    let value = |key: &str| {
        let tag = format!("data-metric=\"{key}\" data-value=\"");
        let rest = &html[html.find(&tag).unwrap_or_else(|| panic!("{key}")) + tag.len()..];
        rest[..rest.find('"').expect("end")].to_string()
    };
    assert_eq!(value("best.sharpe").parse::<f64>().expect("number"), best);
    assert_eq!(value("best.cell"), best_cell);
    // Four squares (2 commissions x 2 bands), each the best Sharpe over k, printed on it.
    let svg = &html[html.find("<svg").expect("svg")..html.find("</svg>").expect("end")];
    for c in [0, 10] {
        for b in [6, 10] {
            let best_k = rows[1..]
                .iter()
                .map(|r| r.split(',').collect::<Vec<_>>())
                .filter(|f| f[1] == c.to_string() && f[2] == b.to_string())
                .map(|f| f[sharpe_col].parse::<f64>().expect("sharpe"))
                .fold(f64::NEG_INFINITY, f64::max);
            assert!(svg.contains(&format!("\n{best_k:.3}\n")), "square {c}/{b}: {best_k:.3}");
        }
    }
    // Three cells, each run alone through the CLI with the same keys set: the same outputs.
    for i in [0usize, 5, 7] {
        let cell = &grid.cells()[i];
        let mut t = text.clone();
        let get = |k: usize| cell[k].to_string();
        t = t.replace("commission_bps = 5", &format!("commission_bps = {}", get(0)));
        t = t.replace(
            "name = \"topk\"",
            &format!("name = \"topk\"\nparams = {{ band = {}, k = {} }}", get(1), get(2)),
        );
        let alone = dir.path().join(format!("alone{i}"));
        t = t.replace(
            &dir.path().join("base").display().to_string(),
            &alone.display().to_string(),
        );
        let p = dir.path().join(format!("alone{i}.toml"));
        std::fs::write(&p, &t).expect("config");
        let st = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
            .args(["backtest", "--config"])
            .arg(&p)
            .output()
            .expect("run");
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        let kept = out.join("cells").join(format!("{i:04}"));
        for f in ["fills.csv", "equity.csv", "events.jsonl"] {
            let a = std::fs::read_to_string(alone.join(f)).expect("alone");
            let b = std::fs::read_to_string(kept.join(f)).expect("kept");
            assert!(a == b, "cell {i}: {f} differs from the run alone");
        }
        assert_eq!(
            results[i].summary.final_equity_exact.normalize().to_string(),
            rows[i + 1].split(',').nth(4).expect("eq")
        );
    }
}

#[test]
fn the_command_runs_a_grid_and_names_a_bad_cell() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = market(dir.path(), 8, 200);
    let text = BASE
        .replace("{data}", &d.display().to_string())
        .replace("{out}", &dir.path().join("out").display().to_string());
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, text).expect("config");
    let grid = dir.path().join("g.toml");
    std::fs::write(&grid, "[grid]\n\"strategy.params.k\" = [2, 4]\n").expect("grid");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["sweep", "--threads", "2", "--config"])
        .arg(&cfg)
        .arg("--grid")
        .arg(&grid)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["cells"], 2);
    let csv = std::fs::read_to_string(dir.path().join("out").join("sweep.csv")).expect("csv");
    assert_eq!(csv.lines().count(), 3);
    assert!(
        !dir.path().join("out").join("cells").exists(),
        "outputs kept without --keep-outputs"
    );
    // A value the configuration refuses is reported with its cell, before anything runs.
    std::fs::write(&grid, "[grid]\n\"broker.commission_bps\" = [1, -3]\n").expect("grid");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["sweep", "--config"])
        .arg(&cfg)
        .arg("--grid")
        .arg(&grid)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("grid cell broker.commission_bps=-3") && err.contains("commission_bps"),
        "{err}"
    );
}

/// `kairos worker sweep` (what each Ray actor runs): the market loaded once, then a cell per
/// request; each answer is the cell's `sweep.csv` line as `kairos sweep` writes it; a bad
/// request is answered, not fatal; the worker exits when its input closes.
#[test]
fn the_worker_answers_each_cell_with_its_sweep_csv_line() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tmp");
    let d = market(dir.path(), 8, 200);
    let cfg_path = dir.path().join("topk.toml");
    std::fs::write(
        &cfg_path,
        BASE.replace("{data}", &d.display().to_string())
            .replace("{out}", &dir.path().join("x").display().to_string()),
    )
    .expect("config");
    let grid_path = dir.path().join("grid.toml");
    std::fs::write(&grid_path, GRID).expect("grid");
    let local = dir.path().join("local");
    let st = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["sweep", "--config"])
        .arg(&cfg_path)
        .arg("--grid")
        .arg(&grid_path)
        .arg("--out")
        .arg(&local)
        .output()
        .expect("sweep");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let csv = std::fs::read_to_string(local.join("sweep.csv")).expect("csv");
    let rows: Vec<&str> = csv.lines().collect();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(["worker", "sweep", "--config"])
        .arg(&cfg_path)
        .arg("--grid")
        .arg(&grid_path)
        .arg("--out")
        .arg(dir.path().join("scratch"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("worker");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{{\"task\": 5}}\n{{\"task\": 0}}\n{{\"task\": 99}}\nnot json").expect("write");
        // Dropping stdin closes it: the worker answers what it has and exits.
    }
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let answers: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(answers.len(), 5, "ready + 4 answers");
    assert_eq!(answers[0]["ready"], true);
    assert_eq!(answers[0]["cells"], 8);
    assert_eq!(answers[0]["header"], rows[0]);
    assert_eq!(answers[1]["task"], 5);
    assert_eq!(answers[1]["line"], rows[6]);
    assert_eq!(answers[2]["line"], rows[1]);
    assert_eq!(answers[3]["ok"], false);
    assert!(answers[3]["error"].as_str().expect("error").contains("no cell 99"));
    assert_eq!(answers[4]["ok"], false);
    assert!(
        !dir.path().join("scratch").join("cell_0005").exists(),
        "a cell's outputs are removed"
    );
}
