/**
 * The serving bundle: everything the search service loads at start, assembled by notebook 07
 * from the artifacts the stages saved (src/artifacts/registry.ts), never re-derived:
 *
 * <dir>/manifest.json          what is where (below), the classes, how a fused query vector is made
 * <dir>/listings.json          id, title, price, category and photo ids of every indexed listing
 * <dir>/predictors/image/      03's selected image model   (copy of the image_predictor artifact)
 * <dir>/predictors/text/       04's selected text model    (copy of the text_predictor artifact)
 * <dir>/predictors/fusion/     05's selected fusion        (copy of the fusion_predictor artifact)
 * <dir>/index_<name>.usearch + index_<name>.json   one ANN index per embedding, with row → ids
 *
 * The ResNet-50 backbone (.onnx, ~100 MB) is not copied: the manifest names the cached export
 * (outputs/models/onnx/…), relative to the bundle folder.
 *
 * Three indexes: `image` (one row per photo; a listing's best photo stands for it), `text` (one
 * row per listing) and `fused` (one row per listing: what notebook 07 chose on validation —
 * 05's fused embedding, or the normalised image and text embeddings concatenated with weights).
 */
import * as fs from 'fs';
import * as path from 'path';
import { PROFILE } from '../config';
import { artifactHeader, artifactPath, checkArtifactHeader } from '../artifacts/registry';
import { writeFilesAtomic } from '../train/model_io';
import type { UsearchOptions } from '../search/usearch_index';
import type { PredictorKind } from '../predictors/predictor';

export const MANIFEST_FILE = 'manifest.json';

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

/** How a photo + text query becomes the `fused` index's vector. */
export type FusedQuery =
  | { kind: 'concat'; imageWeight: number; textWeight: number }
  | { kind: 'fusion_embedding' };

export interface ServingManifest {
  artifact: 'serving_bundle';
  version: number;
  profile: string;
  created: string;
  /** Class names, index order of the probabilities. */
  classes: string[];
  listings: string;
  backbone: {
    /** The backbone .onnx, relative to the bundle folder. */
    onnx: string;
    inputName: string;
    /** Graph output holding the pooled features. */
    output: string;
    featureDim: number;
    /** Side of the square input (the photos are resized like the training cache: src/data/images.ts imageRecipe). */
    size: number;
    preprocessing: 'caffe';
  };
  /** Predictor folders, relative to the bundle folder. */
  predictors: Record<PredictorKind, string>;
  fusedQuery: FusedQuery;
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
  return artifactPath('serving_bundle', profile);
}

export class MissingArtefactError extends Error {}

/** Reads and checks the manifest and that every file it names exists. */
export function readManifest(dir: string): ServingManifest {
  const file = path.join(dir, MANIFEST_FILE);
  const profile = path.basename(path.dirname(dir));
  if (!fs.existsSync(file)) {
    throw new MissingArtefactError(`missing ${file}: the search service loads the models and indexes written by notebook 07 — run npm run pipeline first ` +
      `(${profile === 'full' ? '' : `PROFILE=${profile} `}npm run pipeline -- 07 for this profile)`);
  }
  const m = JSON.parse(fs.readFileSync(file, 'utf8')) as ServingManifest;
  checkArtifactHeader('serving_bundle', m, file, profile);
  const needed = [
    m.listings, m.backbone.onnx, ...Object.values(m.predictors).map((p) => path.join(p, 'predictor.json')),
    ...Object.values(m.indexes).flatMap((e) => [e.file, e.rows]),
  ];
  for (const rel of needed) {
    const p = path.resolve(dir, rel);
    if (!fs.existsSync(p)) throw new MissingArtefactError(`missing ${p} (named by ${file}): run npm run pipeline first`);
  }
  return m;
}

export function writeManifest(dir: string, manifest: Omit<ServingManifest, 'artifact' | 'version'>): ServingManifest {
  const full = { ...artifactHeader('serving_bundle'), ...manifest } as ServingManifest;
  writeFilesAtomic(dir, { [MANIFEST_FILE]: JSON.stringify(full, null, 1) + '\n' });
  return full;
}

export function writeJson(dir: string, name: string, value: unknown): void {
  writeFilesAtomic(dir, { [name]: JSON.stringify(value) });
}

export function readJson<T>(dir: string, rel: string): T {
  return JSON.parse(fs.readFileSync(path.resolve(dir, rel), 'utf8')) as T;
}

/** Copies a saved predictor folder (its whole tree) into the bundle; returns its path in the bundle. */
export function copyPredictor(from: string, dir: string, kind: PredictorKind): string {
  if (!fs.existsSync(path.join(from, 'predictor.json'))) throw new MissingArtefactError(`no saved ${kind} predictor in ${from}: run the notebook that writes it first`);
  const rel = path.join('predictors', kind);
  const to = path.join(dir, rel);
  const tmp = `${to}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.cpSync(from, tmp, { recursive: true });
  fs.rmSync(to, { recursive: true, force: true });
  fs.renameSync(tmp, to);
  return rel;
}
