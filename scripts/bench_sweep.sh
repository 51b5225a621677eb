#!/usr/bin/env bash
# The sweep benchmark (issue 9): an 8-cell grid of S2 `topk` (k x band x commission) on
# gen_data.py data of 500 symbols x 2520 days, as one `kairos sweep` (market loaded once, cells
# in parallel on every core) beside the same 8 configurations run as 8 `kairos backtest`
# processes one after the other. Prints cells per second of each and the ratio.
# usage: scripts/bench_sweep.sh [SYMBOLS] [DAYS]   (KAIROS_BIN: a kairos binary to use)
set -euo pipefail
cd "$(dirname "$0")/.."
SYMBOLS=${1:-500}
DAYS=${2:-2520}
DATA=data/bench_${SYMBOLS}x${DAYS}
if [ ! -f "$DATA/MANIFEST.txt" ]; then
  python3 scripts/gen_data.py --symbols "$SYMBOLS" --days "$DAYS" --seed 42 --out "$DATA"
fi
if [ -z "${KAIROS_BIN:-}" ]; then
  cargo build --release --quiet --no-default-features --bin kairos
  TARGET=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  KAIROS_BIN="$TARGET/release/kairos"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed -e "s|^dir = .*|dir = \"$tmp/out\"|" config/topk.toml > "$tmp/topk.toml"
printf '\n[engine]\nprogress = false\n' >> "$tmp/topk.toml"
cat > "$tmp/grid.toml" <<'G'
[grid]
"strategy.params.k" = [10, 20]
"strategy.params.band" = [20, 40]
"broker.commission_bps" = [0, 5]
G
start=$(date +%s.%N)
RUST_LOG=warn "$KAIROS_BIN" sweep --config "$tmp/topk.toml" --grid "$tmp/grid.toml" --data "$DATA" --out "$tmp/sweep" > "$tmp/sweep.json"
end=$(date +%s.%N)
sweep_s=$(python3 -c "print($end - $start)")
# The same cells, one process each (each loads the market).
start=$(date +%s.%N)
python3 - "$tmp" "$KAIROS_BIN" "$DATA" <<'PY'
import itertools, subprocess, sys, os
tmp, binary, data = sys.argv[1:]
base = open(os.path.join(tmp, "topk.toml")).read()
for i, (c, band, k) in enumerate(itertools.product([0, 5], [20, 40], [10, 20])):
    text = base.replace("commission_bps = 5", f"commission_bps = {c}")
    text = text.replace("\nk = 5\n", f"\nk = {k}\n").replace("\nband = 8\n", f"\nband = {band}\n")
    p = os.path.join(tmp, f"cell{i}.toml")
    open(p, "w").write(text)
    subprocess.run([binary, "backtest", "--config", p, "--data", data, "--out", os.path.join(tmp, f"cli{i}")],
                   check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, RUST_LOG="warn"))
PY
end=$(date +%s.%N)
cli_s=$(python3 -c "print($end - $start)")
python3 - "$tmp/sweep.json" "$sweep_s" "$cli_s" "$tmp" <<'PY'
import csv, json, os, sys
from decimal import Decimal
r = json.load(open(sys.argv[1]))
tmp = sys.argv[4]
rows = list(csv.DictReader(open(os.path.join(tmp, "sweep", "sweep.csv"))))
for i, row in enumerate(rows):
    alone = json.load(open(os.path.join(tmp, f"cli{i}", "summary.json")))
    assert Decimal(alone["final_equity_exact"]) == Decimal(row["final_equity"]), (i, alone["final_equity_exact"], row)
sweep_s, cli_s = float(sys.argv[2]), float(sys.argv[3])
n = r["cells"]
print(json.dumps({
    "cells": n, "threads": r["threads"],
    "sweep_seconds_total": round(sweep_s, 3), "sweep_load_seconds": round(r["load_seconds"], 3),
    "sweep_cells_per_second": round(n / sweep_s, 3), "sweep_cells_per_second_excluding_load": round(r["cells_per_second"], 3),
    "cli_seconds_total": round(cli_s, 3), "cli_cells_per_second": round(n / cli_s, 3),
    "speedup": round(cli_s / sweep_s, 2),
}))
PY
