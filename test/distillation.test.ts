/**
 * Distillation loss (equals cross-entropy at α = 0; analytic gradient = numerical gradient),
 * packed targets through the training step, and cross-fitted teacher soft labels.
 */
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initTf, tf } from '../src/tf/runtime';
import { Rng } from '../src/rng';
import { distillationLoss, packTargets, packedDistillationLoss } from '../src/train/distillation';
import { createTrainStep, crossEntropy } from '../src/train/step';
import { buildHead, FeatureSplit } from '../src/models/head';
import { crossFittedSoftLabels, foldsByGroup } from '../src/models/teacher';

let tmp: string;
before(async () => {
  await initTf({ backend: 'wasm' });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'distill-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const rng = new Rng(5);
const B = 6;
const C = 4;
const logitsData = Float32Array.from({ length: B * C }, () => 2 * rng.normal());
const labels = Int32Array.from({ length: B }, () => rng.int(C));
const teacherData = (() => {
  const t = new Float32Array(B * C);
  for (let i = 0; i < B; i++) {
    const raw = Array.from({ length: C }, () => Math.exp(rng.normal()));
    const s = raw.reduce((a, b) => a + b, 0);
    raw.forEach((v, k) => (t[i * C + k] = v / s));
  }
  return t;
})();
const scalar = (t: tf.Tensor) => t.dataSync()[0];

/** The loss written out in plain numbers (float64), independent of the tfjs implementation. */
function referenceLoss(z: Float64Array | Float32Array, alpha: number, T: number, smoothing: number): number {
  let total = 0;
  for (let i = 0; i < B; i++) {
    const row = Array.from(z.subarray(i * C, (i + 1) * C));
    const logSoftmax = (v: number[]) => { const m = Math.max(...v); const lse = m + Math.log(v.reduce((s, x) => s + Math.exp(x - m), 0)); return v.map((x) => x - lse); };
    const hardTarget = Array.from({ length: C }, (_, k) => (k === labels[i] ? 1 - smoothing : 0) + smoothing / C);
    const ce = -logSoftmax(row).reduce((s, lp, k) => s + hardTarget[k] * lp, 0);
    const q = logSoftmax(Array.from(teacherData.subarray(i * C, (i + 1) * C), (p) => Math.log(p) / T)).map(Math.exp);
    const ls = logSoftmax(row.map((x) => x / T));
    const kl = q.reduce((s, qk, k) => s + qk * (Math.log(qk) - ls[k]), 0);
    total += alpha * T * T * kl + (1 - alpha) * ce;
  }
  return total / B;
}

describe('distillationLoss', () => {
  test('equals cross-entropy at α = 0 (with and without label smoothing)', () => {
    for (const smoothing of [0, 0.1]) {
      const [d, ce] = tf.tidy(() => {
        const z = tf.tensor2d(logitsData, [B, C]);
        const y = tf.tensor1d(labels, 'int32');
        return [scalar(distillationLoss(z, y, tf.tensor2d(teacherData, [B, C]), { alpha: 0, temperature: 3 }, smoothing)),
          scalar(crossEntropy(z, y, 'logits', smoothing))];
      });
      assert.ok(Math.abs(d - ce) < 1e-6, `α = 0: ${d} vs cross-entropy ${ce}`);
    }
  });

  test('matches the formula; packed targets give the same value', () => {
    const spec = { alpha: 0.7, temperature: 2.5 };
    const [value, packed] = tf.tidy(() => {
      const z = tf.tensor2d(logitsData, [B, C]);
      return [scalar(distillationLoss(z, tf.tensor1d(labels, 'int32'), tf.tensor2d(teacherData, [B, C]), spec, 0.1)),
        scalar(packedDistillationLoss(z, tf.tensor2d(packTargets(labels, teacherData, C), [B, 2 * C]), spec, 0.1))];
    });
    const expected = referenceLoss(logitsData, spec.alpha, spec.temperature, 0.1);
    assert.ok(Math.abs(value - expected) < 1e-4, `${value} vs ${expected}`);
    assert.ok(Math.abs(packed - value) < 1e-6);
  });

  test('its gradient matches central differences of the loss (float64 reference)', () => {
    const spec = { alpha: 0.6, temperature: 3 };
    const grad = tf.tidy(() => {
      const g = tf.grad((z: tf.Tensor) => distillationLoss(z, tf.tensor1d(labels, 'int32'), tf.tensor2d(teacherData, [B, C]), spec, 0.05));
      return Array.from(g(tf.tensor2d(logitsData, [B, C])).dataSync());
    });
    const h = 1e-4;
    const z = Float64Array.from(logitsData);
    for (let j = 0; j < z.length; j++) {
      const plus = Float64Array.from(z); plus[j] += h;
      const minus = Float64Array.from(z); minus[j] -= h;
      const numeric = (referenceLoss(plus, spec.alpha, spec.temperature, 0.05) - referenceLoss(minus, spec.alpha, spec.temperature, 0.05)) / (2 * h);
      assert.ok(Math.abs(grad[j] - numeric) < 2e-4, `d loss / d z[${j}]: analytic ${grad[j]} vs numeric ${numeric}`);
    }
  });

  test('bad settings and targets fail with a clear message', () => {
    assert.throws(() => tf.tidy(() => distillationLoss(tf.zeros([1, 2]), tf.tensor1d([0], 'int32'), tf.ones([1, 2]), { alpha: 1.5, temperature: 1 })), /alpha/);
    assert.throws(() => tf.tidy(() => distillationLoss(tf.zeros([1, 2]), tf.tensor1d([0], 'int32'), tf.ones([1, 2]), { alpha: 0.5, temperature: 0 })), /temperature/);
    assert.throws(() => packTargets([5], new Float32Array(4), 4), /row 0: label 5/);
    assert.throws(() => packTargets([1, 2], new Float32Array(4), 4), /expected 2 × 4/);
  });

  test('the training step learns from packed targets (accuracy counted on the true labels)', () => {
    const model = buildHead({ inputDim: C, numClasses: C, hidden: [], dropout: 0, seed: 1 });
    const trainer = createTrainStep(model, { optimizer: { kind: 'adam' }, distillation: { alpha: 0.5, temperature: 2 } });
    const x = tf.tensor2d(logitsData, [B, C]);
    const y = tf.tensor2d(packTargets(labels, teacherData, C), [B, 2 * C]);
    const first = trainer.step({ x, y }, 0.05);
    let last = first;
    for (let s = 0; s < 30; s++) last = trainer.step({ x, y }, 0.05);
    assert.ok(last.loss < first.loss, `loss ${first.loss} → ${last.loss}`);
    assert.ok(last.correct >= 0 && last.correct <= B);
    tf.dispose([x, y]);
    trainer.optimizer.dispose();
  });
});

describe('cross-fitted teacher soft labels', () => {
  test('foldsByGroup keeps each group in one fold, uses every fold, is seeded', () => {
    const groups = Array.from({ length: 40 }, (_, i) => `p${Math.floor(i / 3)}`);
    const folds = foldsByGroup(groups, 4, 1);
    const foldOf = new Map<string, number>();
    groups.forEach((g, i) => {
      if (foldOf.has(g)) assert.equal(folds[i], foldOf.get(g), `group ${g} split across folds`);
      foldOf.set(g, folds[i]);
    });
    assert.deepEqual([...new Set(folds)].sort(), [0, 1, 2, 3]);
    assert.deepEqual(foldsByGroup(groups, 4, 1), folds);
    assert.throws(() => foldsByGroup(['a', 'b'], 3, 1), /2 groups into 3 folds/);
  });

  test('every photo is labelled by a head that never saw its product; soft labels beat chance', async () => {
    // Features: class centre + noise; photos 2j and 2j+1 belong to product j; the last product
    // of each class sits on ANOTHER class's centre, so only a head that trained on it could
    // get it right: held-out labelling must get it wrong.
    const dim = 8;
    const classes = 3;
    const r = new Rng(2);
    const make = (n: number, tag: string, traps: boolean): FeatureSplit => {
      const views = [new Float32Array(n * dim), new Float32Array(n * dim)];
      const labelsOut: number[] = [];
      const productIds: string[] = [];
      for (let i = 0; i < n; i++) {
        const product = Math.floor(i / 2);
        const label = product % classes;
        const trap = traps && product >= n / 2 - classes;
        const centre = trap ? (label + 1) % classes : label;
        for (const v of views) for (let d = 0; d < dim; d++) v[i * dim + d] = (d % classes === centre ? 2 : 0) + 0.4 * r.normal();
        labelsOut.push(label);
        productIds.push(`${tag}${product}`);
      }
      return { views, dim, labels: labelsOut, imageIds: productIds.map((p, i) => `${p}_${i}`), productIds };
    };
    const train = make(60, 'p', true);
    const val = make(30, 'v', false);
    const result = await crossFittedSoftLabels({
      train, val, k: 3, stage: 'teacher_test', batchSize: 16, modelsDir: tmp, quiet: true,
      head: { inputDim: dim, numClasses: classes, hidden: [], dropout: 0, seed: 3 },
      settings: { epochs: 15, optimizer: { kind: 'adam' }, schedule: { kind: 'constant', base: 0.05 } },
    });
    assert.equal(result.probs.length, 60 * classes);
    for (let i = 0; i < 60; i++) {
      const row = Array.from(result.probs.subarray(i * classes, (i + 1) * classes));
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-4, `row ${i} sums to 1`);
    }
    const predicted = (i: number) => { const row = Array.from(result.probs.subarray(i * classes, (i + 1) * classes)); return row.indexOf(Math.max(...row)); };
    const trapRows = train.productIds.map((p, i) => [p, i] as [string, number]).filter(([p]) => Number(p.slice(1)) >= 30 - classes).map(([, i]) => i);
    for (const i of trapRows) assert.notEqual(predicted(i), train.labels[i], `photo ${i}: labelled as if its head had trained on it`);
    assert.ok(result.accuracy > 0.7, `held-out teacher accuracy ${result.accuracy}`);
  });
});
