#!/usr/bin/env bash
# Set-up for the benchmarks' reference side: PyTorch CPU from Debian (python3-torch).
# Idempotent: does nothing once `/usr/bin/python3 -c "import torch"` works.
set -euo pipefail

PY=/usr/bin/python3
if "$PY" -c 'import torch' >/dev/null 2>&1; then
  exit 0
fi

echo "bench set-up: PyTorch (Debian python3-torch) is missing; installing it for the reference runs" >&2
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || true
  apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || true
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null
else
  echo "bench set-up: cannot install packages (not root, no sudo)." >&2
  echo "  Run as root:  apt-get update && apt-get install -y --no-install-recommends python3-torch python3-numpy" >&2
  exit 1
fi

if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "bench set-up: python3-torch was installed but 'import torch' still fails under $PY" >&2
  exit 1
fi
echo "bench set-up: PyTorch $("$PY" -c 'import torch; print(torch.__version__)') ready" >&2
