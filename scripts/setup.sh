#!/usr/bin/env bash
# Idempotent project set-up, called by `npm run pipeline`, `npm test` and `npm run bench`.
# Fast when done (< 1 s): each step checks before it acts.
#   1. Debian packages: Jupyter (classic Notebook, nbclient, nbconvert, ipykernel), chromium, and the
#      PostgreSQL server (its binaries: the tests start a throwaway server; npm run db:load)
#   2. npm ci when package-lock.json changed since the last install
#   3. a project-local tslab kernel that starts in the repository root (.jupyter/)
#   4. data/raw -> the marketplace data set ($MARKETPLACE_DATA, default ../shared/marketplace)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
say() { echo "[setup] $*" >&2; }
die() { echo "[setup] ERROR: $*" >&2; exit 1; }

# --- 1. Debian packages ------------------------------------------------------------------
PY=/usr/bin/python3
APT_PACKAGES="jupyter-notebook python3-nbclient python3-nbconvert python3-ipykernel jupyter-client chromium postgresql"
missing_system() {
  [ -x "$PY" ] || return 0
  "$PY" -c "import nbclient, nbconvert, ipykernel, notebook, jupyter_client" 2>/dev/null || return 0
  [ -x /usr/bin/jupyter ] || return 0
  [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || return 0
  [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/initdb" ] && return 1
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || return 0
  return 1
}
if missing_system; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: $APT_PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null
  else
    die "Jupyter, chromium and/or the PostgreSQL server are missing and I cannot install them here (need root and apt-get).
  Install them, then re-run:
    sudo apt-get install -y --no-install-recommends $APT_PACKAGES
  (elsewhere: pip install notebook nbclient nbconvert ipykernel, a Chromium/Chrome at /usr/bin/chromium
   or CHROMIUM_PATH=/path/to/chrome; PostgreSQL server binaries elsewhere: PG_BIN=/dir/with/initdb)"
  fi
  missing_system && die "Debian packages installed but Jupyter/chromium/PostgreSQL still not usable: check $PY, /usr/bin/jupyter, /usr/lib/postgresql/*/bin"
fi

# --- 2. npm packages ---------------------------------------------------------------------
STAMP=node_modules/.setup-lock-hash
LOCK_HASH="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$LOCK_HASH" ]; then
  say "npm ci (package-lock.json changed or node_modules missing)"
  # onnxruntime-node's install script downloads CUDA libraries (unreachable, unneeded): its CPU binaries ship in the package.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$LOCK_HASH" > "$STAMP"
fi

# --- 3. tslab kernel, project-local ------------------------------------------------------
# The spec also says `"metadata": {"debugger": false}`: tslab cannot debug, and JupyterLab's
# debugger, unless a kernel spec says so, logs "No active debugger session" errors while cells run.
KERNEL_JSON=.jupyter/share/jupyter/kernels/tslab/kernel.json
LAUNCHER="$ROOT/scripts/tslab-kernel.sh"
if [ ! -f "$KERNEL_JSON" ] || ! grep -qF "$LAUNCHER" "$KERNEL_JSON" || ! grep -qF '"debugger": false' "$KERNEL_JSON"; then
  say "registering the tslab kernel in .jupyter/ (starts in $ROOT)"
  chmod +x "$LAUNCHER"
  node_modules/.bin/tslab install --python="$PY" --binary="$LAUNCHER" --prefix="$ROOT/.jupyter" >/dev/null
  grep -qF "$LAUNCHER" "$KERNEL_JSON" || die "tslab kernel registration did not write $KERNEL_JSON"
  "$PY" - "$KERNEL_JSON" <<'EOF'
import json, sys
spec = json.load(open(sys.argv[1]))
spec.setdefault("metadata", {})["debugger"] = False
json.dump(spec, open(sys.argv[1], "w"), indent=1)
EOF
fi

# JupyterLab 4's debugger extension asks for the debugger's modules after EVERY executed cell
# and, with no debugger session (tslab has none, whatever its spec says), logs "No active
# debugger session" each time. `npm run lab` adds this config dir (JUPYTER_CONFIG_PATH),
# which turns that extension off for the project's JupyterLab only.
LAB_PAGE_CONFIG=.jupyter/config/labconfig/page_config.json
if ! grep -qF '"@jupyterlab/debugger-extension": true' "$LAB_PAGE_CONFIG" 2>/dev/null; then
  mkdir -p "$(dirname "$LAB_PAGE_CONFIG")"
  echo '{"disabledExtensions": {"@jupyterlab/debugger-extension": true}}' > "$LAB_PAGE_CONFIG"
fi

# --- 4. data link ------------------------------------------------------------------------
DEFAULT_DATA="$ROOT/../shared/marketplace"
DATA="${MARKETPLACE_DATA:-$DEFAULT_DATA}"
check_data() { [ -f "$1/Products.csv" ] && [ -f "$1/Images.csv" ] && [ -d "$1/images" ]; }
if ! check_data "$DATA"; then
  die "marketplace data set not found at $DATA (needs Products.csv, Images.csv, images/).
  Default location: ../shared/marketplace beside the repository; or set MARKETPLACE_DATA=/path/to/marketplace."
fi
DATA="$(cd "$DATA" && pwd)"
mkdir -p data
if [ "$(readlink data/raw 2>/dev/null || true)" != "$DATA" ]; then
  [ -e data/raw ] && [ ! -L data/raw ] && die "data/raw exists and is not a link: move it away (it must point at the data set)"
  ln -sfn "$DATA" data/raw
  say "data/raw -> $DATA"
fi
