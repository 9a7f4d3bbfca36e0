/**
 * Fine-tuning the last residual stage (conv5: res5a, res5b, res5c) of the pretrained ResNet-50
 * on cached conv4 activations (14×14×1024 at 224 px), with a head on top.
 *
 * - `buildConv5Model`: the stage rebuilt as a small tfjs model whose input is the conv4 output;
 *   each conv keeps its pretrained weights with its BatchNormalization folded in (frozen
 *   statistics — the usual choice when fine-tuning with small batches), then avg_pool and the
 *   same head as src/models/head.ts (`copyHeadWeights` starts it from a trained feature head);
 * - `conv4FeatureSpec` / `conv4Engine`: conv4 activations from the ONNX backbone (output
 *   `activation_39`, NCHW → NHWC), cached per photo in a float16 FeatureStore (0.4 MB each);
 * - `fineTuneConv5` / `predictConv5`: training with the shared loop, batches read from the cache;
 * - `measureConv5Step`: one timed training step on the current backend, to decide whether a
 *   fine-tuning run fits the time budget on this machine (notebook 03).
 */
import { tf } from '../tf/runtime';
import { deriveSeed, Rng } from '../rng';
import { trainModel, TrainResult } from '../train/loop';
import type { TrainSettings } from '../train/step';
import type { EpochLogs } from '../train/epoch_record';
import { FeatureEngine, FeatureSpec, FeatureStore, resnetFeatureSpec } from './features';
import type { OnnxBackbone } from './onnx_backbone';
import { KerasLayerJson, readResnetArtifacts, CONV4_OUTPUT_LAYER } from './resnet_tfjs';
import { weightsByName } from './onnx_export';
import { EMBEDDING_LAYER, FeatureDense } from '../models/head';
import { seededDropout } from '../models/seeded_dropout';

export interface Conv5Config {
  numClasses: number;
  /** Hidden width of the head (its ReLU layer is named 'embedding'); 0 = linear. */
  hidden: number;
  dropout: number;
  /** Dropout on the pooled 2048-d features (default 0). */
  inputDropout?: number;
  seed: number;
}

/** The conv5 stage + GAP + head as a layers model: input [B, 14, 14, 1024] (NHWC conv4 activations), output logits. */
export function buildConv5Model(config: Conv5Config): tf.LayersModel {
  const artifacts = readResnetArtifacts();
  const layers = artifacts.json.modelTopology.model_config.config.layers;
  const weights = weightsByName(artifacts);
  const start = layers.findIndex((l) => l.name === CONV4_OUTPUT_LAYER);
  const end = layers.findIndex((l) => l.name === 'avg_pool');
  if (start < 0 || end < 0) throw new Error('the ResNet-50 topology has no activation_39/avg_pool layers');
  const input = tf.input({ shape: [14, 14, 1024], name: 'conv4_activations' });
  const out = new Map<string, tf.SymbolicTensor>([[CONV4_OUTPUT_LAYER, input]]);
  const inbound = (l: KerasLayerJson) => l.inbound_nodes[0].map((n) => out.get(n[0]) as tf.SymbolicTensor);
  const w = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`weight ${name} missing`);
    return t;
  };
  for (const layer of layers.slice(start + 1, end)) {
    const cfg = layer.config;
    switch (layer.class_name) {
      case 'Conv2D': {
        // Fold the following BN (every conv5 conv has one) into kernel and bias.
        const bn = layers.find((l) => l.class_name === 'BatchNormalization' && l.inbound_nodes[0]?.[0]?.[0] === layer.name) as KerasLayerJson;
        const kernel = w(`${layer.name}/kernel`);
        const [kh, kw, cin, cout] = kernel.shape;
        const k = new Float32Array(kernel.data);
        const b = new Float32Array(w(`${layer.name}/bias`).data);
        const eps = Number(bn.config.epsilon ?? 1e-3);
        const gamma = w(`${bn.name}/gamma`).data;
        const beta = w(`${bn.name}/beta`).data;
        const mean = w(`${bn.name}/moving_mean`).data;
        const variance = w(`${bn.name}/moving_variance`).data;
        for (let o = 0; o < cout; o++) {
          const s = gamma[o] / Math.sqrt(variance[o] + eps);
          for (let j = o; j < k.length; j += cout) k[j] *= s;
          b[o] = (b[o] - mean[o]) * s + beta[o];
        }
        const conv = tf.layers.conv2d({
          filters: cout,
          kernelSize: [kh, kw],
          strides: cfg.strides as [number, number],
          padding: cfg.padding as 'same' | 'valid',
          name: layer.name,
          weights: [tf.tensor4d(k, [kh, kw, cin, cout]), tf.tensor1d(b)],
        });
        out.set(bn.name, conv.apply(inbound(layer)[0]) as tf.SymbolicTensor);
        break;
      }
      case 'BatchNormalization':
        break; // folded
      case 'Activation':
        out.set(layer.name, tf.layers.activation({ activation: 'relu', name: layer.name }).apply(inbound(layer)[0]) as tf.SymbolicTensor);
        break;
      case 'Add':
        out.set(layer.name, tf.layers.add({ name: layer.name }).apply(inbound(layer)) as tf.SymbolicTensor);
        break;
      default:
        throw new Error(`conv5: unexpected layer ${layer.name} (${layer.class_name})`);
    }
  }
  const last = layers[end - 1];
  let x = tf.layers.globalAveragePooling2d({ name: 'avg_pool' }).apply(out.get(last.name) as tf.SymbolicTensor) as tf.SymbolicTensor;
  // The same head as src/models/head.ts (layer names and shapes), so a head trained on the
  // cached features can initialise it: copyHeadWeights.
  if (config.inputDropout) x = seededDropout(config.inputDropout, 'input_dropout', config.seed, 'head').apply(x) as tf.SymbolicTensor;
  if (config.hidden > 0) {
    x = new FeatureDense({ units: config.hidden, activation: 'relu', init: 'he', seed: deriveSeed(config.seed, 'head', 0), name: EMBEDDING_LAYER }).apply(x) as tf.SymbolicTensor;
    if (config.dropout > 0) x = seededDropout(config.dropout, 'dropout_1', config.seed, 'head').apply(x) as tf.SymbolicTensor;
  }
  const logits = new FeatureDense({ units: config.numClasses, init: 'glorot', seed: deriveSeed(config.seed, 'head', 'logits'), name: 'logits' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'resnet50_conv5_finetune' });
}

/** Copies the 'embedding' and 'logits' weights of a trained feature head into the conv5 model. */
export function copyHeadWeights(head: tf.LayersModel, conv5: tf.LayersModel): void {
  for (const name of [EMBEDDING_LAYER, 'logits']) {
    let src: tf.layers.Layer;
    try {
      src = head.getLayer(name);
    } catch {
      continue; // a linear head has no embedding layer
    }
    conv5.getLayer(name).setWeights(src.getWeights());
  }
}

export interface StepTiming {
  batchSize: number;
  /** Median seconds of one forward + backward + Adam update (after a warm-up step). */
  secondsPerStep: number;
  imagesPerSecond: number;
  backend: string;
}

/** Times `steps` training steps of `model` on random conv4-like inputs (ReLU outputs: ≥ 0). */
export async function measureConv5Step(model: tf.LayersModel, batchSize = 16, steps = 2): Promise<StepTiming> {
  const optimizer = tf.train.adam(1e-4);
  const classes = (model.outputs[0].shape[1] ?? 2) as number;
  const x = tf.relu(tf.randomNormal([batchSize, 14, 14, 1024], 0, 1, 'float32', 1)) as tf.Tensor4D;
  const y = tf.oneHot(tf.tensor1d(Array.from({ length: batchSize }, (_, i) => i % classes), 'int32'), classes);
  const step = () => {
    const cost = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, true);
    cost?.dataSync();
    cost?.dispose();
  };
  const times: number[] = [];
  try {
    step(); // warm-up
    for (let i = 0; i < steps; i++) {
      const t0 = Date.now();
      step();
      times.push((Date.now() - t0) / 1000);
    }
  } finally {
    optimizer.dispose();
    tf.dispose([x, y]);
  }
  times.sort((a, b) => a - b);
  const secondsPerStep = times[times.length >> 1];
  return { batchSize, secondsPerStep, imagesPerSecond: batchSize / secondsPerStep, backend: tf.getBackend() };
}

// ---------------------------------------------------------------------------------------
// conv4 activations, cached, and the fine-tuning run on them

export const CONV4_SHAPE: readonly [number, number, number] = [14, 14, 1024];
export const CONV4_DIM = CONV4_SHAPE[0] * CONV4_SHAPE[1] * CONV4_SHAPE[2];

/** The cache spec of conv4 activations (NHWC, float16: 0.4 MB per photo). */
export function conv4FeatureSpec(weightsHash: string): FeatureSpec {
  return { ...resnetFeatureSpec(weightsHash, { dtype: 'float16' }), layer: CONV4_OUTPUT_LAYER, dim: CONV4_DIM };
}

/** [n, c, h, w] → [n, h, w, c]. */
export function nchwToNhwc(data: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(data.length);
  const plane = h * w;
  for (let i = 0; i < n; i++) {
    const base = i * c * plane;
    for (let ch = 0; ch < c; ch++) {
      const src = base + ch * plane;
      for (let p = 0; p < plane; p++) out[base + p * c + ch] = data[src + p];
    }
  }
  return out;
}

/** A feature engine giving NHWC conv4 activations from an OnnxBackbone created with outputs ['activation_39']. */
export function conv4Engine(backbone: OnnxBackbone): FeatureEngine {
  return {
    describe: () => backbone.describe(),
    concurrency: backbone.concurrency,
    features: async (x, n) => {
      const out = (await backbone.run(x, n))[CONV4_OUTPUT_LAYER];
      if (!out) throw new Error(`the ONNX backbone has no ${CONV4_OUTPUT_LAYER} output: create it with outputs: ['${CONV4_OUTPUT_LAYER}']`);
      const [, c, h, w] = out.dims;
      return nchwToNhwc(out.data, n, c, h, w);
    },
  };
}

export interface ImageRows {
  imageIds: string[];
  productIds: string[];
  labels: number[];
}

/** Batches {x: [B,14,14,1024], y: int32 [B]} read from the conv4 store (the loop disposes them). */
export function* conv4Batches(store: FeatureStore, rows: ImageRows, batchSize: number, options: { shuffle?: boolean; seed?: number } = {}): Generator<{ x: tf.Tensor4D; y: tf.Tensor1D }> {
  const order = rows.imageIds.map((_, i) => i);
  if (options.shuffle) new Rng(deriveSeed(options.seed ?? 0, 'conv4-batches')).shuffleInPlace(order);
  for (let start = 0; start < order.length; start += batchSize) {
    const picked = order.slice(start, start + batchSize);
    const x = store.matrix(picked.map((i) => rows.imageIds[i]));
    yield {
      x: tf.tensor4d(x, [picked.length, ...CONV4_SHAPE]),
      y: tf.tensor1d(picked.map((i) => rows.labels[i]), 'int32'),
    };
  }
}

export interface FineTuneConv5Options {
  stage: string;
  config: Conv5Config;
  /** A trained feature head (same hidden width) to start the head from. */
  initHead?: tf.LayersModel;
  store: FeatureStore;
  train: ImageRows;
  val: ImageRows;
  settings: TrainSettings;
  batchSize: number;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  modelsDir?: string;
  quiet?: boolean;
}

/** Trains conv5 + head on cached conv4 activations with the shared loop. */
export async function fineTuneConv5(options: FineTuneConv5Options): Promise<{ model: tf.LayersModel; result: TrainResult }> {
  const model = buildConv5Model(options.config);
  if (options.initHead) copyHeadWeights(options.initHead, model);
  const { store, train, val, batchSize } = options;
  const result = await trainModel({
    ...options.settings,
    stage: options.stage,
    model,
    config: { conv5: options.config, store: store.key, batchSize, n: train.labels.length, initHead: options.initHead ? options.initHead.name : null },
    trainBatches: (epoch) => conv4Batches(store, train, batchSize, { shuffle: true, seed: deriveSeed(options.config.seed, epoch) }),
    valBatches: () => conv4Batches(store, val, batchSize),
    stepsPerEpoch: Math.ceil(train.labels.length / batchSize),
    onEpochEnd: options.onEpochEnd,
    modelsDir: options.modelsDir,
    quiet: options.quiet,
  });
  return { model, result };
}

/** Softmax probabilities of a conv5 model over rows read from the conv4 store. */
export function predictConv5(model: tf.LayersModel, store: FeatureStore, rows: ImageRows, batchSize = 32): number[][] {
  const out: number[][] = [];
  for (const b of conv4Batches(store, rows, batchSize)) {
    const probs = tf.tidy(() => tf.softmax(model.apply(b.x, { training: false }) as tf.Tensor));
    const data = probs.dataSync();
    const [n, c] = probs.shape as [number, number];
    for (let i = 0; i < n; i++) out.push(Array.from(data.subarray(i * c, (i + 1) * c)));
    tf.dispose([probs, b.x, b.y]);
  }
  return out;
}
