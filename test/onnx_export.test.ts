/**
 * The ONNX route must compute what TensorFlow.js computes:
 *  - a small synthetic Keras-style model with every layer kind the exporter handles
 *    (ZeroPadding → conv, conv+BN folding, 'same' and strided convs, unfolded BN, Add, ReLU,
 *    Pad → MaxPool, GlobalAveragePool, Dense+softmax) against tfjs, exactly;
 *  - the real pretrained ResNet-50 on three real photos: avg_pool features within 1e-3 max abs
 *    and the same ImageNet top-1, both on a main-thread session and on the worker pool.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { initTf, tf } from '../src/tf/runtime';
import { artifactsOf } from './model_artifacts';
import { caffePreprocess, featureModel, loadResnet50, readResnetArtifacts } from '../src/backbone/resnet_tfjs';
import { ensureOnnxModel, exportLayersModelToOnnx, kerasKernelToOnnx } from '../src/backbone/onnx_export';
import { OnnxBackbone } from '../src/backbone/onnx_backbone';
import { toRgbSquare } from '../src/data/images';
import { PATHS } from '../src/config';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

async function runOnnx(bytes: Uint8Array, input: string, x: Float32Array, dims: number[], outputs: string[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const out = await session.run({ [input]: new ort.Tensor('float32', x, dims) });
  await session.release();
  return outputs.map((o) => out[o].data as Float32Array);
}

before(async () => {
  await initTf();
});

describe('kerasKernelToOnnx', () => {
  test('moves [kh, kw, cin, cout] to [cout, cin, kh, kw]', () => {
    const shape = [2, 3, 4, 5];
    const k = Float32Array.from({ length: 120 }, (_, i) => i);
    const { data, dims } = kerasKernelToOnnx(k, shape);
    assert.deepEqual(dims, [5, 4, 2, 3]);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 3; x++) for (let i = 0; i < 4; i++) for (let o = 0; o < 5; o++) {
      assert.equal(data[((o * 4 + i) * 2 + y) * 3 + x], k[((y * 3 + x) * 4 + i) * 5 + o]);
    }
  });
});

describe('exportLayersModelToOnnx on a synthetic model', () => {
  test('matches tfjs for every layer kind', async () => {
    const input = tf.input({ shape: [20, 20, 3], name: 'img' });
    const padded = tf.layers.zeroPadding2d({ padding: [[2, 1], [1, 2]], name: 'pad_a' }).apply(input) as tf.SymbolicTensor;
    const c1 = tf.layers.conv2d({ filters: 8, kernelSize: 5, strides: 2, padding: 'valid', name: 'c1' }).apply(padded) as tf.SymbolicTensor;
    const b1 = tf.layers.batchNormalization({ epsilon: 1e-3, name: 'b1' }).apply(c1) as tf.SymbolicTensor;
    const r1 = tf.layers.activation({ activation: 'relu', name: 'r1' }).apply(b1) as tf.SymbolicTensor;
    const p1 = tf.layers.zeroPadding2d({ padding: 1, name: 'pad_pool' }).apply(r1) as tf.SymbolicTensor;
    const m1 = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'm1' }).apply(p1) as tf.SymbolicTensor;
    const c2 = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'c2' }).apply(m1) as tf.SymbolicTensor;
    const b2 = tf.layers.batchNormalization({ name: 'b2' }).apply(c2) as tf.SymbolicTensor;
    const c3 = tf.layers.conv2d({ filters: 8, kernelSize: 1, activation: 'relu', name: 'c3' }).apply(m1) as tf.SymbolicTensor; // not foldable (relu)
    const b3 = tf.layers.batchNormalization({ name: 'b3' }).apply(c3) as tf.SymbolicTensor; // standalone BN
    const added = tf.layers.add({ name: 'sum' }).apply([b2, b3, m1]) as tf.SymbolicTensor;
    const r2 = tf.layers.activation({ activation: 'relu', name: 'r2' }).apply(added) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(r2) as tf.SymbolicTensor;
    const fc = tf.layers.dense({ units: 4, activation: 'softmax', name: 'fc' }).apply(gap) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: fc });
    // Non-trivial batch-norm statistics.
    for (const name of ['b1', 'b2', 'b3']) {
      const layer = model.getLayer(name);
      layer.setWeights(layer.getWeights().map((w, i) => tf.randomUniform(w.shape, i === 3 ? 0.5 : -0.5, i === 3 ? 2 : 0.5, 'float32', i + 1)));
    }
    const artifacts = await artifactsOf(model, 'synthetic');
    const exported = exportLayersModelToOnnx(artifacts, { outputs: ['gap', 'fc'] });
    assert.equal(exported.stats.foldedBatchNorms, 2, 'b1 and b2 fold into their convs; b3 follows a relu conv');
    assert.equal(exported.stats.foldedPads, 1, 'pad_a folds into c1; pad_pool stays a Pad before the max pool');
    const x = tf.randomNormal([2, 20, 20, 3], 0, 1, 'float32', 7);
    const ref = tf.model({ inputs: input, outputs: [gap, fc] }).predict(x) as tf.Tensor[];
    const [gapRef, fcRef] = await Promise.all(ref.map((t) => t.data()));
    const [gapOnnx, fcOnnx] = await runOnnx(exported.bytes, exported.inputName, (await x.data()) as Float32Array, [2, 20, 20, 3], ['gap', 'fc']);
    assert.ok(maxAbsDiff(gapRef, gapOnnx) < 1e-4, `gap differs by ${maxAbsDiff(gapRef, gapOnnx)}`);
    assert.ok(maxAbsDiff(fcRef, fcOnnx) < 1e-5, `fc differs by ${maxAbsDiff(fcRef, fcOnnx)}`);
    tf.dispose([x, ...ref]);
  });

  test('refuses what it cannot convert, with the layer named', async () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const out = tf.layers.conv2d({ filters: 2, kernelSize: 3, activation: 'tanh', name: 'tanh_conv' }).apply(input) as tf.SymbolicTensor;
    const artifacts = await artifactsOf(tf.model({ inputs: input, outputs: out }), 'synthetic');
    assert.throws(() => exportLayersModelToOnnx(artifacts, { outputs: ['tanh_conv'] }), /tanh_conv: activation tanh/);
    assert.throws(() => exportLayersModelToOnnx(artifacts, { outputs: ['nope'] }), /layer nope is not in the model/);
  });
});

describe('pretrained ResNet-50: ONNX features = tfjs features', () => {
  const imagesDir = path.join(PATHS.raw, 'images');
  const haveImages = fs.existsSync(imagesDir);
  let x: Float32Array;
  let n = 0;
  let refFeatures: Float32Array;
  let refTop1: number[];
  let tmp = '';

  before(async () => {
    if (!haveImages) return;
    const files = fs.readdirSync(imagesDir).filter((f) => f.endsWith('.jpg')).sort().slice(0, 3);
    n = files.length;
    const pixels = Buffer.concat(await Promise.all(files.map((f) => toRgbSquare(path.join(imagesDir, f), 224))));
    x = caffePreprocess(pixels, n, 224);
    const model = await loadResnet50();
    const input = tf.tensor4d(x, [n, 224, 224, 3]);
    const [feat, probs] = tf.model({ inputs: model.inputs, outputs: [featureModel(model).outputs[0], model.outputs[0]] }).predict(input) as tf.Tensor[];
    refFeatures = (await feat.data()) as Float32Array;
    refTop1 = Array.from((await probs.argMax(-1).data()) as Int32Array);
    tf.dispose([input, feat, probs]);
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-export-'));
  });
  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('main-thread session: avg_pool within 1e-3 max abs, same top-1', { skip: !haveImages && 'data/raw/images is missing' }, async () => {
    const exported = exportLayersModelToOnnx(readResnetArtifacts(), { outputs: ['avg_pool', 'fc1000'] });
    assert.equal(exported.stats.foldedBatchNorms, 53);
    const [feat, probs] = await runOnnx(exported.bytes, exported.inputName, x, [n, 224, 224, 3], ['avg_pool', 'fc1000']);
    const diff = maxAbsDiff(refFeatures, feat);
    assert.ok(diff < 1e-3, `ONNX avg_pool differs from tfjs by ${diff}`);
    const top1 = Array.from({ length: n }, (_, i) => {
      const row = probs.subarray(i * 1000, (i + 1) * 1000);
      return row.indexOf(Math.max(...row));
    });
    assert.deepEqual(top1, refTop1);
  });

  test('worker pool (OnnxBackbone): the same features', { skip: !haveImages && 'data/raw/images is missing' }, async () => {
    const backbone = await OnnxBackbone.create({ workers: 2, modelDir: tmp });
    try {
      // One image per call, two in flight: exercises the pool's routing.
      const outs = await Promise.all(Array.from({ length: n }, (_, i) => backbone.run(x.slice(i * 224 * 224 * 3, (i + 1) * 224 * 224 * 3), 1)));
      const feat = new Float32Array(n * 2048);
      outs.forEach((o, i) => feat.set(o.avg_pool.data, i * 2048));
      const diff = maxAbsDiff(refFeatures, feat);
      assert.ok(diff < 1e-3, `worker features differ from tfjs by ${diff}`);
    } finally {
      await backbone.release();
    }
  });

  test('another input side is another model; the model\'s own side (224) named or not is the same file', { skip: !haveImages && 'data/raw/images is missing' }, async () => {
    const own = ensureOnnxModel({}, tmp);
    const named = ensureOnnxModel({ inputSize: 224 }, tmp);
    assert.equal(named.file, own.file);
    assert.equal(named.converted, false);
    const large = ensureOnnxModel({ inputSize: 288 }, tmp);
    assert.notEqual(large.file, own.file);
    assert.deepEqual(large.inputShape.slice(1), [288, 288, 3]);
    // Fully convolutional up to avg_pool: the 288 px model reads a 288 px photo into the same 2048-d vector.
    const backbone = await OnnxBackbone.fromModelFile(large, { workers: 0 });
    try {
      const pixels = await toRgbSquare(path.join(imagesDir, fs.readdirSync(imagesDir).filter((f) => f.endsWith('.jpg')).sort()[0]), 288);
      const out = await backbone.run(caffePreprocess(pixels, 1, 288), 1);
      assert.equal(out.avg_pool.data.length, 2048);
      assert.ok(out.avg_pool.data.every(Number.isFinite));
    } finally {
      await backbone.release();
    }
  });

  test('runReusing: a pooled input buffer larger than the batch gives run\'s features, in a worker and on the main thread', { skip: !haveImages && 'data/raw/images is missing' }, async () => {
    const per = 224 * 224 * 3;
    for (const workers of [1, 0]) {
      const backbone = await OnnxBackbone.create({ workers, modelDir: tmp });
      try {
        const two = (await backbone.run(x.slice(0, 2 * per), 2)).avg_pool.data;
        const one = (await backbone.run(x.slice(0, per), 1)).avg_pool.data;
        // Room for n + 1 inputs: the model must read only the batch's; the second call gets the
        // first one's buffer back (still holding two photos) and fills only one.
        const a = (await backbone.runReusing(2, n + 1, (buf) => buf.set(x.subarray(0, 2 * per)))).avg_pool.data;
        const b = (await backbone.runReusing(1, n + 1, (buf) => buf.set(x.subarray(0, per)))).avg_pool.data;
        assert.deepEqual(Array.from(a), Array.from(two), `workers ${workers}: batch of 2`);
        assert.deepEqual(Array.from(b), Array.from(one), `workers ${workers}: batch of 1 in a reused buffer`);
        await assert.rejects(backbone.runReusing(n + 2, n + 1, () => undefined), /do not fit/);
      } finally {
        await backbone.release();
      }
    }
  });
});
