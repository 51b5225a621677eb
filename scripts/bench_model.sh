#!/usr/bin/env bash
# LSTM inference (batch 500; windows 30, 60; hidden 16, 64) and training epochs, Kairos (tch)
# beside PyTorch in Python on the same shapes and thread count; prints the ratios.
# usage: scripts/bench_model.sh [THREADS] [PYTHON_WITH_TORCH]
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${1:-1}
PY=${2:-python3}
cargo build --release --quiet --bin kairos
BIN=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/release/kairos
OMP_NUM_THREADS=$THREADS "$BIN" bench-model --threads "$THREADS" --reps 10 > /tmp/kairos_model_bench.jsonl
OMP_NUM_THREADS=$THREADS "$PY" scripts/bench_model.py "$THREADS" 10 > /tmp/torch_model_bench.jsonl
python3 - <<'PY'
import json
k = [json.loads(l) for l in open("/tmp/kairos_model_bench.jsonl")]
t = [json.loads(l) for l in open("/tmp/torch_model_bench.jsonl")]
print(f"{'what':12s} {'window':>6s} {'hidden':>6s} {'kairos seq/s':>13s} {'pytorch seq/s':>14s} {'ratio':>6s}")
for a, b in zip(k, t):
    print(f"{a['what']:12s} {a['window']:6d} {a['hidden']:6d} {a['sequences_per_second']:13.0f} {b['sequences_per_second']:14.0f} {a['sequences_per_second'] / b['sequences_per_second']:6.2f}")
PY
