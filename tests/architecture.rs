//! The shape of the code, checked: no actor module imports another actor module; every
//! message type lives in `messages`, which depends only on the domain types and events; there is
//! no global peer table and no run-time `Connect`; the inference runtime depends on no research
//! code; benchmark helpers are not library API.

use std::path::{Path, PathBuf};

const ACTORS: [&str; 6] = ["feed", "feature", "model", "strategy", "broker", "portfolio"];

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().and_then(|x| x.to_str()) == Some("rs") {
            out.push(p);
        }
    }
    out
}

/// The code of a file without its comments (so prose may name other modules).
fn code(p: &Path) -> String {
    std::fs::read_to_string(p)
        .expect("read")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_actor_module_imports_another() {
    for actor in ACTORS {
        for file in rust_files(&Path::new("src").join(actor)) {
            let text = code(&file);
            for other in ACTORS.iter().filter(|o| **o != actor) {
                for pattern in [
                    format!("crate::{other}::"),
                    format!("crate::{other}}}"),
                    format!("crate::{other};"),
                ] {
                    assert!(
                        !text.contains(&pattern),
                        "{} refers to `{pattern}`: actor modules talk through `messages` only",
                        file.display()
                    );
                }
            }
        }
    }
}

#[test]
fn messages_depend_only_on_domain_types_and_events() {
    let text = code(Path::new("src/messages.rs"));
    let uses: Vec<&str> = text.lines().filter(|l| l.starts_with("use ")).collect();
    assert!(!uses.is_empty());
    for u in uses {
        let ok = u.starts_with("use crate::events::")
            || u.starts_with("use crate::types::")
            || u.starts_with("use ractor::")
            || u.starts_with("use std::");
        assert!(ok, "messages.rs: {u}");
    }
    // Every actor's message type is defined there, and nowhere else.
    for msg in [
        "FeedMsg",
        "FeatureMsg",
        "ModelMsg",
        "StrategyMsg",
        "BrokerMsg",
        "PortfolioMsg",
    ] {
        assert!(text.contains(&format!("pub enum {msg}")), "{msg} in messages.rs");
        for file in rust_files(Path::new("src")) {
            if file != Path::new("src/messages.rs") {
                assert!(
                    !code(&file).contains(&format!("enum {msg}")),
                    "{msg} defined in {}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn no_peer_table_and_no_connect_messages() {
    for file in rust_files(Path::new("src")) {
        let text = code(&file);
        for word in ["Peers", "Connect(", "not connected"] {
            assert!(!text.contains(word), "{} still has `{word}`", file.display());
        }
    }
}

#[test]
fn the_inference_runtime_depends_on_no_research_code() {
    for file in rust_files(Path::new("src/model")) {
        let text = code(&file);
        assert!(!text.contains("research"), "{} depends on research", file.display());
    }
    assert!(
        !Path::new("src/bench.rs").exists(),
        "benchmark helpers belong to the binary"
    );
    let lib = code(Path::new("src/lib.rs"));
    assert!(!lib.contains("pub mod bench"), "benchmark helpers are not library API");
    // The command line is in the library, for a user's binary (`kairos::cli::main_with`); its
    // commands, benchmark helpers among them, are private to it.
    let cli = code(Path::new("src/cli/mod.rs"));
    assert!(!cli.contains("pub mod"), "cli's command modules are not library API");
}

#[test]
fn the_binary_only_dispatches_and_each_command_has_its_file() {
    let main = code(Path::new("src/main.rs"));
    assert!(
        !main.contains("mod "),
        "main.rs declares no modules: the commands are in kairos::cli"
    );
    assert!(
        main.contains("kairos::cli::main_with("),
        "main.rs hands over to the command line"
    );
    assert!(main.lines().count() < 15, "main.rs only dispatches");
    let cli = code(Path::new("src/cli/mod.rs"));
    let mut commands = 0;
    for line in cli.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
            // The benchmarks' helpers: the minimal loops, the process's CPU and memory.
            if ["baseline", "measure"].contains(&name) {
                continue;
            }
            let file = Path::new("src/cli").join(format!("{name}.rs"));
            assert!(file.exists(), "{} for `mod {name};`", file.display());
            assert!(
                code(&file).contains("pub fn run("),
                "{} has no command body? (`pub fn run`)",
                file.display()
            );
            commands += 1;
        }
    }
    assert!(commands >= 15, "{commands} command files");
}
