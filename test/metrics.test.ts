import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  accuracy,
  argmax,
  bootstrapCI,
  confusionMatrix,
  groupMeanProbs,
  hitRateAtK,
  logLoss,
  macroF1,
  mae,
  meanReciprocalRank,
  perClassPrecisionRecallF1,
  precisionAtK,
  precisionAtKPerQuery,
  predictionsFromProbs,
  quantileSorted,
  r2,
  recallAtK,
  recallAtKPerQuery,
  relevantTotalsFromGallery,
  rmse,
  topKAccuracy,
} from '../src/eval/metrics';
import { mulberry32 } from '../src/rng';

function close(actual: number, expected: number, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);
}

function closeAll(actual: number[], expected: number[], tol = 1e-9): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => close(v, expected[i], tol));
}

// Worked by hand: true 0,1,2,2,1,0 vs predicted 0,2,2,2,1,1.
const Y_TRUE = [0, 1, 2, 2, 1, 0];
const Y_PRED = [0, 2, 2, 2, 1, 1];

test('accuracy counts exact matches', () => {
  close(accuracy(Y_TRUE, Y_PRED), 4 / 6);
  close(accuracy(Int32Array.from([1, 1]), [1, 1]), 1);
});

test('length mismatch and empty input fail with a clear message', () => {
  assert.throws(() => accuracy([1, 2, 3], [1, 2]), /labels and predictions differ in length: 3 vs 2/);
  assert.throws(() => accuracy([], []), /empty/);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 3), /label 3 is not a class index in 0\.\.2/);
});

test('confusion matrix rows are true classes, columns predictions', () => {
  assert.deepEqual(confusionMatrix(Y_TRUE, Y_PRED, 3), [
    [1, 1, 0],
    [0, 1, 1],
    [0, 0, 2],
  ]);
});

test('per-class precision, recall, F1 and macro F1 match hand computation', () => {
  const s = perClassPrecisionRecallF1(Y_TRUE, Y_PRED, 3);
  closeAll(s.precision, [1, 1 / 2, 2 / 3]);
  closeAll(s.recall, [1 / 2, 1 / 2, 1]);
  closeAll(s.f1, [2 / 3, 1 / 2, 4 / 5]);
  assert.deepEqual(s.support, [2, 2, 2]);
  close(macroF1(Y_TRUE, Y_PRED, 3), 59 / 90);
});

test('zero denominators give 0 and macro F1 skips classes absent from truth and predictions', () => {
  const s = perClassPrecisionRecallF1([0, 0, 1], [0, 0, 0], 3);
  closeAll(s.precision, [2 / 3, 0, 0]);
  closeAll(s.recall, [1, 0, 0]);
  // Class 2 never occurs: sklearn averages over classes 0 and 1 only.
  close(macroF1([0, 0, 1], [0, 0, 0], 3), (0.8 + 0) / 2);
  close(macroF1([0, 0], [0, 0], 5), 1);
});

test('log loss is the mean negative log-probability of the true class', () => {
  close(logLoss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), -(Math.log(0.9) + Math.log(0.8)) / 2);
  // A certain, wrong prediction is clipped to eps rather than infinite.
  close(logLoss([0], [[0, 1]]), -Math.log(1e-15), 1e-6);
  assert.throws(() => logLoss([0], [[NaN, 1]]), /non-finite/);
  assert.throws(() => logLoss([0, 1], [[1, 0]]), /differ in length: 2 vs 1/);
});

test('top-k accuracy counts ties in the example\'s favour', () => {
  const probs = [
    [0.5, 0.3, 0.2],
    [0.1, 0.2, 0.7],
    [0.3, 0.4, 0.3],
  ];
  const y = [1, 0, 2];
  close(topKAccuracy(y, probs, 1), 0);
  close(topKAccuracy(y, probs, 2), 2 / 3);
  close(topKAccuracy(y, probs, 3), 1);
  assert.throws(() => topKAccuracy(y, probs, 0), /positive integer/);
});

test('argmax and predictionsFromProbs take the first maximum', () => {
  assert.equal(argmax([0.2, 0.5, 0.5]), 1);
  assert.deepEqual(predictionsFromProbs([[0.1, 0.9], [0.6, 0.4]]), [1, 0]);
});

test('bootstrap interval brackets the estimate and is reproducible with a seeded rng', () => {
  const rng = mulberry32(7);
  const yTrue: number[] = [];
  const yPred: number[] = [];
  for (let i = 0; i < 200; i++) {
    yTrue.push(i % 4);
    yPred.push(rng() < 0.7 ? i % 4 : (i + 1) % 4);
  }
  const a = bootstrapCI(yTrue, yPred, accuracy, { iterations: 500, rng: mulberry32(1) });
  const b = bootstrapCI(yTrue, yPred, accuracy, { iterations: 500, rng: mulberry32(1) });
  assert.deepEqual(a, b);
  assert.ok(a.lower <= a.estimate && a.estimate <= a.upper, JSON.stringify(a));
  // Binomial standard error sqrt(0.7·0.3/200) ≈ 0.032, so a 95% interval is about ±0.064.
  assert.ok(a.upper - a.lower > 0.08 && a.upper - a.lower < 0.18, JSON.stringify(a));
  const perfect = bootstrapCI([0, 1, 2], [0, 1, 2], accuracy, { iterations: 50, rng: mulberry32(3) });
  assert.deepEqual([perfect.lower, perfect.upper], [1, 1]);
});

test('bootstrap works on probability rows too', () => {
  const ci = bootstrapCI([0, 1, 1], [[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]], logLoss, { iterations: 100, rng: mulberry32(5) });
  assert.ok(ci.lower <= ci.estimate && ci.estimate <= ci.upper);
  assert.throws(() => bootstrapCI([0], [0], accuracy, { alpha: 1.5, rng: mulberry32(1) }), /alpha must lie in \(0, 1\)/);
});

test('quantileSorted interpolates like numpy', () => {
  close(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  close(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  close(quantileSorted([5], 0.9), 5);
});

test('groupMeanProbs averages images of one product, in first-seen order', () => {
  const g = groupMeanProbs(['a', 'b', 'a'], [[1, 0], [0, 1], [0, 1]], [0, 1, 0]);
  assert.deepEqual(g.ids, ['a', 'b']);
  assert.deepEqual(g.probs, [[0.5, 0.5], [0, 1]]);
  assert.deepEqual(g.counts, [2, 1]);
  assert.deepEqual(g.labels, [0, 1]);
  assert.throws(() => groupMeanProbs(['a', 'a'], [[1, 0], [0, 1]], [0, 1]), /group a has images with different labels: 0 and 1/);
  assert.throws(() => groupMeanProbs(['a'], [[1, 0], [0, 1]]), /ids and probability rows differ in length: 1 vs 2/);
});

test('regression metrics match the sklearn documentation example', () => {
  const yTrue = [3, -0.5, 2, 7];
  const yPred = [2.5, 0.0, 2, 8];
  close(r2(yTrue, yPred), 1 - 1.5 / 29.1875); // sklearn docs: 0.948...
  close(rmse(yTrue, yPred), Math.sqrt(0.375));
  close(mae(yTrue, yPred), 0.5);
  close(r2([2, 2], [2, 2]), 1);
  close(r2([2, 2], [1, 3]), 0);
  close(r2([1, 2, 3], [2, 2, 2]), 0); // predicting the mean scores 0
});

test('retrieval metrics on a hand-worked example', () => {
  const queries = ['a', 'b'];
  const neighbours = [
    ['a', 'b', 'a'],
    ['a', 'a', 'b'],
  ];
  close(precisionAtK(queries, neighbours, 1), 0.5);
  close(precisionAtK(queries, neighbours, 3), (2 / 3 + 1 / 3) / 2);
  // Lists shorter than k count missing places as misses.
  close(precisionAtK(queries, neighbours, 5), (2 / 5 + 1 / 5) / 2);
  assert.deepEqual(Array.from(precisionAtKPerQuery(queries, neighbours, 3)), [2 / 3, 1 / 3]);
  close(meanReciprocalRank(queries, neighbours), (1 + 1 / 3) / 2);
  close(meanReciprocalRank(['c'], [['a', 'b']]), 0);
  close(hitRateAtK(queries, neighbours, 1), 0.5);
  close(hitRateAtK(queries, neighbours, 3), 1);

  const totals = relevantTotalsFromGallery(queries, ['a', 'a', 'a', 'b', 'b'], true);
  assert.deepEqual(totals, [2, 1]);
  close(recallAtK(queries, neighbours, 2, totals), (1 / 2 + 0) / 2);
  close(recallAtK(queries, neighbours, 3, totals), 1);
  // Per query; a query with nothing relevant in the gallery is NaN there and skipped by the mean.
  assert.deepEqual(Array.from(recallAtKPerQuery(queries, neighbours, 2, [2, 0])), [1 / 2, NaN]);
  close(recallAtK(queries, neighbours, 2, [2, 0]), 1 / 2);
  assert.deepEqual(relevantTotalsFromGallery(['a'], ['a', 'b'], false), [1]);
  assert.throws(() => recallAtK(queries, neighbours, 3, [1, 1]), /relevantTotals says 1/);
  assert.throws(() => precisionAtK(queries, [['a']], 1), /differ in length: 2 vs 1/);
});

test('retrieval accepts numeric labels', () => {
  close(precisionAtK([1, 2], [[1, 1], [1, 2]], 2), (1 + 0.5) / 2);
});
