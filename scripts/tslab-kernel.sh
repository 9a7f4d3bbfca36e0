#!/bin/sh
# tslab kernel launcher registered by scripts/setup.sh (receives tslab's own arguments: kernel --config-path …).
# It starts the kernel in the repository root, so notebooks/*.ipynb can import ../src/…
# (tslab's TypeScript rootDir is the kernel's working directory).
cd "$(dirname "$0")/.." || exit 1
exec node_modules/.bin/tslab "$@"
