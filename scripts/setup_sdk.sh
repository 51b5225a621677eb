#!/usr/bin/env bash
# The venues' official Python SDKs (alpaca-py, binance-sdk-spot), pinned, in a virtual
# environment under ~/.cache/kairos: tests/sdk_clients.rs runs them as real clients of the
# loopback venues. Idempotent.
set -euo pipefail
VENV="${KAIROS_SDK_VENV:-$HOME/.cache/kairos/sdk-venv}"
PINS=("alpaca-py==0.44.0" "binance-sdk-spot==13.3.0")
# Kept only when every pinned version is the one installed (a stale environment is reinstalled).
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" - "${PINS[@]}" 2>/dev/null <<'PY'
import sys
from importlib.metadata import version
import alpaca, binance_sdk_spot  # noqa: F401 (they import)
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    assert version(name) == want, (name, version(name), want)
PY
then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}"
echo "venue SDKs installed in $VENV" >&2
