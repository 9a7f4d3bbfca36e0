/**
 * Headless notebook runner: `npm run pipeline [-- 03 05]`, and the notebook half of `npm test`.
 *
 * Runs notebooks/NN_*.ipynb, each in a fresh tslab kernel (scripts/run_notebook.py), two at a time
 * by default (`--jobs N` or PIPELINE_JOBS; src/pipeline_schedule.ts says which starts when),
 * writes executed notebooks + HTML to outputs/notebooks/ (smoke: outputs/smoke/notebooks/) —
 * light reading copies (PNG charts, no scripts, ≤ 2 MB, checked by run_notebook.py), committed
 * for the full profile —
 * prints per-notebook wall time and closes with `N passed, N failed, N skipped`.
 * Asked for one notebook, it first runs the notebooks it depends on that are not fresh in this
 * profile: never run, or run on another data set or on upstream outputs that changed since
 * (src/pipeline_stamps.ts); fresh ones' caches are reused. It ends by listing what is stale.
 * `--cold` runs from empty caches: CACHE_ROOT (src/config.ts) points every notebook at a new temporary
 * folder (removed afterwards; the user's data/clean and outputs/models are never touched), and the
 * wall times go to run.cold_wall_seconds instead of run.wall_seconds.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CACHE_ROOT, PATHS, PROFILE } from '../src/config';
import { readMetrics, recordMetrics } from '../src/metrics_store';
import { cpuLabel, machineInfo, writeReport } from '../src/eval/report';
import { updateReadmeResults } from '../src/eval/readme_results';
import { dependencyMap, STAGES, startAfterMap } from '../src/artifacts/registry';
import { parseJobs, runScheduled } from '../src/pipeline_schedule';
import { currentInputs, datasetFingerprint, memoised, staleReason, writeStamp } from '../src/pipeline_stamps';

/** What each notebook reads from earlier ones: the stage list of the artifact registry. */
const DEPENDS_ON = dependencyMap();
/** What must finish before a notebook starts when several run at once (src/pipeline_schedule.ts). */
const START_AFTER = startAfterMap();

const NOTEBOOK_DIR = path.join(PATHS.root, 'notebooks');
const OUT_DIR = path.join(PATHS.report, 'notebooks');
/** Where a notebook's "done" stamps live: with the caches they vouch for. */
const stampDir = (cacheRoot: string) => path.join(cacheRoot, 'data', 'clean', '.pipeline', PROFILE.name);
const KERNEL = 'tslab';

/** The registry's stages, by id → notebook file; a stage whose notebook is missing is an error. */
function listNotebooks(): Map<string, string> {
  const byId = new Map<string, string>();
  for (const s of STAGES) {
    const file = `${s.notebook}.ipynb`;
    if (!fs.existsSync(path.join(NOTEBOOK_DIR, file))) throw new Error(`stage ${s.id}: notebooks/${file} is missing (src/artifacts/registry.ts names it)`);
    byId.set(s.id, file);
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

async function main(): Promise<number> {
  const { jobs, rest: args } = parseJobs(process.argv.slice(2).filter((a) => a !== '--'));
  const cold = args.includes('--cold');
  const requested = args.filter((a) => a !== '--cold').map((a) => a.padStart(2, '0').slice(0, 2));
  const cacheRoot = cold ? fs.mkdtempSync(path.join(process.env.COLD_CACHE_PARENT ?? os.tmpdir(), 'marketplace-cold-')) : CACHE_ROOT;
  const STAMP_DIR = stampDir(cacheRoot);
  const notebooks = listNotebooks();
  const dataset = memoised(() => datasetFingerprint(PATHS.raw));
  const stale = (id: string) => staleReason(STAMP_DIR, id, DEPENDS_ON, dataset);
  const order = plan(requested, notebooks, (id) => stale(id) === null);
  // Only a partial request pulls in stale dependencies; with none requested every notebook runs anyway.
  if (requested.length > 0) for (const id of order) if (!requested.includes(id)) console.log(`pipeline: running ${id} first: ${stale(id)}`);
  fs.mkdirSync(OUT_DIR, { recursive: true });
  fs.mkdirSync(STAMP_DIR, { recursive: true });
  console.log(`pipeline: profile ${PROFILE.name}, notebooks ${order.join(' ') || '(none)'} -> ${path.relative(PATHS.root, OUT_DIR)}/`);
  if (cold) console.log(`pipeline: cold run, empty caches in ${cacheRoot} (CACHE_ROOT; removed at the end, set KEEP_COLD_CACHE=1 to keep it)`);

  const env = {
    ...process.env,
    JUPYTER_PATH: path.join(PATHS.root, '.jupyter', 'share', 'jupyter'),
    PYDEVD_DISABLE_FILE_VALIDATION: '1',
    PIPELINE_LOG: '1', // progress bars also write throttled lines to this log
    TSLAB_FREEZE_SOURCES: '1', // src/ edited during a run must not fail a cell (scripts/tslab-frozen-sources.cjs)
    STATIC_PLOTS: '1', // charts as PNGs, no scripts: the executed copies are for reading (no trust needed, ≤ 2 MB)
    CACHE_ROOT: cacheRoot,
  };
  const wall: Record<string, number> = {};
  const pipelineStarted = Date.now();
  const previousTimes = ((readMetrics().run ?? {}) as Record<string, Record<string, number> | undefined>)[cold ? 'cold_wall_seconds' : 'wall_seconds'] ?? {};
  if (jobs > 1 && order.length > 1) console.log(`pipeline: up to ${jobs} notebooks at a time (--jobs 1 runs them one by one)`);
  const runOne = (id: string) => new Promise<boolean>((resolve) => {
    const file = notebooks.get(id)!;
    const base = file.replace(/\.ipynb$/, '');
    const outIpynb = path.join(OUT_DIR, `${base}.ipynb`);
    console.log(`\n=== ${file} (${PROFILE.name}) ===`);
    fs.rmSync(path.join(STAMP_DIR, `${id}.json`), { force: true });
    const t0 = Date.now();
    const child = spawn('/usr/bin/python3', [path.join(PATHS.root, 'scripts', 'run_notebook.py'),
      path.join(NOTEBOOK_DIR, file), outIpynb, path.join(OUT_DIR, `${base}.html`), KERNEL],
    { cwd: PATHS.root, env: { ...env, PIPELINE_NOTEBOOK: id }, stdio: 'inherit' }); // PIPELINE_NOTEBOOK tags its progress lines
    let settled = false; // 'close' may or may not follow 'error' (a python3 that cannot start)
    child.on('error', (err) => {
      console.log(`=== ${file}: could not start python3: ${err.message} ===`);
      if (settled) return;
      settled = true;
      resolve(false);
    });
    child.on('close', (code) => {
      if (settled) return;
      settled = true;
      const seconds = (Date.now() - t0) / 1000;
      wall[id] = Math.round(seconds * 10) / 10;
      if (code === 0) {
        writeStamp(STAMP_DIR, id, { notebook: file, seconds, inputs: currentInputs(STAMP_DIR, id, DEPENDS_ON, dataset) });
        console.log(`=== ${file}: ok in ${fmtSeconds(seconds)} ===`);
      } else {
        console.log(`=== ${file}: FAILED after ${fmtSeconds(seconds)} (executed copy: ${path.relative(PATHS.root, outIpynb)}) ===`);
      }
      resolve(code === 0);
    });
  });
  const result = await runScheduled({ order, startAfter: START_AFTER, jobs, expectedSeconds: (id) => previousTimes[id] ?? 60, run: runOne });
  const passed = result.passed.length;
  const failed = result.failed.length;
  const skipped = result.skipped.length;

  if (cold && !process.env.KEEP_COLD_CACHE) fs.rmSync(cacheRoot, { recursive: true, force: true });
  const timesKey = cold ? 'cold_wall_seconds' : 'wall_seconds';
  const previous = (readMetrics().run ?? {}) as Record<string, Record<string, number> | undefined>;
  // The machine beside the times: wall times only compare on one machine (2 cores of one CPU model can be 2× slower than another's).
  recordMetrics('run', {
    profile: PROFILE.name,
    date: new Date().toISOString(),
    [timesKey]: { ...(previous[timesKey] ?? {}), ...wall },
    ...(failed === 0 && order.length > 0
      ? { [cold ? 'last_cold_pipeline' : 'last_pipeline']: { notebooks: order, jobs, seconds: Math.round((Date.now() - pipelineStarted) / 100) / 10, date: new Date().toISOString(), machine: cpuLabel(machineInfo()) } }
      : {}),
  });
  if (failed === 0 && order.length > 0) {
    // Rewrite the report so its wall-time table covers every notebook that just ran (06 wrote it before 07 and before this run ended).
    try {
      console.log(`report: ${path.relative(PATHS.root, writeReport())}`);
    } catch (err) {
      console.log(`report not written: ${(err as Error).message}`);
    }
    // The README quotes the latest full run of every notebook, never a smoke or partial run.
    if (PROFILE.name === 'full' && order.length === notebooks.size) {
      const readme = path.join(PATHS.root, 'README.md');
      console.log(updateReadmeResults(readme, readMetrics()) ? 'README: results table rewritten from metrics.json' : 'README: no results markers, left as is');
    }
  }
  console.log('\nwall time per notebook: ' + Object.entries(wall).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${fmtSeconds(v)}`).join(', '));
  console.log(`pipeline wall time: ${fmtSeconds((Date.now() - pipelineStarted) / 1000)}${jobs > 1 && order.length > 1 ? ` (up to ${jobs} notebooks at a time)` : ''}`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  const staleNow = [...notebooks.keys()].map((id) => [id, stale(id)] as const).filter(([, why]) => why !== null && !why.includes('not run'));
  for (const [id, why] of staleNow) console.log(`stale: ${id} (${why}): run npm run pipeline -- ${id}`);
  return failed === 0 ? 0 : 1;
}

if (require.main === module) {
  main().then((code) => process.exit(code), (err: Error) => {
    console.error(`pipeline: ${err.message}`);
    process.exit(2);
  });
}
