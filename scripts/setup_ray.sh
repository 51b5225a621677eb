#!/usr/bin/env bash
# Ray (pinned in python/requirements.txt) in a virtual environment under ~/.cache/kairos, for
# the cluster driver (python -m kairos_ray) and tests/ray_cluster.rs. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${KAIROS_RAY_VENV:-$HOME/.cache/kairos/ray-venv}"
want=$(sed -n 's/^ray==//p' python/requirements.txt)
if [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import ray; print(ray.__version__)' 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check -r python/requirements.txt
echo "Ray $want installed in $VENV" >&2
