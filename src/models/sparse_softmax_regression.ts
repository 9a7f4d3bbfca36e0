/**
 * Multinomial logistic (softmax) regression on SPARSE rows (TF-IDF documents), in plain
 * TypeScript: the text baseline's vocabulary of words and character n-grams runs to ~60,000
 * terms, and 5,500 documents × 60,000 dense float32 values would be 1.3 GB, while each document
 * has a few hundred non-zero terms.
 *
 * The same model and training as fitSoftmaxRegression (softmax_regression.ts): loss = mean
 * cross-entropy + l2·Σw² (the bias not penalised), weights from zero (the problem is convex),
 * Adam (tfjs's defaults: β1 0.9, β2 0.999, ε 1e-7) on seeded minibatches, an exact pass over
 * train and validation after every epoch, early stopping on validation loss with the best
 * epoch's weights restored. The gradient of a minibatch is Xᵀ(P − Y)/m + 2·l2·W: sparse in X,
 * dense through the penalty, so the Adam step touches every weight (d × k per step, cheap next
 * to a dense X).
 */
import { Rng } from '../rng';
import { EpochEnd, EpochMetrics, softmaxSettings, SoftmaxRegressionOptions } from './softmax_regression';
import type { SparseRow } from './features';

/** Labelled sparse rows. */
export interface SparseFeatureSet {
  rows: readonly SparseRow[];
  y: ArrayLike<number>;
}

/** Class probabilities of sparse rows under kernel (d × k, row-major) and bias (k). */
export function sparseSoftmaxProbs(rows: readonly SparseRow[], kernel: Float32Array, bias: Float32Array): number[][] {
  const k = bias.length;
  const z = new Float64Array(k);
  return rows.map((row) => {
    logitsInto(row, kernel, bias, z);
    return Array.from(softmaxInPlace(z));
  });
}

function logitsInto(row: SparseRow, kernel: Float32Array, bias: Float32Array, z: Float64Array): void {
  const k = bias.length;
  for (let c = 0; c < k; c++) z[c] = bias[c];
  for (let t = 0; t < row.indices.length; t++) {
    const o = row.indices[t] * k;
    const v = row.values[t];
    for (let c = 0; c < k; c++) z[c] += kernel[o + c] * v;
  }
}

function softmaxInPlace(z: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  let sum = 0;
  for (let c = 0; c < z.length; c++) {
    z[c] = Math.exp(z[c] - max);
    sum += z[c];
  }
  for (let c = 0; c < z.length; c++) z[c] /= sum;
  return z;
}

/** A fitted model: its weights, in the layout TextPredictor saves (kernel d × k, bias k). */
export class SparseSoftmaxRegression {
  constructor(
    readonly kernel: Float32Array,
    readonly bias: Float32Array,
  ) {}

  get numClasses(): number {
    return this.bias.length;
  }

  predictProba(rows: readonly SparseRow[]): number[][] {
    return sparseSoftmaxProbs(rows, this.kernel, this.bias);
  }

  weights(): { kernel: Float32Array; bias: Float32Array } {
    return { kernel: this.kernel.slice(), bias: this.bias.slice() };
  }

  /** Nothing to free (plain arrays); here so callers treat it like the tfjs model. */
  dispose(): void {}
}

export interface SparseSoftmaxFitResult {
  model: SparseSoftmaxRegression;
  history: EpochMetrics[];
  /** Epoch (1-based) whose weights were kept: the lowest validation loss. */
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  seconds: number;
}

function checkSet(name: string, set: SparseFeatureSet, inputDim: number, k: number): void {
  if (set.rows.length !== set.y.length) throw new Error(`fitSparseSoftmaxRegression: ${name} has ${set.rows.length} rows but ${set.y.length} labels`);
  if (set.rows.length === 0) throw new Error(`fitSparseSoftmaxRegression: ${name} needs at least one row`);
  for (let i = 0; i < set.y.length; i++) {
    if (!Number.isInteger(set.y[i]) || set.y[i] < 0 || set.y[i] >= k) throw new Error(`label ${set.y[i]} is not a class index in 0..${k - 1}`);
  }
  set.rows.forEach((row, i) => {
    if (row.indices.length !== row.values.length) throw new Error(`${name} row ${i}: ${row.indices.length} indices but ${row.values.length} values`);
    for (const j of row.indices) if (!(j >= 0 && j < inputDim)) throw new Error(`${name} row ${i}: column ${j} outside 0..${inputDim - 1}`);
  });
}

/** Trains softmax regression on sparse `train` rows, early-stopping on `val` (see the module comment). */
export async function fitSparseSoftmaxRegression(train: SparseFeatureSet, val: SparseFeatureSet, inputDim: number, options: SoftmaxRegressionOptions): Promise<SparseSoftmaxFitResult> {
  const started = performance.now();
  const { numClasses: k, l2, batchSize, epochs, patience, learningRate: lr, seed } = softmaxSettings(options);
  checkSet('train', train, inputDim, k);
  checkSet('val', val, inputDim, k);

  const [beta1, beta2, epsilon] = [0.9, 0.999, 1e-7];
  const kernel = new Float32Array(inputDim * k);
  const bias = new Float32Array(k);
  const params = [kernel, bias];
  const grads = [new Float32Array(kernel.length), new Float32Array(k)];
  const m1 = [new Float32Array(kernel.length), new Float32Array(k)];
  const m2 = [new Float32Array(kernel.length), new Float32Array(k)];
  const model = new SparseSoftmaxRegression(kernel, bias);
  const rng = new Rng(seed);
  const order = Array.from({ length: train.rows.length }, (_, i) => i);
  const z = new Float64Array(k);
  const end = new EpochEnd(patience, options.onEpochEnd);
  const best = { kernel: kernel.slice(), bias: bias.slice() };
  let step = 0;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    rng.shuffleInPlace(order);
    for (let start = 0; start < order.length; start += batchSize) {
      const m = Math.min(batchSize, order.length - start);
      // ∂/∂W = Xᵀ(P − Y)/m + 2·l2·W; ∂/∂b = Σ(P − Y)/m.
      for (let j = 0; j < kernel.length; j++) grads[0][j] = 2 * l2 * kernel[j];
      grads[1].fill(0);
      for (let r = 0; r < m; r++) {
        const i = order[start + r];
        const row = train.rows[i];
        logitsInto(row, kernel, bias, z);
        softmaxInPlace(z);
        z[train.y[i]] -= 1;
        for (let c = 0; c < k; c++) grads[1][c] += z[c] / m;
        for (let t = 0; t < row.indices.length; t++) {
          const o = row.indices[t] * k;
          const v = row.values[t] / m;
          for (let c = 0; c < k; c++) grads[0][o + c] += z[c] * v;
        }
      }
      step++;
      // Adam as tfjs writes it: w −= lr · m̂ / (√v̂ + ε), with bias-corrected moments m̂, v̂.
      const [c1, c2] = [1 - beta1 ** step, 1 - beta2 ** step];
      for (let p = 0; p < params.length; p++) {
        const [w, g, a, b] = [params[p], grads[p], m1[p], m2[p]];
        for (let j = 0; j < w.length; j++) {
          a[j] = beta1 * a[j] + (1 - beta1) * g[j];
          b[j] = beta2 * b[j] + (1 - beta2) * g[j] * g[j];
          w[j] -= (lr * (a[j] / c1)) / (Math.sqrt(b[j] / c2) + epsilon);
        }
      }
    }
    await new Promise((resolve) => setImmediate(resolve)); // let the kernel flush outputs (live training curve) between epochs
    const verdict = end.record(epoch, { probs: model.predictProba(train.rows), y: train.y }, { probs: model.predictProba(val.rows), y: val.y });
    if (verdict === 'best') {
      best.kernel.set(kernel);
      best.bias.set(bias);
    } else if (verdict === 'stop') break;
  }
  kernel.set(best.kernel);
  bias.set(best.bias);
  return { model, history: end.history, bestEpoch: end.bestEpoch, epochsRun: end.history.length, stoppedEarly: end.stoppedEarly, seconds: (performance.now() - started) / 1000 };
}
