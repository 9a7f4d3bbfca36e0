/**
 * Notebook 02's CNN trainings as data: the recipe (CNN_RECIPE) and the ablation's variants, each
 * changing one lever, trained by one function with the shared loop and evaluated the same way.
 */
import { PROFILE } from '../config';
import type { AugmentOptions, MarketplaceData } from '../data/loader';
import type { EpochLogs } from '../train/epoch_record';
import { trainModel, TrainResult } from '../train/loop';
import type { TrainSettings } from '../train/step';
import { contentKey } from '../artifacts/content_key';
import { predictBatches } from '../train/predict';
import { cachedResultSync } from '../artifacts/result_cache';
import { evaluateImagesAndProducts, type ModelEvaluation, type Predictions } from '../eval/product_eval';
import { withTeacherTargets, type DistillationSpec, type TeacherLabels } from '../train/distillation';
import type { PhotoAggregation } from '../predictors/image_predictor';
import { tf } from '../tf/runtime';
import { buildCnn, CNN_RECIPE, CnnConfig, FULL_RESOLUTION_CNN } from './cnn';

export interface CnnRun {
  key: string;
  /** Row label of the ablation table. */
  label: string;
  architecture: Omit<CnnConfig, 'numClasses' | 'seed'>;
  augment: AugmentOptions | null;
  distillation: DistillationSpec | null;
  epochs: number;
}

/** The recipe at `epochs`. */
export function recipeRun(epochs: number, key = 'recipe'): CnnRun {
  return { key, label: `recipe, ${epochs} epochs`, architecture: CNN_RECIPE.architecture, augment: CNN_RECIPE.augment, distillation: CNN_RECIPE.distillation, epochs };
}

/** The recipe and one variant per lever, all short (`epochs`): what each lever adds. */
export function ablationRuns(epochs: number): CnnRun[] {
  const recipe = recipeRun(epochs, 'short_recipe');
  return [
    recipe,
    { ...recipe, key: 'short_no_distillation', label: `− distillation (hard labels only), ${epochs} epochs`, distillation: null },
    { ...recipe, key: 'short_no_augmentation', label: `− augmentation (no flip, no shift), ${epochs} epochs`, augment: null },
    { ...recipe, key: 'short_full_resolution', label: `capacity: no stride-2 stem, blocks ${FULL_RESOLUTION_CNN.filters.join('-')}, ${epochs} epochs`, architecture: FULL_RESOLUTION_CNN },
  ];
}

export function cnnSettings(epochs: number, distillation: DistillationSpec | null): TrainSettings {
  return {
    epochs,
    patience: CNN_RECIPE.patience,
    optimizer: CNN_RECIPE.optimizer,
    schedule: { kind: 'cosine', base: CNN_RECIPE.baseLr, min: CNN_RECIPE.minLr, warmupEpochs: CNN_RECIPE.warmupEpochs },
    labelSmoothing: CNN_RECIPE.labelSmoothing,
    replicas: CNN_RECIPE.replicas,
    ...(distillation ? { distillation } : {}),
  };
}

/** How the cross-fitted teacher heads train (src/models/teacher.ts): 03's head recipe at CNN_RECIPE.teacher's rate. */
export function teacherSettings(epochs: number): TrainSettings {
  return { epochs, patience: 5, labelSmoothing: 0.1, optimizer: { kind: 'adam', weightDecay: 1e-4 },
    schedule: { kind: 'cosine', base: CNN_RECIPE.teacher.baseLr, min: 1e-5, warmupEpochs: 1 } };
}

export interface TrainCnnRunOptions {
  data: MarketplaceData;
  run: CnnRun;
  /** Needed when the run distils. */
  teacher?: TeacherLabels;
  size: number;
  batchSize: number;
  seed?: number;
  retrain?: boolean;
  /** Default PATHS.models. */
  modelsDir?: string;
  quiet?: boolean;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
}

/** Builds and trains one run (checkpointed under stage 'cnn', keyed by everything that defines it). */
export async function trainCnnRun(o: TrainCnnRunOptions): Promise<{ model: tf.LayersModel; result: TrainResult; config: CnnConfig; settings: TrainSettings }> {
  const { data, run, size, batchSize } = o;
  if (run.distillation && !o.teacher) throw new Error(`CNN run ${run.key} distils but no teacher labels were given`);
  const config: CnnConfig = { ...run.architecture, numClasses: data.numClasses, seed: o.seed ?? PROFILE.seed };
  const model = buildCnn(config);
  const settings = cnnSettings(run.epochs, run.distillation);
  const teacher = run.distillation ? o.teacher : undefined;
  const runConfig = {
    cnn: config, batchSize, augment: run.augment ?? undefined, imageSize: size,
    data: contentKey({ train: data.imageExamples('train').map((e) => [e.imageId, e.label]), val: data.products.val }),
    teacher: teacher ? contentKey({ ids: teacher.ids, probs: Array.from(teacher.probs, (v) => Math.round(v * 1e4)) }) : undefined,
  };
  const steps = data.imageBatchCount('train', batchSize, true);
  const result = await trainModel({
    stage: 'cnn', config: runConfig, model, ...settings,
    trainBatches: (epoch) => {
      const batches = data.imageBatches('train', { size, batchSize, shuffle: true, seed: (o.seed ?? PROFILE.seed) + epoch, augment: run.augment ?? undefined, dropLast: true });
      return teacher ? withTeacherTargets(batches, teacher) : batches;
    },
    valBatches: () => data.imageBatches('val', { size, batchSize: 128 }),
    stepsPerEpoch: steps,
    retrain: o.retrain,
    modelsDir: o.modelsDir,
    quiet: o.quiet,
    onEpochEnd: o.onEpochEnd,
  });
  return { model, result, config, settings };
}

/**
 * A split's photo predictions with flip TTA, evaluated per photo and per product with `aggregate`.
 * The photo predictions are cached by the model's weights, the split's photos and the view
 * (src/artifacts/result_cache.ts): a warm run re-reads them instead of predicting again.
 */
export function evaluateCnn(model: tf.LayersModel, data: MarketplaceData, split: 'val' | 'test', size: number, aggregate: PhotoAggregation = 'mean_probability', tta = true): ModelEvaluation {
  const inputs = { version: 1, weights: weightsKey(model), photos: data.imageExamples(split).map((e) => [e.imageId, e.label, e.productId]), size, tta };
  const images = cachedResultSync('cnn_photo_predictions', inputs,
    () => predictBatches(model, data.imageBatches(split, { size, batchSize: 128 }), tta ? { tta: 'hflip' } : {}));
  return reaggregate(images, aggregate, data.categories);
}

/**
 * A content key of a model's weights: shapes and values, in order. Not their names: tfjs numbers
 * layers by how many were built before in the process (conv2d_3 vs conv2d_7), so the same weights
 * loaded after another model would get another key.
 */
function weightsKey(model: tf.LayersModel): string {
  return contentKey(model.weights.map((w) => [w.shape, contentKey(w.read().dataSync() as Float32Array)]));
}

/** The same photo predictions combined per product another way. */
export function reaggregate(images: Predictions, aggregate: PhotoAggregation, classNames: readonly string[]): ModelEvaluation {
  return evaluateImagesAndProducts(images, classNames, { aggregate });
}
