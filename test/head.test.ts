/**
 * Feature heads: FeatureDense computes what tf.layers.dense computes (values and gradients),
 * a head learns a separable problem through the shared loop and reloads from its checkpoint,
 * batches draw flipped features when asked, and TTA averaging / evaluation line up.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf, tf } from '../src/tf/runtime';
import { averageProbs, buildHead, evaluateHead, featureBatches, FeatureDense, headEmbeddings, trainHeadOnFeatures, FeatureSplit } from '../src/models/head';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'head-test-'));
before(async () => {
  await initTf();
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function maxAbs(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('FeatureDense', () => {
  test('same output and gradients as tf.layers.dense', () => {
    const x = tf.randomNormal([5, 7], 0, 1, 'float32', 1);
    const ours = new FeatureDense({ units: 3, activation: 'relu', seed: 3 });
    const ref = tf.layers.dense({ units: 3, activation: 'relu' });
    ours.apply(x);
    ref.apply(x);
    const w = [tf.randomNormal([7, 3], 0, 1, 'float32', 2), tf.randomNormal([3], 0, 1, 'float32', 4)];
    ours.setWeights(w);
    ref.setWeights(w);
    const grads = (layer: tf.layers.Layer) => {
      const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
      const { value, grads: g } = tf.variableGrads(() => tf.sum(tf.square(layer.apply(x) as tf.Tensor)) as tf.Scalar, vars);
      return { value: value.dataSync()[0], g: vars.map((v) => g[v.name].dataSync()) };
    };
    const a = grads(ours);
    const b = grads(ref);
    assert.ok(Math.abs(a.value - b.value) < 1e-4);
    a.g.forEach((g, i) => assert.ok(maxAbs(g, b.g[i]) < 1e-4, `gradient ${i} differs`));
  });
});

describe('featureBatches', () => {
  test('covers every row once; with flipped features, draws both views', () => {
    const dim = 2;
    const plain = Float32Array.from({ length: 20 }, (_, i) => i);
    const flipped = Float32Array.from(plain, (v) => -v - 1);
    const labels = Array.from({ length: 10 }, (_, i) => i % 3);
    const seen: number[] = [];
    let fromFlipped = 0;
    for (const b of featureBatches(plain, labels, dim, { batchSize: 4, shuffle: true, seed: 1, flipped })) {
      const x = b.x.dataSync();
      for (let k = 0; k < x.length; k += dim) {
        const row = x[k] >= 0 ? x[k] / 2 : (-x[k] - 1) / 2;
        if (x[k] < 0) fromFlipped++;
        seen.push(row);
      }
      tf.dispose([b.x, b.y]);
    }
    assert.deepEqual(seen.slice().sort((p, q) => p - q), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(fromFlipped > 0 && fromFlipped < 10, `flipped rows: ${fromFlipped}`);
  });
});

describe('heads on features', () => {
  test('an MLP head learns separable features with the shared loop, reloads, evaluates per product', async () => {
    const dim = 16;
    const n = 240;
    const classes = 3;
    const make = (count: number, seed: number): FeatureSplit => {
      const labels = Array.from({ length: count }, (_, i) => i % classes);
      const noise = tf.randomNormal([count, dim], 0, 0.3, 'float32', seed).dataSync() as Float32Array;
      const x = new Float32Array(count * dim);
      labels.forEach((l, i) => { for (let d = 0; d < dim; d++) x[i * dim + d] = noise[i * dim + d] + (d % classes === l ? 1.5 : 0); });
      return { views: [x], dim, labels, imageIds: labels.map((_, i) => `img${i}`), productIds: labels.map((_, i) => `p${Math.floor(i / classes / 2)}_${i % classes}`) };
    };
    const train = make(n, 1);
    const val = make(60, 2);
    const options = {
      stage: 'head_test', head: { inputDim: dim, numClasses: classes, hidden: [8], dropout: 0.1, seed: 5 }, train, val, batchSize: 32,
      settings: { epochs: 8, optimizer: { kind: 'adam' as const }, schedule: { kind: 'constant' as const, base: 0.01 } },
      modelsDir: tmp, quiet: true,
    };
    const { model, result } = await trainHeadOnFeatures(options);
    assert.equal(result.status, 'trained');
    const ev = evaluateHead(model, val, ['a', 'b', 'c']);
    assert.ok(ev.image.accuracy > 0.9, `image accuracy ${ev.image.accuracy}`);
    assert.ok(ev.product.n < ev.image.n, 'products group several images');
    const again = await trainHeadOnFeatures(options);
    assert.equal(again.result.status, 'loaded');
    assert.ok(Math.abs(evaluateHead(again.model, val, ['a', 'b', 'c']).image.logLoss - ev.image.logLoss) < 1e-5);
    const emb = headEmbeddings(model, val.views[0], dim);
    assert.equal(emb.width, 8);
    assert.equal(emb.vectors.length, 60 * 8);
    assert.ok(emb.vectors.every((v) => v >= 0), 'ReLU embeddings');
  });

  test('linear head has no embedding layer; averageProbs averages views', () => {
    const m = buildHead({ inputDim: 4, numClasses: 2, hidden: [], dropout: 0, seed: 1 });
    assert.throws(() => m.getLayer('embedding'));
    assert.deepEqual(averageProbs([[1, 0]], [[0, 1]]), [[0.5, 0.5]]);
  });
});
