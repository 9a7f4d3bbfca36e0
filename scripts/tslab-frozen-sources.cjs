// Preloaded by scripts/tslab-kernel.sh when TSLAB_FREEZE_SOURCES=1 (the headless pipeline sets it):
// the kernel compiles each imported src/ file once and stops watching it. Watching is what lets
// an interactive user edit src/ and re-run a cell, but in a headless run an edit made meanwhile
// (an editor saving, `npm install` touching package.json) makes tslab fail the next cell with
// "Unexpected pending rebuildTimer".
const ts = require('@tslab/typescript-for-tslab');
const unwatched = () => ({ close() {} });
ts.sys.watchFile = unwatched;
ts.sys.watchDirectory = unwatched;
