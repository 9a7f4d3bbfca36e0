#!/bin/sh
# tslab kernel launcher registered by scripts/setup.sh (receives tslab's own arguments: kernel --config-path …).
# It starts the kernel in the repository root, so notebooks/*.ipynb can import ../src/…
# (tslab's TypeScript rootDir is the kernel's working directory).
# TSLAB_FREEZE_SOURCES=1 (set by the headless pipeline): compile src/ once, do not watch it.
cd "$(dirname "$0")/.." || exit 1
if [ "${TSLAB_FREEZE_SOURCES:-}" = 1 ]; then
  exec node --require ./scripts/tslab-frozen-sources.cjs node_modules/tslab/bin/tslab "$@"
fi
exec node_modules/.bin/tslab "$@"
