import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initTf, tf } from '../src/tf/runtime';
import { Rng } from '../src/rng';
import { TEXT_EMBEDDING_LAYER, buildTextCnn, cutPadding, cutPaddingRunner, embeddingModel, paddingWindow, parameterCounts, predictBatched, resolveTextCnnConfig } from '../src/models/text_cnn';
import { withEmbedding } from '../src/predictors/predictor';
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

test('cutPaddingRunner: ids cut to the longest text plus the receptive field give the full-width outputs', async () => {
  await initTf();
  const L = 24;
  const V = 40;
  const model = buildTextCnn({ vocabSize: V, sequenceLength: L, numClasses: 3, embeddingDim: 5, filters: 6, kernelSizes: [2, 4], hiddenUnits: 7, seed: 11 });
  assert.equal(paddingWindow(model), 1 + 1 + 3, 'one plus (kernel − 1) per convolution');
  // Texts of 0 to L tokens (ids ≥ 1: 0 is PAD), padded at the end, as encodeFields makes them.
  const rng = new Rng(4);
  const lengths = [0, 1, 3, 7, 12, 19, 20, 21, L];
  const ids = new Int32Array(lengths.length * L);
  lengths.forEach((n, r) => { for (let t = 0; t < n; t++) ids[r * L + t] = 1 + rng.int(V - 1); });
  const cut = cutPaddingRunner(model, [TEXT_EMBEDDING_LAYER, model.outputLayers[0].name]);
  assert.ok(cut);
  const full = withEmbedding(model, TEXT_EMBEDDING_LAYER);
  const run = (m: tf.LayersModel, x: Int32Array, width: number, rows: number) => tf.tidy(() =>
    (m.apply(tf.tensor2d(x, [rows, width], 'int32'), { training: false }) as tf.Tensor[]).map((t) => Array.from(t.dataSync())));
  // One row at a time (a query) and a batch: the batch is cut to its longest row.
  lengths.forEach((n, r) => {
    const one = cutPadding(ids, L, r, r + 1, cut.window);
    assert.equal(one.width, Math.min(L, n + cut.window));
    const [emb, logits] = run(cut.runner, one.ids, one.width, 1);
    const [embFull, logitsFull] = run(full, ids.subarray(r * L, (r + 1) * L), L, 1);
    emb.forEach((v, j) => assert.ok(Math.abs(v - embFull[j]) < 1e-5, `row of ${n} tokens, embedding ${j}: ${v} vs ${embFull[j]}`));
    logits.forEach((v, j) => assert.ok(Math.abs(v - logitsFull[j]) < 1e-5, `row of ${n} tokens, logit ${j}`));
  });
  const batch = cutPadding(ids, L, 1, 5, cut.window);
  assert.equal(batch.width, 12 + cut.window, 'the longest of rows 1–4 has 12 tokens');
  const [, logits] = run(cut.runner, batch.ids, batch.width, 4);
  const [, logitsFull] = run(full, ids.subarray(L, 5 * L), L, 4);
  logits.forEach((v, j) => assert.ok(Math.abs(v - logitsFull[j]) < 1e-5, `batch logit ${j}`));
  model.dispose();
});

test('cutPaddingRunner refuses a model whose output depends on the padding it would cut', async () => {
  await initTf();
  // Stacked convolutions are 'same'-padded after the first: the end of a cut row would see zeros, not padding.
  const stacked = buildTextCnn({ vocabSize: 20, sequenceLength: 12, numClasses: 2, embeddingDim: 4, filters: 3, kernelSizes: [2], hiddenUnits: 4, convLayersPerBranch: 2 });
  assert.equal(paddingWindow(stacked), null);
  assert.equal(cutPaddingRunner(stacked, [TEXT_EMBEDDING_LAYER]), null);
  const input = tf.input({ shape: [12], dtype: 'int32' });
  const averaged = tf.model({ inputs: input, outputs: tf.layers.globalAveragePooling1d({}).apply(tf.layers.embedding({ inputDim: 20, outputDim: 4, inputLength: 12 }).apply(input)) as tf.SymbolicTensor });
  assert.equal(paddingWindow(averaged), null, 'an average over positions counts the padding');
  stacked.dispose();
});
