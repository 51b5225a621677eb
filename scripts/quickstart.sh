#!/usr/bin/env bash
# Sets up everything Kairos needs on a fresh machine (libtorch included) and runs the main job:
# a backtest of the top-K strategy on a seeded synthetic market, writing out/demo/ and printing
# summary.json.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo >/dev/null || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 not found (needed by the conformance test)" >&2; exit 1; }
bash scripts/setup_libtorch.sh
cargo build --bin kairos
cargo run --quiet --bin kairos -- data synth --out data/synth --symbols 50 --days 1260 --seed 42
cargo run --quiet --bin kairos -- backtest --config config/demo.toml
