/**
 * Fusion steps: the paired accuracy difference and its interval, accuracy on a subset, and a
 * step that uses the photos beats text alone on synthetic rows where photos carry evidence
 * (and equals it on rows without photos).
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { accuracyWhere, evaluateFusionStep, FusionSplit, fusionStepRow, pairedAccuracyDifference } from '../src/eval/fusion_steps';
import { Rng } from '../src/rng';

describe('pairedAccuracyDifference', () => {
  test('a model against itself: exactly 0; always right vs always wrong: 100 pp', () => {
    const labels = [0, 1, 1, 0, 1];
    const right = labels.map((y) => (y === 0 ? [0.9, 0.1] : [0.2, 0.8]));
    const wrong = labels.map((y) => (y === 0 ? [0.1, 0.9] : [0.8, 0.2]));
    const same = pairedAccuracyDifference(labels, right, right, 1, 200);
    assert.deepEqual([same.estimate, same.lower, same.upper], [0, 0, 0]);
    const d = pairedAccuracyDifference(labels, right, wrong, 1, 200);
    assert.deepEqual([d.estimate, d.lower, d.upper], [100, 100, 100]);
  });

  test('accuracyWhere: only the kept rows; null when none', () => {
    assert.equal(accuracyWhere([0, 1], [[1, 0], [1, 0]], [true, false]), 1);
    assert.equal(accuracyWhere([0, 1], [[1, 0], [1, 0]], [false, false]), null);
  });
});

describe('evaluateFusionStep', () => {
  /** Rows where each expert sees the label through noise: logits s·[c = y] + N(0, 1); photos on 80 % of rows. */
  function split(n: number, seed: number): FusionSplit {
    const rng = new Rng(seed);
    const k = 4;
    const noisy = (y: number, s: number) => {
      const z = Array.from({ length: k }, (_, c) => (c === y ? s : 0) + rng.normal());
      const e = z.map((v) => Math.exp(v));
      const sum = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / sum);
    };
    const labels = Array.from({ length: n }, () => rng.int(k));
    const hasPhoto = labels.map(() => rng.next() < 0.8);
    return { labels, hasPhoto, experts: { text: labels.map((y) => noisy(y, 2)), image: labels.map((y, i) => (hasPhoto[i] ? noisy(y, 1.5) : null)) } };
  }

  test('a pool with the photos beats text alone on test, with a paired interval above 0; rows without photos stay at the text accuracy', () => {
    const val = split(1500, 1);
    const testSplit = split(1500, 2);
    const textOnly = evaluateFusionStep('text', ['text'], { val, test: testSplit }, { textExpert: 'text', seed: 3 });
    const both = evaluateFusionStep('text + image', ['text', 'image'], { val, test: testSplit }, { textExpert: 'text', seed: 3 });
    assert.ok(Math.abs(textOnly.vsTextPp.estimate) < 1.5, 'a pool of text alone (a temperature and biases) is text alone, give or take ties');
    assert.ok(both.vsTextPp.lower > 0, `difference ${JSON.stringify(both.vsTextPp)}`);
    assert.ok(both.fit.weights[1] > 0.3, `image weight ${both.fit.weights[1]}`);
    assert.ok(Math.abs((both.test.withoutPhotos as number) - (textOnly.test.withoutPhotos as number)) < 0.02, 'rows without photos are decided by text');
    assert.ok(both.test.withPhotos > (textOnly.test.withPhotos as number) + 0.03);
    assert.ok(both.cv && both.cv.foldWeights.length === 5);
    assert.equal(fusionStepRow(both).step, 'text + image');
    assert.throws(() => evaluateFusionStep('x', ['nope'], { val, test: testSplit }, { textExpert: 'text', seed: 1 }), /no expert 'nope'/);
  });
});
