#!/usr/bin/env bash
# The venues' official Python SDKs (alpaca-py, binance-sdk-spot), pinned, in a virtual
# environment under ~/.cache/kairos: tests/sdk_clients.rs runs them as real clients of the
# loopback venues. Idempotent.
set -euo pipefail
VENV="${KAIROS_SDK_VENV:-$HOME/.cache/kairos/sdk-venv}"
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "import alpaca, binance_sdk_spot" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "alpaca-py==0.44.0" "binance-sdk-spot==13.3.0"
echo "venue SDKs installed in $VENV" >&2
