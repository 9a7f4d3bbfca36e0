/**
 * Choosing between the fp32 and the int8 ResNet-50 (onnx_export.ts ensureInt8OnnxModels), and the
 * numbers that choice rests on. Notebook 03 measures, records its decisions in metrics.json under
 * `resnet_int8`, and later runs, the bench and the service follow them:
 *
 * - int8 is used for feature extraction when the selected head's test accuracy on int8 features is
 *   within INT8_MAX_DROP_PP of its accuracy on fp32 features (`use_int8_for_extraction`);
 * - the service runs one view (no flip TTA) when TTA adds less than TTA_MIN_GAIN_PP on validation
 *   (`serving_views`);
 * - the input resolution the features are extracted at (`input_size`, one of RESOLUTIONS, chosen
 *   on validation log-loss); later notebooks and the service read features of that size.
 *
 * `RESNET_PRECISION=fp32|int8` overrides the recorded choice for extraction and serving (default
 * `auto`: the recorded one; fp32 until 03 has measured).
 */
import * as fs from 'fs';
import * as path from 'path';
import { readMetrics } from '../metrics_store';
import { performance } from 'perf_hooks';
import type { ImagePixelSource } from '../data/loader';
import { calibrationIds, Int8ModelFile, ONNX_MODELS_DIR } from './onnx_export';
import { OnnxBackbone } from './onnx_backbone';
import { caffePreprocess, FEATURE_LAYER, RESNET_FEATURE_DIM, RESNET_INPUT_SIZE } from './resnet_tfjs';
import type { CalibrationMethod } from './quantize';
import { methodName, rowCosine } from './quantize';

export const INT8_METRICS_STAGE = 'resnet_int8';
/** Calibration photos drawn from the training split. */
export const INT8_CALIBRATION_PHOTOS = 96;
/** Calibration methods measured; the one with the best mean cosine to fp32 is used. */
export const INT8_METHODS: CalibrationMethod[] = [{ kind: 'minmax' }, { kind: 'percentile', percentile: 99.999 }, { kind: 'percentile', percentile: 99.99 }];
/** Validation photos the cosine similarity is measured on. */
export const INT8_FIDELITY_PHOTOS = 64;
/** int8 is used when the headline test accuracy drops by less than this (percentage points). */
export const INT8_MAX_DROP_PP = 0.5;
/** Flip TTA is served (two backbone passes per photo) only when it adds at least this on validation. */
export const TTA_MIN_GAIN_PP = 0.3;

/** Input sides notebook 03 compares (the padded photo, resized): the model's own 224 px first, the cheaper. */
export const RESOLUTIONS = [RESNET_INPUT_SIZE, 288] as const;

export type Precision = 'fp32' | 'int8';

/** What notebook 03 recorded (metrics.json `resnet_int8`), as far as the choices go. */
export interface RecordedInt8 {
  use_int8_for_extraction?: boolean;
  serving_views?: number;
  /** File name of the chosen int8 .onnx in ONNX_MODELS_DIR. */
  model_file?: string;
  /** The precision notebook 03 extracted its features with in its last run (its heads are trained on those). */
  extracted_with?: 'fp32' | 'int8';
  method?: string;
  /** Input side (px) of the features 03 extracted in its last run; absent before the choice existed: 224. */
  input_size?: number;
}

export function recordedInt8(metricsFile?: string): RecordedInt8 {
  return (readMetrics(metricsFile)[INT8_METRICS_STAGE] ?? {}) as RecordedInt8;
}

/** The seeded sample of training photos every int8 model is calibrated on (notebooks 02 and 03 build the same model). */
export function int8CalibrationIds(trainIds: readonly string[], seed: number): string[] {
  return calibrationIds(trainIds, INT8_CALIBRATION_PHOTOS, seed);
}

/** The measured calibration method of this name (the name an int8 model records in its quantization). */
export function calibrationMethodNamed(name: string): CalibrationMethod {
  const method = INT8_METHODS.find((m) => methodName(m) === name);
  if (!method) throw new Error(`no int8 calibration method is named ${name}: known ${INT8_METHODS.map(methodName).join(', ')}`);
  return method;
}

/** The calibration method notebook 03 chose last (by name in metrics.json), else the first measured. */
export function recordedInt8Method(recorded: RecordedInt8 = recordedInt8()): CalibrationMethod {
  return INT8_METHODS.find((m) => methodName(m) === recorded.method) ?? INT8_METHODS[0];
}

/** The input side notebook 03 extracted its features at (224 until it recorded another). */
export function recordedInputSize(recorded: RecordedInt8 = recordedInt8()): number {
  return recorded.input_size ?? RESNET_INPUT_SIZE;
}

/** RESNET_PRECISION, else the recorded decision, else fp32. */
export function resnetPrecision(env: NodeJS.ProcessEnv = process.env, recorded: RecordedInt8 = recordedInt8()): Precision {
  const v = (env.RESNET_PRECISION ?? 'auto').trim() || 'auto';
  if (v === 'fp32' || v === 'int8') return v;
  if (v !== 'auto') throw new Error(`RESNET_PRECISION=${v}: use fp32, int8 or auto (the choice notebook 03 recorded)`);
  return recorded.use_int8_for_extraction === true ? 'int8' : 'fp32';
}

/** The rule: int8 when its accuracy is at most INT8_MAX_DROP_PP below fp32's (accuracies as fractions). */
export function int8WithinTolerance(fp32Accuracy: number, int8Accuracy: number): boolean {
  return (fp32Accuracy - int8Accuracy) * 100 <= INT8_MAX_DROP_PP + 1e-9;
}

/** Views to serve: 2 (plain + mirrored) when TTA's validation gain reaches TTA_MIN_GAIN_PP, else 1. */
export function servingViews(ttaAccuracy: number, plainAccuracy: number): 1 | 2 {
  return (ttaAccuracy - plainAccuracy) * 100 >= TTA_MIN_GAIN_PP - 1e-9 ? 2 : 1;
}

/** Mean and minimum row cosine of two row-major n × dim matrices. */
export function cosineSummary(a: Float32Array, b: Float32Array, dim: number): { mean: number; min: number; n: number } {
  if (a.length !== b.length || a.length % dim !== 0) throw new Error(`cosineSummary: ${a.length} vs ${b.length} values, dim ${dim}`);
  const n = a.length / dim;
  let sum = 0;
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const c = rowCosine(a, b, dim, i);
    sum += c;
    min = Math.min(min, c);
  }
  return { mean: n ? sum / n : NaN, min: n ? min : NaN, n };
}

/** Where the recorded int8 model lives (its file name is recorded; the folder follows CACHE_ROOT). */
export function recordedModelPath(recorded: RecordedInt8): string | null {
  return recorded.model_file ? path.join(ONNX_MODELS_DIR, path.basename(recorded.model_file)) : null;
}

/** avg_pool features of `ids` (one view), batches kept in flight on every worker; with the rate. */
export async function backboneFeatures(backbone: OnnxBackbone, ids: readonly string[], pixels: ImagePixelSource, batchSize = 8): Promise<{ features: Float32Array; imagesPerSecond: number }> {
  const size = pixels.size;
  const per = size * size * 3;
  const features = new Float32Array(ids.length * RESNET_FEATURE_DIM);
  const started = performance.now();
  const batches: Promise<void>[] = [];
  for (let start = 0; start < ids.length; start += batchSize) {
    const chunk = ids.slice(start, start + batchSize);
    const rgb = new Uint8Array(chunk.length * per);
    chunk.forEach((id, k) => pixels.readInto(id, rgb, k * per));
    batches.push(backbone.run(caffePreprocess(rgb, chunk.length, size), chunk.length).then((out) => {
      features.set(out[FEATURE_LAYER].data, start * RESNET_FEATURE_DIM);
    }));
    if (batches.length >= backbone.concurrency) await batches[batches.length - backbone.concurrency];
  }
  await Promise.all(batches);
  return { features, imagesPerSecond: ids.length / ((performance.now() - started) / 1000) };
}

/** A type (not an interface) so rows pass as table records. */
export type Int8FidelityRow = {
  method: string;
  photos: number;
  cosine_mean: number;
  cosine_min: number;
  images_per_second: number;
  fp32_images_per_second: number;
  file: string;
};

/**
 * Cosine of each int8 model's features to the fp32 backbone's on `ids` (validation photos, never
 * calibration ones), and each model's rate on them. Rows in `models` order; `best` has the highest mean cosine.
 */
export async function measureInt8Fidelity(fp32: OnnxBackbone, models: Int8ModelFile[], ids: readonly string[], pixels: ImagePixelSource): Promise<{ rows: Int8FidelityRow[]; best: Int8ModelFile }> {
  const reference = await backboneFeatures(fp32, ids, pixels);
  const rows: Int8FidelityRow[] = [];
  for (const model of models) {
    const int8 = await OnnxBackbone.fromModelFile(model);
    try {
      await int8.run(new Float32Array(pixels.size * pixels.size * 3), 1); // warm-up
      const r = await backboneFeatures(int8, ids, pixels);
      const c = cosineSummary(reference.features, r.features, RESNET_FEATURE_DIM);
      rows.push({ method: model.quantization.method, photos: c.n, cosine_mean: c.mean, cosine_min: c.min, images_per_second: r.imagesPerSecond,
        fp32_images_per_second: reference.imagesPerSecond, file: path.basename(model.file) });
    } finally {
      await int8.release();
    }
  }
  const bestRow = rows.reduce((a, b) => (b.cosine_mean > a.cosine_mean ? b : a));
  return { rows, best: models[rows.indexOf(bestRow)] };
}

export interface ServingBackbone {
  file: string;
  precision: Precision;
  views: 1 | 2;
  /** Why (for /healthcheck and logs). */
  reason: string;
}

/**
 * The backbone and view count the search service runs: the precision of resnetPrecision() (the
 * int8 model notebook 03 recorded, when it chose int8) and the view count 03 measured
 * (`serving_views`), else the bundle's fp32 model and its flipTta.
 */
export function servingBackbone(fp32File: string, flipTta: boolean, env: NodeJS.ProcessEnv = process.env, recorded: RecordedInt8 = recordedInt8()): ServingBackbone {
  const bundleViews: 1 | 2 = flipTta ? 2 : 1;
  const file = recordedModelPath(recorded);
  // 03's decisions hold for the backbone it measured: the int8 model must come from the bundle's fp32 export.
  const metaOf = (f: string) => readJsonIfExists(f.replace(/\.onnx$/, '.json')) as { key?: string; quantization?: { fp32_model?: string } } | null;
  const fp32Key = metaOf(fp32File)?.key;
  const measured = file !== null && fp32Key !== undefined && metaOf(file)?.quantization?.fp32_model === fp32Key;
  const views: 1 | 2 = measured && (recorded.serving_views === 1 || recorded.serving_views === 2) ? recorded.serving_views : bundleViews;
  const viewReason = measured && recorded.serving_views ? 'views as measured by notebook 03' : 'views from the bundle';
  const precision = resnetPrecision(env, measured ? recorded : {});
  if (precision === 'fp32') return { file: fp32File, precision, views, reason: `fp32 (${env.RESNET_PRECISION ? `RESNET_PRECISION=${env.RESNET_PRECISION}` : 'notebook 03 did not choose int8 for this backbone'}), ${viewReason}` };
  if (!measured || !file || !fs.existsSync(file)) {
    throw new Error(`no int8 model of ${path.basename(fp32File)} recorded by notebook 03 (${file ?? 'none under resnet_int8 in metrics.json'}): run notebook 03 (npm run pipeline -- 03), or serve fp32 with RESNET_PRECISION=fp32`);
  }
  return { file, precision, views, reason: `int8 ${recorded.method ?? ''} chosen by notebook 03, ${viewReason}` };
}

function readJsonIfExists(file: string): unknown {
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : null;
}
