/**
 * The custom CNN of notebook 02: conv blocks (conv → batch-norm → ReLU, then 2×2 max-pool)
 * with widths doubling per block, global average pooling, dropout and a small dense head
 * that ends in LOGITS (no softmax: the training loop and `predict.ts` apply it).
 *
 * Every layer is named and every initialiser is seeded from `config.seed`, so the same
 * config builds the same network with the same starting weights in any process.
 * Dropout masks are seeded too (seeded_dropout.ts), a fresh mask at every step. `cnnLayerSpec` is the architecture as plain data; the PyTorch twin in
 * bench/cnn_train_step.py builds the same network from it.
 */
import { tf } from '../tf/runtime';
import { deriveSeed } from '../rng';
import { seededDropout } from './seeded_dropout';
import type { OptimizerSpec } from '../train/step';

export interface CnnConfig {
  /** Square input size in pixels (3 channels). */
  inputSize: number;
  numClasses: number;
  /**
   * Channels of an optional stem: one stride-2 3×3 convolution (+ batch-norm + ReLU) that
   * halves the resolution before the blocks (0 or absent: no stem). The first block at full
   * resolution costs the most per parameter on a CPU (largest activations).
   */
  stem?: number;
  /** Output channels of each conv block; each block halves the resolution. */
  filters: number[];
  /** 3×3 convolutions per block before its pooling (default 1). */
  convsPerBlock?: number;
  /** Units of the hidden dense layer (0: none, GAP → dropout → logits). */
  denseUnits: number;
  /** Dropout before the hidden dense layer and before the logits. */
  dropout: number;
  /** Seeds every initialiser. */
  seed: number;
}

export const DEFAULT_CNN: Omit<CnnConfig, 'numClasses' | 'seed'> = {
  inputSize: 64,
  stem: 32,
  filters: [32, 64, 128, 256],
  convsPerBlock: 1,
  denseUnits: 128,
  dropout: 0.1,
};

/**
 * How notebook 02 trains the CNN (shared with bench/cnn_train_step.bench.ts, so the benchmark
 * times the same network and the same step). Epochs and batch size come from the profile.
 */
export const CNN_RECIPE = {
  architecture: DEFAULT_CNN,
  optimizer: { kind: 'adam', weightDecay: 0.05 } as OptimizerSpec,
  /** Cosine schedule from `baseLr` (after a linear warm-up) down to `minLr`. */
  baseLr: 3e-3,
  minLr: 1e-5,
  warmupEpochs: 1,
  labelSmoothing: 0.1,
  /** Random horizontal flip; pad by `crop` px and crop back at a random offset. */
  augment: { flip: true, crop: 8 },
  /**
   * Distillation from ResNet-50 heads (src/train/distillation.ts): weight of the teacher term
   * and temperature. The teacher's labels are cross-fitted over `folds` folds of the training
   * products (src/models/teacher.ts), by MLP heads like notebook 03's step 4 (`teacherHead`),
   * trained with a larger batch and rate than 03's so the k folds cost a few minutes.
   */
  distillation: { alpha: 0.7, temperature: 2 },
  teacher: {
    folds: 4,
    head: { hidden: [256], dropout: 0.5, inputDropout: 0.5 },
    batchSize: 128,
    baseLr: 2e-3,
  },
  /** Early stopping on validation loss. */
  patience: 4,
  /**
   * Data-parallel parts per batch (src/train/parallel.ts): two threads on a 2-core machine,
   * 1.7× faster steps on the single-threaded wasm backend.
   */
  replicas: 2,
};

/**
 * The capacity lever of notebook 02's ablation: no stride-2 stem (the first block sees the full
 * 64 px), narrower blocks to keep the cost ≈ 1.5× the recipe's per step.
 */
export const FULL_RESOLUTION_CNN: Omit<CnnConfig, 'numClasses' | 'seed'> = {
  ...DEFAULT_CNN,
  stem: 0,
  filters: [24, 48, 96, 192],
};

/** One row of the architecture, framework-neutral (for summaries and the PyTorch twin). */
export type CnnLayerSpec =
  | { kind: 'conv'; in: number; out: number; kernel: 3; stride: 1 | 2 }
  | { kind: 'batchnorm'; channels: number }
  | { kind: 'relu' }
  | { kind: 'maxpool'; size: 2 }
  | { kind: 'gap' }
  | { kind: 'dropout'; rate: number }
  | { kind: 'dense'; in: number; out: number };

export function cnnLayerSpec(config: CnnConfig): CnnLayerSpec[] {
  validate(config);
  const spec: CnnLayerSpec[] = [];
  let channels = 3;
  if (config.stem) {
    spec.push({ kind: 'conv', in: 3, out: config.stem, kernel: 3, stride: 2 }, { kind: 'batchnorm', channels: config.stem }, { kind: 'relu' });
    channels = config.stem;
  }
  for (const width of config.filters) {
    for (let c = 0; c < (config.convsPerBlock ?? 1); c++) {
      spec.push({ kind: 'conv', in: channels, out: width, kernel: 3, stride: 1 }, { kind: 'batchnorm', channels: width }, { kind: 'relu' });
      channels = width;
    }
    spec.push({ kind: 'maxpool', size: 2 });
  }
  spec.push({ kind: 'gap' });
  if (config.denseUnits > 0) {
    if (config.dropout > 0) spec.push({ kind: 'dropout', rate: config.dropout });
    spec.push({ kind: 'dense', in: channels, out: config.denseUnits }, { kind: 'relu' });
    channels = config.denseUnits;
  }
  if (config.dropout > 0) spec.push({ kind: 'dropout', rate: config.dropout });
  spec.push({ kind: 'dense', in: channels, out: config.numClasses });
  return spec;
}

function validate(config: CnnConfig): void {
  if (!Number.isInteger(config.inputSize) || config.inputSize < 8) throw new Error(`CNN inputSize must be an integer ≥ 8, got ${config.inputSize}`);
  if (config.filters.length === 0) throw new Error('CNN needs at least one conv block');
  const halvings = config.filters.length + (config.stem ? 1 : 0);
  if (config.inputSize / 2 ** halvings < 1) {
    throw new Error(`${halvings} halvings (stem and pooling blocks) shrink a ${config.inputSize} px input below 1 px`);
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`dropout must lie in [0, 1), got ${config.dropout}`);
  if (!Number.isInteger(config.numClasses) || config.numClasses < 2) throw new Error(`numClasses must be ≥ 2, got ${config.numClasses}`);
}

/** Builds the network (uncompiled: the training loop owns the optimiser). Output: logits [B, numClasses]. */
export function buildCnn(config: CnnConfig): tf.LayersModel {
  const spec = cnnLayerSpec(config);
  const seedFor = (name: string) => deriveSeed(config.seed, 'cnn', name) % 2147483647;
  const input = tf.input({ shape: [config.inputSize, config.inputSize, 3], name: 'image' });
  let x: tf.SymbolicTensor = input;
  let conv = 0;
  let block = config.stem ? 0 : 1;
  let dense = 0;
  let drop = 0;
  let pendingBn = '';
  for (const layer of spec) {
    switch (layer.kind) {
      case 'conv': {
        conv++;
        const stem = layer.stride === 2;
        const name = stem ? 'stem_conv' : `block${block}_conv${conv}`;
        x = tf.layers.conv2d({
          name, filters: layer.out, kernelSize: 3, strides: layer.stride, padding: 'same', useBias: false,
          kernelInitializer: tf.initializers.heNormal({ seed: seedFor(name) }),
        }).apply(x) as tf.SymbolicTensor;
        pendingBn = stem ? 'stem_bn' : `block${block}_bn${conv}`;
        break;
      }
      case 'batchnorm':
        x = tf.layers.batchNormalization({ name: pendingBn, momentum: 0.9, epsilon: 1e-5 }).apply(x) as tf.SymbolicTensor;
        break;
      case 'relu': {
        const name = dense > 0 ? `dense${dense}_relu` : block === 0 ? 'stem_relu' : `block${block}_relu${conv}`;
        x = tf.layers.reLU({ name }).apply(x) as tf.SymbolicTensor;
        if (block === 0) {
          block = 1;
          conv = 0;
        }
        break;
      }
      case 'maxpool':
        x = tf.layers.maxPooling2d({ name: `block${block}_pool`, poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
        block++;
        conv = 0;
        break;
      case 'gap':
        x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tf.SymbolicTensor;
        break;
      case 'dropout':
        drop++;
        x = seededDropout(layer.rate, `dropout${drop}`, config.seed, 'cnn').apply(x) as tf.SymbolicTensor;
        break;
      case 'dense': {
        dense++;
        const last = layer.out === config.numClasses && layer === spec[spec.length - 1];
        const name = last ? 'logits' : `dense${dense}`;
        x = tf.layers.dense({
          name, units: layer.out,
          kernelInitializer: last
            ? tf.initializers.glorotUniform({ seed: seedFor(name) })
            : tf.initializers.heNormal({ seed: seedFor(name) }),
        }).apply(x) as tf.SymbolicTensor;
        break;
      }
    }
  }
  return tf.model({ inputs: input, outputs: x, name: 'custom_cnn' });
}

/** Forward multiply-accumulates per image (convolutions and dense layers). */
export function cnnMacsPerImage(config: CnnConfig): number {
  let size = config.inputSize;
  let macs = 0;
  for (const layer of cnnLayerSpec(config)) {
    if (layer.kind === 'conv') {
      if (layer.stride === 2) size = Math.ceil(size / 2);
      macs += size * size * layer.out * layer.in * 9;
    }
    else if (layer.kind === 'maxpool') size = Math.floor(size / 2);
    else if (layer.kind === 'dense') macs += layer.in * layer.out;
  }
  return macs;
}

/** Layer rows for a notebook table: name, type, output shape, parameters. */
export function modelSummaryRows(model: tf.LayersModel): Array<{ layer: string; type: string; output_shape: string; params: number }> {
  return model.layers.map((layer) => {
    const shape = layer.outputShape as number[] | number[][];
    const shapeText = Array.isArray(shape[0]) ? JSON.stringify(shape) : `[${(shape as number[]).map((d) => (d == null ? 'B' : d)).join(', ')}]`;
    return { layer: layer.name, type: layer.getClassName(), output_shape: shapeText, params: layer.countParams() };
  });
}
