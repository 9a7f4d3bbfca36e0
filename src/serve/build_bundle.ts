/**
 * Writing a serving bundle (format in bundle.ts) from the saved predictors and embedding sets:
 * notebook 07 does it with the stages' artifacts, the service's tests with tiny ones, through
 * this one function, so both produce the same format.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EmbeddingSet } from '../search/embedding_set';
import { UsearchIndex, UsearchOptions } from '../search/usearch_index';
import type { PredictorKind } from '../predictors/predictor';
import { copyPredictor, FusedQuery, IndexEntry, IndexName, IndexRows, ServingListing, ServingManifest, writeJson, writeManifest } from './bundle';

export interface IndexInput {
  /** Rows to index (ids: photo ids for the image index, listing ids otherwise). */
  set: EmbeddingSet;
  /** Listing of each row. */
  listingIds: string[];
  unit: 'photo' | 'listing';
  embedding: string;
  options?: UsearchOptions;
}

export interface BundleInputs {
  dir: string;
  profile: string;
  classes: string[];
  listings: ServingListing[];
  /** The backbone export (ensureOnnxModel) the predictors' features come from. */
  backbone: Omit<ServingManifest['backbone'], 'onnx'> & { onnxFile: string };
  /** Saved predictor folders (the image_predictor, text_predictor and fusion_predictor artifacts). */
  predictors: Record<PredictorKind, string>;
  fusedQuery: FusedQuery;
  indexes: Record<IndexName, IndexInput>;
}

export function writeServingBundle(inputs: BundleInputs): { manifest: ServingManifest; buildSeconds: Record<IndexName, number> } {
  const dir = path.resolve(inputs.dir);
  fs.mkdirSync(dir, { recursive: true });
  const listingIds = new Set(inputs.listings.map((l) => l.id));
  writeJson(dir, 'listings.json', inputs.listings);
  const predictors = Object.fromEntries((Object.keys(inputs.predictors) as PredictorKind[])
    .map((kind) => [kind, copyPredictor(inputs.predictors[kind], dir, kind)])) as Record<PredictorKind, string>;
  const indexes = {} as Record<IndexName, IndexEntry>;
  const buildSeconds = {} as Record<IndexName, number>;
  for (const name of Object.keys(inputs.indexes) as IndexName[]) {
    const input = inputs.indexes[name];
    if (input.listingIds.length !== input.set.ids.length) throw new Error(`index ${name}: ${input.listingIds.length} listing ids for ${input.set.ids.length} rows`);
    for (const id of input.listingIds) if (!listingIds.has(id)) throw new Error(`index ${name}: listing ${id} is not among the listings`);
    const t0 = performance.now();
    const index = UsearchIndex.fromSet(input.set, input.options);
    buildSeconds[name] = (performance.now() - t0) / 1000;
    const file = `index_${name}.usearch`;
    const rowsFile = `index_${name}.json`;
    index.save(path.join(dir, file));
    const rows: IndexRows = { ids: input.set.ids, listingIds: input.listingIds };
    writeJson(dir, rowsFile, rows);
    indexes[name] = { file, rows: rowsFile, dim: input.set.dim, count: input.set.ids.length, unit: input.unit, options: input.options ?? {}, embedding: input.embedding };
  }
  const q = inputs.fusedQuery;
  const fusedQuery: FusedQuery = q.kind === 'concat'
    ? { kind: 'concat', imageWeight: q.imageWeight / (q.imageWeight + q.textWeight), textWeight: q.textWeight / (q.imageWeight + q.textWeight) }
    : q;
  const { onnxFile, ...backbone } = inputs.backbone;
  const manifest = writeManifest(dir, {
    profile: inputs.profile, created: new Date().toISOString(), classes: inputs.classes, listings: 'listings.json',
    backbone: { ...backbone, onnx: path.relative(dir, path.resolve(onnxFile)) }, predictors, fusedQuery, indexes,
  });
  return { manifest, buildSeconds };
}
