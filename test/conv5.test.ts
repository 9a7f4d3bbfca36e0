/**
 * conv5 fine-tuning pieces: the rebuilt stage (BatchNorm folded) computes the pretrained
 * network's avg_pool from its conv4 activations; the ONNX conv4 output (NHWC) matches tfjs;
 * a fine-tuning epoch runs on a few cached activations.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf, tf } from '../src/tf/runtime';
import { caffePreprocess, CONV4_OUTPUT_LAYER, loadResnet50, readResnetArtifacts } from '../src/backbone/resnet_tfjs';
import { buildConv5Model, conv4Engine, conv4FeatureSpec, CONV4_DIM, fineTuneConv5, nchwToNhwc, predictConv5 } from '../src/backbone/conv5';
import { OnnxBackbone } from '../src/backbone/onnx_backbone';
import { extractFeatures, FeatureStore } from '../src/backbone/features';
import { buildHead } from '../src/models/head';
import { toRgbSquare } from '../src/data/images';
import { PATHS } from '../src/config';

const imagesDir = path.join(PATHS.raw, 'images');
const haveImages = fs.existsSync(imagesDir);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conv5-test-'));
let files: string[] = [];
let x: Float32Array;
let conv4Ref: Float32Array;
let poolRef: Float32Array;

before(async () => {
  await initTf();
  if (!haveImages) return;
  files = fs.readdirSync(imagesDir).filter((f) => f.endsWith('.jpg')).sort().slice(20, 22);
  const pixels = Buffer.concat(await Promise.all(files.map((f) => toRgbSquare(path.join(imagesDir, f), 224))));
  x = caffePreprocess(pixels, files.length, 224);
  const resnet = await loadResnet50();
  const sub = tf.model({ inputs: resnet.inputs, outputs: [resnet.getLayer(CONV4_OUTPUT_LAYER).output as tf.SymbolicTensor, resnet.getLayer('avg_pool').output as tf.SymbolicTensor] });
  const input = tf.tensor4d(x, [files.length, 224, 224, 3]);
  const [c4, pool] = sub.predict(input) as tf.Tensor[];
  conv4Ref = (await c4.data()) as Float32Array;
  poolRef = (await pool.data()) as Float32Array;
  tf.dispose([input, c4, pool]);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('conv5', () => {
  test('nchwToNhwc', () => {
    const d = Float32Array.from({ length: 12 }, (_, i) => i); // n=1, c=3, h=2, w=2
    assert.deepEqual(Array.from(nchwToNhwc(d, 1, 3, 2, 2)), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  });

  test('the rebuilt stage (BatchNorm folded) gives the pretrained avg_pool from conv4', { skip: !haveImages && 'no images' }, async () => {
    const model = buildConv5Model({ numClasses: 13, hidden: 256, dropout: 0.5, seed: 1 });
    const pooled = tf.model({ inputs: model.inputs, outputs: model.getLayer('avg_pool').output as tf.SymbolicTensor });
    const input = tf.tensor4d(conv4Ref, [files.length, 14, 14, 1024]);
    const out = pooled.predict(input) as tf.Tensor;
    const diff = maxAbsDiff(poolRef, (await out.data()) as Float32Array);
    tf.dispose([input, out]);
    model.dispose();
    assert.ok(diff < 1e-3, `avg_pool differs by ${diff}`);
  });

  test('ONNX conv4 activations (NHWC) match tfjs; a fine-tuning epoch runs on the cached activations', { skip: !haveImages && 'no images' }, async () => {
    const backbone = await OnnxBackbone.create({ outputs: [CONV4_OUTPUT_LAYER], workers: 0, modelDir: tmp });
    const store = new FeatureStore(conv4FeatureSpec(readResnetArtifacts().hash), tmp);
    try {
      const engine = conv4Engine(backbone);
      const got = await engine.features(x.slice(), files.length);
      assert.equal(got.length, files.length * CONV4_DIM);
      const diff = maxAbsDiff(conv4Ref, got);
      assert.ok(diff < 1e-3, `conv4 differs by ${diff}`);
      const ids = files.map((f) => f.replace(/\.jpg$/, ''));
      const pixels = { size: 224, has: () => true, readInto: () => undefined };
      // Fill the store through the real extraction path with the already computed activations.
      await extractFeatures({ ids, pixels, store, engine: { describe: () => 'precomputed', concurrency: 1, features: async () => got } });
      const half = store.matrix(ids);
      const peak = got.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(maxAbsDiff(half, got) < 1e-3 * peak, 'float16 cache keeps the activations');
    } finally {
      await backbone.release();
    }
    const rows = { imageIds: files.map((f) => f.replace(/\.jpg$/, '')), productIds: ['p0', 'p1'], labels: [0, 1] };
    const head = buildHead({ inputDim: 2048, numClasses: 3, hidden: [8], dropout: 0, seed: 2 });
    const { model, result } = await fineTuneConv5({
      stage: 'conv5_test', config: { numClasses: 3, hidden: 8, dropout: 0, seed: 2 }, initHead: head, store, train: rows, val: rows,
      settings: { epochs: 1, optimizer: { kind: 'adam' }, schedule: { kind: 'constant', base: 1e-5 } }, batchSize: 2, modelsDir: tmp, quiet: true,
    });
    assert.ok(Number.isFinite(result.history[0].loss));
    const probs = predictConv5(model, store, rows);
    assert.equal(probs.length, 2);
    for (const p of probs) assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-4);
  });
});
