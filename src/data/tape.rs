//! The loaded market in time order, for replay: every bar once, sorted by timestamp, then by
//! instrument, as mantissas in one array.
//!
//! The column store keeps each symbol's bars apart, which features and reports want; a replay
//! wants the opposite order. Gathering one timestamp's bars from 500 series reads thousands of
//! arrays at once, which no hardware prefetcher follows: about 35-50 ns a bar even in blocks,
//! and about twice that inside a running pipeline, where the other core competes for the
//! caches. The tape is that gather done once, when the market is loaded (in parallel over
//! ranges of timestamps); a replay then reads one array front to back
//! (`kairos bench` measures both: the load, and the engine's bars per second). It costs 44
//! bytes a bar beside the column store's 44.

use super::Series;
use std::sync::OnceLock;

/// About this many bars are gathered at a time while building (at least one timestamp): each
/// series is read in order over the block's steps, and the block's rows stay in cache.
const BLOCK_BARS: usize = 16_384;

/// At least this many bars per thread before the build uses another thread.
const BARS_PER_THREAD: usize = 1 << 17;

/// Every bar of a market in replay order.
#[derive(Debug, Default)]
pub struct Tape {
    /// Per step, the index of its first bar; one more entry for the end.
    starts: Vec<usize>,
    /// Per bar, its series (instrument index).
    series: Vec<u32>,
    /// Per bar, the open, high, low, close and volume mantissas (at the series' scales).
    values: Vec<[i64; 5]>,
    /// Per series, its price and volume scales (a few kilobytes, where the series themselves
    /// would be a cache miss a bar).
    scales: Vec<[u32; 2]>,
}

impl Tape {
    /// Gathers `series` (each sorted by step, steps below `steps`) into time order, on up to
    /// the machine's number of threads.
    pub fn build(series: &[Series], steps: usize) -> Self {
        let bars: usize = series.iter().map(Series::len).sum();
        let threads = std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(bars / BARS_PER_THREAD)
            .max(1);
        Self::build_with(series, steps, BLOCK_BARS, threads)
    }

    /// [`Tape::build`] with about `block_bars` bars gathered at a time, on `threads` threads.
    pub fn build_with(series: &[Series], steps: usize, block_bars: usize, threads: usize) -> Self {
        let mut counts = vec![0usize; steps + 1];
        for s in series {
            for &st in &s.step {
                counts[st as usize + 1] += 1;
            }
        }
        for t in 0..steps {
            counts[t + 1] += counts[t];
        }
        let starts = counts;
        let total = starts[steps];
        let mut ids = vec![0u32; total];
        let mut values = vec![[0i64; 5]; total];
        let threads = threads.max(1);
        // Contiguous ranges of steps with about equal numbers of bars, one a thread.
        let mut cuts = vec![0usize];
        for k in 1..threads {
            let want = total * k / threads;
            let t = starts.partition_point(|&s| s < want).min(steps);
            if t > *cuts.last().unwrap_or(&0) {
                cuts.push(t);
            }
        }
        cuts.push(steps);
        std::thread::scope(|scope| {
            let (mut ids_rest, mut values_rest) = (&mut ids[..], &mut values[..]);
            for w in cuts.windows(2) {
                let (t0, t1) = (w[0], w[1]);
                let n = starts[t1] - starts[t0];
                let (ids_part, i_rest) = std::mem::take(&mut ids_rest).split_at_mut(n);
                let (values_part, v_rest) = std::mem::take(&mut values_rest).split_at_mut(n);
                ids_rest = i_rest;
                values_rest = v_rest;
                let starts = &starts[t0..=t1];
                scope.spawn(move || gather(series, t0, starts, block_bars, ids_part, values_part));
            }
        });
        let scales = series.iter().map(|s| [s.price_scale, s.volume_scale]).collect();
        Self {
            starts,
            series: ids,
            values,
            scales,
        }
    }

    /// Per series, its price and volume scales.
    #[inline]
    pub fn scales(&self) -> &[[u32; 2]] {
        &self.scales
    }

    /// Number of steps.
    pub fn steps(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// The bars of step `t`: their series, their mantissas, and the index of the first one in
    /// the whole tape (its sequence number in a replay from the start).
    #[inline]
    pub fn step(&self, t: usize) -> (&[u32], &[[i64; 5]], usize) {
        let r = self.starts[t]..self.starts[t + 1];
        (&self.series[r.clone()], &self.values[r.clone()], r.start)
    }
}

/// Writes the bars of steps `t0..t0 + starts.len() - 1` into `ids` and `values` (which start
/// at the first of them), a block of steps at a time; symbols in order keep each step's bars
/// sorted by instrument.
fn gather(series: &[Series], t0: usize, starts: &[usize], block_bars: usize, ids: &mut [u32], values: &mut [[i64; 5]]) {
    let steps = starts.len() - 1;
    let base = starts[0];
    let block = (block_bars / series.len().max(1)).max(1);
    // Per series, the position of its first bar at or after the current block.
    let mut pos: Vec<usize> = series
        .iter()
        .map(|s| s.step.partition_point(|&st| (st as usize) < t0))
        .collect();
    // Per step of the block, where its next bar goes.
    let mut next = vec![0usize; block];
    let mut b0 = 0;
    while b0 < steps {
        let b1 = (b0 + block).min(steps);
        for (j, n) in next.iter_mut().enumerate().take(b1 - b0) {
            *n = starts[b0 + j] - base;
        }
        let end = (t0 + b1) as u32;
        for (i, (s, p)) in series.iter().zip(pos.iter_mut()).enumerate() {
            let mut k = *p;
            while k < s.step.len() && s.step[k] < end {
                let slot = &mut next[s.step[k] as usize - t0 - b0];
                ids[*slot] = i as u32;
                values[*slot] = [s.open[k], s.high[k], s.low[k], s.close[k], s.volume[k]];
                *slot += 1;
                k += 1;
            }
            *p = k;
        }
        b0 = b1;
    }
}

/// The tape of a [`super::MarketData`], built on first use (loaders build it as they finish,
/// so that its cost is part of loading). A clone starts without one: a market changed after
/// cloning (as the look-ahead audit does) gets its own.
#[derive(Default)]
pub struct TapeCell(OnceLock<Tape>);

impl TapeCell {
    /// A cell holding `tape` (built by hand, for tests).
    pub fn with(tape: Tape) -> Self {
        Self(OnceLock::from(tape))
    }

    /// The tape, built from `series` on first use.
    pub fn get_or_build(&self, series: &[Series], steps: usize) -> &Tape {
        self.0.get_or_init(|| Tape::build(series, steps))
    }
}

impl Clone for TapeCell {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl std::fmt::Debug for TapeCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "TapeCell(built)"
        } else {
            "TapeCell(empty)"
        })
    }
}
