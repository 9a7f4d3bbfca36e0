import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { DeadlineError, QueueFullError, WorkQueue } from '../src/serve/work_queue';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('at most `concurrency` jobs run; a full queue refuses at once with a retry time; late jobs are dropped', async () => {
  const q = new WorkQueue({ concurrency: 2, maxWaiting: 2 });
  let running = 0;
  let peak = 0;
  const job = (ms: number, value: number) => async () => {
    running++;
    peak = Math.max(peak, running);
    await sleep(ms);
    running--;
    return value;
  };
  const admitted = [q.run(job(50, 1)), q.run(job(50, 2)), q.run(job(10, 3)), q.run(job(10, 4))];
  assert.deepEqual(q.stats(), { running: 2, waiting: 2, concurrency: 2, maxWaiting: 2 });
  const t0 = Date.now();
  await assert.rejects(q.run(job(1, 5)), (err: Error) => err instanceof QueueFullError && /already waiting/.test(err.message) && err.retryAfterSeconds >= 1);
  assert.ok(Date.now() - t0 < 20, 'refused without waiting');
  assert.deepEqual(await Promise.all(admitted), [1, 2, 3, 4]);
  assert.equal(peak, 2);

  const blockers = [q.run(job(60, 0)), q.run(job(60, 0))];
  let ran = false;
  const late = q.run(async () => { ran = true; return 1; }, Date.now() + 10);
  await assert.rejects(late, DeadlineError);
  assert.equal(ran, false, 'a job whose deadline passed while waiting never runs');
  await Promise.all(blockers);
  assert.deepEqual(q.stats().running, 0);
});

test('a failing job frees its slot', async () => {
  const q = new WorkQueue({ concurrency: 1, maxWaiting: 1 });
  await assert.rejects(q.run(async () => { throw new Error('boom'); }), /boom/);
  assert.equal(await q.run(async () => 7), 7);
});
