/**
 * A predictor is what a stage chose and evaluated, as one loadable object: it takes listings
 * (0..N photos, a title, a description) and returns class probabilities and an embedding.
 * Notebooks 03, 04 and 05 build one from their selected model, score it, and save it; the
 * service and the parity check load the very same files (src/artifacts/registry.ts names them).
 *
 * Photos arrive as backbone features (ResNet-50 avg_pool, one vector per view: plain, then
 * mirrored), because the backbone is shared: the notebooks read them from the feature cache,
 * the service computes them from uploaded bytes (src/serve/photo_features.ts).
 *
 * On disk: <dir>/predictor.json ({artifact, version, kind, label, classes, …kind's fields})
 * plus the kind's model folders and binary files.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../tf/runtime';
import { ArtifactName, checkArtifactHeader } from '../artifacts/registry';
import { writeFilesAtomic } from '../train/model_io';

export interface ListingInput {
  /** Per photo, its backbone feature vector for each view (plain, mirrored). Empty: no photos. */
  photos: ReadonlyArray<ReadonlyArray<Float32Array>>;
  title: string;
  description: string;
}

export interface ListingPrediction {
  probabilities: Float32Array;
  embedding: Float32Array;
}

export type PredictorKind = 'image' | 'text' | 'fusion';

export interface Predictor {
  readonly kind: PredictorKind;
  /** What it is, in the words of REPORT.md. */
  readonly label: string;
  readonly classes: readonly string[];
  /** One result per listing; null where the listing lacks what the predictor reads (photos, for an image predictor). */
  predict(listings: readonly ListingInput[]): Array<ListingPrediction | null>;
  /** Writes the predictor into `dir` (predictor.json + its files). */
  save(dir: string): Promise<void>;
  dispose(): void;
}

export const PREDICTOR_FILE = 'predictor.json';

/** The JSON header of a saved predictor. */
export interface PredictorHeader {
  artifact: ArtifactName;
  version: number;
  kind: PredictorKind;
  label: string;
  classes: string[];
}

export function artifactOfKind(kind: PredictorKind): ArtifactName {
  return kind === 'image' ? 'image_predictor' : kind === 'text' ? 'text_predictor' : 'fusion_predictor';
}

/** Reads `<dir>/predictor.json`, checks its artifact header and kind. */
export function readPredictorJson<T extends PredictorHeader>(dir: string, kind: PredictorKind): T {
  const file = path.join(dir, PREDICTOR_FILE);
  const artifact = artifactOfKind(kind);
  if (!fs.existsSync(file)) throw new Error(`missing ${file}: no saved ${kind} predictor there (${artifact})`);
  const value = JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  checkArtifactHeader(artifact, value, file);
  if (value.kind !== kind) throw new Error(`${file} holds a ${value.kind} predictor, expected ${kind}`);
  return value;
}

export function writePredictorJson(dir: string, header: PredictorHeader & Record<string, unknown>, extraFiles: Record<string, string | Buffer> = {}): void {
  writeFilesAtomic(dir, { ...extraFiles, [PREDICTOR_FILE]: JSON.stringify(header, null, 1) + '\n' });
}

/** Float32Array ⇄ little-endian bytes (the platform order on every machine the project runs on). */
export function f32Bytes(values: Float32Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

export function readF32(file: string): Float32Array {
  const bytes = fs.readFileSync(file);
  if (bytes.length % 4 !== 0) throw new Error(`${file}: ${bytes.length} bytes is not a whole number of float32 values`);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
}

/** Runs a two-output (embedding, logits) model over rows; returns embeddings and softmax probabilities, row-major. */
export function embedAndClassify(model: tf.LayersModel, x: Float32Array | Int32Array, inputWidth: number, batchSize = 512): { embeddings: Float32Array; embeddingWidth: number; probs: Float32Array; classes: number } {
  const n = x.length / inputWidth;
  const embeddingWidth = model.outputs[0].shape[1] as number;
  const classes = model.outputs[1].shape[1] as number;
  const embeddings = new Float32Array(n * embeddingWidth);
  const probs = new Float32Array(n * classes);
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const [e, p] = tf.tidy(() => {
      const slice = x.subarray(start * inputWidth, (start + m) * inputWidth);
      const input = x instanceof Int32Array ? tf.tensor2d(slice, [m, inputWidth], 'int32') : tf.tensor2d(slice, [m, inputWidth]);
      const [emb, logits] = model.apply(input, { training: false }) as tf.Tensor[];
      return [emb, tf.softmax(logits)];
    });
    embeddings.set(e.dataSync() as Float32Array, start * embeddingWidth);
    probs.set(p.dataSync() as Float32Array, start * classes);
    e.dispose();
    p.dispose();
  }
  return { embeddings, embeddingWidth, probs, classes };
}

/** A model's `layer` output beside its (logits) output: what embedAndClassify runs. */
export function withEmbedding(model: tf.LayersModel, layer: string): tf.LayersModel {
  return tf.model({ inputs: model.inputs, outputs: [model.getLayer(layer).output as tf.SymbolicTensor, model.outputs[0]] });
}

/** Row i of a row-major matrix of width w. */
export function row(values: Float32Array, i: number, w: number): Float32Array {
  return values.slice(i * w, (i + 1) * w);
}
