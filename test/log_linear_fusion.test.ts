/**
 * The product-of-experts combiner: the fit recovers known weights and biases from labels drawn
 * from a known log-linear model, a listing without photos has no image term, cross-validation
 * scores every row out of fold; k-fold assignment keeps groups together and is stratified.
 */
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { crossValidateLogLinear, Expert, fitLogLinear, logLinearProbs, logLinearRow } from '../src/models/log_linear_fusion';
import { foldRows, kFoldOfGroups, outOfFold } from '../src/eval/folds';
import { Rng } from '../src/rng';

function randomProbRow(rng: Rng, k: number, sharpness: number): number[] {
  const z = Array.from({ length: k }, () => sharpness * rng.normal());
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

function sample(rng: Rng, p: ArrayLike<number>): number {
  let u = rng.next();
  for (let c = 0; c < p.length; c++) if ((u -= p[c]) < 0) return c;
  return p.length - 1;
}

/** Rows whose labels are drawn from softmax(Σ a_m log p_m + b); expert 0 ('image') is missing on a share of rows. */
function synthetic(n: number, weights: number[], bias: number[], missingImage: number, seed: number): { experts: Expert[]; labels: number[] } {
  const rng = new Rng(seed);
  const k = bias.length;
  const names = ['image', 'tfidf', 'text_cnn'].slice(0, weights.length);
  const probs: Array<Array<number[] | null>> = names.map(() => []);
  const labels: number[] = [];
  const truth = { experts: names, weights, bias };
  for (let i = 0; i < n; i++) {
    const rows: Array<number[] | null> = names.map((_, m) => (m === 0 && rng.next() < missingImage ? null : randomProbRow(rng, k, 1.5)));
    rows.forEach((r, m) => probs[m].push(r));
    labels.push(sample(rng, logLinearRow(truth, rows)));
  }
  return { experts: names.map((name, m) => ({ name, probs: probs[m] })), labels };
}

describe('fitLogLinear', () => {
  test('recovers known weights and class biases from labels drawn from the model', () => {
    const weights = [1.6, 0.7, 0.1];
    const bias = [0.5, -0.3, 0, 0.2, -0.4];
    const { experts, labels } = synthetic(6000, weights, bias, 0.2, 7);
    const fit = fitLogLinear(experts, labels, { l2: 1e-6 });
    fit.weights.forEach((w, m) => assert.ok(Math.abs(w - weights[m]) < 0.12, `weight ${m}: fitted ${w.toFixed(3)}, true ${weights[m]}`));
    // Biases are identified up to a constant: compare centred.
    const centre = (b: number[]) => b.map((v) => v - b.reduce((s, x) => s + x, 0) / b.length);
    centre(fit.bias).forEach((b, c) => assert.ok(Math.abs(b - centre(bias)[c]) < 0.15, `bias ${c}: fitted ${b.toFixed(3)}, true ${centre(bias)[c].toFixed(3)}`));
    // The fitted model is no worse on its data than the truth (it minimises the log-loss).
    assert.ok(fit.iterations < 50, `converged (${fit.iterations} Newton steps)`);
  });

  test('beats the better single expert when the experts carry independent evidence', () => {
    const { experts, labels } = synthetic(3000, [1, 1], [0, 0, 0, 0], 0, 11);
    const fit = fitLogLinear(experts, labels);
    const alone = experts.map((e) => fitLogLinear([e], labels));
    assert.ok(fit.logLoss < Math.min(...alone.map((a) => a.logLoss)) - 0.05, `fused ${fit.logLoss} vs alone ${alone.map((a) => a.logLoss)}`);
  });

  test('an uninformative expert gets a weight near 0', () => {
    const rng = new Rng(3);
    const { experts, labels } = synthetic(3000, [1.2, 0.8], [0, 0, 0], 0, 5);
    const noise: Expert = { name: 'noise', probs: labels.map(() => randomProbRow(rng, 3, 2)) };
    const fit = fitLogLinear([...experts, noise], labels);
    assert.ok(Math.abs(fit.weights[2]) < 0.08, `noise weight ${fit.weights[2]}`);
  });

  test('clear errors: mismatched rows, bad labels', () => {
    assert.throws(() => fitLogLinear([{ name: 'a', probs: [[0.5, 0.5]] }, { name: 'b', probs: [] }], [0]), /expert 'b' has 0 rows/);
    assert.throws(() => fitLogLinear([{ name: 'a', probs: [[0.5, 0.5]] }], [2]), /label of row 0 is 2/);
  });
});

describe('a listing without photos', () => {
  test('has no image term: its probabilities are the other experts\' pool alone', () => {
    const pool = { experts: ['image', 'text'], weights: [2, 1.5], bias: [0.1, -0.1, 0] };
    const text = [0.6, 0.3, 0.1];
    const without = logLinearRow(pool, [null, text]);
    const textOnly = logLinearRow({ experts: ['text'], weights: [1.5], bias: [0.1, -0.1, 0] }, [text]);
    assert.deepEqual(Array.from(without), Array.from(textOnly));
    // With a photo that disagrees, the answer moves.
    const withPhoto = logLinearRow(pool, [[0.05, 0.05, 0.9], text]);
    assert.ok(withPhoto[2] > without[2] + 0.3);
  });

  test('rows are probabilities; expert names must match the pool', () => {
    const pool = { experts: ['image', 'text'], weights: [1, 1], bias: [0, 0] };
    const p = logLinearProbs(pool, [{ name: 'image', probs: [[0.9, 0.1], null] }, { name: 'text', probs: [[0.5, 0.5], [0.2, 0.8]] }]);
    for (const row of p) assert.ok(Math.abs(row[0] + row[1] - 1) < 1e-6);
    assert.ok(Math.abs(p[1][1] - 0.8) < 1e-6);
    assert.throws(() => logLinearProbs(pool, [{ name: 'text', probs: [[0.5, 0.5]] }, { name: 'image', probs: [[0.5, 0.5]] }]), /fitted with 'image'/);
  });
});

describe('crossValidateLogLinear', () => {
  test('scores every row out of fold, with one weight vector per fold near the truth', () => {
    const { experts, labels } = synthetic(2000, [1.3, 0.6], [0, 0.3, -0.3], 0.3, 21);
    const cv = crossValidateLogLinear(experts, labels, { folds: 5, seed: 1 });
    assert.equal(cv.probs.length, 2000);
    assert.ok(cv.probs.every((p) => p && p.length === 3));
    assert.equal(cv.foldWeights.length, 5);
    for (const w of cv.foldWeights) assert.ok(Math.abs(w[0] - 1.3) < 0.3 && Math.abs(w[1] - 0.6) < 0.3, `fold weights ${w}`);
    const inSample = fitLogLinear(experts, labels);
    assert.ok(cv.logLoss >= inSample.logLoss - 1e-9, 'out-of-fold loss is not below the in-sample loss');
  });
});

describe('k-fold', () => {
  test('groups stay in one fold, folds are stratified and balanced, the same seed gives the same folds', () => {
    const groups: string[] = [];
    const labels: number[] = [];
    for (let g = 0; g < 300; g++) for (let r = 0; r < 1 + (g % 3); r++) {
      groups.push(`g${g}`);
      labels.push(g % 4);
    }
    const fold = kFoldOfGroups(groups, labels, 5, 9);
    const foldOf = new Map<string, number>();
    groups.forEach((g, i) => {
      if (foldOf.has(g)) assert.equal(foldOf.get(g), fold[i], `group ${g} split across folds`);
      foldOf.set(g, fold[i]);
    });
    for (let c = 0; c < 4; c++) {
      const counts = [0, 1, 2, 3, 4].map((f) => labels.filter((l, i) => l === c && fold[i] === f).length);
      assert.ok(Math.max(...counts) - Math.min(...counts) <= 3, `class ${c} per fold: ${counts}`);
    }
    assert.deepEqual(kFoldOfGroups(groups, labels, 5, 9), fold);
    assert.notDeepEqual(kFoldOfGroups(groups, labels, 5, 10), fold);
    assert.throws(() => kFoldOfGroups(['a', 'a'], [0, 0], 2, 1), /1 groups cannot fill 2 folds/);
  });

  test('outOfFold predicts each row from a fit that never saw it', async () => {
    const fold = [0, 1, 2, 0, 1, 2, 0];
    const preds = await outOfFold(fold, 3, (fit, held) => held.map(() => fit.slice()));
    preds.forEach((seen, r) => {
      assert.ok(!seen.includes(r), `row ${r} was in its own fit`);
      assert.equal(seen.length, fold.filter((f) => f !== fold[r]).length);
    });
    assert.deepEqual(foldRows(fold, 3).map((f) => f.held), [[0, 3, 6], [1, 4], [2, 5]]);
  });
});
