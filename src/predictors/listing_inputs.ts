/**
 * Listings as predictors read them, from what the notebooks have at hand: the cleaned product
 * rows (title, description, photo ids) and the backbone feature cache (one store per view).
 * The service builds the same ListingInput from uploaded bytes (src/serve/service.ts).
 */
import type { ListingInput } from './predictor';

/** Anything that returns one photo's feature vector (a FeatureStore fits). */
export interface PhotoFeatures {
  get(imageId: string): Float32Array;
}

export interface ListingRow {
  title: string;
  description: string;
  imageIds: readonly string[];
}

/** One ListingInput per row; `views` = [plain store] or [plain, mirrored]. */
export function listingInputs(rows: readonly ListingRow[], views: readonly PhotoFeatures[]): ListingInput[] {
  if (views.length === 0) throw new Error('listingInputs: no feature store');
  return rows.map((r) => ({
    title: r.title,
    description: r.description,
    photos: r.imageIds.map((id) => views.map((v) => v.get(id))),
  }));
}
