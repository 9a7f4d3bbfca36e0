/**
 * Scoring a saved-or-about-to-be-saved predictor on listings: what a notebook reports for its
 * selected model and what the parity check compares the service against, one function for both.
 */
import type { ListingInput, Predictor } from '../predictors/predictor';
import { evaluateProbs, type Evaluation } from './product_eval';

export interface PredictorScore {
  evaluation: Evaluation;
  /** Rows the predictor answered (an image predictor skips listings without photos). */
  productIds: string[];
  labels: number[];
  probs: number[][];
}

/** Product-level evaluation of `predictor` over `listings` (labels and ids in the same order), in chunks. */
export function scorePredictor(predictor: Predictor, listings: readonly ListingInput[], labels: readonly number[], productIds: readonly string[], chunk = 256): PredictorScore {
  if (listings.length !== labels.length || listings.length !== productIds.length) {
    throw new Error(`scorePredictor: ${listings.length} listings, ${labels.length} labels, ${productIds.length} ids`);
  }
  const out: PredictorScore = { evaluation: undefined as unknown as Evaluation, productIds: [], labels: [], probs: [] };
  for (let start = 0; start < listings.length; start += chunk) {
    const predictions = predictor.predict(listings.slice(start, start + chunk));
    predictions.forEach((p, i) => {
      if (!p) return;
      out.productIds.push(productIds[start + i]);
      out.labels.push(labels[start + i]);
      out.probs.push(Array.from(p.probabilities));
    });
  }
  if (out.labels.length === 0) throw new Error(`${predictor.label}: answered none of the ${listings.length} listings`);
  out.evaluation = evaluateProbs(out.labels, out.probs, predictor.classes);
  return out;
}
