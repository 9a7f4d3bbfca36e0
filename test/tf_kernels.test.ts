/**
 * The project's wasm kernels against the cpu backend (the reference
 * implementation of TensorFlow.js): each kernel on many shapes, then whole
 * tiny models trained on both backends from the same initial weights.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { tf } from '../src/tf/runtime';
import { activeProjectKernels, registerWasmGradientKernels } from '../src/tf/wasm_kernels';

type Shape4 = [number, number, number, number];
type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];

/** Runs f on cpu, then on wasm, and returns both results as plain arrays. */
async function onCpuAndWasm(f: () => tf.Tensor): Promise<{ cpu: Float32Array | Int32Array | Uint8Array; wasm: typeof cpu; shape: number[] }> {
  await tf.setBackend('cpu');
  const c = tf.tidy(f);
  const cpu = c.dataSync() as Float32Array;
  const shape = c.shape;
  c.dispose();
  await tf.setBackend('wasm');
  const w = tf.tidy(f);
  assert.deepEqual(w.shape, shape, 'wasm and cpu results differ in shape');
  const wasm = w.dataSync() as Float32Array;
  w.dispose();
  return { cpu, wasm, shape };
}

/** Max |a - b| must stay below tol * max(1, max |a|). */
function assertClose(label: string, cpu: ArrayLike<number>, wasm: ArrayLike<number>, tol = 1e-4): void {
  let worst = 0;
  let scale = 1;
  for (let i = 0; i < cpu.length; i++) {
    worst = Math.max(worst, Math.abs(cpu[i] - wasm[i]));
    scale = Math.max(scale, Math.abs(cpu[i]));
  }
  assert.ok(worst <= tol * scale, `${label}: max |cpu - wasm| = ${worst.toExponential(2)} > ${tol} x ${scale.toFixed(2)}`);
}

async function assertSameOnBoth(label: string, f: () => tf.Tensor, tol = 1e-4): Promise<void> {
  const { cpu, wasm } = await onCpuAndWasm(f);
  assertClose(label, cpu, wasm, tol);
}

const uniform = (shape: number[], seed: number) => tf.randomUniform(shape, -1, 1, 'float32', seed);

/** tf.grad, keeping the argument's rank in f's signature. */
function gradOf<T extends tf.Tensor>(f: (x: T) => tf.Tensor): (x: T) => tf.Tensor {
  return (x) => tf.grad((t: tf.Tensor) => f(t as T))(x);
}

/** Shape of conv2d(x, filter) without running it on real data. */
function convOutShape(x: Shape4, filter: Shape4, strides: number | [number, number], pad: Pad, depthwise = false): Shape4 {
  const info = tf.backend_util.computeConv2DInfo(x, filter, strides, 1, pad, undefined, depthwise);
  return info.outShape as Shape4;
}

/** Deterministic numbers for synthetic data (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

before(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  registerWasmGradientKernels();
});

describe('registration', () => {
  test('registers the missing gradient kernels, idempotently', () => {
    const first = registerWasmGradientKernels();
    const second = registerWasmGradientKernels();
    assert.deepEqual(second, first);
    for (const name of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum']) {
      assert.ok(first.includes(name), `${name} should be registered on wasm`);
    }
    assert.deepEqual(activeProjectKernels(), first);
  });
});

// batch > 1; strides 1, 2 and mixed; same / valid / explicit padding; square,
// non-square, 1x1 and larger-than-stride filters; odd sizes.
const CONV_CASES: { x: Shape4; filter: Shape4; strides: number | [number, number]; pad: Pad }[] = [
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 1, pad: 'same' },
  { x: [2, 7, 9, 3], filter: [3, 3, 3, 4], strides: 2, pad: 'same' },
  { x: [3, 8, 8, 2], filter: [3, 3, 2, 5], strides: 2, pad: 'valid' },
  { x: [2, 7, 9, 3], filter: [3, 2, 3, 4], strides: 2, pad: 'valid' },
  { x: [2, 10, 11, 3], filter: [5, 4, 3, 2], strides: [2, 3], pad: 'same' },
  { x: [2, 10, 11, 3], filter: [5, 4, 3, 2], strides: [3, 2], pad: 'valid' },
  { x: [3, 8, 8, 2], filter: [1, 1, 2, 5], strides: 2, pad: 'same' },
  { x: [2, 6, 6, 2], filter: [2, 2, 2, 3], strides: 2, pad: 'same' },
  { x: [2, 5, 5, 2], filter: [5, 5, 2, 3], strides: 3, pad: 'same' },
  { x: [2, 9, 9, 2], filter: [3, 3, 2, 3], strides: 2, pad: [[0, 0], [2, 1], [0, 3], [0, 0]] },
  { x: [4, 12, 12, 8], filter: [3, 3, 8, 16], strides: 1, pad: 'same' },
];

describe('Conv2D gradients (Conv2DBackpropFilter, Conv2DBackpropInput)', () => {
  for (const c of CONV_CASES) {
    const label = `x ${c.x} filter ${c.filter} strides ${c.strides} pad ${JSON.stringify(c.pad)}`;
    test(label, async () => {
      const dyShape = convOutShape(c.x, c.filter, c.strides, c.pad);
      await assertSameOnBoth(`dW ${label}`, () =>
        gradOf((w: tf.Tensor4D) => tf.sum(tf.mul(tf.conv2d(uniform(c.x, 1) as tf.Tensor4D, w, c.strides, c.pad), uniform(dyShape, 2))))(
          uniform(c.filter, 3) as tf.Tensor4D,
        ),
      );
      await assertSameOnBoth(`dX ${label}`, () =>
        tf.conv2dTranspose(uniform(dyShape, 2) as tf.Tensor4D, uniform(c.filter, 3) as tf.Tensor4D, c.x, c.strides, c.pad),
      );
    });
  }

  test('channels-first (NCHW) attributes, run as kernels', async () => {
    const x: Shape4 = [2, 3, 7, 8]; // NCHW
    const filter: Shape4 = [3, 3, 3, 4];
    const attrs = { strides: [2, 2], pad: 'same', dataFormat: 'NCHW' };
    const dyShape: Shape4 = [2, 4, 4, 4];
    await assertSameOnBoth('Conv2DBackpropFilter NCHW', () =>
      tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: uniform(x, 1), dy: uniform(dyShape, 2) }, { ...attrs, filterShape: filter } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
    await assertSameOnBoth('Conv2DBackpropInput NCHW', () =>
      tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: uniform(dyShape, 2), filter: uniform(filter, 3) }, { ...attrs, inputShape: x } as unknown as tf.NamedAttrMap) as tf.Tensor,
    );
  });
});

describe('DepthwiseConv2dNative gradients', () => {
  const cases: { x: Shape4; multiplier: number; k: [number, number]; strides: number | [number, number]; pad: Pad }[] = [
    { x: [2, 7, 9, 3], multiplier: 1, k: [3, 3], strides: 1, pad: 'same' },
    { x: [2, 7, 9, 3], multiplier: 2, k: [3, 3], strides: 2, pad: 'same' },
    { x: [3, 8, 8, 4], multiplier: 1, k: [3, 2], strides: 2, pad: 'valid' },
    { x: [2, 10, 11, 2], multiplier: 3, k: [5, 4], strides: [2, 3], pad: 'same' },
    { x: [2, 8, 8, 2], multiplier: 1, k: [1, 1], strides: 2, pad: 'valid' },
  ];
  for (const c of cases) {
    const filter: Shape4 = [c.k[0], c.k[1], c.x[3], c.multiplier];
    const label = `x ${c.x} filter ${filter} strides ${c.strides} pad ${c.pad}`;
    test(label, async () => {
      const dyShape = convOutShape(c.x, filter, c.strides, c.pad, true);
      const loss = (x: tf.Tensor4D, w: tf.Tensor4D) => tf.sum(tf.mul(tf.depthwiseConv2d(x, w, c.strides, c.pad), uniform(dyShape, 2)));
      await assertSameOnBoth(`dW ${label}`, () => gradOf((w: tf.Tensor4D) => loss(uniform(c.x, 1) as tf.Tensor4D, w))(uniform(filter, 3) as tf.Tensor4D));
      await assertSameOnBoth(`dX ${label}`, () => gradOf((x: tf.Tensor4D) => loss(x, uniform(filter, 3) as tf.Tensor4D))(uniform(c.x, 1) as tf.Tensor4D));
    });
  }
});

describe('UnsortedSegmentSum', () => {
  test('repeated, missing and out-of-range segment ids', async () => {
    const ids = [3, 0, 3, 3, 5, -1, 9, 0]; // 1, 2, 4 unused; -1 and 9 dropped
    await assertSameOnBoth('float rows', () => tf.unsortedSegmentSum(uniform([8, 3, 2], 4), tf.tensor1d(ids, 'int32'), 7));
    await assertSameOnBoth('vector', () => tf.unsortedSegmentSum(uniform([8], 5), tf.tensor1d(ids, 'int32'), 6));
    await assertSameOnBoth('int32', () => tf.unsortedSegmentSum(tf.range(0, 16, 1, 'int32').reshape([8, 2]), tf.tensor1d(ids, 'int32'), 7));
  });

  test('is the gradient of an embedding lookup (Gather)', async () => {
    const tokens = [[1, 2, 2, 0], [4, 1, 1, 1], [0, 0, 0, 7]];
    await assertSameOnBoth('embedding gradient', () =>
      gradOf((table: tf.Tensor2D) => tf.sum(tf.mul(tf.gather(table, tf.tensor2d(tokens, undefined, 'int32')), uniform([3, 4, 5], 6))))(
        uniform([10, 5], 7) as tf.Tensor2D,
      ),
    );
  });
});

describe('faster replacements of native wasm kernels', () => {
  test('Tile', async () => {
    await assertSameOnBoth('per-channel vector to NHWC', () => tf.tile(uniform([1, 1, 1, 5], 1), [3, 4, 2, 1]));
    await assertSameOnBoth('every axis repeated', () => tf.tile(uniform([2, 3, 4], 2), [2, 3, 2]));
    await assertSameOnBoth('no repeat', () => tf.tile(uniform([2, 3], 3), [1, 1]));
    await assertSameOnBoth('int32', () => tf.tile(tf.tensor2d([[1, 2], [3, 4]], undefined, 'int32'), [3, 2]));
    await assertSameOnBoth('bool (native kernel)', () => tf.tile(tf.tensor1d([true, false], 'bool'), [3]));
  });

  test('Sum and Mean over leading axes, and the cases left to the native kernels', async () => {
    const x = () => uniform([6, 9, 10, 12], 8);
    await assertSameOnBoth('sum [0,1,2]', () => tf.sum(x(), [0, 1, 2]));
    await assertSameOnBoth('sum [0,1,2] keepDims', () => tf.sum(x(), [0, 1, 2], true));
    await assertSameOnBoth('sum [1,0] (unsorted)', () => tf.sum(x(), [1, 0]));
    await assertSameOnBoth('sum [-4,-3]', () => tf.sum(x(), [-4, -3]));
    await assertSameOnBoth('mean [0,1,2]', () => tf.mean(x(), [0, 1, 2]));
    await assertSameOnBoth('mean [0] keepDims', () => tf.mean(x(), 0, true));
    await assertSameOnBoth('sum [3] (native)', () => tf.sum(x(), 3));
    await assertSameOnBoth('sum [0,2] (native)', () => tf.sum(x(), [0, 2]));
    await assertSameOnBoth('sum all (native)', () => tf.sum(x()));
    await assertSameOnBoth('sum int32 (native)', () => tf.sum(tf.range(0, 6000, 1, 'int32').reshape([1000, 6]), 0));
  });

  test('MaxPoolGrad, including windows with only negative values', async () => {
    const cases: { x: Shape4; size: number | [number, number]; strides: number | [number, number]; pad: 'same' | 'valid' }[] = [
      { x: [2, 8, 8, 3], size: 2, strides: 2, pad: 'valid' },
      { x: [2, 9, 7, 3], size: 3, strides: 2, pad: 'same' },
      { x: [3, 7, 7, 2], size: [3, 2], strides: 1, pad: 'valid' },
      { x: [2, 6, 10, 4], size: 2, strides: [2, 3], pad: 'same' },
    ];
    for (const c of cases) {
      const outShape = tf.backend_util.computePool2DInfo(c.x, c.size, c.strides, 1, c.pad).outShape;
      // Values in [-1, 1] (wasm's own kernel drops all-negative windows) and in [-2, -1].
      for (const offset of [0, -2]) {
        await assertSameOnBoth(`maxPool grad ${JSON.stringify(c)} offset ${offset}`, () =>
          gradOf((x: tf.Tensor4D) => tf.sum(tf.mul(tf.maxPool(x, c.size, c.strides, c.pad), uniform(outShape, 10))))(
            tf.add(uniform(c.x, 9), offset) as tf.Tensor4D,
          ),
        );
      }
    }
  });

  test('MaxPoolGrad with exact ties: each window passes its gradient once, to a maximum', async () => {
    await tf.setBackend('wasm');
    const [n, h, w, ch] = [2, 6, 8, 3];
    // Small integers: most 2x2 windows have tied maxima, some are all negative.
    const x = tf.tidy(() => tf.round(tf.mul(uniform([n, h, w, ch], 11), 1.5)));
    const dy = tf.tidy(() => tf.add(uniform([n, h / 2, w / 2, ch], 12), 2));
    const dx = gradOf((t: tf.Tensor4D) => tf.sum(tf.mul(tf.maxPool(t, 2, 2, 'valid'), dy)))(x as tf.Tensor4D);
    const [xs, dys, dxs] = [x.dataSync(), dy.dataSync(), dx.dataSync()];
    const at = (b: number, r: number, c: number, k: number, width: number) => ((b * (width === w ? h : h / 2) + r) * width + c) * ch + k;
    for (let b = 0; b < n; b++) {
      for (let r = 0; r < h / 2; r++) {
        for (let c = 0; c < w / 2; c++) {
          for (let k = 0; k < ch; k++) {
            const cells = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([i, j]) => at(b, 2 * r + i, 2 * c + j, k, w));
            const max = Math.max(...cells.map((i) => xs[i]));
            const receivers = cells.filter((i) => dxs[i] !== 0);
            assert.equal(receivers.length, 1, `window ${[b, r, c, k]} should pass its gradient to exactly one position`);
            // === rather than assert.equal: rounding makes -0, and Object.is(-0, 0) is false.
            assert.ok(xs[receivers[0]] === max, `window ${[b, r, c, k]}: gradient must go to a maximum`);
            assert.ok(Math.abs(dxs[receivers[0]] - dys[at(b, r, c, k, w / 2)]) < 1e-6);
          }
        }
      }
    }
    tf.dispose([x, dy, dx]);
  });
});

/** Image data: class k has a bright square in quadrant k, plus noise. */
function quadrantImages(count: number, size: number, seed: number): { x: tf.Tensor4D; y: tf.Tensor2D } {
  const random = rng(seed);
  const pixels = new Float32Array(count * size * size * 3);
  const labels: number[] = [];
  const half = size / 2;
  for (let n = 0; n < count; n++) {
    const label = n % 4;
    labels.push(label);
    const top = label < 2 ? 0 : half;
    const left = label % 2 === 0 ? 0 : half;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const inside = r >= top && r < top + half && c >= left && c < left + half;
        for (let ch = 0; ch < 3; ch++) {
          pixels[((n * size + r) * size + c) * 3 + ch] = (inside ? 1 : 0) + 0.3 * (random() - 0.5);
        }
      }
    }
  }
  return { x: tf.tensor4d(pixels, [count, size, size, 3]), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 4) as tf.Tensor2D };
}

/** Token data: class k sequences contain tokens 1 + k (and filler tokens >= 5). */
function tokenSequences(count: number, length: number, vocab: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const random = rng(seed);
  const tokens: number[][] = [];
  const labels: number[] = [];
  for (let n = 0; n < count; n++) {
    const label = n % 4;
    labels.push(label);
    const row = Array.from({ length }, () => 5 + Math.floor(random() * (vocab - 5)));
    row[Math.floor(random() * length)] = 1 + label;
    row[Math.floor(random() * length)] = 1 + label;
    tokens.push(row);
  }
  return { x: tf.tensor2d(tokens, undefined, 'float32'), y: tf.oneHot(tf.tensor1d(labels, 'int32'), 4) as tf.Tensor2D };
}

function buildCnn(): tf.LayersModel {
  const L = tf.layers;
  const m = tf.sequential();
  m.add(L.inputLayer({ inputShape: [16, 16, 3] }));
  for (const filters of [8, 16]) {
    m.add(L.conv2d({ filters, kernelSize: 3, padding: 'same', useBias: false }));
    m.add(L.batchNormalization());
    m.add(L.reLU());
    m.add(L.maxPooling2d({ poolSize: 2 }));
  }
  m.add(L.globalAveragePooling2d({}));
  m.add(L.dense({ units: 16, activation: 'relu' }));
  m.add(L.dropout({ rate: 0.2, seed: 7 })); // seeded: the same mask on both backends
  m.add(L.dense({ units: 4, activation: 'softmax' }));
  return m;
}

function buildTextModel(): tf.LayersModel {
  const L = tf.layers;
  const m = tf.sequential();
  m.add(L.embedding({ inputDim: 40, outputDim: 8, inputLength: 12 }));
  m.add(L.conv1d({ filters: 16, kernelSize: 3, activation: 'relu' }));
  m.add(L.globalMaxPooling1d({}));
  m.add(L.dense({ units: 4, activation: 'softmax' }));
  return m;
}

interface TrainingRun {
  losses: number[];
  tensorsPerStep: number[];
}

/** Trains from the given weights on the current backend; records losses and live tensors. */
async function train(
  build: () => tf.LayersModel,
  weights: { shape: number[]; values: Float32Array }[],
  data: () => { x: tf.Tensor; y: tf.Tensor },
  steps: number,
  learningRate: number,
): Promise<TrainingRun> {
  const model = build();
  const initial = weights.map((w) => tf.tensor(w.values, w.shape));
  model.setWeights(initial);
  tf.dispose(initial);
  model.compile({ optimizer: tf.train.adam(learningRate), loss: 'categoricalCrossentropy' });
  const { x, y } = data();
  const run: TrainingRun = { losses: [], tensorsPerStep: [] };
  for (let step = 0; step < steps; step++) {
    const loss = await model.trainOnBatch(x, y);
    run.losses.push(Array.isArray(loss) ? loss[0] : loss);
    run.tensorsPerStep.push(tf.memory().numTensors);
  }
  tf.dispose([x, y]);
  model.dispose();
  return run;
}

async function compareTraining(
  build: () => tf.LayersModel,
  data: () => { x: tf.Tensor; y: tf.Tensor },
  steps: number,
  learningRate: number,
): Promise<{ cpu: TrainingRun; wasm: TrainingRun }> {
  await tf.setBackend('cpu');
  const init = build();
  const weights = init.getWeights().map((w) => ({ shape: w.shape, values: w.dataSync() as Float32Array }));
  init.dispose();
  const cpu = await train(build, weights, data, steps, learningRate);
  await tf.setBackend('wasm');
  const wasm = await train(build, weights, data, steps, learningRate);
  return { cpu, wasm };
}

function assertTrainsLikeCpu(label: string, runs: { cpu: TrainingRun; wasm: TrainingRun }): void {
  const { cpu, wasm } = runs;
  const last = wasm.losses.length - 1;
  assert.ok(wasm.losses[last] < 0.7 * wasm.losses[0], `${label}: wasm loss should fall, got ${wasm.losses.map((l) => l.toFixed(3)).join(' ')}`);
  wasm.losses.forEach((loss, i) => {
    const gap = Math.abs(loss - cpu.losses[i]);
    assert.ok(gap <= 1e-3 + 0.01 * cpu.losses[i], `${label}: step ${i} loss wasm ${loss.toFixed(4)} vs cpu ${cpu.losses[i].toFixed(4)}`);
  });
  // After the first steps (optimizer slots are created lazily) nothing may accumulate.
  const settled = wasm.tensorsPerStep.slice(2);
  assert.ok(settled.every((n) => n === settled[0]), `${label}: live tensors grow across steps: ${wasm.tensorsPerStep.join(' ')}`);
}

describe('training on wasm tracks the cpu backend', () => {
  test('small CNN: conv-bn-relu-maxpool x2, GAP, dense, dropout', async () => {
    const runs = await compareTraining(buildCnn, () => quadrantImages(16, 16, 1), 12, 0.02);
    assertTrainsLikeCpu('CNN', runs);
  });

  test('text model: trainable Embedding, Conv1D, GlobalMaxPooling1D, dense', async () => {
    const runs = await compareTraining(buildTextModel, () => tokenSequences(32, 12, 40, 2), 12, 0.03);
    assertTrainsLikeCpu('text model', runs);
  });
});
