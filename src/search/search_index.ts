/**
 * What notebook 07 chose for each query type, as one artifact the service loads (`search_index`
 * in src/artifacts/registry.ts):
 *
 * - photo-only queries: the index over every gallery photo, either 03's head embedding
 *   ('head_embedding') or the whitened raw backbone features ('whitened_features', with the
 *   whitening's mean and projection saved beside it), and whether the photos found are re-ranked
 *   by the image predictor's category probabilities (and with what weight);
 * - listing queries (photo + text, or text): which listing embedding, and whether the neighbours
 *   are re-ranked by the fused classifier's category probabilities (and with what weight).
 *
 * A photo's descriptor is the same at index time and at query time: the mean of its first
 * `descriptorViews` backbone views (plain, then mirrored) → `photoDescriptor`, then whitening (when
 * chosen). 07 chooses one view unless the mirrored one earns its backbone pass on validation.
 *
 * On disk: <dir>/search_index.json + the whitening files (src/search/whitening.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeFilesAtomic } from '../train/model_io';
import { artifactHeader, readArtifactJson } from '../artifacts/registry';
import { meanVector } from '../models/fusion';
import { readWhitening, Whitening, whitenVector, writeWhitening } from './whitening';

export const SEARCH_INDEX_FILE = 'search_index.json';

export type PhotoIndexKind = 'head_embedding' | 'whitened_features';

export interface SearchIndexChoice {
  photo: {
    index: PhotoIndexKind;
    /** Weight β of the re-ranking score sim + β · p_query(listing's category), p from the image predictor; 0 or absent = pure similarity. */
    rerankWeight?: number;
    /** Backbone views (plain, then mirrored) the whitened descriptor averages; absent = 2 (bundles written before 07 chose). */
    descriptorViews?: 1 | 2;
    /** Validation figures the choice was made on, per candidate (e.g. {head_embedding: {...}, whitened_features: {...}}). */
    validation: Record<string, Record<string, number>>;
  };
  listing: {
    /** Name of the listing embedding the index holds (e.g. 'fused: 05 early fusion'). */
    embedding: string;
    /** Weight β of the re-ranking score sim + β · p_query(neighbour's category); 0 = pure similarity. */
    rerankWeight: number;
    validation: Record<string, Record<string, number>>;
  };
}

export interface SearchIndex {
  choice: SearchIndexChoice;
  /** Present when photo queries use the whitened features. */
  whitening: Whitening | null;
}

export function writeSearchIndex(dir: string, index: SearchIndex): void {
  if (index.choice.photo.index === 'whitened_features' && !index.whitening) throw new Error('search index: whitened_features chosen but no whitening given');
  fs.mkdirSync(dir, { recursive: true });
  if (index.whitening) writeWhitening(dir, index.whitening, 'search_index');
  writeFilesAtomic(dir, { [SEARCH_INDEX_FILE]: JSON.stringify({ ...artifactHeader('search_index'), ...index.choice, whitening: index.whitening !== null }, null, 1) + '\n' });
}

export function readSearchIndex(dir: string): SearchIndex {
  const h = readArtifactJson<SearchIndexChoice & { whitening: boolean }>('search_index', path.join(dir, SEARCH_INDEX_FILE));
  return { choice: { photo: h.photo, listing: h.listing }, whitening: h.whitening ? readWhitening(dir, 'search_index') : null };
}

/** A photo's backbone descriptor: the mean of its views (plain, mirrored), as indexed. */
export function photoDescriptor(views: ReadonlyArray<ArrayLike<number>>, dim: number): Float32Array {
  if (views.length === 0) throw new Error('photoDescriptor: a photo with no views');
  return meanVector(views, dim);
}

/** How many backbone views a photo query of this index needs (1 for the head embedding, which reads the predictor's own views). */
export function descriptorViews(index: SearchIndex): number {
  return index.whitening ? index.choice.photo.descriptorViews ?? 2 : 1;
}

/** The query vector of a photo for the whitened-features index: its first `descriptorViews` views, as indexed. */
export function whitenedPhotoQuery(index: SearchIndex, views: ReadonlyArray<ArrayLike<number>>): Float32Array {
  if (!index.whitening) throw new Error('whitenedPhotoQuery: the photo index is not the whitened features');
  const n = descriptorViews(index);
  if (views.length < n) throw new Error(`whitenedPhotoQuery: the index averages ${n} views, the photo has ${views.length}`);
  return whitenVector(index.whitening, photoDescriptor(views.slice(0, n), index.whitening.inputDim));
}

/**
 * Re-ranks neighbours by sim + weight · p_query(category of the neighbour): the fused classifier's
 * belief about the query's category breaks ties between equally similar neighbours. Returns the
 * permutation (indexes into the given lists), best first.
 */
export function rerankByCategory(scores: readonly number[], neighbourClasses: readonly number[], queryProbs: ArrayLike<number>, weight: number): number[] {
  if (scores.length !== neighbourClasses.length) throw new Error(`rerank: ${scores.length} scores for ${neighbourClasses.length} neighbours`);
  const value = scores.map((s, i) => s + weight * queryProbs[neighbourClasses[i]]);
  return value.map((_, i) => i).sort((a, b) => value[b] - value[a] || a - b);
}
