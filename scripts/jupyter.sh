#!/usr/bin/env bash
# `npm run notebook` / `npm run lab`: open the notebooks with the project's tslab kernel.
# Extra arguments go to Jupyter (e.g. `npm run notebook -- --no-browser --port 8899`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
export JUPYTER_PATH="$ROOT/.jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export PYDEVD_DISABLE_FILE_VALIDATION=1
app="${1:-notebook}"; shift || true
JUPYTER=/usr/bin/jupyter; command -v jupyter >/dev/null && JUPYTER="$(command -v jupyter)"
if [ "$app" = lab ] && ! "$JUPYTER" lab --version >/dev/null 2>&1; then
  [ -x /usr/bin/jupyter ] && /usr/bin/jupyter lab --version >/dev/null 2>&1 && JUPYTER=/usr/bin/jupyter || {
    echo "JupyterLab is not installed: pip install jupyterlab (or use: npm run notebook)" >&2; exit 1; }
fi
exec "$JUPYTER" "$app" --notebook-dir="$ROOT" "$@"
