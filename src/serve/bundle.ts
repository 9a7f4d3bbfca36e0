/**
 * The serving bundle: everything the search service loads at start, written by notebook 07 (and by
 * the service's tests, in a temporary folder, with tiny models), so the service never trains.
 *
 * <dir>/manifest.json     what is where (below), how a query is encoded, the classes
 * <dir>/listings.json     id, title, price, category and photo ids of every indexed listing
 * <dir>/image_head/       the trained MLP head on ResNet-50 features (tfjs layers model)
 * <dir>/text_cnn/         the trained text CNN (tfjs layers model)
 * <dir>/vocabulary.json   its tokeniser vocabulary (fitted on the training split)
 * <dir>/index_<name>.usearch + index_<name>.json   one ANN index per embedding, with row → ids
 *
 * The ResNet-50 backbone (.onnx, ~100 MB) is not copied: the manifest names the cached export
 * (outputs/models/onnx/…), relative to the bundle folder.
 *
 * Three indexes: `image` (one row per photo; a listing's best photo stands for it), `text` (one
 * row per listing) and `fused` (one row per listing: the image embedding — mean of its photos —
 * and the text embedding, each normalised, concatenated with weights chosen on validation).
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS, PROFILE } from '../config';
import { writeFilesAtomic } from '../train/model_io';
import type { UsearchOptions } from '../search/usearch_index';

export const MANIFEST_FILE = 'manifest.json';
export const SERVING_FORMAT = 'marketplace-serving';

export type IndexName = 'image' | 'text' | 'fused';

export interface ServingListing {
  id: string;
  title: string;
  price: number | null;
  category: string;
  /** Photo ids (files data/raw/images/<id>.jpg). */
  photos: string[];
}

export interface IndexEntry {
  /** usearch file, relative to the bundle folder. */
  file: string;
  /** Row → ids file (json: {ids, listingIds}), relative to the bundle folder. */
  rows: string;
  dim: number;
  count: number;
  /** What a row is. */
  unit: 'photo' | 'listing';
  options: UsearchOptions;
  /** Free text: which embedding (for /healthcheck and the notebook). */
  embedding: string;
}

export interface ServingManifest {
  format: typeof SERVING_FORMAT;
  version: 1;
  profile: string;
  created: string;
  /** Class names, index order of the probabilities. */
  classes: string[];
  listings: string;
  image: {
    /** The backbone .onnx, relative to the bundle folder. */
    onnx: string;
    inputName: string;
    /** Graph output holding the pooled features. */
    output: string;
    featureDim: number;
    /** Side of the square input (the photos are resized like the training cache: src/data/images.ts imageRecipe). */
    size: number;
    preprocessing: 'caffe';
    /** Average the plain and mirrored photo (as the gallery embeddings were made). */
    flipTta: boolean;
    /** Head model folder, relative to the bundle folder. */
    head: string;
    embeddingLayer: string;
    embeddingDim: number;
    /** Free text: which model. */
    model: string;
  };
  text: {
    model: string;
    vocabulary: string;
    sequenceLength: number;
    embeddingLayer: string;
    embeddingDim: number;
    /** Free text: which model. */
    description: string;
  };
  /**
   * How a photo + text query becomes the `fused` index's vector: 'concat' (normalised image ⊕ text
   * embedding, weighted) or 'model' (notebook 05's early-fusion network: its fused_embedding layer,
   * fed the mean of the photo's plain and mirrored ResNet-50 features and the text embedding).
   */
  fusion: {
    kind: 'concat';
    /** Weights of the normalised image and text parts (sum 1). */
    imageWeight: number;
    textWeight: number;
    dim: number;
  } | {
    kind: 'model';
    /** Model folder, relative to the bundle folder. */
    model: string;
    /** Notebook 05's fusion manifest (src/models/fusion.ts FusionManifest), relative to the bundle folder. */
    manifest: string;
    dim: number;
  };
  /** How /predict/category combines an image and a text: the fusion model's probabilities, or the mean of the two models'. */
  categoryFusion: 'mean_probabilities' | 'fusion_model';
  indexes: Record<IndexName, IndexEntry>;
}

export interface IndexRows {
  /** Row ids (photo ids for the image index, listing ids otherwise). */
  ids: string[];
  /** Listing of each row. */
  listingIds: string[];
}

/** Where notebook 07 writes the bundle of a profile and the service looks for it by default. */
export function defaultBundleDir(profile: string = PROFILE.name): string {
  return path.join(PATHS.outputs, 'models', profile, 'serving');
}

export class MissingArtefactError extends Error {}

/** Reads and checks the manifest and that every file it names exists. */
export function readManifest(dir: string): ServingManifest {
  const file = path.join(dir, MANIFEST_FILE);
  if (!fs.existsSync(file)) {
    throw new MissingArtefactError(`missing ${file}: the search service loads the models and indexes written by notebook 07 — run npm run pipeline first ` +
      `(PROFILE=${path.basename(path.dirname(dir))} npm run pipeline -- 07 for this profile)`);
  }
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as ServingManifest;
  if (m.format !== SERVING_FORMAT || m.version !== 1) throw new Error(`${file} is not a serving manifest of version 1`);
  const needed = [
    m.listings, m.image.onnx, path.join(m.image.head, 'model.json'), path.join(m.text.model, 'model.json'), m.text.vocabulary,
    ...Object.values(m.indexes).flatMap((e) => [e.file, e.rows]),
    ...(m.fusion.kind === 'model' ? [path.join(m.fusion.model, 'model.json'), m.fusion.manifest] : []),
  ];
  for (const rel of needed) {
    const p = path.resolve(dir, rel);
    if (!fs.existsSync(p)) throw new MissingArtefactError(`missing ${p} (named by ${file}): run npm run pipeline first`);
  }
  return m;
}

export function writeManifest(dir: string, manifest: ServingManifest): void {
  writeFilesAtomic(dir, { [MANIFEST_FILE]: JSON.stringify(manifest, null, 1) + '\n' });
}

export function writeJson(dir: string, name: string, value: unknown): void {
  writeFilesAtomic(dir, { [name]: JSON.stringify(value) });
}

export function readJson<T>(dir: string, rel: string): T {
  return JSON.parse(fs.readFileSync(path.resolve(dir, rel), 'utf8')) as T;
}

/** Copies a model folder (model.json + weights.bin) into the bundle under `name`. */
export function copyModelFolder(from: string, dir: string, name: string): string {
  const files: Record<string, Buffer> = {};
  for (const f of ['model.json', 'weights.bin']) {
    const p = path.join(from, f);
    if (!fs.existsSync(p)) throw new Error(`no ${f} in ${from}`);
    files[f] = fs.readFileSync(p);
  }
  writeFilesAtomic(path.join(dir, name), files);
  return name;
}
