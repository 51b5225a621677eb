#!/usr/bin/env bash
# Sweep throughput: kairos sweep, the Ray driver on a loopback three-node cluster, and one
# process per cell, on a synthetic market (default 50 symbols x 1,260 days, 24 cells). Release
# build. Usage: scripts/bench_ray.sh [SYMBOLS DAYS]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_ray.sh
cargo build --release --quiet --bin kairos
BIN="${CARGO_TARGET_DIR:-target}/release/kairos"
VENV="${KAIROS_RAY_VENV:-$HOME/.cache/kairos/ray-venv}"
RAY_USAGE_STATS_ENABLED=0 PYTHONPATH=python "$VENV/bin/python" python/bench/bench_ray.py "$(realpath "$BIN")" "$@"
