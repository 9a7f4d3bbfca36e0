/**
 * Product-level class probabilities of each stage's selected model, saved so that notebook 06
 * can score every model on the SAME test products (and fusion can blend them) without
 * retraining or reloading anything.
 *
 * One JSON file per stage and profile: outputs/features/predictions_<stage>_<profile>.json
 * with the class names and, per split, product ids, labels and probability rows.
 *
 *   writePredictions('cnn', { model: 'custom CNN + flip TTA', classes, splits: { val: predsVal, test: predsTest } });
 *   readPredictions('cnn').splits.test   // { productIds, labels, probs }
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS, PROFILE } from '../config';
import type { SplitName } from '../data/types';

export interface SplitPredictions {
  /** One row per product. */
  productIds: string[];
  labels: number[];
  probs: number[][];
}

export interface StagePredictions {
  /** What the selected model is, in words. */
  model: string;
  classes: string[];
  splits: Partial<Record<SplitName, SplitPredictions>>;
  /** Free-form provenance (profile, checkpoint, date…). */
  info?: Record<string, unknown>;
}

export function predictionsPath(stage: string, profile: string = PROFILE.name, dir: string = PATHS.features): string {
  if (!/^[a-z0-9_]+$/.test(stage)) throw new Error(`predictions stage "${stage}" must be snake_case`);
  return path.join(dir, `predictions_${stage}_${profile}.json`);
}

/** The product-level view of image-level predictions (ids/productIds as in src/eval/product_eval.ts). */
export function splitPredictions(pred: { productIds: string[]; labels: number[]; probs: number[][] }): SplitPredictions {
  return { productIds: pred.productIds.slice(), labels: pred.labels.slice(), probs: pred.probs.map((r) => Array.from(r)) };
}

function check(stage: string, p: StagePredictions): void {
  const k = p.classes.length;
  for (const [split, s] of Object.entries(p.splits) as Array<[SplitName, SplitPredictions]>) {
    const n = s.productIds.length;
    if (s.labels.length !== n || s.probs.length !== n) {
      throw new Error(`predictions ${stage}/${split}: ${n} product ids, ${s.labels.length} labels, ${s.probs.length} probability rows`);
    }
    if (new Set(s.productIds).size !== n) throw new Error(`predictions ${stage}/${split}: a product id appears twice (not product level?)`);
    s.probs.forEach((row, i) => {
      if (row.length !== k) throw new Error(`predictions ${stage}/${split} row ${i} (${s.productIds[i]}): ${row.length} probabilities for ${k} classes`);
      const sum = row.reduce((a, b) => a + b, 0);
      if (!(Math.abs(sum - 1) < 1e-3)) throw new Error(`predictions ${stage}/${split} row ${i} (${s.productIds[i]}): probabilities sum to ${sum}`);
    });
  }
}

export function writePredictions(stage: string, p: StagePredictions, options: { profile?: string; dir?: string } = {}): string {
  check(stage, p);
  const file = predictionsPath(stage, options.profile, options.dir);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  const splits = Object.fromEntries(Object.entries(p.splits).map(([k, s]) => [k, { ...s, probs: s!.probs.map((r) => r.map(round)) }]));
  const body = { format: 'marketplace-predictions', version: 1, stage, profile: options.profile ?? PROFILE.name, ...p, splits };
  fs.writeFileSync(file + '.tmp', JSON.stringify(body) + '\n');
  fs.renameSync(file + '.tmp', file);
  return file;
}

export function readPredictions(stage: string, options: { profile?: string; dir?: string } = {}): StagePredictions {
  const file = predictionsPath(stage, options.profile, options.dir);
  if (!fs.existsSync(file)) throw new Error(`no saved predictions for stage '${stage}' (${file}): run the notebook that writes them first`);
  const body = JSON.parse(fs.readFileSync(file, 'utf8')) as StagePredictions & { format?: string };
  if (body.format !== 'marketplace-predictions') throw new Error(`${file} is not a predictions file`);
  check(stage, body);
  return { model: body.model, classes: body.classes, splits: body.splits, info: body.info };
}
