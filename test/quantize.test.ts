/**
 * The int8 quantiser (src/backbone/quantize.ts, ensureInt8OnnxModels):
 *  - quantise/dequantise round trips stay within half a step, clamp outside the range, keep 0 exact;
 *  - per-channel weight scales are max|w|/qmax per output channel (qmax 63 by default: 7-bit weights);
 *  - percentile calibration clips outliers that min-max keeps;
 *  - a small conv net (conv, relu, residual add, max pool, global pool) quantised with the QDQ
 *    rewrite: onnxruntime turns its convs into QLinearConv and its output stays close to fp32;
 *  - the real ResNet-50 calibrated on 8 photos: int8 avg_pool features vs fp32 on 4 other photos.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ort from 'onnxruntime-node';
import { initTf, tf } from '../src/tf/runtime';
import { artifactsOf } from './model_artifacts';
import { exportLayersModelToOnnx, ensureInt8OnnxModels, calibrationIds } from '../src/backbone/onnx_export';
import { activationTensors, calibrate, dequantizeValue, perChannelInt8, WEIGHT_QMAX, quantizeQdq, quantizeValue, roundHalfEven, rowCosine, TensorStats, uint8Params } from '../src/backbone/quantize';
import { caffePreprocess } from '../src/backbone/resnet_tfjs';
import { toRgbSquare } from '../src/data/images';
import { PATHS } from '../src/config';
import { onnx } from 'onnx-proto';

before(async () => {
  await initTf();
});

async function run(bytes: Uint8Array, input: string, x: Float32Array, dims: number[], output: string, optimized?: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, graphOptimizationLevel: 'all', ...(optimized ? { optimizedModelFilePath: optimized } : {}) });
  const out = await session.run({ [input]: new ort.Tensor('float32', x, dims) });
  await session.release();
  return out[output].data as Float32Array;
}

describe('quantise / dequantise', () => {
  test('round half to even, as ONNX QuantizeLinear', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3]);
  });

  test('uint8 round trip error is at most half a step inside the range; clamps outside; 0 is exact', () => {
    for (const [min, max] of [[-3.7, 11.2], [0, 6], [2, 5], [-4, -1]]) {
      const p = uint8Params(min, max);
      const lo = Math.min(0, min);
      const hi = Math.max(0, max);
      assert.ok(Math.abs(p.scale - (hi - lo) / 255) < 1e-12);
      assert.equal(dequantizeValue(quantizeValue(0, p, 0, 255), p), 0, `0 must be exact for [${min}, ${max}]`);
      for (let k = 0; k <= 1000; k++) {
        const x = lo + ((hi - lo) * k) / 1000;
        const err = Math.abs(dequantizeValue(quantizeValue(x, p, 0, 255), p) - x);
        assert.ok(err <= p.scale / 2 + 1e-9 + Math.abs(p.zeroPoint + lo / p.scale) * p.scale, `x=${x}: error ${err} > half step ${p.scale / 2}`);
      }
      assert.equal(quantizeValue(hi + 100, p, 0, 255), 255);
      assert.equal(quantizeValue(lo - 100, p, 0, 255), 0);
    }
  });

  test('per-channel int8 weights: scale max|w|/qmax per output channel, error ≤ half a step', () => {
    const w = new Float32Array([0.5, -1, 0.25, /**/ 0.1, 2, -2, /**/ 0.03, 1.5, 0, /**/ 0.001, -0.002, 0.003]);
    for (const qmax of [WEIGHT_QMAX, 127]) {
      const { q, scales } = perChannelInt8(w, 4, qmax);
      assert.deepEqual(Array.from(scales).map((s) => +s.toFixed(7)), [1 / qmax, 2 / qmax, 1.5 / qmax, 0.003 / qmax].map((s) => +s.toFixed(7)));
      for (let c = 0; c < 4; c++) {
        for (let j = 0; j < 3; j++) {
          const i = c * 3 + j;
          assert.ok(q[i] >= -qmax && q[i] <= qmax);
          assert.ok(Math.abs(q[i] * scales[c] - w[i]) <= (scales[c] / 2) * (1 + 1e-5), `w[${i}]`); // float32 scales
        }
      }
    }
    assert.equal(WEIGHT_QMAX, 63, '7-bit weights: a uint8 × int8 pair sum (255 · 63 · 2) fits int16 on CPUs without VNNI');
    const zero = perChannelInt8(new Float32Array(4), 2);
    assert.deepEqual(Array.from(zero.scales), [1, 1], 'an all-zero channel gets scale 1 (any scale is exact)');
    assert.throws(() => perChannelInt8(new Float32Array(5), 2), /do not split/);
  });

  test('percentile calibration clips rare outliers that min-max keeps', () => {
    const s = new TensorStats();
    const data = new Float32Array(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i % 1000) / 100; // 0 … 9.99
    data[5] = 500; // one outlier
    s.observeRange(data);
    s.observeHistogram(data);
    assert.deepEqual(s.range({ kind: 'minmax' }), { min: 0, max: 500 });
    const p = s.range({ kind: 'percentile', percentile: 99.99 });
    assert.equal(p.min, 0, 'a ReLU-like tensor keeps 0 as its lower bound');
    assert.ok(p.max >= 9.9 && p.max < 10.5, `percentile max ${p.max}`);
  });
});

describe('QDQ rewrite of a small conv net', () => {
  test('convs become QLinearConv in onnxruntime and the output stays close to fp32', async () => {
    const input = tf.input({ shape: [16, 16, 3], name: 'img' });
    const c1 = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', name: 'c1' }).apply(input) as tf.SymbolicTensor;
    const b1 = tf.layers.batchNormalization({ name: 'b1' }).apply(c1) as tf.SymbolicTensor;
    const r1 = tf.layers.activation({ activation: 'relu', name: 'r1' }).apply(b1) as tf.SymbolicTensor;
    const m1 = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: 'm1' }).apply(r1) as tf.SymbolicTensor;
    const c2 = tf.layers.conv2d({ filters: 16, kernelSize: 3, padding: 'same', name: 'c2' }).apply(m1) as tf.SymbolicTensor;
    const b2 = tf.layers.batchNormalization({ name: 'b2' }).apply(c2) as tf.SymbolicTensor;
    const added = tf.layers.add({ name: 'sum' }).apply([b2, m1]) as tf.SymbolicTensor;
    const r2 = tf.layers.activation({ activation: 'relu', name: 'r2' }).apply(added) as tf.SymbolicTensor;
    const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(r2) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: gap });
    const exported = exportLayersModelToOnnx(await artifactsOf(model, 'small'), { outputs: ['gap'] });
    const tensors = activationTensors(onnx.ModelProto.decode(exported.bytes));
    assert.ok(tensors.length >= 4, `quantised tensors: ${tensors.join(', ')}`);

    const image = (seed: number) => tf.tidy(() => tf.randomUniform([8, 16, 16, 3], -100, 150, 'float32', seed).dataSync() as Float32Array);
    const batches = [1, 2, 3].map((s) => ({ x: image(s), n: 8 }));
    const stats = await calibrate(exported.bytes, batches, { inputName: exported.inputName, inputShape: exported.inputShape, threads: 1 });
    const q = quantizeQdq(exported.bytes, new Map([...stats].map(([t, s]) => [t, s.range({ kind: 'minmax' })])));
    assert.equal(q.stats.quantizedConvs, 2);
    assert.equal(q.stats.convs, 2);

    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quantize-'));
    const optimized = path.join(dir, 'optimized.onnx');
    const x = image(99); // not a calibration input
    const dims = [8, 16, 16, 3];
    const fp32 = await run(exported.bytes, exported.inputName, x, dims, 'gap');
    const int8 = await run(q.bytes, exported.inputName, x, dims, 'gap', optimized);
    const ops = onnx.ModelProto.decode(fs.readFileSync(optimized)).graph?.node?.map((n) => n.opType) ?? [];
    fs.rmSync(dir, { recursive: true, force: true });
    assert.equal(ops.filter((o) => o === 'QLinearConv').length, 2, `onnxruntime fused the QDQ convs: ops ${[...new Set(ops)].join(', ')}`);
    assert.ok(!ops.includes('Conv'), 'no fp32 Conv is left');
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < fp32.length; i++) {
      worst = Math.max(worst, Math.abs(fp32[i] - int8[i]));
      scale = Math.max(scale, Math.abs(fp32[i]));
    }
    const cos = Array.from({ length: 8 }, (_, i) => rowCosine(fp32, int8, 16, i));
    assert.ok(Math.min(...cos) > 0.995, `cosine int8 vs fp32 per image: ${cos.map((c) => c.toFixed(4)).join(', ')}`);
    assert.ok(worst < 0.05 * scale, `max abs error ${worst} vs max |output| ${scale}`);
  });
});

describe('ResNet-50 int8 on real photos', () => {
  test('calibrated on 8 photos, avg_pool features of 4 other photos have cosine ≥ 0.98 to fp32', async () => {
    const imagesDir = path.join(PATHS.raw, 'images');
    const files = fs.readdirSync(imagesDir).filter((f) => f.endsWith('.jpg')).sort().slice(0, 12);
    assert.equal(files.length, 12, `need 12 photos in ${imagesDir}`);
    const pixels = new Map<string, Buffer>();
    for (const f of files) pixels.set(f.replace(/\.jpg$/, ''), await toRgbSquare(fs.readFileSync(path.join(imagesDir, f)), 224));
    const source = { size: 224, has: (id: string) => pixels.has(id), readInto: (id: string, t: Uint8Array, o: number) => t.set(pixels.get(id) as Buffer, o) };
    const ids = [...pixels.keys()];
    const calib = calibrationIds(ids.slice(0, 8), 8, 42);
    assert.deepEqual([...calib].sort(), ids.slice(0, 8).sort());
    assert.deepEqual(calibrationIds([...ids.slice(0, 8)].reverse(), 8, 42), calib, 'same ids whatever their order');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'int8-resnet-'));
    try {
      const [model] = await ensureInt8OnnxModels([{ kind: 'minmax' }], { ids: calib, pixels: source, batchSize: 4 }, {}, dir);
      assert.equal(model.converted, true);
      assert.equal(model.quantization.calibration.photos, 8);
      const again = await ensureInt8OnnxModels([{ kind: 'minmax' }], { ids: calib, pixels: source }, {}, dir);
      assert.equal(again[0].converted, false, 'cached');
      assert.equal(again[0].key, model.key);
      const other = await ensureInt8OnnxModels([{ kind: 'minmax' }], { ids: calib.slice(0, 7), pixels: source }, {}, dir);
      assert.notEqual(other[0].key, model.key, 'the calibration set is in the key');

      const held = ids.slice(8);
      const rgb = Buffer.concat(held.map((id) => pixels.get(id) as Buffer));
      const x = caffePreprocess(rgb, held.length, 224);
      const fp32File = fs.readdirSync(dir).find((f) => f.endsWith('.onnx') && !f.includes('_int8_')) as string;
      const dims = [held.length, 224, 224, 3];
      const fp32 = await run(new Uint8Array(fs.readFileSync(path.join(dir, fp32File))), model.inputName, x, dims, 'avg_pool');
      const int8 = await run(new Uint8Array(fs.readFileSync(model.file)), model.inputName, x, dims, 'avg_pool');
      const cos = held.map((_, i) => rowCosine(fp32, int8, 2048, i));
      assert.ok(Math.min(...cos) >= 0.98, `cosine int8 vs fp32: ${cos.map((c) => c.toFixed(4)).join(', ')}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
