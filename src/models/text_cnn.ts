/**
 * A text CNN for listing classification (Kim 2014, "Convolutional Neural Networks for Sentence
 * Classification", with the usual modern touches):
 *
 *   token ids [B, L] → Embedding (pretrained rows; frozen or fine-tuned) → spatial dropout
 *     → one branch per kernel size: Conv1d(k) → ReLU [→ Conv1d(k) → ReLU] → global max pool
 *     → concatenate → dropout → Dense(hidden, ReLU) = the text embedding → dropout → Dense(classes)
 *
 * The last layer outputs logits (the shared training loop's default; softmax is applied by
 * the loss and by predictBatches), or probabilities with `output: 'probs'`.
 *
 * The Dense(hidden) output, layer name TEXT_EMBEDDING_LAYER, is the per-product text embedding
 * that fusion (05) and similar-listing search (07) reuse: `embeddingModel(model)` returns it.
 */
import { Rng } from '../rng';
import { tf } from '../tf/runtime';
import { SeededDropout } from './seeded_dropout';
import { PAD_ID } from '../text/tokenizer';

export const TEXT_EMBEDDING_LAYER = 'text_embedding';

export interface TextCnnConfig {
  vocabSize: number;
  sequenceLength: number;
  numClasses: number;
  /** Embedding width (the pretrained vectors' dims when `embeddingWeights` is given). Default 100. */
  embeddingDim?: number;
  /** Row-major [vocabSize, embeddingDim] initial embedding (e.g. GloVe rows); random uniform when absent. */
  embeddingWeights?: Float32Array;
  /** Update the embedding during training (default false when weights are given, true otherwise). */
  trainableEmbedding?: boolean;
  /** One convolution branch per kernel size (default [2, 3, 4, 5]). */
  kernelSizes?: number[];
  /** Filters per branch (default 128). */
  filters?: number;
  /** Convolutions stacked in each branch before the max pool (default 1). */
  convLayersPerBranch?: number;
  /** Width of the text embedding (penultimate layer, default 256). */
  hiddenUnits?: number;
  /** Dropout after the pooled features and after the hidden layer (default 0.5). */
  dropout?: number;
  /** Spatial (whole-vector) dropout on the embedded tokens (default 0.2). */
  embeddingDropout?: number;
  /** L2 penalty on the conv and dense kernels (default 0: dropout regularises). */
  l2?: number;
  seed?: number;
  /** 'logits' (default) or 'probs' (a softmax last layer). */
  output?: 'logits' | 'probs';
}

export type ResolvedTextCnnConfig = Required<Omit<TextCnnConfig, 'embeddingWeights'>> & { pretrained: boolean };

export function resolveTextCnnConfig(config: TextCnnConfig): ResolvedTextCnnConfig {
  const embeddingDim = config.embeddingDim ?? 100;
  if (config.embeddingWeights && config.embeddingWeights.length !== config.vocabSize * embeddingDim) {
    throw new Error(`embeddingWeights has ${config.embeddingWeights.length} values, expected vocabSize × dims = ${config.vocabSize} × ${embeddingDim}`);
  }
  const resolved: ResolvedTextCnnConfig = {
    vocabSize: config.vocabSize,
    sequenceLength: config.sequenceLength,
    numClasses: config.numClasses,
    embeddingDim,
    trainableEmbedding: config.trainableEmbedding ?? !config.embeddingWeights,
    kernelSizes: config.kernelSizes ?? [2, 3, 4, 5],
    filters: config.filters ?? 128,
    convLayersPerBranch: config.convLayersPerBranch ?? 1,
    hiddenUnits: config.hiddenUnits ?? 256,
    dropout: config.dropout ?? 0.5,
    embeddingDropout: config.embeddingDropout ?? 0.2,
    l2: config.l2 ?? 0,
    seed: config.seed ?? 42,
    output: config.output ?? 'logits',
    pretrained: config.embeddingWeights != null,
  };
  if (resolved.kernelSizes.length === 0) throw new Error('kernelSizes must name at least one kernel size');
  for (const k of resolved.kernelSizes) {
    if (!(Number.isInteger(k) && k >= 1 && k <= resolved.sequenceLength)) throw new Error(`kernel size ${k} must be an integer in [1, sequenceLength]`);
  }
  return resolved;
}

/**
 * The training recipe notebook 04 uses (measured on the full profile: see the notebook).
 * - Architecture: 64 filters per kernel size 2, 3, 4 (bigram–4-gram detectors), a 128-unit
 *   text embedding; dropout 0.3 (pooled features and embedding), spatial dropout 0.1 on tokens.
 *   Heavier dropout (0.5/0.2) learned much more slowly on 5k listings for no gain in 8 epochs.
 * - Adam at 3e-3 with a cosine decay to 0 over 8 epochs, label smoothing 0.1, batch 64: the
 *   validation loss bottoms out at 6–8 epochs; patience 3 stops a run that stalls sooner.
 */
export const TEXT_CNN_RECIPE = {
  architecture: { filters: 64, kernelSizes: [2, 3, 4], hiddenUnits: 128, dropout: 0.3, embeddingDropout: 0.1, convLayersPerBranch: 1 },
  optimizer: { kind: 'adam' as const },
  baseLr: 3e-3,
  epochs: 8,
  patience: 3,
  labelSmoothing: 0.1,
  batchSize: 64,
};

/** The model (uncompiled): int32 ids [B, sequenceLength] → class probabilities [B, numClasses]. */
export function buildTextCnn(config: TextCnnConfig): tf.LayersModel {
  const c = resolveTextCnnConfig(config);
  let seed = c.seed;
  const nextSeed = () => seed++;
  const reg = c.l2 > 0 ? () => tf.regularizers.l2({ l2: c.l2 }) : () => undefined;

  const input = tf.input({ shape: [c.sequenceLength], dtype: 'int32', name: 'token_ids' });
  const embeddingLayer = tf.layers.embedding({
    inputDim: c.vocabSize,
    outputDim: c.embeddingDim,
    inputLength: c.sequenceLength,
    embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: nextSeed() }),
    trainable: c.trainableEmbedding,
    name: 'embedding',
  });
  let x = embeddingLayer.apply(input) as tf.SymbolicTensor;
  if (config.embeddingWeights) {
    const w = tf.tensor2d(config.embeddingWeights, [c.vocabSize, c.embeddingDim]);
    embeddingLayer.setWeights([w]);
    w.dispose();
  }
  if (c.embeddingDropout > 0) {
    x = new SeededDropout({ rate: c.embeddingDropout, seed: nextSeed(), noise: 'spatial1d', name: 'embedding_dropout' }).apply(x) as tf.SymbolicTensor;
  }
  const pooled: tf.SymbolicTensor[] = c.kernelSizes.map((k) => {
    let h = x;
    for (let j = 0; j < c.convLayersPerBranch; j++) {
      h = tf.layers.conv1d({
        filters: c.filters, kernelSize: k, activation: 'relu', padding: j === 0 ? 'valid' : 'same',
        kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }), kernelRegularizer: reg(), name: `conv_k${k}_${j + 1}`,
      }).apply(h) as tf.SymbolicTensor;
    }
    return tf.layers.globalMaxPooling1d({ name: `max_pool_k${k}` }).apply(h) as tf.SymbolicTensor;
  });
  let h = pooled.length === 1 ? pooled[0] : (tf.layers.concatenate({ name: 'concat' }).apply(pooled) as tf.SymbolicTensor);
  if (c.dropout > 0) h = new SeededDropout({ rate: c.dropout, seed: nextSeed(), name: 'pool_dropout' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.dense({
    units: c.hiddenUnits, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    kernelRegularizer: reg(), name: TEXT_EMBEDDING_LAYER,
  }).apply(h) as tf.SymbolicTensor;
  let out = h;
  if (c.dropout > 0) out = new SeededDropout({ rate: c.dropout, seed: nextSeed(), name: 'hidden_dropout' }).apply(out) as tf.SymbolicTensor;
  out = tf.layers.dense({
    units: c.numClasses, activation: c.output === 'probs' ? 'softmax' : 'linear',
    kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }), kernelRegularizer: reg(), name: c.output,
  }).apply(out) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'text_cnn' });
}

/** A model sharing `model`'s layers that outputs the text embedding (the penultimate Dense). */
export function embeddingModel(model: tf.LayersModel): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(TEXT_EMBEDDING_LAYER).output as tf.SymbolicTensor, name: 'text_cnn_embedding' });
}

/** Trainable parameters (the frozen embedding is not counted) and all parameters. */
export function parameterCounts(model: tf.LayersModel): { trainable: number; total: number } {
  const count = (ws: tf.LayerVariable[]) => ws.reduce((acc, w) => acc + w.shape.reduce((a, b) => (a ?? 1) * (b ?? 1), 1)!, 0);
  return { trainable: count(model.trainableWeights), total: count(model.weights) };
}

/**
 * Run `model` over row-major int32 ids [n, L] in batches; returns the outputs as one Float32Array
 * ([n, width]). Works for the probabilities model and for `embeddingModel(model)`.
 */
export function predictBatched(model: tf.LayersModel, ids: Int32Array, sequenceLength: number, batchSize = 256): { values: Float32Array; width: number } {
  const n = ids.length / sequenceLength;
  if (!Number.isInteger(n)) throw new Error(`ids length ${ids.length} is not a multiple of sequenceLength ${sequenceLength}`);
  const width = (model.outputs[0].shape[model.outputs[0].shape.length - 1] ?? 0) as number;
  const values = new Float32Array(n * width);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    const chunk = tf.tidy(() => {
      const x = tf.tensor2d(ids.subarray(start * sequenceLength, end * sequenceLength), [end - start, sequenceLength], 'int32');
      return model.predict(x) as tf.Tensor;
    });
    values.set(chunk.dataSync() as Float32Array, start * width);
    chunk.dispose();
  }
  return { values, width };
}

/** Batches for the shared training loop from encoded sequences: x int32 [B, L], y int32 [B]. */
export interface SequenceBatch {
  x: tf.Tensor;
  y: tf.Tensor;
  labels: Int32Array;
  /** Row indices of the batch in the encoded array. */
  rows: number[];
}

/**
 * Batches of row-major ids [n, L] with their labels; `seed` shuffles (omit it for the fixed
 * order of evaluation). The caller (or the loop) disposes x and y.
 */
export function* sequenceBatches(
  ids: Int32Array,
  labels: ArrayLike<number>,
  sequenceLength: number,
  batchSize: number,
  seed?: number,
): Generator<SequenceBatch> {
  const n = labels.length;
  if (ids.length !== n * sequenceLength) throw new Error(`sequenceBatches: ${ids.length} ids for ${n} rows of ${sequenceLength}`);
  const order = Array.from({ length: n }, (_, i) => i);
  if (seed !== undefined) new Rng(seed).shuffleInPlace(order);
  for (let start = 0; start < n; start += batchSize) {
    const rows = order.slice(start, Math.min(n, start + batchSize));
    const x = new Int32Array(rows.length * sequenceLength);
    const y = new Int32Array(rows.length);
    rows.forEach((r, k) => {
      x.set(ids.subarray(r * sequenceLength, (r + 1) * sequenceLength), k * sequenceLength);
      y[k] = labels[r];
    });
    yield { x: tf.tensor2d(x, [rows.length, sequenceLength], 'int32'), y: tf.tensor1d(y, 'int32'), labels: y, rows };
  }
}

/** Layers that act per position (or on pooled vectors): they let a cut sequence keep its output. */
const CUT_SAFE_LAYERS = new Set(['InputLayer', 'Embedding', 'Dropout', 'SpatialDropout1D', SeededDropout.className, 'GlobalMaxPooling1D', 'Concatenate', 'Dense', 'Activation']);

/**
 * How many trailing padding columns a text CNN must still see at inference: 1 + Σ (kernel − 1) ×
 * dilation over its convolutions (a bound on any position's receptive field), or null when the
 * model holds a layer for which cutting changes the output (a 'same'-padded convolution, a
 * flatten, an average pool…). Such a CNN gives the same outputs for ids [n, L] cut to the longest
 * row's real tokens plus this many columns: every window lying wholly in the trailing padding
 * computes the same vector, one such window remains, and the global max pool sees nothing else new.
 */
export function paddingWindow(model: tf.LayersModel): number | null {
  let field = 1;
  for (const layer of model.layers) {
    const name = layer.getClassName();
    if (name === 'Conv1D') {
      const c = layer.getConfig() as { kernelSize: number | number[]; dilationRate: number | number[]; padding: string };
      if (c.padding !== 'valid') return null;
      const k = Array.isArray(c.kernelSize) ? c.kernelSize[0] : c.kernelSize;
      const d = Array.isArray(c.dilationRate) ? c.dilationRate[0] : c.dilationRate;
      field += (k - 1) * (d ?? 1);
    } else if (!CUT_SAFE_LAYERS.has(name)) {
      return null;
    }
  }
  return field;
}

/**
 * An inference copy of a text CNN that reads ids of any length (the saved model's embedding pins
 * its input length), returning the named layers' outputs; with the cut of `cutPadding` it gives the
 * outputs of the full width. Its layers are copies (same config and weights): applying the
 * original layers to a new input would give them a second inbound node and break `layer.output`
 * on the original model. Null when cutting would change the outputs (see paddingWindow).
 */
export function cutPaddingRunner(model: tf.LayersModel, outputLayers: string[]): { runner: tf.LayersModel; window: number } | null {
  const window = paddingWindow(model);
  if (window === null || model.inputs.length !== 1) return null;
  const made = new Map<string, tf.SymbolicTensor>();
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') {
      made.set(layer.name, tf.input({ shape: [null], dtype: 'int32', name: `${layer.name}_any_length` }));
      continue;
    }
    const inputs = layer.inboundNodes[0].inputTensors.map((t) => made.get(t.sourceLayer.name) as tf.SymbolicTensor);
    const cls = layer.constructor as unknown as { fromConfig(cls: unknown, config: object): tf.layers.Layer };
    const copy = cls.fromConfig(cls, { ...layer.getConfig(), name: `${layer.name}_any_length`, inputLength: undefined, batchInputShape: undefined });
    made.set(layer.name, copy.apply(inputs.length === 1 ? inputs[0] : inputs) as tf.SymbolicTensor);
    copy.setWeights(layer.getWeights());
  }
  const outputs = outputLayers.map((n) => made.get(n) as tf.SymbolicTensor);
  return { runner: tf.model({ inputs: made.get(model.inputLayers[0].name) as tf.SymbolicTensor, outputs, name: `${model.name}_any_length` }), window };
}

/**
 * Rows [start, end) of row-major ids [n, L], cut to the columns a text CNN reads at inference: the
 * longest row's real tokens (up to its last non-PAD id) plus `window` (paddingWindow), at most L;
 * all L when `window` is null. A title-only query of 10 tokens then runs on 17 columns instead of
 * 96. Inference only: in training every padding window tied at the max gets gradient, so a cut
 * batch trains differently.
 */
export function cutPadding(ids: Int32Array, L: number, start: number, end: number, window: number | null): { ids: Int32Array; width: number } {
  if (window === null) return { ids: ids.slice(start * L, end * L), width: L };
  let longest = 0;
  for (let r = start; r < end; r++) {
    let last = L;
    while (last > longest && ids[r * L + last - 1] === PAD_ID) last--;
    longest = Math.max(longest, last);
  }
  const width = Math.min(L, longest + window);
  const out = new Int32Array((end - start) * width);
  for (let r = start; r < end; r++) out.set(ids.subarray(r * L, r * L + width), (r - start) * width);
  return { ids: out, width };
}
