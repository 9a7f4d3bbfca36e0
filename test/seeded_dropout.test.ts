/**
 * Seeded dropout: fresh masks at every step, the same sequence from the same seed, so two
 * trainings of one configuration end with identical weights — on one thread and data-parallel.
 */
import { before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { initTf, tf } from '../src/tf/runtime';
import { Rng } from '../src/rng';
import { SeededDropout, withDropoutStream } from '../src/models/seeded_dropout';
import { buildCnn, CnnConfig } from '../src/models/cnn';
import { buildHead } from '../src/models/head';
import { createTrainStep, Batch } from '../src/train/step';
import { DataParallelStep } from '../src/train/parallel';

before(async () => {
  await initTf({ backend: 'wasm' });
});

const ones = () => tf.ones([8, 64]);
const mask = (layer: SeededDropout, stream = 0) =>
  withDropoutStream(stream, () => tf.tidy(() => Array.from((layer.apply(ones(), { training: true }) as tf.Tensor).dataSync())));

describe('SeededDropout', () => {
  test('identity at inference; at training, drops about `rate` and scales survivors by 1/(1 − rate)', () => {
    const layer = new SeededDropout({ rate: 0.25, seed: 11, name: 'd' });
    const plain = tf.tidy(() => Array.from((layer.apply(ones(), { training: false }) as tf.Tensor).dataSync()));
    assert.ok(plain.every((v) => v === 1));
    const m = mask(layer);
    assert.ok(m.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    const dropped = m.filter((v) => v === 0).length / m.length;
    assert.ok(dropped > 0.15 && dropped < 0.35, `dropped fraction ${dropped}`);
  });

  test('a new mask at each step; the same sequence from the same seed; streams and seeds differ', () => {
    const a = new SeededDropout({ rate: 0.5, seed: 3, name: 'a' });
    const b = new SeededDropout({ rate: 0.5, seed: 3, name: 'b' });
    const a1 = mask(a);
    const a2 = mask(a);
    assert.notDeepEqual(a1, a2, 'tfjs seeded dropout repeats its mask; this one must not');
    assert.deepEqual(mask(b), a1);
    assert.deepEqual(mask(b), a2);
    assert.notDeepEqual(mask(a, 1), mask(b, 0), 'stream 1 and stream 0 draw different masks');
    assert.notDeepEqual(mask(new SeededDropout({ rate: 0.5, seed: 4 })), a1);
  });

  test('spatial1d drops whole channels of a [B, L, C] input', () => {
    const layer = new SeededDropout({ rate: 0.5, seed: 5, noise: 'spatial1d' });
    const out = tf.tidy(() => (layer.apply(tf.ones([4, 6, 10]), { training: true }) as tf.Tensor).arraySync() as number[][][]);
    for (const example of out) for (let c = 0; c < 10; c++) assert.equal(new Set(example.map((pos) => pos[c])).size, 1);
  });

  test('serialises: a model rebuilt from its JSON has the same layer class and config', async () => {
    const head = buildHead({ inputDim: 16, numClasses: 3, hidden: [8], dropout: 0.3, inputDropout: 0.2, seed: 9 });
    const rebuilt = await tf.models.modelFromJSON({ modelTopology: head.toJSON(null, false) as tf.io.ModelJSON['modelTopology'] });
    const layer = rebuilt.getLayer('input_dropout') as SeededDropout;
    assert.equal(layer.getClassName(), 'SeededDropout');
    assert.equal(layer.rate, 0.2);
    assert.equal(layer.seed, (head.getLayer('input_dropout') as SeededDropout).seed);
  });
});

describe('training with dropout is reproducible', () => {
  const config: CnnConfig = { inputSize: 8, numClasses: 3, filters: [4, 8], denseUnits: 8, dropout: 0.5, seed: 7 };
  const settings = { optimizer: { kind: 'adam' as const, weightDecay: 1e-3 }, labelSmoothing: 0.1 };
  const batch = (): Batch => {
    const rng = new Rng(1);
    return {
      x: tf.tensor4d(Float32Array.from({ length: 16 * 8 * 8 * 3 }, () => rng.normal()), [16, 8, 8, 3]),
      y: tf.tensor1d(Int32Array.from({ length: 16 }, () => rng.int(3)), 'int32'),
    };
  };
  const weightsOf = (vars: tf.Variable[]) => vars.map((v) => Array.from(v.dataSync()));

  async function twoSteps(seed: number, threads: number | null): Promise<number[][]> {
    const model = buildCnn({ ...config, seed });
    const trainer = createTrainStep(model, settings);
    const pool = threads === null ? null : await DataParallelStep.start(model, trainer, settings, 2, { threads });
    try {
      for (let s = 0; s < 2; s++) {
        const b = batch();
        if (pool) await pool.step(b, 0.01);
        else trainer.step(b, 0.01);
        tf.dispose([b.x as tf.Tensor, b.y]);
      }
      return weightsOf(trainer.vars);
    } finally {
      await pool?.close();
      trainer.optimizer.dispose();
      model.dispose();
    }
  }

  test('identical weights after 2 steps from the same seed; another seed differs', async () => {
    const first = await twoSteps(7, null);
    const second = await twoSteps(7, null);
    assert.deepEqual(second, first);
    assert.notDeepEqual(await twoSteps(8, null), first);
  });

  test('data-parallel: identical weights after 2 steps from the same seed, with a worker or on one thread', async () => {
    const worker = await twoSteps(7, 1);
    assert.deepEqual(await twoSteps(7, 1), worker);
    // Part p draws the same masks on either thread, and the gradients are summed in one order: bit for bit.
    assert.deepEqual(await twoSteps(7, 0), worker);
  });
});
