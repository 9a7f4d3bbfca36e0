import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ProgressMeter,
  defaultSinks,
  formatDuration,
  formatProgressLine,
  formatRate,
  progress,
  withProgress,
  withProgressAsync,
  type ProgressSink,
  type ProgressSnapshot,
} from '../src/progress';
import { inNotebook } from '../src/notebook_env';

/** A clock the test moves by hand. */
function fakeClock(startMs = 1000) {
  let now = startMs;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function recordingSink(minIntervalMs: number, writeAtStart: boolean) {
  const writes: ProgressSnapshot[] = [];
  const sink: ProgressSink = { minIntervalMs, writeAtStart, write: (s) => writes.push(s) };
  return { sink, writes, lines: () => writes.map((s) => formatProgressLine(s)) };
}

test('formatDuration: seconds, minutes, hours', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(7.4), '7s');
  assert.equal(formatDuration(59.6), '1m00s');
  assert.equal(formatDuration(65), '1m05s');
  assert.equal(formatDuration(3600 + 3 * 60 + 20), '1h03m');
  assert.equal(formatDuration(Infinity), '?');
});

test('formatRate: precision follows magnitude; slow loops read per item', () => {
  assert.equal(formatRate(410.2), '410/s');
  assert.equal(formatRate(41.23), '41.2/s');
  assert.equal(formatRate(4.123), '4.12/s');
  assert.equal(formatRate(0.25), '4.0s/it');
});

test('meter: rate and ETA from a fake clock give the pipeline-log line', () => {
  const clock = fakeClock();
  const meter = new ProgressMeter('00 images', 12668, clock.now);
  clock.advance(10_240);
  meter.advance(4200);
  const s = meter.snapshot();
  assert.ok(Math.abs(s.rate! - 4200 / 10.24) < 1e-9);
  assert.ok(Math.abs(s.etaSeconds! - 8468 / (4200 / 10.24)) < 1e-9);
  assert.equal(formatProgressLine(s), '[00 images] 4200/12668 33% 410/s ETA 21s');
  assert.match(formatProgressLine(s, { bar: true }), /^\[00 images\] █{7}░{13} 4200\/12668/);
  clock.advance(20_650);
  meter.advance(8468);
  assert.equal(formatProgressLine(meter.snapshot(true)), '[00 images] 12668/12668 100% 410/s in 31s');
});

test('meter: nothing to measure yet, unknown total, percent never 100 before the end', () => {
  const clock = fakeClock();
  const start = new ProgressMeter('x', 10, clock.now).snapshot();
  assert.equal(start.rate, undefined);
  assert.equal(formatProgressLine(start), '[x] 0/10 0%');

  const open = new ProgressMeter('stream', undefined, clock.now);
  clock.advance(2000);
  open.advance(5);
  assert.equal(formatProgressLine(open.snapshot()), '[stream] 5 2.50/s');

  const nearly = new ProgressMeter('n', 1000, clock.now);
  clock.advance(1000);
  nearly.advance(999);
  assert.match(formatProgressLine(nearly.snapshot()), / 99% /);
});

test('progress: each sink is throttled to its own interval; done() always writes', () => {
  const clock = fakeClock();
  const cell = recordingSink(250, true);
  const log = recordingSink(10_000, false);
  const p = progress(300, 'loop', { clock: clock.now, sinks: [cell.sink, log.sink] });
  assert.equal(cell.writes.length, 1, 'the notebook line appears at once');
  assert.equal(log.writes.length, 0, 'the log waits for its interval');
  for (let i = 0; i < 300; i++) {
    clock.advance(100); // 10 items/s for 30 s
    p.tick();
  }
  p.done();
  p.done(); // idempotent
  p.tick(); // ignored after done
  // 30 s at one write per 300 ms (first tick at or after each 250 ms), plus start and final.
  assert.ok(cell.writes.length >= 90 && cell.writes.length <= 125, `cell writes ${cell.writes.length}`);
  assert.deepEqual(log.lines(), [
    '[loop] 100/300 33% 10.0/s ETA 20s',
    '[loop] 200/300 66% 10.0/s ETA 10s',
    '[loop] 300/300 100% 10.0/s ETA 0s',
    '[loop] 300/300 100% 10.0/s in 30s',
  ]);
  assert.equal(p.count, 300);
});

test('withProgress: total from the array, counts completed items, finishes on break', () => {
  const clock = fakeClock();
  const log = recordingSink(10_000, false);
  const seen: number[] = [];
  for (const x of withProgress([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], { label: 'arr', clock: clock.now, sinks: [log.sink] })) {
    clock.advance(500);
    seen.push(x);
    if (x === 3) break;
  }
  assert.deepEqual(seen, [1, 2, 3]);
  // Items 1 and 2 completed; 3 was being processed when the loop broke.
  assert.deepEqual(log.lines(), ['[arr] 2/10 20% 1.33/s in 2s']);
});

test('withProgress: sets have a size; generators have no total', () => {
  const clock = fakeClock();
  const a = recordingSink(0, false);
  for (const _ of withProgress(new Set(['a', 'b']), { label: 'set', clock: clock.now, sinks: [a.sink] })) clock.advance(1000);
  assert.equal(a.lines().at(-1), '[set] 2/2 100% 1.00/s in 2s');

  function* gen() {
    yield 1;
    yield 2;
    yield 3;
  }
  const b = recordingSink(0, false);
  for (const _ of withProgress(gen(), { label: 'gen', clock: clock.now, sinks: [b.sink] })) clock.advance(1000);
  assert.equal(b.lines().at(-1), '[gen] 3 1.00/s in 3s');
});

test('withProgressAsync: async iterables, explicit total', async () => {
  const clock = fakeClock();
  const log = recordingSink(10_000, false);
  async function* batches() {
    for (let i = 0; i < 4; i++) {
      clock.advance(250);
      yield i;
    }
  }
  let sum = 0;
  for await (const b of withProgressAsync(batches(), { label: 'batches', total: 4, clock: clock.now, sinks: [log.sink] })) sum += b;
  assert.equal(sum, 6);
  assert.deepEqual(log.lines(), ['[batches] 4/4 100% 4.00/s in 1s']);
});

test('outside a notebook, progress goes to stderr', () => {
  assert.equal(inNotebook(), false);
  const sinks = defaultSinks();
  assert.equal(sinks.length, 1);
  assert.equal(sinks[0].minIntervalMs, process.stderr.isTTY ? 250 : 10_000);
});
