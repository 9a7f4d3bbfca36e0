/**
 * Softmax regression on sparse rows: the same model and training as the tfjs one on dense
 * rows (softmax_regression.ts), so the same seed on the same data gives the same weights.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initTf } from '../src/tf/runtime';
import { Rng } from '../src/rng';
import { fitSoftmaxRegression } from '../src/models/softmax_regression';
import { fitSparseSoftmaxRegression, sparseSoftmaxProbs } from '../src/models/sparse_softmax_regression';
import type { SparseRow } from '../src/models/features';

/** Three classes, 6 columns, each row with 2–3 non-zero columns (the rest exact zeros, as in TF-IDF). */
function sparseBlobs(n: number, seed: number): { rows: SparseRow[]; dense: Float32Array; y: number[] } {
  const rng = new Rng(seed);
  const rows: SparseRow[] = [];
  const dense = new Float32Array(n * 6);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    const cols = [2 * c, 2 * c + 1, ...(rng.next() < 0.5 ? [(2 * c + 3) % 6] : [])].sort((a, b) => a - b);
    const values = cols.map((j) => (j >> 1 === c ? 1 : 0.3) + 0.2 * rng.next());
    rows.push({ indices: cols, values });
    cols.forEach((j, k) => { dense[i * 6 + j] = values[k]; });
    y.push(c);
  }
  return { rows, dense, y };
}

test('sparse softmax regression: same weights as the dense tfjs model from the same seed; learns; reproducible', async () => {
  await initTf();
  const train = sparseBlobs(240, 1);
  const val = sparseBlobs(60, 2);
  const options = { numClasses: 3, l2: 1e-3, learningRate: 0.05, batchSize: 32, epochs: 12, patience: 3, seed: 7 };
  const sparse = await fitSparseSoftmaxRegression({ rows: train.rows, y: train.y }, { rows: val.rows, y: val.y }, 6, options);
  const dense = await fitSoftmaxRegression({ x: train.dense, y: train.y }, { x: val.dense, y: val.y }, 6, options);
  assert.equal(sparse.bestEpoch, dense.bestEpoch);
  const [a, b] = [sparse.model.weights().kernel, dense.model.weights().kernel];
  for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j] - b[j]) < 1e-3, `kernel[${j}]: sparse ${a[j]}, dense ${b[j]}`);
  sparse.history.forEach((h, e) => assert.ok(Math.abs(h.val_loss - dense.history[e].val_loss) < 1e-3, `epoch ${e + 1} val loss ${h.val_loss} vs ${dense.history[e].val_loss}`));
  assert.ok(sparse.history[sparse.bestEpoch - 1].val_acc >= 0.95);
  const probs = sparseSoftmaxProbs(val.rows, sparse.model.kernel, sparse.model.bias);
  for (const row of probs) assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-9);
  const again = await fitSparseSoftmaxRegression({ rows: train.rows, y: train.y }, { rows: val.rows, y: val.y }, 6, options);
  assert.deepEqual(Array.from(again.model.kernel), Array.from(sparse.model.kernel));
  dense.model.dispose();
});

test('sparse softmax regression names bad input', async () => {
  const t = sparseBlobs(9, 3);
  await assert.rejects(fitSparseSoftmaxRegression({ rows: t.rows, y: t.y.map(() => 5) }, { rows: t.rows, y: t.y }, 6, { numClasses: 3 }), /label 5 is not a class index/);
  await assert.rejects(fitSparseSoftmaxRegression({ rows: t.rows, y: t.y }, { rows: t.rows, y: t.y }, 4, { numClasses: 3 }), /train row \d+: column \d outside 0..3/);
  await assert.rejects(fitSparseSoftmaxRegression({ rows: t.rows, y: t.y.slice(1) }, { rows: t.rows, y: t.y }, 6, { numClasses: 3 }), /train has 9 rows but 8 labels/);
});
