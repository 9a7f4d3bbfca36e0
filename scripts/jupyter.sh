#!/usr/bin/env bash
# `npm run notebook` / `npm run lab`: open the notebooks with the project's tslab kernel.
# Extra arguments go to Jupyter (e.g. `npm run notebook -- --no-browser --port 8899`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup.sh"
export JUPYTER_PATH="$ROOT/.jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export JUPYTER_CONFIG_PATH="$ROOT/.jupyter/config${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"  # labconfig: no debugger extension (setup.sh)
export PYDEVD_DISABLE_FILE_VALIDATION=1
app="${1:-notebook}"; shift || true
JUPYTER=/usr/bin/jupyter; command -v jupyter >/dev/null && JUPYTER="$(command -v jupyter)"
if [ "$app" = lab ] && ! "$JUPYTER" lab --version >/dev/null 2>&1; then
  [ -x /usr/bin/jupyter ] && /usr/bin/jupyter lab --version >/dev/null 2>&1 && JUPYTER=/usr/bin/jupyter || {
    # Debian's system Python refuses `pip install` (PEP 668): a virtual environment outside the repository.
    cat >&2 <<'EOF'
JupyterLab is not installed (it is not a Debian package). Install it in a virtual environment, then re-run:
  python3 -m venv ~/.venvs/jupyterlab && ~/.venvs/jupyterlab/bin/pip install jupyterlab
  PATH=~/.venvs/jupyterlab/bin:$PATH npm run lab
or use the classic Notebook: npm run notebook
EOF
    exit 1; }
fi
# Jupyter refuses to start as root unless told to (containers, CI machines).
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)
exec "$JUPYTER" "$app" --notebook-dir="$ROOT" "${extra[@]}" "$@"
