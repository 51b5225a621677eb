//! Lanes: where a backtest's actors run.
//!
//! A lane is a single-threaded tokio runtime on a thread of its own (lane 0 on the caller's
//! thread). Each actor is spawned on the lane its stage is given, and stays there, so its state
//! stays in that core's cache and a message between two actors of one lane is a queue push, with
//! no thread to wake. Messages between lanes are the same tokio channels; ractor keeps order per
//! sender and every actor joins its inputs by step, so placement changes timing, never outputs
//! (`tests/determinism.rs` runs every lane count).
//!
//! The order path (strategy, then broker, then strategy again at each step) is the run's one
//! sequential chain, so it gets lane 0 to itself; the market side (feed, features, model) and the
//! book (portfolio) fill the other lanes. With two lanes, on this project's 2-core machine, S1
//! `sma_cross` at 500 x 2520 ran in 0.082-0.093 s against 0.105-0.142 s on a 2-worker
//! work-stealing runtime, alternating in the same hour (README, benchmark): there the strategy
//! and the broker hopped between workers about every one and a half steps, taking their state
//! with them, and each hop woke a sleeping worker.

use std::thread::JoinHandle;
use tokio::runtime::{Builder, Handle, Runtime};
use tokio::sync::oneshot;

/// The most lanes a run uses (one per group of [`Stage`]s).
pub const MAX_LANES: usize = 4;

/// The pipeline's actors, as placement sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Feed,
    Feature,
    Model,
    Strategy,
    Broker,
    Portfolio,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::Feed,
        Stage::Feature,
        Stage::Model,
        Stage::Strategy,
        Stage::Broker,
        Stage::Portfolio,
    ];

    /// The lane of this stage among `lanes` (1..=[`MAX_LANES`]):
    ///
    /// | lanes | 0                | 1                               | 2         | 3         |
    /// |-------|------------------|---------------------------------|-----------|-----------|
    /// | 1     | all              |                                 |           |           |
    /// | 2     | strategy, broker | feed, feature, model, portfolio |           |           |
    /// | 3     | strategy, broker | feed, feature, model            | portfolio |           |
    /// | 4     | strategy, broker | feed, feature                   | model     | portfolio |
    pub fn lane(self, lanes: usize) -> usize {
        match (self, lanes) {
            (_, 0 | 1) | (Stage::Strategy | Stage::Broker, _) => 0,
            (Stage::Feed | Stage::Feature, _) => 1,
            (Stage::Model, 2 | 3) => 1,
            (Stage::Model, _) => 2,
            (Stage::Portfolio, 2) => 1,
            (Stage::Portfolio, 3) => 2,
            (Stage::Portfolio, _) => 3,
        }
    }
}

/// Where each stage is spawned: on a lane's runtime, or (no lanes) on the runtime the
/// supervisor runs on.
#[derive(Clone, Default)]
pub struct Placement {
    /// The handles of lanes 0..n; empty: everything on the supervisor's runtime.
    lanes: Vec<Handle>,
}

impl Placement {
    /// The runtime to spawn `stage` on; `None`: the supervisor's own.
    pub fn runtime(&self, stage: Stage) -> Option<&Handle> {
        self.lanes.get(stage.lane(self.lanes.len()))
    }
}

/// Started lanes; dropping them stops and joins their threads (each runtime then drops the
/// tasks still on it, as a runtime going out of scope does).
pub struct Lanes {
    /// Lane 0, run by [`Lanes::block_on`] on the caller's thread.
    first: Runtime,
    placement: Placement,
    /// Lanes 1..n: what tells each to stop, and its thread.
    others: Vec<(oneshot::Sender<()>, JoinHandle<()>)>,
}

impl Lanes {
    /// Starts `n` lanes (clamped to 1..=[`MAX_LANES`]).
    ///
    /// # Errors
    /// A runtime or a thread cannot be made.
    pub fn start(n: usize) -> std::io::Result<Self> {
        let n = n.clamp(1, MAX_LANES);
        let runtime = || Builder::new_current_thread().enable_all().build();
        let first = runtime()?;
        let mut lanes = Self {
            placement: Placement {
                lanes: vec![first.handle().clone()],
            },
            first,
            others: Vec::new(),
        };
        for k in 1..n {
            let rt = runtime()?;
            lanes.placement.lanes.push(rt.handle().clone());
            let (stop, stopped) = oneshot::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(format!("kairos-lane-{k}"))
                .spawn(move || {
                    // Runs the lane's tasks until told to stop (or the sender is dropped).
                    rt.block_on(async {
                        let _ = stopped.await;
                    });
                })?;
            lanes.others.push((stop, thread));
        }
        Ok(lanes)
    }

    pub fn placement(&self) -> Placement {
        self.placement.clone()
    }

    /// Runs `f` on lane 0, on this thread, while the other lanes run theirs.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.first.block_on(f)
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        let others = std::mem::take(&mut self.others);
        let threads: Vec<_> = others
            .into_iter()
            .map(|(stop, thread)| {
                let _ = stop.send(());
                thread
            })
            .collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every stage has a lane in range at every count; from two lanes on, the order path has
    /// lane 0 to itself and every lane is used.
    #[test]
    fn every_stage_has_a_lane_and_the_order_path_its_own() {
        for n in 1..=MAX_LANES {
            let mut used = vec![false; n];
            for s in Stage::ALL {
                let l = s.lane(n);
                assert!(l < n, "{s:?} on lane {l} of {n}");
                used[l] = true;
                let order_path = matches!(s, Stage::Strategy | Stage::Broker);
                if n > 1 {
                    assert_eq!(l == 0, order_path, "{s:?} with {n} lanes");
                }
            }
            assert!(used.iter().all(|&u| u), "{n} lanes: {used:?}");
        }
    }

    /// Tasks spawned through the placement run on their lane's thread, and dropping the lanes
    /// returns (it stops and joins their threads; the test would hang otherwise). Without lanes,
    /// the placement names no runtime.
    #[test]
    fn stages_run_on_their_lanes_threads() {
        let lanes = Lanes::start(3).expect("lanes");
        let placement = lanes.placement();
        let names = lanes.block_on(async {
            let mut names = Vec::new();
            for s in [Stage::Broker, Stage::Feed, Stage::Portfolio] {
                let name = async { std::thread::current().name().map(str::to_string) };
                let got = placement.runtime(s).expect("a lane").spawn(name).await.expect("join");
                names.push(got);
            }
            names
        });
        let me = std::thread::current().name().map(str::to_string);
        assert_eq!(
            names,
            vec![me, Some("kairos-lane-1".into()), Some("kairos-lane-2".into())]
        );
        drop(lanes);
        assert!(Placement::default().runtime(Stage::Feed).is_none());
    }
}
