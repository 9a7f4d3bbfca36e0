/** The micro-batcher: window, max batch, one promise and one error per item, bounded queue, concurrency. */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { MicroBatcher, QueueFullError } from '../src/serve/micro_batcher';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('MicroBatcher', () => {
  test('items submitted within the window share one run, each gets its own result', async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, number>({ windowMs: 20, run: async (xs) => { batches.push(xs); return xs.map((x) => x * 10); } });
    const results = await Promise.all([1, 2, 3].map((x) => b.submit(x)));
    assert.deepEqual(results, [10, 20, 30]);
    assert.deepEqual(batches, [[1, 2, 3]]);
    const later = await b.submit(4); // after the window: a new batch
    assert.equal(later, 40);
    assert.deepEqual(batches, [[1, 2, 3], [4]]);
  });

  test('a full batch runs at once, without waiting for the window', async () => {
    const batches: number[][] = [];
    const b = new MicroBatcher<number, number>({ windowMs: 10_000, maxBatch: 3, run: async (xs) => { batches.push(xs); return xs; } });
    const t0 = Date.now();
    assert.deepEqual(await Promise.all([1, 2, 3].map((x) => b.submit(x))), [1, 2, 3]);
    assert.ok(Date.now() - t0 < 1000, 'did not wait for the 10 s window');
    assert.deepEqual(batches, [[1, 2, 3]]);
  });

  test('an Error in a slot rejects only that item; a throw rejects the whole batch', async () => {
    const b = new MicroBatcher<number, number>({ windowMs: 5, run: async (xs) => xs.map((x) => (x < 0 ? new Error(`bad ${x}`) : x)) });
    const settled = await Promise.allSettled([1, -2, 3].map((x) => b.submit(x)));
    assert.deepEqual(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.match(String((settled[1] as PromiseRejectedResult).reason), /bad -2/);

    const failing = new MicroBatcher<number, number>({ windowMs: 5, run: async () => { throw new Error('backbone died'); } });
    const all = await Promise.allSettled([1, 2].map((x) => failing.submit(x)));
    assert.ok(all.every((s) => s.status === 'rejected' && /backbone died/.test(String(s.reason))));
    assert.equal(await failing.submit(1).catch((e: Error) => e.message), 'backbone died', 'still serving after a failed batch');

    const wrongCount = new MicroBatcher<number, number>({ windowMs: 1, run: async (xs) => xs.slice(1) });
    await assert.rejects(wrongCount.submit(1), /returned 0 results for 1 items/);
  });

  test('bounded: beyond maxQueue waiting items, submit rejects at once with QueueFullError', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    const b = new MicroBatcher<number, number>({ windowMs: 0, maxBatch: 1, maxConcurrent: 1, maxQueue: 2, run: async (xs) => { await gate; return xs; } });
    const first = b.submit(1); // running
    await sleep(5);
    const queued = [b.submit(2), b.submit(3)]; // waiting: 2
    await assert.rejects(b.submit(4), (e: unknown) => e instanceof QueueFullError && /busy/.test((e as Error).message));
    assert.equal(b.stats.rejectedFull, 1);
    release();
    assert.deepEqual(await Promise.all([first, ...queued]), [1, 2, 3]);
  });

  test('maxConcurrent batches run side by side, no more', async () => {
    let running = 0;
    let peak = 0;
    const b = new MicroBatcher<number, number>({ windowMs: 1, maxBatch: 2, maxConcurrent: 2, run: async (xs) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(20);
      running--;
      return xs;
    } });
    const out = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(i)));
    assert.deepEqual(out, Array.from({ length: 10 }, (_, i) => i));
    assert.equal(peak, 2);
    assert.ok(b.stats.largest <= 2);
    assert.equal(b.stats.items, 10);
  });

  test('rejects nonsense options', () => {
    assert.throws(() => new MicroBatcher({ run: async () => [], maxBatch: 0 }), /maxBatch/);
    assert.throws(() => new MicroBatcher({ run: async () => [], maxQueue: 1.5 }), /maxQueue/);
  });
});
