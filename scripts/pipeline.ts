/**
 * Headless notebook runner: `npm run pipeline [-- 03 05]`, and the notebook half of `npm test`.
 *
 * Runs notebooks/NN_*.ipynb in order, each in a fresh tslab kernel (scripts/run_notebook.py),
 * writes executed notebooks + HTML to outputs/notebooks/ (smoke: outputs/smoke/notebooks/) —
 * light reading copies (PNG charts, no scripts, ≤ 2 MB, checked by run_notebook.py), committed
 * for the full profile —
 * prints per-notebook wall time and closes with `N passed, N failed, N skipped`.
 * Asked for one notebook, it first runs the notebooks it depends on that have not yet
 * completed in this profile (their caches are reused otherwise).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { PATHS, PROFILE } from '../src/config';
import { readMetrics, recordMetrics } from '../src/metrics_store';
import { writeReport } from '../src/eval/report';

/** What each notebook reads from earlier ones (its caches under data/clean and outputs/). */
const DEPENDS_ON: Record<string, string[]> = {
  '01': ['00'], '02': ['00'], '03': ['00'], '04': ['00'],
  '05': ['03', '04'], '06': ['01', '02', '03', '04', '05'], '07': ['05'],
};

const NOTEBOOK_DIR = path.join(PATHS.root, 'notebooks');
const OUT_DIR = path.join(PATHS.report, 'notebooks');
const STAMP_DIR = path.join(PATHS.clean, '.pipeline', PROFILE.name);
const KERNEL = 'tslab';

function listNotebooks(): Map<string, string> {
  const byId = new Map<string, string>();
  for (const f of fs.readdirSync(NOTEBOOK_DIR).filter((f) => /^\d\d_.*\.ipynb$/.test(f)).sort()) {
    byId.set(f.slice(0, 2), f);
  }
  return byId;
}

/** The notebooks to run, in order: the requested ones plus their not-yet-run dependencies. */
export function plan(requested: string[], available: Map<string, string>, done: (id: string) => boolean): string[] {
  for (const id of requested) {
    if (!available.has(id)) throw new Error(`no notebook ${id}: have ${[...available.keys()].join(', ')}`);
  }
  if (requested.length === 0) return [...available.keys()];
  const wanted = new Set<string>();
  const visit = (id: string, isRequested: boolean) => {
    if (wanted.has(id)) return;
    if (!isRequested && done(id)) return;
    for (const dep of DEPENDS_ON[id] ?? []) if (available.has(dep)) visit(dep, false);
    wanted.add(id);
  };
  for (const id of requested) visit(id, true);
  return [...available.keys()].filter((id) => wanted.has(id));
}

function fmtSeconds(s: number): string {
  return s < 60 ? `${s.toFixed(1)}s` : `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
}

function main(): number {
  const requested = process.argv.slice(2).map((a) => a.padStart(2, '0').slice(0, 2));
  const notebooks = listNotebooks();
  const stampOf = (id: string) => path.join(STAMP_DIR, `${id}.json`);
  const order = plan(requested, notebooks, (id) => fs.existsSync(stampOf(id)));
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.mkdirSync(STAMP_DIR, { recursive: true });
  console.log(`pipeline: profile ${PROFILE.name}, notebooks ${order.join(' ') || '(none)'} -> ${path.relative(PATHS.root, OUT_DIR)}/`);

  const env = {
    ...process.env,
    JUPYTER_PATH: path.join(PATHS.root, '.jupyter', 'share', 'jupyter'),
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    PIPELINE_LOG: '1', // progress bars also write throttled lines to this log
    TSLAB_FREEZE_SOURCES: '1', // src/ edited during a run must not fail a cell (scripts/tslab-frozen-sources.cjs)
    STATIC_PLOTS: '1', // charts as PNGs, no scripts: the executed copies are for reading (no trust needed, ≤ 2 MB)
  };
  const wall: Record<string, number> = {};
  const pipelineStarted = Date.now();
  let passed = 0;
  let failed = 0;
  for (const id of order) {
    const file = notebooks.get(id)!;
    const base = file.replace(/\.ipynb$/, '');
    const outIpynb = path.join(OUT_DIR, `${base}.ipynb`);
    console.log(`\n=== ${file} (${PROFILE.name}) ===`);
    fs.rmSync(stampOf(id), { force: true });
    const t0 = Date.now();
    const r = spawnSync('/usr/bin/python3', [path.join(PATHS.root, 'scripts', 'run_notebook.py'),
      path.join(NOTEBOOK_DIR, file), outIpynb, path.join(OUT_DIR, `${base}.html`), KERNEL],
    { cwd: PATHS.root, env, stdio: 'inherit' });
    const seconds = (Date.now() - t0) / 1000;
    wall[id] = Math.round(seconds * 10) / 10;
    if (r.status === 0) {
      passed++;
      fs.writeFileSync(stampOf(id), JSON.stringify({ notebook: file, finished: new Date().toISOString(), seconds }));
      console.log(`=== ${file}: ok in ${fmtSeconds(seconds)} ===`);
    } else {
      failed++;
      console.log(`=== ${file}: FAILED after ${fmtSeconds(seconds)} (executed copy: ${path.relative(PATHS.root, outIpynb)}) ===`);
      break; // later notebooks read this one's outputs
    }
  }
  const skipped = order.length - passed - failed;

  const previous = (readMetrics().run ?? {}) as { wall_seconds?: Record<string, number> };
  recordMetrics('run', {
    profile: PROFILE.name,
    date: new Date().toISOString(),
    wall_seconds: { ...(previous.wall_seconds ?? {}), ...wall },
    ...(failed === 0 && order.length > 0
      ? { last_pipeline: { notebooks: order, seconds: Math.round((Date.now() - pipelineStarted) / 100) / 10, date: new Date().toISOString() } }
      : {}),
  });
  if (failed === 0 && order.length > 0) {
    // Rewrite the report so its wall-time table covers every notebook that just ran (06 wrote it before 07 and before this run ended).
    try {
      console.log(`report: ${path.relative(PATHS.root, writeReport())}`);
    } catch (err) {
      console.log(`report not written: ${(err as Error).message}`);
    }
  }
  console.log('\nwall time per notebook: ' + Object.entries(wall).map(([k, v]) => `${k} ${fmtSeconds(v)}`).join(', '));
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) process.exit(main());
