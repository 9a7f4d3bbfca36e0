/**
 * Notebook 05's selected fusion as a predictor. It holds 03's image predictor and 04's text
 * predictor (saved inside it, in image/ and text/, so one folder is the whole model) and one
 * way to combine them:
 *
 *   late   — w · p_image + (1 − w) · p_text; the text alone for a listing without photos;
 *   early  — 05's network on the mean backbone vector of the photos (zeros without photos) and
 *            the text CNN embedding; its fused_embedding layer is the embedding;
 *   hybrid — w · p_early + (1 − w) · p_text.
 *
 * The embedding is the early network's fused embedding when it holds one (05 always saves it, for
 * search), else the image and text embeddings, each L2-normalised, concatenated (zeros for a
 * missing image part).
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../tf/runtime';
import { loadModel, saveModel } from '../train/model_io';
import { fusionOutputs, meanVector } from '../models/fusion';
import { artifactHeader } from '../artifacts/registry';
import { ListingInput, ListingPrediction, Predictor, PredictorHeader, readPredictorJson, writePredictorJson } from './predictor';
import { ImagePredictor } from './image_predictor';
import { TextPredictor } from './text_predictor';

export type FusionCombination =
  | { kind: 'late'; imageWeight: number }
  | { kind: 'early' }
  | { kind: 'hybrid'; earlyWeight: number };

export interface FusionPredictorSpec {
  label: string;
  classes: string[];
  combination: FusionCombination;
}

interface FusionHeader extends PredictorHeader, FusionPredictorSpec {
  kind: 'fusion';
  image: string;
  text: string;
  early: string | null;
}

export class FusionPredictor implements Predictor {
  readonly kind = 'fusion' as const;

  constructor(
    readonly spec: FusionPredictorSpec,
    readonly image: ImagePredictor,
    readonly text: TextPredictor,
    private readonly early: tf.LayersModel | null,
  ) {
    const c = spec.combination;
    if (c.kind !== 'late' && !early) throw new Error(`a ${c.kind} fusion needs the early-fusion network`);
    const w = c.kind === 'late' ? c.imageWeight : c.kind === 'hybrid' ? c.earlyWeight : 0;
    if (!(w >= 0 && w <= 1)) throw new Error(`fusion weight must be in [0, 1], got ${w}`);
    for (const p of [image, text]) {
      if (p.classes.join('|') !== spec.classes.join('|')) throw new Error(`the ${p.kind} predictor has other classes than the fusion`);
    }
  }

  /** Backbone views per photo its inputs need: the early network was trained on the mean of both views. */
  get viewsPerPhoto(): number {
    return Math.max(this.image.spec.views, this.early ? 2 : 1);
  }

  get label(): string {
    return this.spec.label;
  }

  get classes(): readonly string[] {
    return this.spec.classes;
  }

  predict(listings: readonly ListingInput[]): ListingPrediction[] {
    if (listings.length === 0) return [];
    const text = this.text.predict(listings);
    const image = this.image.predict(listings);
    const c = this.spec.combination;
    let early: { probs: number[][]; embeddings: Float32Array; width: number } | null = null;
    if (this.early) {
      const imageDim = this.early.inputs[0].shape[1] as number;
      const textDim = this.early.inputs[1].shape[1] as number;
      const x = new Float32Array(listings.length * imageDim);
      const t = new Float32Array(listings.length * textDim);
      listings.forEach((l, i) => {
        x.set(meanVector(l.photos.flatMap((views) => views), imageDim), i * imageDim);
        t.set(text[i].embedding, i * textDim);
      });
      early = fusionOutputs(this.early, x, t);
    }
    return listings.map((_, i) => {
      const pt = text[i].probabilities;
      const pi = image[i]?.probabilities;
      let probabilities: Float32Array;
      if (c.kind === 'late') probabilities = pi ? pt.map((v, k) => c.imageWeight * pi[k] + (1 - c.imageWeight) * v) : Float32Array.from(pt);
      else {
        const pe = Float32Array.from((early as NonNullable<typeof early>).probs[i]);
        probabilities = c.kind === 'early' ? pe : pe.map((v, k) => c.earlyWeight * v + (1 - c.earlyWeight) * pt[k]);
      }
      const embedding = early
        ? early.embeddings.slice(i * early.width, (i + 1) * early.width)
        : concatNormalised(image[i]?.embedding ?? null, this.imageEmbeddingWidth(image), text[i].embedding);
      return { probabilities, embedding };
    });
  }

  private imageEmbeddingWidth(image: Array<ListingPrediction | null>): number {
    const any = image.find((p) => p !== null);
    return any ? any.embedding.length : 0;
  }

  async save(dir: string): Promise<void> {
    await this.image.save(path.join(dir, 'image'));
    await this.text.save(path.join(dir, 'text'));
    if (this.early) await saveModel(this.early, path.join(dir, 'early_fusion'));
    const header: FusionHeader = { ...artifactHeader('fusion_predictor'), kind: 'fusion', ...this.spec, image: 'image', text: 'text', early: this.early ? 'early_fusion' : null };
    writePredictorJson(dir, { ...header });
  }

  static async load(dir: string): Promise<FusionPredictor> {
    const h = readPredictorJson<FusionHeader>(dir, 'fusion');
    const image = await ImagePredictor.load(path.join(dir, h.image));
    const text = await TextPredictor.load(path.join(dir, h.text));
    const early = h.early ? await loadModel(path.join(dir, h.early)) : null;
    return new FusionPredictor({ label: h.label, classes: h.classes, combination: h.combination }, image, text, early);
  }

  /** True when `dir` holds a saved fusion predictor. */
  static exists(dir: string): boolean {
    return fs.existsSync(path.join(dir, 'predictor.json'));
  }

  dispose(): void {
    this.image.dispose();
    this.text.dispose();
    this.early?.dispose();
  }
}

/** [a/|a|, b/|b|]; zeros for a missing first part (of width `aWidth`). */
function concatNormalised(a: Float32Array | null, aWidth: number, b: Float32Array): Float32Array {
  const out = new Float32Array(aWidth + b.length);
  const put = (v: Float32Array, at: number) => {
    const norm = Math.hypot(...v) || 1;
    for (let j = 0; j < v.length; j++) out[at + j] = v[j] / norm;
  };
  if (a) put(a, 0);
  put(b, aWidth);
  return out;
}
