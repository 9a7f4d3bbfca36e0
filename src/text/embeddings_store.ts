/**
 * Per-product text features written by notebook 04 for fusion (05) and similar-listing
 * search (07): the text CNN's penultimate-layer embedding of every product of every split, and
 * class probabilities of the text models (TF-IDF, CNN, ensemble; `bestModel` names the one
 * chosen on validation).
 *
 * Files (per profile, in PATHS.features = outputs/features/):
 *   text_<profile>.json  metadata: product ids in row order, split and label per row, class names,
 *                        embedding width, model names, how it was made;
 *   text_<profile>.f32   float32 little-endian: embeddings [n, dim], then each model's
 *                        probabilities [n, classes] in `probabilityModels` order.
 *
 * Reading, in a later notebook:
 *   const text = readTextFeatures();                 // this profile's file
 *   text.embeddingOf(productId)                      // Float32Array(dim), or undefined
 *   text.probabilitiesOf(productId)                  // best model's Float32Array(classes)
 *   text.probabilitiesOf(productId, 'tfidf')         // another model's
 *   text.rowsOf('train')                             // row indices of a split
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS, PROFILE } from '../config';
import type { SplitName } from '../data/types';
import { artifactHeader, checkArtifactHeader, rerunHint } from '../artifacts/registry';

export interface TextFeatures {
  /** Product ids, one per row. */
  productIds: string[];
  /** Split of each row. */
  splits: SplitName[];
  /** Class index of each row (index into `classes`). */
  labels: number[];
  classes: string[];
  /** Embedding width. */
  dim: number;
  /** Row-major [n, dim]. */
  embeddings: Float32Array;
  /** Row-major [n, classes] per model name (e.g. 'tfidf', 'cnn', 'ensemble'). */
  probabilities: Record<string, Float32Array>;
  /** The model chosen on validation (a key of `probabilities`). */
  bestModel: string;
  /** Free-form description: which CNN, sequence length, vocabulary size, profile, date… */
  info: Record<string, unknown>;
}

export interface TextFeaturesReader extends TextFeatures {
  /** Row index of a product, or undefined. */
  rowOf(productId: string): number | undefined;
  embeddingOf(productId: string): Float32Array | undefined;
  /** Probabilities of `model` (default: bestModel) for a product. */
  probabilitiesOf(productId: string, model?: string): Float32Array | undefined;
  rowsOf(split: SplitName): number[];
}

interface MetaFile {
  format: 'marketplace-text-features';
  version: 1;
  productIds: string[];
  splits: SplitName[];
  labels: number[];
  classes: string[];
  dim: number;
  probabilityModels: string[];
  bestModel: string;
  info: Record<string, unknown>;
}

export function textFeaturesPaths(profile: string = PROFILE.name, dir: string = PATHS.features, base = 'text'): { meta: string; data: string } {
  return { meta: path.join(dir, `${base}_${profile}.json`), data: path.join(dir, `${base}_${profile}.f32`) };
}

/** Where to write or read: a profile and folder, and the files' base name (default 'text': the `text_features` artifact). */
export interface TextFeaturesLocation {
  profile?: string;
  dir?: string;
  base?: string;
}

export function writeTextFeatures(features: TextFeatures, options: TextFeaturesLocation = {}): { meta: string; data: string } {
  const n = features.productIds.length;
  const k = features.classes.length;
  if (features.splits.length !== n || features.labels.length !== n) throw new Error('writeTextFeatures: splits/labels differ in length from productIds');
  if (features.embeddings.length !== n * features.dim) throw new Error(`writeTextFeatures: embeddings have ${features.embeddings.length} values, expected ${n} × ${features.dim}`);
  const models = Object.keys(features.probabilities);
  if (!models.includes(features.bestModel)) throw new Error(`writeTextFeatures: bestModel '${features.bestModel}' is not among ${models.join(', ')}`);
  for (const m of models) {
    if (features.probabilities[m].length !== n * k) throw new Error(`writeTextFeatures: '${m}' probabilities have ${features.probabilities[m].length} values, expected ${n} × ${k}`);
  }
  const paths = textFeaturesPaths(options.profile, options.dir, options.base);
  fs.mkdirSync(path.dirname(paths.meta), { recursive: true });
  const meta: MetaFile = {
    format: 'marketplace-text-features', version: 1, productIds: features.productIds, splits: features.splits, labels: features.labels,
    classes: features.classes, dim: features.dim, probabilityModels: models, bestModel: features.bestModel, info: features.info,
  };
  const blocks = [features.embeddings, ...models.map((m) => features.probabilities[m])];
  const data = Buffer.concat(blocks.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  writeAtomic(paths.data, data);
  writeAtomic(paths.meta, Buffer.from(JSON.stringify(meta)));
  return paths;
}

/** The text features of a profile (default: the current one); throws with a hint when notebook 04 has not run. */
export function readTextFeatures(options: TextFeaturesLocation = {}): TextFeaturesReader {
  const paths = textFeaturesPaths(options.profile, options.dir, options.base);
  if (!fs.existsSync(paths.meta) || !fs.existsSync(paths.data)) {
    throw new Error(`no text features at ${paths.meta}: run notebook 04 first (npm run pipeline -- 04, with the same PROFILE)`);
  }
  const meta = JSON.parse(fs.readFileSync(paths.meta, 'utf8')) as MetaFile;
  if (meta.format !== 'marketplace-text-features' || meta.version !== 1) throw new Error(`${paths.meta}: not a text features file of version 1`);
  const bytes = fs.readFileSync(paths.data);
  const n = meta.productIds.length;
  const k = meta.classes.length;
  const expected = 4 * (n * meta.dim + meta.probabilityModels.length * n * k);
  if (bytes.length !== expected) throw new Error(`${paths.data} has ${bytes.length} bytes, expected ${expected}: re-run notebook 04`);
  const all = new Float32Array(bytes.length / 4);
  new Uint8Array(all.buffer).set(bytes);
  const embeddings = all.subarray(0, n * meta.dim);
  const probabilities: Record<string, Float32Array> = {};
  meta.probabilityModels.forEach((m, j) => {
    const start = n * meta.dim + j * n * k;
    probabilities[m] = all.subarray(start, start + n * k);
  });
  const index = new Map(meta.productIds.map((id, i) => [id, i]));
  return {
    productIds: meta.productIds, splits: meta.splits, labels: meta.labels, classes: meta.classes, dim: meta.dim,
    embeddings, probabilities, bestModel: meta.bestModel, info: meta.info,
    rowOf: (id) => index.get(id),
    embeddingOf(id) {
      const i = index.get(id);
      return i === undefined ? undefined : embeddings.subarray(i * meta.dim, (i + 1) * meta.dim);
    },
    probabilitiesOf(id, model = meta.bestModel) {
      const p = probabilities[model];
      if (!p) throw new Error(`no probabilities of model '${model}' (have ${meta.probabilityModels.join(', ')})`);
      const i = index.get(id);
      return i === undefined ? undefined : p.subarray(i * k, (i + 1) * k);
    },
    rowsOf: (split) => meta.splits.flatMap((s, i) => (s === split ? [i] : [])),
  };
}

function writeAtomic(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

/** The files' base name of the `text_oof` artifact (the registry's path: outputs/features/text_oof_<profile>). */
const TEXT_OOF_BASE = 'text_oof';

/**
 * The `text_oof` artifact (notebook 04 → 05): the same layout as the text features, for the
 * TRAINING products only — embeddings and probabilities come from out-of-fold networks
 * (src/eval/oof.ts), `info.fold` gives each row's fold, and `info` carries the artifact header.
 */
export function writeTextOof(features: TextFeatures & { folds: number[] }, options: { profile?: string; dir?: string } = {}): { meta: string; data: string } {
  if (features.splits.some((s) => s !== 'train')) throw new Error('writeTextOof: out-of-fold text features are of training products only');
  if (features.folds.length !== features.productIds.length) throw new Error(`writeTextOof: ${features.folds.length} folds for ${features.productIds.length} products`);
  const { folds, ...rest } = features;
  return writeTextFeatures({ ...rest, info: { ...rest.info, ...artifactHeader('text_oof'), fold: folds } }, { ...options, base: TEXT_OOF_BASE });
}

/** The out-of-fold text features of a profile; throws naming notebook 04 when missing or of another format version. */
export function readTextOof(options: { profile?: string; dir?: string } = {}): TextFeaturesReader & { folds: number[] } {
  const paths = textFeaturesPaths(options.profile, options.dir, TEXT_OOF_BASE);
  const profile = options.profile ?? PROFILE.name;
  if (!fs.existsSync(paths.meta)) throw new Error(`missing ${path.relative(PATHS.root, paths.meta)} (text_oof): ${rerunHint('04', profile)}`);
  const read = readTextFeatures({ ...options, base: TEXT_OOF_BASE });
  checkArtifactHeader('text_oof', read.info, paths.meta, profile);
  return { ...read, folds: read.info.fold as number[] };
}
