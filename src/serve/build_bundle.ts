/**
 * Writing a serving bundle (format in bundle.ts) from trained models and embedding sets: notebook
 * 07 does it with the real models, the service's tests with tiny ones, through this one function,
 * so both produce the same format.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EmbeddingSet } from '../search/embedding_set';
import { UsearchIndex, UsearchOptions } from '../search/usearch_index';
import { Vocabulary } from '../text/tokenizer';
import type { FusionManifest } from '../models/fusion';
import { copyModelFolder, IndexEntry, IndexName, IndexRows, ServingListing, ServingManifest, SERVING_FORMAT, writeJson, writeManifest } from './bundle';

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
  image: Omit<ServingManifest['image'], 'head' | 'onnx'> & { onnxFile: string; headDir: string };
  text: Omit<ServingManifest['text'], 'model' | 'vocabulary'> & { modelDir: string; vocabulary: Vocabulary };
  /** Concatenation weights, or notebook 05's fusion model (checkpoint folder + its manifest). */
  fusion: { kind: 'concat'; imageWeight: number; textWeight: number } | { kind: 'model'; modelDir: string; manifest: FusionManifest };
  indexes: Record<IndexName, IndexInput>;
}

export function writeServingBundle(inputs: BundleInputs): { manifest: ServingManifest; buildSeconds: Record<IndexName, number> } {
  const dir = path.resolve(inputs.dir);
  fs.mkdirSync(dir, { recursive: true });
  const listingIds = new Set(inputs.listings.map((l) => l.id));
  writeJson(dir, 'listings.json', inputs.listings);
  const head = copyModelFolder(inputs.image.headDir, dir, 'image_head');
  const textModel = copyModelFolder(inputs.text.modelDir, dir, 'text_cnn');
  writeJson(dir, 'vocabulary.json', inputs.text.vocabulary.toJSON());
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
  const f = inputs.fusion;
  const fusion: ServingManifest['fusion'] = f.kind === 'concat'
    ? { kind: 'concat', imageWeight: f.imageWeight / (f.imageWeight + f.textWeight), textWeight: f.textWeight / (f.imageWeight + f.textWeight), dim: inputs.indexes.fused.set.dim }
    : { kind: 'model', model: copyModelFolder(f.modelDir, dir, 'fusion_model'), manifest: 'fusion_manifest.json', dim: inputs.indexes.fused.set.dim };
  if (f.kind === 'model') writeJson(dir, 'fusion_manifest.json', f.manifest);
  const { onnxFile, headDir: _h, ...image } = inputs.image;
  const { modelDir: _m, vocabulary: _v, ...text } = inputs.text;
  const manifest: ServingManifest = {
    format: SERVING_FORMAT, version: 1, profile: inputs.profile, created: new Date().toISOString(), classes: inputs.classes,
    listings: 'listings.json',
    image: { ...image, onnx: path.relative(dir, path.resolve(onnxFile)), head },
    text: { ...text, model: textModel, vocabulary: 'vocabulary.json' },
    fusion,
    categoryFusion: f.kind === 'model' ? 'fusion_model' : 'mean_probabilities',
    indexes,
  };
  writeManifest(dir, manifest);
  return { manifest, buildSeconds };
}
