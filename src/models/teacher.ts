/**
 * Cross-fitted teacher soft labels for distillation (notebook 02): the CNN's training photos
 * get class probabilities from heads on cached ResNet-50 features, where the head that labels
 * a photo never trained on it — nor on any photo of the same product.
 *
 * The training products are dealt into k folds (seeded); head f trains on the other k − 1
 * folds (early stopping on the real validation split, never on the fold it labels) and labels
 * fold f, with flip TTA when mirrored features are given. Otherwise a teacher would hand the
 * student its memorised training labels (near one-hot, over-confident), not what it knows.
 */
import { deriveSeed, Rng } from '../rng';
import type { TrainSettings } from '../train/step';
import { averageProbs, FeatureSplit, HEAD_TRAINER, HeadConfig, predictProbs, trainHeadOnFeatures, type TrainHeadOptions } from './head';
import { trainOnBothCores } from '../train/both_cores';

/** Fold index (0..k−1) of each row, dealing whole groups (products) into folds of near-equal group counts. */
export function foldsByGroup(groups: readonly string[], k: number, seed: number): number[] {
  if (!Number.isInteger(k) || k < 2) throw new Error(`cross-fitting needs k ≥ 2 folds, got ${k}`);
  const unique = [...new Set(groups)];
  if (unique.length < k) throw new Error(`cannot deal ${unique.length} groups into ${k} folds`);
  new Rng(deriveSeed(seed, 'folds')).shuffleInPlace(unique);
  const foldOf = new Map(unique.map((g, i) => [g, i % k] as [string, number]));
  return groups.map((g) => foldOf.get(g) as number);
}

/** The rows of `split` whose index is in `rows`, every view included. */
export function selectRows(split: FeatureSplit, rows: readonly number[]): FeatureSplit {
  const d = split.dim;
  const views = split.views.map((v) => {
    const out = new Float32Array(rows.length * d);
    rows.forEach((r, i) => out.set(v.subarray(r * d, (r + 1) * d), i * d));
    return out;
  });
  return {
    views, dim: d,
    labels: rows.map((r) => split.labels[r]),
    imageIds: rows.map((r) => split.imageIds[r]),
    productIds: rows.map((r) => split.productIds[r]),
  };
}

export interface CrossFitOptions {
  /** The rows to label (the student's training photos), grouped by productIds. */
  train: FeatureSplit;
  /** Early stopping of every fold's head. */
  val: FeatureSplit;
  k: number;
  /** Fold (0..k−1) of every row, all photos of a product in one (default: `foldsByGroup` of the product ids). */
  folds?: readonly number[];
  head: HeadConfig;
  settings: TrainSettings;
  batchSize: number;
  /** Checkpoint stage of the fold heads (each fold is its own checkpoint). */
  stage: string;
  /** What else defines the run (feature keys…), hashed into each fold's checkpoint key. */
  config?: Record<string, unknown>;
  modelsDir?: string;
  quiet?: boolean;
  /** Called after each fold's head has labelled its fold. */
  onFold?: (fold: number, info: { trainRows: number; labelledRows: number; accuracy: number }) => void;
}

export interface CrossFitResult {
  /** Row-major [rows of train, classes]: each row from the head that did not train on it. */
  probs: Float32Array;
  classes: number;
  folds: number[];
  /** Accuracy of the teacher on the rows it labelled (all held out): an honest score of the soft labels. */
  accuracy: number;
}

export async function crossFittedSoftLabels(options: CrossFitOptions): Promise<CrossFitResult> {
  const { train, k } = options;
  const classes = options.head.numClasses;
  const folds = options.folds ? options.folds.slice() : foldsByGroup(train.productIds, k, options.head.seed);
  if (folds.length !== train.labels.length) throw new Error(`cross-fitting: ${folds.length} folds for ${train.labels.length} rows`);
  const probs = new Float32Array(train.labels.length * classes);
  const rowsOf = (f: number) => {
    const inFold: number[] = [];
    const outFold: number[] = [];
    folds.forEach((g, i) => (g === f ? inFold : outFold).push(i));
    return { inFold, outFold };
  };
  const fitOptions = (f: number): TrainHeadOptions => ({
    stage: options.stage, head: { ...options.head, seed: deriveSeed(options.head.seed, 'fold', f) }, train: selectRows(train, rowsOf(f).outFold), val: options.val,
    flipAugment: train.views.length > 1, settings: options.settings, batchSize: options.batchSize,
    config: { ...(options.config ?? {}), crossFit: { k, fold: f } }, modelsDir: options.modelsDir, quiet: options.quiet,
  });
  // The k heads are independent: train them two at a time (src/train/both_cores.ts); the loop below loads them.
  await trainOnBothCores(Array.from({ length: k }, (_, f) => () => fitOptions(f)), trainHeadOnFeatures, HEAD_TRAINER);
  let correct = 0;
  for (let f = 0; f < k; f++) {
    const { inFold, outFold } = rowsOf(f);
    const held = selectRows(train, inFold);
    const { model } = await trainHeadOnFeatures(fitOptions(f));
    const rows = averageProbs(...held.views.map((v) => predictProbs(model, v, held.dim)));
    model.dispose();
    let foldCorrect = 0;
    rows.forEach((row, j) => {
      probs.set(row, inFold[j] * classes);
      if (row.indexOf(Math.max(...row)) === held.labels[j]) foldCorrect++;
    });
    correct += foldCorrect;
    options.onFold?.(f, { trainRows: outFold.length, labelledRows: inFold.length, accuracy: foldCorrect / Math.max(1, inFold.length) });
  }
  return { probs, classes, folds, accuracy: correct / Math.max(1, train.labels.length) };
}
