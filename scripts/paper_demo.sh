#!/usr/bin/env bash
# Paper trading without keys: starts a loopback Binance venue that streams a seeded synthetic
# minute market (60 timestamps of history, then the rest at KAIROS_DEMO_SPEED intervals per
# second), runs `kairos paper` against it with config/paper_demo.toml until every streamed
# timestamp is in, prints the status lines and the outputs, then stops the venue.
#
# KAIROS_DEMO_DIR (default: out/paper-demo), KAIROS_DEMO_SPEED (default 600: ten minutes of
# market a second) and KAIROS_DEMO_BARS (default 120 live timestamps) change the run.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR="${KAIROS_DEMO_DIR:-out/paper-demo}"
SPEED="${KAIROS_DEMO_SPEED:-600}"
BARS="${KAIROS_DEMO_BARS:-120}"
HISTORY=60
bash scripts/setup_libtorch.sh >/dev/null
cargo build --quiet --bin kairos
BIN="${CARGO_TARGET_DIR:-target}/debug/kairos"
rm -rf "$DIR"
mkdir -p "$DIR"
"$BIN" data synth --out "$DIR/market" --symbols 4 --days 1 --minutes 1 --seed 7
"$BIN" serve-market --venue binance --data "$DIR/market" --time-zone America/New_York \
  --history "$HISTORY" --speed "$SPEED" --listen 127.0.0.1:0 > "$DIR/venue.toml" 2> "$DIR/venue.log" &
VENUE=$!
trap 'kill $VENUE 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q rest_url "$DIR/venue.toml" 2>/dev/null && break; sleep 0.1; done
grep -q rest_url "$DIR/venue.toml" || { cat "$DIR/venue.log" >&2; exit 1; }
# The venue's addresses go into the [live] table of the demo configuration.
sed -e "/^ws_url/d" -e "/^rest_url/d" config/paper_demo.toml > "$DIR/paper.toml"
sed -i "/^\[live\]/r $DIR/venue.toml" "$DIR/paper.toml"
sed -i "s#^journal = .*#journal = \"$DIR/journal.sqlite\"#; s#^dir = .*#dir = \"$DIR/out\"#" "$DIR/paper.toml"
"$BIN" paper --config "$DIR/paper.toml" --max-bars "$BARS"
echo
echo "== outputs in $DIR/out"
ls -l "$DIR/out"
echo "== last fills"
tail -n 5 "$DIR/out/fills.csv"
echo "== the session's recording, backtested: the same fills"
"$BIN" paper export --journal "$DIR/journal.sqlite" --out "$DIR/recording.csv"
"$BIN" backtest --config "$DIR/paper.toml" --data "$DIR/recording.csv" --out "$DIR/backtest" > /dev/null
# Two header-only files would compare equal: the session must have traded.
FILLS=$(( $(wc -l < "$DIR/out/fills.csv") - 1 ))
if [ "$FILLS" -lt 1 ]; then
  echo "the session made no fill: there is nothing to compare" >&2
  exit 1
fi
for f in fills.csv events.jsonl equity.csv; do
  if ! cmp -s "$DIR/out/$f" "$DIR/backtest/$f"; then
    echo "$f differs between the session and the backtest of its recording" >&2
    exit 1
  fi
done
echo "fills.csv, events.jsonl and equity.csv: identical ($FILLS fills, $(( $(wc -l < "$DIR/out/equity.csv") - 1 )) equity rows)"
