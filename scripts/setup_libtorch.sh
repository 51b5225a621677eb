#!/usr/bin/env bash
# Provisions libtorch for tch (0.26 expects PyTorch 2.13.0) with no manual step, idempotently.
#
# The CPU part of libtorch comes from the PyPI wheel torch==2.13.0 (download.pytorch.org is not
# reachable here), installed without dependencies into a virtual environment kept under
# ~/.cache (shared by every clone, so CI reinstalls nothing); libtorch_cpu.so needs only the
# CUDA runtime and CUPTI libraries (two small wheels), no GPU or driver. `.libtorch` in the
# repository links to it; `.cargo/config.toml` points LIBTORCH there and build.rs adds the
# rpath, so `cargo test` and the binaries find it. See shared/LIBTORCH.md for the measurements.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION=2.13.0
HOME_DIR="${KAIROS_TORCH_HOME:-$HOME/.cache/kairos/torch-$TORCH_VERSION}"
SITE="$HOME_DIR/venv/lib/python3.11/site-packages"
if [ ! -f "$HOME_DIR/.complete" ]; then
  echo "installing libtorch $TORCH_VERSION (PyPI wheel, CPU libraries) into $HOME_DIR" >&2
  rm -rf "$HOME_DIR"
  mkdir -p "$HOME_DIR"
  python3 -m venv "$HOME_DIR/venv"
  "$HOME_DIR/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps \
    "torch==$TORCH_VERSION" nvidia-cuda-runtime==13.0.96 nvidia-cuda-cupti==13.0.85
  SITE=$("$HOME_DIR/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  test -f "$SITE/torch/lib/libtorch_cpu.so"
  echo "$SITE" > "$HOME_DIR/.complete"
fi
SITE=$(cat "$HOME_DIR/.complete")
ln -sfn "$SITE/torch" .libtorch
echo "libtorch: $(readlink .libtorch)" >&2
