//! `kairos new DIR`: scaffolds a crate of a user's own strategies outside this repository:
//!
//! - `Cargo.toml`, depending on this kairos checkout (engine-only: no libtorch to build);
//! - `src/main.rs`: one strategy (`breakout`) with its parameters struct, registered beside the
//!   built-ins, every `kairos` command through [`crate::cli::main_with`], and one test;
//! - `config/`: a backtest, a sweep grid and a paper session against the loopback venue, each
//!   saying in its comments how to run it;
//! - `Cargo.lock`: kairos's own, so the crate builds with the dependency versions kairos is
//!   tested with.
//!
//! The templates are the files under `templates/new/`, compiled in.

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// `kairos new`'s arguments.
#[derive(clap::Args)]
pub struct NewArgs {
    /// The directory to create (it must not exist, or be empty).
    dir: PathBuf,
    /// The crate's name (default: the directory's name, made a valid crate name).
    #[arg(long)]
    name: Option<String>,
    /// The kairos checkout the crate depends on (default: the one this program was built from).
    #[arg(long)]
    kairos: Option<PathBuf>,
}

/// The files of a new crate: (path in the crate, template).
const FILES: [(&str, &str); 6] = [
    ("Cargo.toml", include_str!("../../templates/new/Cargo.toml")),
    (".gitignore", include_str!("../../templates/new/gitignore")),
    ("src/main.rs", include_str!("../../templates/new/main.rs")),
    (
        "config/backtest.toml",
        include_str!("../../templates/new/backtest.toml"),
    ),
    ("config/grid.toml", include_str!("../../templates/new/grid.toml")),
    ("config/paper.toml", include_str!("../../templates/new/paper.toml")),
];

/// Writes the crate and says what to run next.
pub fn run(a: NewArgs) -> Result<()> {
    if a.dir.exists()
        && std::fs::read_dir(&a.dir)
            .with_context(|| a.dir.display().to_string())?
            .next()
            .is_some()
    {
        bail!("{}: the directory is not empty", a.dir.display());
    }
    let name = match a.name {
        Some(n) => {
            if crate_name(&n) != n {
                bail!("--name {n:?}: a crate name is lowercase letters, digits and _, starting with a letter");
            }
            n
        }
        None => crate_name(
            &a.dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        ),
    };
    let kairos = kairos_checkout(a.kairos)?;
    let path = kairos.to_str().context("the kairos checkout's path is not UTF-8")?;
    // A TOML basic string: backslashes and quotes escaped.
    let path = path.replace('\\', "\\\\").replace('"', "\\\"");
    for (file, template) in FILES {
        let to = a.dir.join(file);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
        }
        let text = template.replace("{{NAME}}", &name).replace("{{KAIROS_PATH}}", &path);
        std::fs::write(&to, text).with_context(|| to.display().to_string())?;
    }
    // kairos's own lock file: the crate builds with the versions kairos is tested with, and a
    // build directory shared with kairos's reuses every dependency already compiled there.
    let lock = kairos.join("Cargo.lock");
    if lock.exists() {
        std::fs::copy(&lock, a.dir.join("Cargo.lock")).with_context(|| lock.display().to_string())?;
    }
    eprintln!(
        "created the crate {name} in {dir}, depending on kairos at {kairos}\n\
         next:\n  cd {dir}\n  cargo test\n  cargo run --release -- data synth --out data/daily --symbols 20 --days 750\n  \
         cargo run --release -- backtest --config config/backtest.toml --table",
        dir = a.dir.display(),
        kairos = kairos.display()
    );
    Ok(())
}

/// `text` as a crate name: lowercase ASCII letters, digits and `_`, starting with a letter.
fn crate_name(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        name.insert_str(0, "strategies_");
    }
    name
}

/// The kairos checkout to depend on: `given`, or the one this program was built from; either
/// must hold kairos's `Cargo.toml`.
fn kairos_checkout(given: Option<PathBuf>) -> Result<PathBuf> {
    let dir = given.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).with_context(|| {
        format!(
            "{}: no kairos checkout there (give --kairos PATH, a clone of kairos)",
            dir.display()
        )
    })?;
    if !manifest.lines().any(|l| l.trim() == "name = \"kairos\"") {
        bail!("{}: its Cargo.toml is not kairos's (give --kairos PATH)", dir.display());
    }
    std::path::absolute(&dir).with_context(|| dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_are_valid_whatever_the_directory_is_called() {
        assert_eq!(crate_name("my-strats"), "my_strats");
        assert_eq!(crate_name("Alpha2"), "alpha2");
        assert_eq!(crate_name("2fast"), "strategies_2fast");
        assert_eq!(crate_name(""), "strategies_");
    }

    #[test]
    fn the_checkout_must_be_kairos() {
        let dir = tempfile::tempdir().expect("tmp");
        assert!(kairos_checkout(Some(dir.path().to_path_buf())).is_err());
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"other\"\n").expect("write");
        let e = kairos_checkout(Some(dir.path().to_path_buf())).expect_err("not kairos");
        assert!(e.to_string().contains("not kairos"), "{e}");
        assert!(kairos_checkout(None).is_ok(), "the checkout this was built from");
    }

    /// Every template placeholder is filled.
    #[test]
    fn no_placeholder_is_left() {
        for (file, t) in FILES {
            let filled = t.replace("{{NAME}}", "x").replace("{{KAIROS_PATH}}", "/k");
            assert!(!filled.contains("{{"), "{file}");
        }
    }
}
