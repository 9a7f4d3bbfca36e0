import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initTf, tf } from '../src/tf/runtime';
import { Rng } from '../src/rng';
import { TEXT_EMBEDDING_LAYER, buildTextCnn, embeddingModel, parameterCounts, predictBatched, resolveTextCnnConfig } from '../src/models/text_cnn';
import { createTrainStep } from '../src/train/step';

/** Toy task: class 1 if a token from 5..9 occurs, class 2 if one from 10..14 occurs, else 0 (noise tokens ≥ 15). */
function toyData(n: number, length: number, vocab: number, seed: number): { ids: Int32Array; labels: number[] } {
  const rng = new Rng(seed);
  const ids = new Int32Array(n * length);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    for (let t = 0; t < length; t++) ids[i * length + t] = 15 + rng.int(vocab - 15);
    if (c > 0) ids[i * length + rng.int(length)] = (c === 1 ? 5 : 10) + rng.int(5);
    labels.push(c);
  }
  return { ids, labels };
}

test('resolveTextCnnConfig fills defaults and checks the pretrained matrix and kernel sizes', () => {
  const c = resolveTextCnnConfig({ vocabSize: 10, sequenceLength: 8, numClasses: 3, embeddingDim: 4, embeddingWeights: new Float32Array(40) });
  assert.equal(c.trainableEmbedding, false, 'pretrained vectors are frozen unless asked');
  assert.equal(c.pretrained, true);
  assert.equal(c.output, 'logits');
  assert.equal(resolveTextCnnConfig({ vocabSize: 10, sequenceLength: 8, numClasses: 3 }).trainableEmbedding, true);
  assert.throws(() => resolveTextCnnConfig({ vocabSize: 10, sequenceLength: 8, numClasses: 3, embeddingDim: 4, embeddingWeights: new Float32Array(39) }), /expected vocabSize × dims/);
  assert.throws(() => resolveTextCnnConfig({ vocabSize: 10, sequenceLength: 4, numClasses: 3, kernelSizes: [5] }), /kernel size 5/);
});

test('buildTextCnn: output and embedding shapes, frozen pretrained rows, parameter counts', async () => {
  await initTf();
  const V = 30;
  const D = 6;
  const weights = new Float32Array(V * D).map((_, i) => (i % 7) / 10);
  const model = buildTextCnn({
    vocabSize: V, sequenceLength: 12, numClasses: 4, embeddingDim: D, embeddingWeights: weights,
    filters: 5, kernelSizes: [2, 3], hiddenUnits: 7, convLayersPerBranch: 2,
  });
  const x = tf.tensor2d(new Int32Array(3 * 12).map((_, i) => i % V), [3, 12], 'int32');
  const out = model.predict(x) as tf.Tensor;
  assert.deepEqual(out.shape, [3, 4]);
  const emb = embeddingModel(model);
  const e = emb.predict(x) as tf.Tensor;
  assert.deepEqual(e.shape, [3, 7]);
  assert.equal(model.getLayer(TEXT_EMBEDDING_LAYER).name, TEXT_EMBEDDING_LAYER);
  const table = model.getLayer('embedding').getWeights()[0].dataSync();
  assert.deepEqual(Array.from(table.slice(0, 12)).map((v) => Math.round(v * 10) / 10), Array.from(weights.slice(0, 12)).map((v) => Math.round(v * 10) / 10));
  const counts = parameterCounts(model);
  assert.equal(counts.total - counts.trainable, V * D, 'only the embedding is frozen');
  const p = predictBatched(emb, new Int32Array(5 * 12), 12, 2);
  assert.equal(p.width, 7);
  assert.equal(p.values.length, 35);
  tf.dispose([x, out, e]);
  model.dispose();
});

test('a fine-tuned text CNN learns a toy keyword task in a few steps (embedding gradients included)', async () => {
  await initTf();
  const L = 16;
  const V = 60;
  const { ids, labels } = toyData(96, L, V, 3);
  const model = buildTextCnn({
    vocabSize: V, sequenceLength: L, numClasses: 3, embeddingDim: 8, trainableEmbedding: true,
    filters: 12, kernelSizes: [2, 3], hiddenUnits: 12, dropout: 0, embeddingDropout: 0, seed: 5,
  });
  const before = model.getLayer('embedding').getWeights()[0].dataSync().slice();
  const trainer = createTrainStep(model, { optimizer: { kind: 'adam' } });
  const x = tf.tensor2d(ids, [96, L], 'int32');
  const y = tf.tensor1d(labels, 'int32');
  const losses: number[] = [];
  for (let s = 0; s < 40; s++) losses.push(trainer.step({ x, y }, 1e-2).loss);
  trainer.optimizer.dispose();
  assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss should fall: ${losses[0].toFixed(3)} → ${losses[losses.length - 1].toFixed(3)}`);
  const after = model.getLayer('embedding').getWeights()[0].dataSync();
  assert.ok(after.some((v, i) => v !== before[i]), 'the embedding was updated');
  const probs = tf.tidy(() => tf.softmax(model.predict(x) as tf.Tensor));
  const pred = Array.from((tf.argMax(probs, -1).dataSync()));
  const acc = pred.filter((p, i) => p === labels[i]).length / labels.length;
  assert.ok(acc > 0.9, `train accuracy ${acc}`);
  tf.dispose([x, y, probs]);
  model.dispose();
});
