#!/usr/bin/env bash
# Sets up everything Kairos needs on a fresh machine (libtorch included) and runs the main job:
# a backtest of the top-K strategy on a seeded synthetic market, writing out/demo/ (report.html
# among the outputs) and printing a short table of its figures.
#
# KAIROS_QUICK_SYMBOLS, KAIROS_QUICK_DAYS and KAIROS_QUICK_DIR (data in DIR/synth, outputs in
# DIR/demo) make the same commands run on a smaller market elsewhere: CI runs it that way.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found (needed by the conformance test)" >&2; exit 1; }
SYMBOLS="${KAIROS_QUICK_SYMBOLS:-50}"
DAYS="${KAIROS_QUICK_DAYS:-1260}"
DATA="data/synth"
OUT="out/demo"
if [ -n "${KAIROS_QUICK_DIR:-}" ]; then
  DATA="$KAIROS_QUICK_DIR/synth"
  OUT="$KAIROS_QUICK_DIR/demo"
fi
bash scripts/setup_libtorch.sh
# The venues' official SDKs, which the tests run as clients of the loopback venues.
bash scripts/setup_sdk.sh
# Ray, for sweeps and walk-forward years on a cluster (python -m kairos_ray; tests/ray_cluster.rs).
bash scripts/setup_ray.sh
cargo build --bin kairos
cargo run --quiet --bin kairos -- data synth --out "$DATA" --symbols "$SYMBOLS" --days "$DAYS" --seed 42
cargo run --quiet --bin kairos -- backtest --config config/demo.toml --data "$DATA" --out "$OUT" --table
