/**
 * Turning a new listing into the vectors the indexes hold, exactly as the gallery was made:
 *
 * - photo: bytes → sharp decode with the training cache's recipe (toRgbSquare: auto-orient,
 *   flatten, fit 'contain' at the top left on black, lanczos3, 224 px RGB) → Keras "caffe"
 *   preprocessing, plain and mirrored → ResNet-50 avg_pool on onnxruntime (worker threads, so
 *   the request loop stays free) → the MLP head: 256-d embedding (mean of the two views) and class
 *   probabilities (mean of the two softmaxes: notebook 03's flip TTA);
 * - text: title + description → the tokeniser and training vocabulary of notebook 04 →
 *   `title <sep> description` ids cut/padded to the sequence length → the text CNN: 128-d
 *   embedding (its penultimate Dense layer) and class probabilities.
 *
 * Bad input is reported with an `InputError` (status 4xx and a reason), never a crash.
 */
import * as path from 'path';
import sharp, { Metadata } from 'sharp';
import { tf } from '../tf/runtime';
import { toRgbSquare } from '../data/images';
import { caffePreprocess } from '../backbone/resnet_tfjs';
import { OnnxBackbone } from '../backbone/onnx_backbone';
import { loadModel } from '../train/model_io';
import '../models/head'; // registers FeatureDense, the head's layer class, for loading
import { encodeFields, tokenizeFields, Vocabulary, VocabularyState } from '../text/tokenizer';
import { readJson, ServingManifest } from './bundle';
import { checkPhotoHeader, decodeGuard } from './photo_limits';

/** A client error: HTTP status + a reason for the response body. */
export class InputError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface Encoded {
  embedding: Float32Array;
  probabilities: Float32Array;
}

export interface EncodedPhoto extends Encoded {
  /** The backbone's pooled features of each view (plain, then mirrored): the fusion model's image input. */
  views: Float32Array[];
}

/** Image formats sharp decodes that a listing photo may come in. */
const IMAGE_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);
/** Decompression-bomb guard: refuse photos above this many pixels before decoding them. */
export const MAX_IMAGE_PIXELS = 40_000_000;

function softmaxRows(logits: Float32Array, rows: number): Float32Array {
  const c = logits.length / rows;
  const out = new Float32Array(logits.length);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let k = 0; k < c; k++) max = Math.max(max, logits[r * c + k]);
    let sum = 0;
    for (let k = 0; k < c; k++) sum += (out[r * c + k] = Math.exp(logits[r * c + k] - max));
    for (let k = 0; k < c; k++) out[r * c + k] /= sum;
  }
  return out;
}

/** Mean over `rows` rows of width `width`. */
function meanRows(values: Float32Array, rows: number): Float32Array {
  const width = values.length / rows;
  const out = new Float32Array(width);
  for (let r = 0; r < rows; r++) for (let j = 0; j < width; j++) out[j] += values[r * width + j] / rows;
  return out;
}

/**
 * Checks that `bytes` are a decodable photo and returns its size×size RGB pixels (the training
 * cache's recipe). 415 when it is not an image at all, 413 when its header declares too many
 * pixels, too long a side or too elongated a shape (photo_limits.ts: checked before decoding),
 * 400 when it is damaged.
 */
export async function decodePhoto(bytes: Buffer, size: number): Promise<Buffer> {
  const meta = await checkPhotoHeader(bytes);
  try {
    return await toRgbSquare(bytes, size, decodeGuard());
  } catch (err) {
    throw new InputError(400, `corrupt image: the ${meta.format} data cannot be decoded (${(err as Error).message.split(': ').pop()})`);
  }
}

export class ImageEncoder {
  private constructor(
    private readonly backbone: OnnxBackbone,
    private readonly head: tf.LayersModel,
    private readonly m: ServingManifest['image'],
  ) {}

  static async create(manifest: ServingManifest, dir: string, options: { workers?: number } = {}): Promise<ImageEncoder> {
    const m = manifest.image;
    const backbone = await OnnxBackbone.fromModelFile({
      file: path.resolve(dir, m.onnx), inputName: m.inputName, outputNames: [m.output], inputShape: ['N', m.size, m.size, 3],
    }, { workers: options.workers });
    const loaded = await loadModel(path.resolve(dir, m.head));
    const head = tf.model({ inputs: loaded.inputs, outputs: [loaded.getLayer(m.embeddingLayer).output as tf.SymbolicTensor, loaded.outputs[0]] });
    return new ImageEncoder(backbone, head, m);
  }

  describe(): string {
    return `${this.m.model}; ${this.backbone.describe()}`;
  }

  /** Embedding + probabilities of one photo (its pixels from decodePhoto). */
  async encode(rgb: Uint8Array): Promise<EncodedPhoto> {
    const s = this.m.size;
    const views = this.m.flipTta ? 2 : 1;
    const x = new Float32Array(views * s * s * 3);
    caffePreprocess(rgb, 1, s, x.subarray(0, s * s * 3), false);
    if (views === 2) caffePreprocess(rgb, 1, s, x.subarray(s * s * 3), true);
    // One view per backbone call: with two workers the plain and mirrored passes run side by side.
    const per = s * s * 3;
    const outs = await Promise.all(Array.from({ length: views }, (_, v) => this.backbone.run(x.slice(v * per, (v + 1) * per), 1)));
    const features = new Float32Array(views * this.m.featureDim);
    outs.forEach((o, v) => features.set(o[this.m.output].data, v * this.m.featureDim));
    const [emb, logits] = tf.tidy(() => {
      const [e, l] = this.head.predict(tf.tensor2d(features, [views, this.m.featureDim])) as tf.Tensor[];
      return [e.dataSync() as Float32Array, l.dataSync() as Float32Array];
    });
    const d = this.m.featureDim;
    return {
      embedding: meanRows(emb, views), probabilities: meanRows(softmaxRows(logits, views), views),
      views: Array.from({ length: views }, (_, v) => features.slice(v * d, (v + 1) * d)),
    };
  }

  async release(): Promise<void> {
    await this.backbone.release();
    this.head.dispose();
  }
}

export class TextEncoder {
  private constructor(
    private readonly model: tf.LayersModel,
    readonly vocabulary: Vocabulary,
    private readonly m: ServingManifest['text'],
  ) {}

  static async create(manifest: ServingManifest, dir: string): Promise<TextEncoder> {
    const m = manifest.text;
    const vocabulary = Vocabulary.fromJSON(readJson<VocabularyState>(dir, m.vocabulary));
    const loaded = await loadModel(path.resolve(dir, m.model));
    const model = tf.model({ inputs: loaded.inputs, outputs: [loaded.getLayer(m.embeddingLayer).output as tf.SymbolicTensor, loaded.outputs[0]] });
    return new TextEncoder(model, vocabulary, m);
  }

  describe(): string {
    return `${this.m.description}; vocabulary ${this.vocabulary.size}, sequence length ${this.m.sequenceLength}`;
  }

  /** Ids the CNN reads for a listing's text. */
  encodeIds(title: string, description: string): Int32Array {
    return encodeFields(this.vocabulary, tokenizeFields({ title, description }), this.m.sequenceLength);
  }

  encode(title: string, description: string): Encoded {
    const ids = this.encodeIds(title, description);
    const [emb, logits] = tf.tidy(() => {
      const [e, l] = this.model.predict(tf.tensor2d(ids, [1, this.m.sequenceLength], 'int32')) as tf.Tensor[];
      return [e.dataSync() as Float32Array, l.dataSync() as Float32Array];
    });
    return { embedding: Float32Array.from(emb), probabilities: softmaxRows(logits, 1) };
  }

  dispose(): void {
    this.model.dispose();
  }
}
