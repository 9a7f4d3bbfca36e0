/**
 * Classification heads on cached backbone features (notebook 03), and the glue to train them
 * with the shared loop (src/train/loop.ts) and to read their outputs.
 *
 * - `buildHead`: [dropout] → (dense → ReLU → dropout)* → dense logits. `hidden: []` is the
 *   linear (softmax-regression) head; `hidden: [256]` the MLP whose 256-d ReLU layer,
 *   named `embedding`, is the image embedding later notebooks use. Every initialiser and dropout mask is seeded.
 * - `featureBatches`: shuffled batches from an in-memory feature matrix; with `flipped` rows
 *   each example is drawn plain or mirrored at random (augmentation from cached features).
 * - `predictProbs` / `evaluateHead` / `headEmbeddings`: softmax probabilities, the image- and
 *   product-level evaluation bundle of src/eval/product_eval.ts (with flip TTA), penultimate activations.
 */
import * as path from 'path';
import { tf } from '../tf/runtime';
import { deriveSeed, Rng } from '../rng';
import { seededDropout } from './seeded_dropout';
import { evaluateImagesAndProducts, type ModelEvaluation, type Predictions } from '../eval/product_eval';
import { trainModel, TrainResult } from '../train/loop';
import type { TrainSettings } from '../train/step';
import type { EpochLogs } from '../train/epoch_record';
import type { TrainerExport } from '../train/both_cores';

export interface HeadConfig {
  inputDim: number;
  numClasses: number;
  /** Hidden dense widths (ReLU); [] = linear head. The last hidden layer is named 'embedding'. */
  hidden: number[];
  /** Dropout after each hidden layer. */
  dropout: number;
  /** Dropout on the input features (default 0). */
  inputDropout?: number;
  seed: number;
}

export const EMBEDDING_LAYER = 'embedding';

/**
 * Notebook 03's head recipe on cached ResNet-50 features (its steps 2–4; also the out-of-fold
 * image heads of src/eval/oof.ts): the MLP 2048 → 256 → classes with dropout 0.5 on the input
 * and the hidden layer, trained with Adam (decoupled weight decay 1e-4), a cosine learning rate
 * from 1e-3 to 1e-5 after one warm-up epoch, label smoothing 0.1, patience 10.
 */
export const RESNET_MLP_HEAD: Pick<HeadConfig, 'hidden' | 'dropout' | 'inputDropout'> = { hidden: [256], dropout: 0.5, inputDropout: 0.5 };

/** The loop settings of 03's heads for `epochs` epochs. */
export function resnetHeadSettings(epochs: number): TrainSettings {
  return { epochs, patience: 10, labelSmoothing: 0.1, optimizer: { kind: 'adam', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', base: 1e-3, min: 1e-5, warmupEpochs: 1 } };
}

/**
 * x·W + b whose gradients use explicit transposes. The wasm backend's BatchMatMul is ~30×
 * slower with transposeA/transposeB set (a naive path outside XNNPACK), and tfjs's own
 * MatMul gradient sets them: dW = xᵀ·dy took 0.4–0.8 s for a 64×2048 batch here, against
 * ~25 ms for transpose + plain matMul. Same numbers, same result.
 */
const denseOp = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D), b),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const g = dy as tf.Tensor2D;
      const [sx, sw] = saved as tf.Tensor2D[];
      return [tf.matMul(g, tf.transpose(sw)), tf.matMul(tf.transpose(sx), g), tf.sum(g, 0)];
    },
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.Tensor;

interface FeatureDenseArgs {
  units: number;
  activation?: 'relu' | 'linear';
  /** 'he' (ReLU layers) or 'glorot'. */
  init?: 'he' | 'glorot';
  seed: number;
  name?: string;
}

/** A Dense layer (relu or linear) with the transpose-free gradient above; serialisable as 'FeatureDense'. */
export class FeatureDense extends tf.layers.Layer {
  static className = 'FeatureDense';
  private readonly units: number;
  private readonly activation: 'relu' | 'linear';
  private readonly init: 'he' | 'glorot';
  private readonly seed: number;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(args: FeatureDenseArgs) {
    super({ name: args.name });
    this.units = args.units;
    this.activation = args.activation ?? 'linear';
    this.init = args.init ?? 'glorot';
    this.seed = args.seed;
  }

  build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const inDim = shape[shape.length - 1] as number;
    const initializer = this.init === 'he' ? tf.initializers.heNormal({ seed: this.seed }) : tf.initializers.glorotUniform({ seed: this.seed });
    this.kernel = this.addWeight('kernel', [inDim, this.units], 'float32', initializer);
    this.bias = this.addWeight('bias', [this.units], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    return [...shape.slice(0, -1), this.units];
  }

  call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const y = denseOp(x, (this.kernel as tf.LayerVariable).read(), (this.bias as tf.LayerVariable).read());
      return this.activation === 'relu' ? tf.relu(y) : y;
    });
  }

  getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), units: this.units, activation: this.activation, init: this.init, seed: this.seed };
  }
}
tf.serialization.registerClass(FeatureDense);

export function buildHead(config: HeadConfig): tf.LayersModel {
  const { inputDim, numClasses, hidden, dropout, seed } = config;
  if (!(inputDim > 0 && numClasses > 1)) throw new Error(`head: inputDim ${inputDim} and numClasses ${numClasses} must be positive (classes ≥ 2)`);
  if (!(dropout >= 0 && dropout < 1)) throw new Error(`head: dropout must be in [0, 1), got ${dropout}`);
  const input = tf.input({ shape: [inputDim], name: 'features' });
  let x: tf.SymbolicTensor = input;
  if (config.inputDropout) x = seededDropout(config.inputDropout, 'input_dropout', seed, 'head').apply(x) as tf.SymbolicTensor;
  hidden.forEach((units, i) => {
    const last = i === hidden.length - 1;
    x = new FeatureDense({ units, activation: 'relu', init: 'he', seed: deriveSeed(seed, 'head', i), name: last ? EMBEDDING_LAYER : `hidden_${i + 1}` })
      .apply(x) as tf.SymbolicTensor;
    if (dropout > 0) x = seededDropout(dropout, `dropout_${i + 1}`, seed, 'head').apply(x) as tf.SymbolicTensor;
  });
  const logits = new FeatureDense({ units: numClasses, init: 'glorot', seed: deriveSeed(seed, 'head', 'logits'), name: 'logits' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: hidden.length ? `mlp_head_${hidden.join('_')}` : 'linear_head' });
}

export interface FeatureBatchOptions {
  batchSize: number;
  shuffle?: boolean;
  seed?: number;
  /** Mirrored-image features, same row order: each example uses them with probability 1/2. */
  flipped?: Float32Array;
}

/** Batches {x: [B, dim], y: int32 [B]} over rows of `features` (n × dim). The caller (the loop) disposes them. */
export function* featureBatches(
  features: Float32Array,
  labels: ArrayLike<number>,
  dim: number,
  options: FeatureBatchOptions,
): Generator<{ x: tf.Tensor2D; y: tf.Tensor1D }> {
  const n = labels.length;
  if (features.length !== n * dim) throw new Error(`features hold ${features.length} values, expected ${n} × ${dim}`);
  if (options.flipped && options.flipped.length !== features.length) throw new Error('flipped features differ in size from the plain ones');
  const rng = new Rng(deriveSeed(options.seed ?? 0, 'feature-batches'));
  const order = Array.from({ length: n }, (_, i) => i);
  if (options.shuffle) rng.shuffleInPlace(order);
  for (let start = 0; start < n; start += options.batchSize) {
    const picked = order.slice(start, start + options.batchSize);
    const x = new Float32Array(picked.length * dim);
    const y = new Int32Array(picked.length);
    picked.forEach((row, k) => {
      const src = options.flipped && rng.next() < 0.5 ? options.flipped : features;
      x.set(src.subarray(row * dim, (row + 1) * dim), k * dim);
      y[k] = labels[row];
    });
    yield { x: tf.tensor2d(x, [picked.length, dim]), y: tf.tensor1d(y, 'int32') };
  }
}

/** Softmax probabilities of a logits model over rows of `features` (n × dim), one row per example. */
export function predictProbs(model: tf.LayersModel, features: Float32Array, dim: number, batchSize = 512): number[][] {
  const n = features.length / dim;
  const rows: number[][] = [];
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const probs = tf.tidy(() => {
      const x = tf.tensor2d(features.subarray(start * dim, (start + m) * dim), [m, dim]);
      return tf.softmax(model.apply(x, { training: false }) as tf.Tensor);
    });
    const data = probs.dataSync() as Float32Array;
    probs.dispose();
    const c = data.length / m;
    for (let i = 0; i < m; i++) rows.push(Array.from(data.subarray(i * c, (i + 1) * c)));
  }
  return rows;
}

/** Element-wise mean of probability rows from several views (e.g. plain + flipped: test-time augmentation). */
export function averageProbs(...views: number[][][]): number[][] {
  if (views.length === 0) throw new Error('averageProbs needs at least one view');
  return views[0].map((row, i) => row.map((_, k) => views.reduce((s, v) => s + v[i][k], 0) / views.length));
}

/** The rows of one split, for evaluation. */
export interface FeatureSplit {
  /** One matrix per view (e.g. [plain] or [plain, flipped]), each n × dim. */
  views: Float32Array[];
  dim: number;
  labels: number[];
  imageIds: string[];
  productIds: string[];
}

/**
 * Image- and product-level evaluation of a head on cached features (eval/product_eval.ts's bundle).
 * With several views, their probabilities are averaged first (flip TTA).
 */
export function evaluateHead(model: tf.LayersModel, split: FeatureSplit, classNames: readonly string[]): ModelEvaluation {
  const probs = averageProbs(...split.views.map((v) => predictProbs(model, v, split.dim)));
  const images: Predictions = { probs, labels: split.labels.slice(), ids: split.imageIds.slice(), productIds: split.productIds.slice() };
  return evaluateImagesAndProducts(images, classNames);
}

/** Activations of layer `layer` (default the 'embedding' layer) over rows of `features`: n × width. */
export function headEmbeddings(model: tf.LayersModel, features: Float32Array, dim: number, layer = EMBEDDING_LAYER, batchSize = 512): { vectors: Float32Array; width: number } {
  const sub = tf.model({ inputs: model.inputs, outputs: model.getLayer(layer).output as tf.SymbolicTensor });
  const n = features.length / dim;
  const width = (sub.outputs[0].shape[1] ?? 0) as number;
  const vectors = new Float32Array(n * width);
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const out = tf.tidy(() => sub.predict(tf.tensor2d(features.subarray(start * dim, (start + m) * dim), [m, dim])) as tf.Tensor);
    vectors.set(out.dataSync() as Float32Array, start * width);
    out.dispose();
  }
  return { vectors, width };
}

export interface TrainHeadOptions {
  /** Checkpoint stage name (outputs/models/<profile>/<stage>/<hash>). */
  stage: string;
  head: HeadConfig;
  train: FeatureSplit;
  val: FeatureSplit;
  /** Train on plain or mirrored features at random (needs train.views[1]). */
  flipAugment?: boolean;
  settings: TrainSettings;
  batchSize: number;
  /** What else defines the run (feature spec keys, subset…), hashed into the checkpoint key. */
  config?: Record<string, unknown>;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  quiet?: boolean;
  /** Default PATHS.models. */
  modelsDir?: string;
}

/** Where a worker thread finds trainHeadOnFeatures (src/train/both_cores.ts). */
export const HEAD_TRAINER: TrainerExport = { modulePath: path.join(__dirname, 'head.ts'), exportName: 'trainHeadOnFeatures' };

/** Builds a head and trains it with the shared loop (checkpointed: a finished run is reloaded). */
export async function trainHeadOnFeatures(options: TrainHeadOptions): Promise<{ model: tf.LayersModel; result: TrainResult }> {
  const { train, val, head, batchSize } = options;
  if (options.flipAugment && train.views.length < 2) throw new Error('flipAugment needs the mirrored training features as train.views[1]');
  const model = buildHead(head);
  const result = await trainModel({
    ...options.settings,
    stage: options.stage,
    model,
    config: { head, batchSize, flipAugment: options.flipAugment ?? false, n: train.labels.length, ...(options.config ?? {}) },
    trainBatches: (epoch) =>
      featureBatches(train.views[0], train.labels, train.dim, {
        batchSize, shuffle: true, seed: deriveSeed(head.seed, epoch), flipped: options.flipAugment ? train.views[1] : undefined,
      }),
    valBatches: () => featureBatches(val.views[0], val.labels, val.dim, { batchSize: 1024 }),
    stepsPerEpoch: Math.ceil(train.labels.length / batchSize),
    onEpochEnd: options.onEpochEnd,
    quiet: options.quiet,
    modelsDir: options.modelsDir,
  });
  return { model, result };
}

/** One row of a results table (snake_case keys): validation and test scores, per photo and per product. */
export function resultRow(step: string, val: ModelEvaluation, test: ModelEvaluation): Record<string, string | number> {
  const r = (v: number) => Math.round(v * 10000) / 10000;
  return {
    step,
    val_accuracy: r(val.product.accuracy),
    test_accuracy_image: r(test.image.accuracy),
    test_accuracy: r(test.product.accuracy),
    test_macro_f1: r(test.product.macroF1),
    test_log_loss: r(test.product.logLoss),
  };
}
