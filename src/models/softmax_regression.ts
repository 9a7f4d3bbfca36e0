/**
 * Multinomial logistic (softmax) regression in TensorFlow.js, and the pixel features it is
 * trained on in notebook 01.
 *
 * The model is one tfjs dense layer with a softmax and an L2 kernel regulariser (the bias is not
 * penalised): loss = mean cross-entropy + l2·Σw². It is trained with Adam on seeded minibatches.
 * Each epoch ends with an exact pass over train and validation (cross-entropy without the
 * penalty, and accuracy); training stops when the validation loss has not improved for
 * `patience` epochs and the best epoch's weights are restored. Weights start at zero (the
 * problem is convex), so a run is reproducible from its seed.
 *
 * The gradient is written out in closed form, ∂loss/∂logits = (P − Y)/m, so ∂/∂W = Xᵀ(P − Y)/m
 * + 2·l2·W with Xᵀ built while the batch is copied: autodiff of a dense layer needs matMuls with
 * a transposed operand, which the wasm backend runs 10–30× slower than plain ones (a 3,072-input
 * step took 36 ms with model.trainOnBatch, ~2 ms this way). A unit test checks the closed form
 * against tf.grads of the layer's own loss.
 *
 * Features are row-major Float32Array matrices (n × d): 8,800 photos × 3,072 values as JS
 * arrays would cost ~200 MB, as float32 35 MB.
 */
import { tf } from '../tf/runtime';
import { Rng } from '../rng';

// ---------------------------------------------------------------------------
// Pixel features
// ---------------------------------------------------------------------------

/**
 * Average-pools packed uint8 images (n × size × size × 3) by `factor` in each direction:
 * 64 px → 32 px with factor 2. Returns float32 n × (size/factor)² × 3, values 0..255.
 */
export function poolPixels(pixels: Uint8Array, n: number, size: number, factor: number): Float32Array {
  if (!Number.isInteger(factor) || factor < 1 || size % factor !== 0) {
    throw new Error(`poolPixels: factor ${factor} must be a positive integer dividing the image size ${size}`);
  }
  if (pixels.length !== n * size * size * 3) {
    throw new Error(`poolPixels: expected ${n} × ${size} × ${size} × 3 = ${n * size * size * 3} bytes, got ${pixels.length}`);
  }
  const out = size / factor;
  const result = new Float32Array(n * out * out * 3);
  const inv = 1 / (factor * factor);
  for (let i = 0; i < n; i++) {
    const src = i * size * size * 3;
    const dst = i * out * out * 3;
    for (let oy = 0; oy < out; oy++) {
      for (let ox = 0; ox < out; ox++) {
        for (let c = 0; c < 3; c++) {
          let s = 0;
          for (let dy = 0; dy < factor; dy++) {
            const rowBase = src + ((oy * factor + dy) * size + ox * factor) * 3 + c;
            for (let dx = 0; dx < factor; dx++) s += pixels[rowBase + dx * 3];
          }
          result[dst + (oy * out + ox) * 3 + c] = s * inv;
        }
      }
    }
  }
  return result;
}

/** Per-column mean and population std of a row-major n × d matrix (std 1 for a constant column). */
export interface ColumnStats {
  mean: Float32Array;
  scale: Float32Array;
}

export function columnStats(x: Float32Array, n: number, d: number): ColumnStats {
  if (n === 0 || x.length !== n * d) throw new Error(`columnStats: expected ${n} × ${d} values, got ${x.length}`);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0, o = i * d; j < d; j++) mean[j] += x[o + j];
  for (let j = 0; j < d; j++) mean[j] /= n;
  const variance = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0, o = i * d; j < d; j++) {
      const v = x[o + j] - mean[j];
      variance[j] += v * v;
    }
  }
  const scale = new Float32Array(d);
  for (let j = 0; j < d; j++) {
    const sd = Math.sqrt(variance[j] / n);
    scale[j] = sd > 1e-6 ? sd : 1;
  }
  return { mean: Float32Array.from(mean), scale };
}

/** (x − mean) / scale in place, with statistics from the training split. */
export function standardiseInPlace(x: Float32Array, stats: ColumnStats): Float32Array {
  const d = stats.mean.length;
  if (x.length % d !== 0) throw new Error(`standardiseInPlace: ${x.length} values is not a whole number of rows of ${d}`);
  for (let o = 0; o < x.length; o += d) {
    for (let j = 0; j < d; j++) x[o + j] = (x[o + j] - stats.mean[j]) / stats.scale[j];
  }
  return x;
}

// ---------------------------------------------------------------------------
// Softmax regression
// ---------------------------------------------------------------------------

/** A labelled row-major feature matrix. */
export interface FeatureSet {
  /** n × d, row-major. */
  x: Float32Array;
  /** Class index per row. */
  y: ArrayLike<number>;
}

export interface SoftmaxRegressionOptions {
  numClasses: number;
  /** Penalty l2·Σw² added to the mean cross-entropy (tf.regularizers.l2). Default 1e-3. */
  l2?: number;
  /** Adam learning rate (default 1e-3). */
  learningRate?: number;
  batchSize?: number;
  /** Upper bound on epochs (default 50). */
  epochs?: number;
  /** Epochs without a lower validation loss before stopping (default 5). */
  patience?: number;
  /** Seeds the minibatch order. */
  seed?: number;
  /** Called after every epoch (1-based) with loss, acc, val_loss, val_acc: pass TrainingCurve.update. */
  onEpochEnd?: (epoch: number, logs: EpochMetrics) => void;
}

export interface EpochMetrics extends Record<string, number> {
  /** Mean cross-entropy on the whole training split (the L2 penalty not included). */
  loss: number;
  acc: number;
  val_loss: number;
  val_acc: number;
}

export interface SoftmaxFitResult {
  model: SoftmaxRegression;
  history: EpochMetrics[];
  /** Epoch (1-based) whose weights were kept: the lowest validation loss. */
  bestEpoch: number;
  epochsRun: number;
  stoppedEarly: boolean;
  seconds: number;
}

/** A fitted model: weights d × k and bias k, kept in a tfjs layers model. */
export class SoftmaxRegression {
  constructor(
    readonly model: tf.Sequential,
    readonly inputDim: number,
    readonly numClasses: number,
  ) {}

  /** Class probabilities, one row per input row (each row sums to 1). */
  predictProba(x: Float32Array, batchSize = 2048): number[][] {
    const n = rowsOf(x, this.inputDim, 'predictProba');
    const out: number[][] = [];
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize);
      const probs = tf.tidy(() => {
        const xb = tf.tensor2d(x.subarray(start * this.inputDim, end * this.inputDim), [end - start, this.inputDim]);
        // One call per chunk: predict's default batch of 32 costs ~40 ms a batch on wasm.
        return this.model.predict(xb, { batchSize: end - start }) as tf.Tensor2D;
      });
      const values = probs.dataSync();
      probs.dispose();
      for (let i = 0; i < end - start; i++) out.push(Array.from(values.subarray(i * this.numClasses, (i + 1) * this.numClasses)));
    }
    return out;
  }

  /** Kernel (d × k, row-major) and bias (k), copied out. */
  weights(): { kernel: Float32Array; bias: Float32Array } {
    const [k, b] = this.model.getWeights();
    return { kernel: k.dataSync() as Float32Array, bias: b.dataSync() as Float32Array };
  }

  dispose(): void {
    this.model.dispose();
  }
}

function rowsOf(x: Float32Array, d: number, where: string): number {
  if (x.length % d !== 0) throw new Error(`${where}: ${x.length} values is not a whole number of rows of ${d} features`);
  return x.length / d;
}

/** Mean cross-entropy and accuracy of probability rows (natural log, probabilities clipped at 1e-7). */
function crossEntropyAndAccuracy(probs: number[][], y: ArrayLike<number>): { loss: number; acc: number } {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < probs.length; i++) {
    const row = probs[i];
    loss -= Math.log(Math.max(1e-7, row[y[i]]));
    let best = 0;
    for (let c = 1; c < row.length; c++) if (row[c] > row[best]) best = c;
    if (best === y[i]) correct++;
  }
  return { loss: loss / probs.length, acc: correct / probs.length };
}

/** The options with their defaults filled in (the dense and the sparse trainer share them). */
export function softmaxSettings(options: SoftmaxRegressionOptions): Required<Omit<SoftmaxRegressionOptions, 'onEpochEnd'>> {
  return { numClasses: options.numClasses, l2: options.l2 ?? 1e-3, learningRate: options.learningRate ?? 1e-3, batchSize: options.batchSize ?? 64,
    epochs: options.epochs ?? 50, patience: options.patience ?? 5, seed: options.seed ?? 0 };
}

/**
 * The end of every epoch, for both trainers: the exact train and validation scores, the callback,
 * and the early-stopping verdict ('best': keep these weights; 'stop': patience spent).
 */
export class EpochEnd {
  readonly history: EpochMetrics[] = [];
  bestLoss = Infinity;
  bestEpoch = 0;
  stoppedEarly = false;

  constructor(private readonly patience: number, private readonly onEpochEnd?: (epoch: number, logs: EpochMetrics) => void) {}

  record(epoch: number, train: { probs: number[][]; y: ArrayLike<number> }, val: { probs: number[][]; y: ArrayLike<number> }): 'best' | 'stop' | 'continue' {
    const tr = crossEntropyAndAccuracy(train.probs, train.y);
    const va = crossEntropyAndAccuracy(val.probs, val.y);
    const logs: EpochMetrics = { loss: tr.loss, acc: tr.acc, val_loss: va.loss, val_acc: va.acc };
    this.history.push(logs);
    this.onEpochEnd?.(epoch, logs);
    if (!Number.isFinite(va.loss)) throw new Error(`softmax regression diverged at epoch ${epoch} (validation loss ${va.loss}); lower the learning rate`);
    if (va.loss < this.bestLoss - 1e-6) {
      this.bestLoss = va.loss;
      this.bestEpoch = epoch;
      return 'best';
    }
    if (epoch - this.bestEpoch >= this.patience) {
      this.stoppedEarly = true;
      return 'stop';
    }
    return 'continue';
  }
}

/**
 * Trains softmax regression on `train`, early-stopping on `val`. The caller owns the returned
 * model (dispose() it when done).
 */
export async function fitSoftmaxRegression(train: FeatureSet, val: FeatureSet, inputDim: number, options: SoftmaxRegressionOptions): Promise<SoftmaxFitResult> {
  const started = performance.now();
  const { numClasses: k, l2, batchSize, epochs, patience, learningRate, seed } = softmaxSettings(options);
  const nTrain = rowsOf(train.x, inputDim, 'train');
  const nVal = rowsOf(val.x, inputDim, 'val');
  if (train.y.length !== nTrain || val.y.length !== nVal) throw new Error('fitSoftmaxRegression: feature rows and labels differ in number');
  if (nTrain === 0 || nVal === 0) throw new Error('fitSoftmaxRegression: train and val need at least one row each');
  for (const set of [train.y, val.y]) {
    for (let i = 0; i < set.length; i++) {
      if (!Number.isInteger(set[i]) || set[i] < 0 || set[i] >= k) throw new Error(`label ${set[i]} is not a class index in 0..${k - 1}`);
    }
  }

  const model = tf.sequential();
  model.add(
    tf.layers.dense({
      units: k,
      inputShape: [inputDim],
      activation: 'softmax',
      kernelInitializer: 'zeros',
      biasInitializer: 'zeros',
      kernelRegularizer: l2 > 0 ? tf.regularizers.l2({ l2 }) : undefined,
    }),
  );
  const optimizer = tf.train.adam(learningRate);
  // Compiled so that model.fit/evaluate would use the same loss; the loop below steps by hand.
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const result = new SoftmaxRegression(model, inputDim, k);
  const [kernel, bias] = denseVariables(model);

  const rng = new Rng(seed);
  const order = Array.from({ length: nTrain }, (_, i) => i);
  const xBatch = new Float32Array(batchSize * inputDim);
  const xBatchT = new Float32Array(batchSize * inputDim);
  const yBatch = new Float32Array(batchSize * k);
  const end = new EpochEnd(patience, options.onEpochEnd);
  let bestWeights: tf.Tensor[] = [];
  for (let epoch = 1; epoch <= epochs; epoch++) {
    rng.shuffleInPlace(order);
    for (let start = 0; start < nTrain; start += batchSize) {
      const m = Math.min(batchSize, nTrain - start);
      yBatch.fill(0, 0, m * k);
      for (let r = 0; r < m; r++) {
        const i = order[start + r];
        const row = train.x.subarray(i * inputDim, (i + 1) * inputDim);
        xBatch.set(row, r * inputDim);
        for (let j = 0; j < inputDim; j++) xBatchT[j * m + r] = row[j];
        yBatch[r * k + train.y[i]] = 1;
      }
      const grads = softmaxGradients(
        kernel,
        bias,
        tf.tensor2d(xBatch.subarray(0, m * inputDim), [m, inputDim]),
        tf.tensor2d(xBatchT.subarray(0, m * inputDim), [inputDim, m]),
        tf.tensor2d(yBatch.subarray(0, m * k), [m, k]),
        l2,
      );
      optimizer.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
    }
    await tf.nextFrame(); // let the kernel flush outputs (live training curve) between epochs
    const verdict = end.record(epoch, { probs: result.predictProba(train.x), y: train.y }, { probs: result.predictProba(val.x), y: val.y });
    if (verdict === 'best') {
      tf.dispose(bestWeights);
      bestWeights = model.getWeights().map((w) => w.clone());
    } else if (verdict === 'stop') break;
  }
  model.setWeights(bestWeights);
  tf.dispose(bestWeights);
  return { model: result, history: end.history, bestEpoch: end.bestEpoch, epochsRun: end.history.length, stoppedEarly: end.stoppedEarly, seconds: (performance.now() - started) / 1000 };
}

/** The kernel and bias variables of the model's dense layer. */
export function denseVariables(model: tf.Sequential): [tf.Variable, tf.Variable] {
  const weights = model.layers[0].trainableWeights;
  if (weights.length !== 2) throw new Error(`expected a dense layer with kernel and bias, found ${weights.length} weights`);
  return [weights[0].read() as tf.Variable, weights[1].read() as tf.Variable];
}

/**
 * Gradients of mean cross-entropy(softmax(xW + b), y) + l2·Σw² with respect to W and b, named
 * by variable (ready for optimizer.applyGradients). Takes ownership of x, xT (x transposed,
 * d × m) and y, which are disposed.
 */
export function softmaxGradients(
  kernel: tf.Variable,
  bias: tf.Variable,
  x: tf.Tensor2D,
  xT: tf.Tensor2D,
  y: tf.Tensor2D,
  l2: number,
): Array<{ name: string; tensor: tf.Tensor }> {
  const grads = tf.tidy(() => {
    const m = x.shape[0];
    const probs = tf.softmax(tf.add(tf.matMul(x, kernel), bias));
    const dLogits = tf.div(tf.sub(probs, y), m);
    let dKernel = tf.matMul(xT, dLogits);
    if (l2 > 0) dKernel = tf.add(dKernel, tf.mul(kernel, 2 * l2));
    return [
      { name: kernel.name, tensor: dKernel },
      { name: bias.name, tensor: tf.sum(dLogits, 0) },
    ];
  });
  tf.dispose([x, xT, y]);
  return grads;
}
