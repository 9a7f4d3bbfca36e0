/**
 * The cached ResNet-50 avg_pool features of photos, plain and mirrored, computed where missing:
 * notebook 03 trains its heads on them and notebook 02 its distillation teacher, so whichever
 * runs first pays for the backbone pass and the other only reads (the stores are keyed by
 * backbone, weights, size, preprocessing, flip and, for int8, the quantization; see features.ts).
 * Both extract in the precision notebook 03 chose last (resnetPrecision(): fp32 until it measured),
 * with the int8 model of its recorded calibration method, so one backbone pass serves both. The
 * input side is the pixel source's: notebook 02's teacher reads 224 px features, notebook 03 those
 * of the resolution it chose (recorded as `input_size`, which featuresAsExtractedBy03 follows).
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from '../config';
import { progressCallback } from '../data/dataset';
import type { ImagePixelSource } from '../data/loader';
import { extractFeatures, FeatureStore, int8FeatureSpec, onnxFeatureEngine, resnetFeatureSpec } from './features';
import { int8CalibrationIds, Precision, recordedInputSize, recordedInt8, recordedInt8Method, resnetPrecision } from './int8';
import { ensureInt8OnnxModels, Int8ModelFile, Int8Quantization, ONNX_MODELS_DIR } from './onnx_export';
import { OnnxBackbone } from './onnx_backbone';
import { readResnetArtifacts } from './resnet_tfjs';

/** A type, not an interface, so a row is a plain record for showTable. */
export type ExtractionRow = {
  view: 'plain' | 'mirrored';
  photos: number;
  computed: number;
  reused: number;
  seconds: number;
  images_per_second: number | string;
  file: string;
};

export interface ResnetFeatureViews {
  plain: FeatureStore;
  flipped: FeatureStore;
  precision: Precision;
  /** One row per view: what was computed now and how fast. */
  extraction: ExtractionRow[];
  /** The engine that computed them ('' when everything was cached and no engine started). */
  engine: string;
  /** onnxruntime workers used (0 when none started). */
  workers: number;
}

export interface ResnetFeatureOptions {
  /** Training photos: the int8 model is calibrated on a seeded sample of them (int8CalibrationIds). */
  trainIds: readonly string[];
  seed: number;
  /** Progress label. */
  label?: string;
  /**
   * Notebook 03 passes what it has just chosen (its fidelity-checked int8 model, or fp32 to score the
   * other precision); by default both follow its last recorded choice.
   */
  precision?: Precision;
  int8Model?: Int8ModelFile;
}

/** The plain and mirrored feature stores of one precision (fp32, or int8 of this quantization) and input side. */
function resnetStores(weightsHash: string, quantization: Int8Quantization | null, size: number): [FeatureStore, FeatureStore] {
  const store = (flip: boolean) => {
    const spec = resnetFeatureSpec(weightsHash, { flip, size });
    return new FeatureStore(quantization ? int8FeatureSpec(spec, quantization) : spec);
  };
  return [store(false), store(true)];
}

/**
 * Features of `ids` (both views) in the precision notebook 03 chose (see the module comment),
 * extracting the missing ones on onnxruntime, at the side of `pixels` (an image cache).
 */
export async function ensureResnetFeatures(ids: readonly string[], pixels: ImagePixelSource, options: ResnetFeatureOptions): Promise<ResnetFeatureViews> {
  const artifacts = readResnetArtifacts();
  const recorded = recordedInt8();
  const precision: Precision = options.precision ?? resnetPrecision(process.env, recorded);
  const size = pixels.size;
  const int8Model: Int8ModelFile | null = precision !== 'int8' ? null : options.int8Model
    ?? (await ensureInt8OnnxModels([recordedInt8Method(recorded)], { ids: int8CalibrationIds(options.trainIds, options.seed), pixels }, { inputSize: size }))[0];
  const modelSide = int8Model ? Number(int8Model.inputShape[int8Model.inputShape.length - 2]) : size;
  if (modelSide !== size) throw new Error(`${path.basename(int8Model?.file ?? '')} takes ${modelSide} px photos, the pixels given are ${size} px`);
  const stores = resnetStores(artifacts.hash, int8Model?.quantization ?? null, size);
  const needed = stores.some((s) => s.missing(ids).length > 0);
  const backbone = !needed ? null : int8Model ? await OnnxBackbone.fromModelFile(int8Model) : await OnnxBackbone.create({ inputSize: size });
  const extraction: ExtractionRow[] = [];
  try {
    for (const store of stores) {
      const flip = store.spec.flip;
      const bar = progressCallback(`${options.label ?? 'features'}${flip ? ' mirrored' : ''}`);
      const r = backbone
        ? await extractFeatures({ ids, pixels, store, engine: onnxFeatureEngine(backbone), batchSize: 8, onProgress: bar.onProgress })
        : { computed: 0, reused: new Set(ids).size, seconds: 0, imagesPerSecond: NaN };
      bar.finish();
      extraction.push({ view: flip ? 'mirrored' : 'plain', photos: ids.length, computed: r.computed, reused: r.reused,
        seconds: Math.round(r.seconds * 10) / 10, images_per_second: r.computed > 0 ? Math.round(r.imagesPerSecond * 10) / 10 : '(cached)',
        file: path.relative(PATHS.root, store.dataFile) });
    }
  } finally {
    await backbone?.release();
  }
  return { plain: stores[0], flipped: stores[1], precision, extraction, engine: backbone?.describe() ?? '', workers: backbone?.workers ?? 0 };
}

/**
 * The plain and mirrored stores notebook 03 trained its image heads on in its last run: fp32, or
 * int8 when it extracted with int8 (`resnet_int8.extracted_with` in metrics.json; the quantization
 * from the int8 model's .json). Later notebooks read these, so the saved image predictor is never
 * scored on features of another precision than it was trained on.
 */
export function featuresAsExtractedBy03(): { plain: FeatureStore; mirrored: FeatureStore; precision: 'fp32' | 'int8'; size: number } {
  const artifacts = readResnetArtifacts();
  const recorded = recordedInt8();
  let quantization: Int8Quantization | null = null;
  if (recorded.extracted_with === 'int8') {
    const meta = path.join(ONNX_MODELS_DIR, (recorded.model_file ?? '').replace(/\.onnx$/, '.json'));
    if (!recorded.model_file || !fs.existsSync(meta)) throw new Error(`notebook 03 extracted int8 features, but its model description ${meta} is missing: re-run npm run pipeline -- 03`);
    quantization = (JSON.parse(fs.readFileSync(meta, 'utf8')) as { quantization: Int8Quantization }).quantization;
  }
  const size = recordedInputSize(recorded);
  const [plain, mirrored] = resnetStores(artifacts.hash, quantization, size);
  return { plain, mirrored, precision: quantization ? 'int8' : 'fp32', size };
}
