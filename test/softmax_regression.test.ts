import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initTf, tf } from '../src/tf/runtime';
import { columnStats, denseVariables, fitSoftmaxRegression, poolPixels, softmaxGradients, standardiseInPlace } from '../src/models/softmax_regression';
import { Rng } from '../src/rng';

/** Three Gaussian blobs in 4-D, far apart: linearly separable. */
function blobs(n: number, seed: number): { x: Float32Array; y: number[] } {
  const rng = new Rng(seed);
  const centres = [[4, 0, 0, 0], [0, 4, 0, 0], [0, 0, 4, 4]];
  const x = new Float32Array(n * 4);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    for (let j = 0; j < 4; j++) x[i * 4 + j] = centres[c][j] + rng.normal(0, 0.5);
    y.push(c);
  }
  return { x, y };
}

test('poolPixels averages 2×2 blocks per channel', () => {
  // One 2×2 RGB image → one pixel: the mean of each channel.
  const px = Uint8Array.from([0, 10, 100, 2, 20, 100, 4, 30, 100, 6, 40, 104]);
  assert.deepEqual(Array.from(poolPixels(px, 1, 2, 2)), [3, 25, 101]);
  assert.equal(poolPixels(new Uint8Array(2 * 4 * 4 * 3), 2, 4, 2).length, 2 * 2 * 2 * 3);
  assert.throws(() => poolPixels(px, 1, 2, 3), /must be a positive integer dividing/);
});

test('columnStats + standardiseInPlace give zero mean and unit std; constant columns stay finite', () => {
  const x = Float32Array.from([1, 5, 3, 5, 5, 5]); // 3 rows × 2 columns, column 1 constant
  const stats = columnStats(x, 3, 2);
  standardiseInPlace(x, stats);
  const sd = Math.sqrt(8 / 3);
  assert.ok(Math.abs(x[0] + 2 / sd) < 1e-6 && Math.abs(x[4] - 2 / sd) < 1e-6);
  assert.deepEqual([x[1], x[3], x[5]], [0, 0, 0]);
});

test('the closed-form gradient equals tf.grads of cross-entropy + the layer L2 regulariser', async () => {
  await initTf();
  const l2 = 0.05;
  const model = tf.sequential();
  model.add(tf.layers.dense({ units: 3, inputShape: [4], activation: 'softmax', kernelInitializer: tf.initializers.randomNormal({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2 }), kernelRegularizer: tf.regularizers.l2({ l2 }) }));
  const [kernel, bias] = denseVariables(model);
  const { x, y } = blobs(12, 3);
  const xT = new Float32Array(48);
  for (let i = 0; i < 12; i++) for (let j = 0; j < 4; j++) xT[j * 12 + i] = x[i * 4 + j];
  const yOneHot = tf.oneHot(tf.tensor1d(y, 'int32'), 3).toFloat() as tf.Tensor2D;
  const ours = softmaxGradients(kernel, bias, tf.tensor2d(x, [12, 4]), tf.tensor2d(xT, [4, 12]), yOneHot.clone(), l2);
  const xs = tf.tensor2d(x, [12, 4]);
  const auto = tf.variableGrads(() => {
    const probs = model.apply(xs) as tf.Tensor2D;
    const ce = tf.metrics.categoricalCrossentropy(yOneHot, probs).mean();
    return tf.add(ce, tf.addN(model.layers[0].losses.map((f) => f()))) as tf.Scalar;
  }, [kernel, bias]);
  for (const g of ours) {
    const expected = auto.grads[g.name].dataSync();
    const actual = g.tensor.dataSync();
    assert.equal(actual.length, expected.length);
    for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) < 1e-5, `${g.name}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
  tf.dispose([yOneHot, xs, auto.value, ...Object.values(auto.grads), ...ours.map((g) => g.tensor)]);
  model.dispose();
});

test('softmax regression learns a separable problem; probabilities sum to 1; runs are reproducible', async () => {
  await initTf();
  const train = blobs(300, 1);
  const val = blobs(90, 2);
  const epochsSeen: number[] = [];
  const fit = () => fitSoftmaxRegression(train, val, 4, { numClasses: 3, l2: 1e-4, learningRate: 0.05, batchSize: 32, epochs: 30, patience: 3, seed: 7, onEpochEnd: (e) => epochsSeen.push(e) });
  const a = await fit();
  assert.deepEqual(epochsSeen, Array.from({ length: a.epochsRun }, (_, i) => i + 1));
  const best = a.history[a.bestEpoch - 1];
  assert.ok(best.val_acc >= 0.98, `val accuracy ${best.val_acc}`);
  assert.ok(best.val_loss < 0.2, `val loss ${best.val_loss}`);
  assert.ok(a.history.every((h, i) => i === a.bestEpoch - 1 || h.val_loss >= best.val_loss));
  const probs = a.model.predictProba(val.x, 16);
  assert.equal(probs.length, 90);
  for (const row of probs) assert.ok(Math.abs(row.reduce((s, v) => s + v, 0) - 1) < 1e-5);
  const b = await fit();
  assert.deepEqual(b.history.map((h) => h.val_loss), a.history.map((h) => h.val_loss));
  assert.deepEqual(Array.from(b.model.weights().kernel), Array.from(a.model.weights().kernel));
  a.model.dispose();
  b.model.dispose();
  await assert.rejects(fitSoftmaxRegression({ x: train.x, y: train.y.map(() => 5) }, val, 4, { numClasses: 3 }), /label 5 is not a class index/);
});
