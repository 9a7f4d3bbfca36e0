import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { describeSchedule, learningRateAt, scheduleTable } from '../src/train/schedule';

const close = (a: number, b: number, tol = 1e-12) => assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

describe('learning-rate schedules', () => {
  test('constant stays at base', () => {
    for (const e of [0, 0.5, 3, 9.99]) close(learningRateAt({ kind: 'constant', base: 0.01 }, e, 10), 0.01);
  });

  test('step multiplies by gamma every `every` epochs', () => {
    const spec = { kind: 'step' as const, base: 0.1, every: 3, gamma: 0.5 };
    close(learningRateAt(spec, 0, 10), 0.1);
    close(learningRateAt(spec, 2.99, 10), 0.1);
    close(learningRateAt(spec, 3, 10), 0.05);
    close(learningRateAt(spec, 6.5, 10), 0.025);
  });

  test('cosine goes from base to min, halfway at the middle, monotonically', () => {
    const spec = { kind: 'cosine' as const, base: 1e-3, min: 1e-5 };
    close(learningRateAt(spec, 0, 20), 1e-3);
    close(learningRateAt(spec, 10, 20), (1e-3 + 1e-5) / 2);
    close(learningRateAt(spec, 20, 20), 1e-5);
    close(learningRateAt(spec, 25, 20), 1e-5); // past the end: stays at min
    let previous = Infinity;
    for (let e = 0; e <= 20; e += 0.25) {
      const lr = learningRateAt(spec, e, 20);
      assert.ok(lr <= previous + 1e-15, `not decreasing at epoch ${e}`);
      previous = lr;
    }
  });

  test('warm-up rises linearly to base, then the schedule starts from base', () => {
    const spec = { kind: 'cosine' as const, base: 0.01, warmupEpochs: 2 };
    close(learningRateAt(spec, 0.5, 10), 0.0025);
    close(learningRateAt(spec, 1, 10), 0.005);
    close(learningRateAt(spec, 2, 10), 0.01);
    assert.ok(learningRateAt(spec, 0, 10) > 0, 'the first step must still move');
    close(learningRateAt(spec, 6, 10), 0.005); // halfway through the 8 cosine epochs
  });

  test('scheduleTable lists the rate at the start of each epoch', () => {
    const rows = scheduleTable({ kind: 'step', base: 1, every: 1, gamma: 0.1 }, 3);
    assert.deepEqual(rows.map((r) => r.epoch), [1, 2, 3]);
    close(rows[2].lr, 0.01);
  });

  test('bad specs are rejected with a clear message', () => {
    assert.throws(() => learningRateAt({ kind: 'constant', base: 0 }, 0, 1), /positive/);
    assert.throws(() => learningRateAt({ kind: 'step', base: 1, every: 0, gamma: 0.5 }, 0, 1), /every/);
    assert.throws(() => learningRateAt({ kind: 'cosine', base: 1, min: 2 }, 0, 1), /min/);
    assert.throws(() => learningRateAt({ kind: 'constant', base: 1 }, -1, 1), /epoch/);
  });

  test('describeSchedule is one readable line', () => {
    assert.equal(describeSchedule({ kind: 'cosine', base: 0.003, min: 0.00003, warmupEpochs: 1 }, 30), 'cosine 0.003 → 0.00003 over 30 epochs, 1 warm-up epoch');
  });
});
