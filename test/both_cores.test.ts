/**
 * Training on both cores (src/train/both_cores.ts): heads trained two at a time — one here, one
 * in a worker thread with its own TensorFlow.js — leave checkpoints with the very weights a
 * sequential run trains (bit for bit), so the caller's loop that loads them cannot tell the
 * difference; a trainer that fails in the worker fails the call with its message.
 */
import { after, before, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf } from '../src/tf/runtime';
import { FeatureSplit, HEAD_TRAINER, trainHeadOnFeatures, type TrainHeadOptions } from '../src/models/head';
import { trainOnBothCores } from '../src/train/both_cores';
import { Rng } from '../src/rng';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'both-cores-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
before(async () => {
  await initTf();
});

const dim = 12;
const classes = 3;
function split(n: number, seed: number): FeatureSplit {
  const r = new Rng(seed);
  const views = [new Float32Array(n * dim), new Float32Array(n * dim)];
  const labels = Array.from({ length: n }, (_, i) => i % classes);
  for (const v of views) for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) v[i * dim + d] = (d % classes === labels[i] ? 1.5 : 0) + r.normal();
  const ids = labels.map((_, i) => `p${seed}_${i}`);
  return { views, dim, labels, imageIds: ids, productIds: ids };
}
const train = split(90, 1);
const val = split(30, 2);
const job = (seed: number, modelsDir: string): TrainHeadOptions => ({
  stage: 'both_cores_test', train, val, flipAugment: true, batchSize: 16, modelsDir, quiet: true,
  head: { inputDim: dim, numClasses: classes, hidden: [8], dropout: 0.3, inputDropout: 0.2, seed },
  settings: { epochs: 4, optimizer: { kind: 'adam', weightDecay: 1e-4 }, schedule: { kind: 'cosine', base: 0.01, min: 1e-4 } },
});

async function weightsOf(options: TrainHeadOptions): Promise<{ status: string; values: number[][] }> {
  const { model, result } = await trainHeadOnFeatures(options);
  const values = model.getWeights().map((w) => Array.from(w.dataSync()));
  model.dispose();
  return { status: result.status, values };
}

test('heads trained two at a time load with the weights of a sequential run', async () => {
  const seeds = [11, 12, 13];
  const sequentialDir = path.join(tmp, 'sequential');
  const sequential = [];
  for (const s of seeds) sequential.push(await weightsOf(job(s, sequentialDir)));
  assert.ok(sequential.every((w) => w.status === 'trained'));

  const bothDir = path.join(tmp, 'both');
  const ran = await trainOnBothCores(seeds.map((s) => () => job(s, bothDir)), trainHeadOnFeatures, HEAD_TRAINER, { secondCore: true });
  assert.equal(ran.here + ran.secondCore, seeds.length);
  assert.ok(ran.secondCore >= 1, 'the worker thread trained at least one head');
  assert.deepEqual(ran.statuses, ['trained', 'trained', 'trained']);
  const again = await trainOnBothCores(seeds.map((s) => () => job(s, bothDir)), trainHeadOnFeatures, HEAD_TRAINER, { secondCore: true });
  assert.deepEqual(again.statuses, ['loaded', 'loaded', 'loaded'], 'a second call finds every checkpoint');
  for (const [i, s] of seeds.entries()) {
    const loaded = await weightsOf(job(s, bothDir));
    assert.equal(loaded.status, 'loaded', `seed ${s}: its checkpoint was left by trainOnBothCores`);
    assert.deepEqual(loaded.values, sequential[i].values, `seed ${s}: the same weights, bit for bit`);
  }
});

test('a trainer that fails in the worker fails the call, with its message', async () => {
  const bad = (seed: number) => () => ({ ...job(seed, path.join(tmp, 'bad')), flipAugment: true, train: { ...train, views: [train.views[0]] } });
  await assert.rejects(trainOnBothCores([bad(1), bad(2)], trainHeadOnFeatures, HEAD_TRAINER, { secondCore: true }), /flipAugment needs the mirrored training features/);
});
