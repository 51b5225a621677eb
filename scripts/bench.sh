#!/usr/bin/env bash
# The benchmark of issue 2: S1 and S2 on gen_data.py data of 500 symbols x 2520 days.
# Each strategy runs in its own process (peak memory is per process); each reports the engine's
# bars/s (load excluded), load time, peak RSS, and a minimal single-threaded f64 loop over the
# same arrays in the same process, with the time ratio.
# usage: scripts/bench.sh [SYMBOLS] [DAYS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${1:-500}
DAYS=${2:-2520}
THREADS=${3:-2}
DATA=data/bench_${SYMBOLS}x${DAYS}
if [ ! -f "$DATA/MANIFEST.txt" ]; then
  python3 scripts/gen_data.py --symbols "$SYMBOLS" --days "$DAYS" --seed 42 --out "$DATA"
fi
# The engine alone: without the `torch` feature the process never loads libtorch, whose
# start-up footprint (about 118 MB resident) is not backtest memory. `kairos bench` with the
# default build reports the same engine figures plus that footprint.
cargo build --release --quiet --no-default-features --bin kairos
TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
cp "$TARGET/release/kairos" "$TARGET/release/kairos-engine"
BIN="$TARGET/release/kairos-engine"
for s in sma_cross topk; do
  RUST_LOG=warn "$BIN" bench --config "config/$s.toml" --data "$DATA" --threads "$THREADS" --repeat 3
done
