//! A run's outputs are written into a fresh directory beside `output.dir` and moved into place
//! only when the run succeeds, so a failed run leaves the previous outputs as they were.

use super::RunError;
use std::path::{Path, PathBuf};

/// Every file a run may write, so that a new run leaves none of an older one's beside its own.
const OUTPUTS: [&str; 8] = [
    "benchmark.csv",
    "prices.csv",
    "fills.csv",
    "equity.csv",
    "events.jsonl",
    "signals.csv",
    "summary.json",
    "report.html",
];

/// A fresh directory beside the target, removed unless published.
pub(super) struct Staging {
    pub(super) dir: PathBuf,
    target: PathBuf,
    published: bool,
}

impl Staging {
    pub(super) fn new(target: &Path) -> Result<Self, RunError> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = target
            .file_name()
            .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = parent.join(format!(".{name}.kairos-run-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Write {
            path: dir.clone(),
            source,
        })?;
        Ok(Self {
            dir,
            target: target.to_path_buf(),
            published: false,
        })
    }

    /// Moves every output into the target (renames within one file system), removing the
    /// target's outputs of an older run that this one did not write.
    pub(super) fn publish(mut self) -> Result<(), RunError> {
        let write = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Write { path, source }
        };
        std::fs::create_dir_all(&self.target).map_err(write(&self.target))?;
        for name in OUTPUTS {
            let (from, to) = (self.dir.join(name), self.target.join(name));
            if from.exists() {
                std::fs::rename(&from, &to).map_err(write(&to))?;
            } else if to.exists() {
                std::fs::remove_file(&to).map_err(write(&to))?;
            }
        }
        self.published = true;
        let _ = std::fs::remove_dir_all(&self.dir);
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
