/** The one-standard-error rule of selectOnValidation, on hand-made validation scores. */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { correctness, logLikelihoods, productCandidates, selectOnValidation, standardError } from '../src/eval/select';

/** 0/1 scores: `hits` ones then zeros, over n items. */
const hits = (n: number, ones: number[]) => { const s = new Float64Array(n); for (const i of ones) s[i] = 1; return s; };
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe('selectOnValidation', () => {
  test('a gain within the noise keeps the simpler model', () => {
    // 200 items: simple right on 0..119 (60 %), complex on 0..117 + 150..153 (61 %): +1 pp, differences on 6 items.
    const simple = hits(200, range(0, 120));
    const complex = hits(200, [...range(0, 118), ...range(150, 154)]);
    const s = selectOnValidation([{ key: 'simple', scores: simple }, { key: 'complex', scores: complex }]);
    assert.equal(s.best, 'complex');
    assert.equal(s.chosen, 'simple');
    const row = s.rows.find((r) => r.key === 'simple')!;
    assert.ok(Math.abs(row.gapToBest - 0.01) < 1e-12);
    assert.ok(row.gapToBest <= row.gapSe, `gap ${row.gapToBest} within se ${row.gapSe}`);
    assert.match(s.reason, /simplest candidate within one standard error/);
  });

  test('a gain beyond the noise picks the more complex model', () => {
    // complex adds 20 right answers and loses none: gap 10 pp, paired se ≈ 2.1 pp.
    const simple = hits(200, range(0, 100));
    const complex = hits(200, range(0, 120));
    const s = selectOnValidation([{ key: 'simple', scores: simple }, { key: 'complex', scores: complex }]);
    assert.equal(s.chosen, 'complex');
    assert.deepEqual(s.rows.map((r) => r.chosen), [false, true]);
  });

  test('three candidates: the simplest within one se of the best, not the best itself', () => {
    const a = hits(300, range(0, 150)); // 50 %
    const b = hits(300, range(0, 180)); // 60 %: clearly better than a
    const c = hits(300, [...range(0, 178), ...range(200, 203)]); // 60.3 %: within noise of b
    const s = selectOnValidation([{ key: 'a', scores: a }, { key: 'b', scores: b }, { key: 'c', scores: c }]);
    assert.equal(s.best, 'c');
    assert.equal(s.chosen, 'b');
    assert.equal(selectOnValidation([{ key: 'a', scores: a }, { key: 'b', scores: b }, { key: 'c', scores: c }], 0).chosen, 'c', 'seMultiple 0: the best');
  });

  test('standard errors and per-item correctness', () => {
    assert.ok(Math.abs(standardError([1, 0, 1, 0]) - Math.sqrt(1 / 3 / 4)) < 1e-12);
    assert.deepEqual(Array.from(correctness([0, 1, 2], [[0.6, 0.4, 0], [0.5, 0.2, 0.3], [0.1, 0.1, 0.8]])), [1, 0, 1]);
    assert.deepEqual(Array.from(logLikelihoods([0, 1], [[0.5, 0.5], [1, 0]])), [Math.log(0.5), Math.log(1e-7)]);
    assert.throws(() => logLikelihoods([0], []), /1 labels but 0 probability rows/);
  });

  test('mismatched or empty inputs fail with a clear message', () => {
    assert.throws(() => selectOnValidation([]), /no candidates/);
    assert.throws(() => selectOnValidation([{ key: 'a', scores: [1, 0] }, { key: 'b', scores: [1] }]), /candidate b has 1 validation scores, a has 2/);
    assert.throws(() => selectOnValidation([{ key: 'a', scores: [1] }, { key: 'a', scores: [0] }]), /distinct/);
  });

  test('productCandidates scores each product 0/1 and refuses candidates on other products', () => {
    const a = { productIds: ['p', 'q'], labels: [0, 1], probs: [[0.9, 0.1], [0.8, 0.2]] };
    const c = productCandidates([['a', a], ['b', { ...a, probs: [[0.1, 0.9], [0.2, 0.8]] }]]);
    assert.deepEqual(c.map((x) => Array.from(x.scores)), [[1, 0], [0, 1]]);
    assert.throws(() => productCandidates([['a', a], ['b', { ...a, productIds: ['q', 'p'] }]]), /candidate b was scored on other validation products than a/);
  });
});
