import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseJobs, runScheduled } from '../src/pipeline_schedule';

// The project's stage graph (registry: dependsOn + runsAfter) and warm wall times in seconds.
const AFTER: Record<string, string[]> = { '00': [], '01': ['00'], '02': ['00', '03'], '03': ['00'], '04': ['00'], '05': ['03', '04'], '06': ['01', '02', '03', '04', '05'], '07': ['03', '04', '05'] };
const SECONDS: Record<string, number> = { '00': 68, '01': 224, '02': 50, '03': 152, '04': 161, '05': 61, '06': 39, '07': 183 };
const ORDER = Object.keys(AFTER);

/** Runs the schedule on a virtual clock: each notebook "takes" its seconds; returns the log and the makespan. */
async function simulate(jobs: number, fails: string[] = [], order = ORDER) {
  let now = 0;
  const log: Array<{ id: string; start: number; end: number }> = [];
  const pending: Array<{ end: number; done: () => void }> = [];
  let active = 0;
  let peak = 0;
  const result = runScheduled({
    order, startAfter: AFTER, jobs, expectedSeconds: (id) => SECONDS[id],
    run: (id) => new Promise<boolean>((resolve) => {
      active++;
      peak = Math.max(peak, active);
      const entry = { id, start: now, end: now + SECONDS[id] };
      log.push(entry);
      pending.push({ end: entry.end, done: () => { active--; resolve(!fails.includes(id)); } });
    }),
  });
  // Advance the clock to the next finishing notebook until nothing runs.
  for (;;) {
    await new Promise((r) => setImmediate(r));
    if (pending.length === 0) break;
    pending.sort((a, b) => a.end - b.end);
    const next = pending.shift()!;
    now = next.end;
    next.done();
  }
  return { result: await result, log, makespan: Math.max(0, ...log.map((l) => l.end)), peak };
}

test('one job runs the notebooks one at a time in numeric order', async () => {
  const { log, makespan, peak, result } = await simulate(1);
  assert.deepEqual(log.map((l) => l.id), ['00', '01', '03', '02', '04', '05', '06', '07'], '02 waits for 03 (runsAfter)');
  assert.equal(peak, 1);
  assert.equal(makespan, Object.values(SECONDS).reduce((a, b) => a + b, 0));
  assert.deepEqual(result.failed, []);
  assert.equal(result.passed.length, 8);
});

test('two jobs: never more than two at once, every notebook after what it waits for, the critical path first', async () => {
  const { log, makespan, peak } = await simulate(2);
  assert.equal(peak, 2);
  const at = Object.fromEntries(log.map((l) => [l.id, l]));
  for (const [id, deps] of Object.entries(AFTER)) for (const d of deps) assert.ok(at[id].start >= at[d].end, `${id} starts after ${d} ends`);
  // After 00, the two heads of the longest chains (04 → 05 → 07 and 03 → 05 → 07) start, not 01.
  assert.deepEqual(log.filter((l) => l.start === SECONDS['00']).map((l) => l.id).sort(), ['03', '04']);
  assert.ok(makespan < 0.6 * Object.values(SECONDS).reduce((a, b) => a + b, 0), `makespan ${makespan} s`);
});

test('a failure starts nothing new; what runs finishes; the rest is skipped', async () => {
  const { result, log } = await simulate(2, ['04']);
  assert.deepEqual(result.failed, ['04']);
  assert.ok(!log.some((l) => l.id === '05' || l.id === '07' || l.id === '06'), 'nothing that reads 04 started');
  assert.ok(result.passed.includes('03'), '03, running beside 04, finished');
  assert.deepEqual([...result.passed, ...result.failed, ...result.skipped].sort(), ORDER);
});

test('dependencies outside the run count as done; a bad job count is refused', async () => {
  const { log } = await simulate(2, [], ['05', '07']);
  assert.deepEqual(log.map((l) => l.id), ['05', '07']);
  assert.throws(() => runScheduled({ order: ORDER, startAfter: AFTER, jobs: 0, expectedSeconds: () => 1, run: async () => true }), /jobs/);
});

test('parseJobs: --jobs N or PIPELINE_JOBS, default 2 (1 on one core), other arguments kept', () => {
  assert.deepEqual(parseJobs(['03', '--jobs', '1', '--cold'], {}, 2), { jobs: 1, rest: ['03', '--cold'] });
  assert.deepEqual(parseJobs(['05'], { PIPELINE_JOBS: '3' }, 2), { jobs: 3, rest: ['05'] });
  assert.equal(parseJobs([], {}, 8).jobs, 2);
  assert.equal(parseJobs([], {}, 1).jobs, 1);
  assert.throws(() => parseJobs(['--jobs'], {}, 2), /whole number/);
  assert.throws(() => parseJobs(['--jobs', '0'], {}, 2), /whole number/);
});
