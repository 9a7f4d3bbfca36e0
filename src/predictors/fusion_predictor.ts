/**
 * Notebook 05's selected fusion as a predictor. It holds 03's image predictor and 04's text
 * predictor (saved inside it, in image/ and text/, so one folder is the whole model) and one
 * way to combine them:
 *
 *   late   — w · p_image + (1 − w) · p_text; the text alone for a listing without photos;
 *   early  — 05's network on the mean backbone vector of the photos (zeros without photos) and
 *            the text CNN embedding; its fused_embedding layer is the embedding;
 *   hybrid — w · p_early + (1 − w) · p_text;
 *   log_linear — a product of experts softmax(Σ_m a_m · log p_m + b) over named experts: 03's
 *            image model, 04's TF-IDF and text CNN (separately), 04's blend, the early network
 *            (src/models/log_linear_fusion.ts); an expert without input (no photos) has no term.
 *
 * The embedding is the early network's fused embedding when it holds one (05 always saves it, for
 * search), else the image and text embeddings, each L2-normalised, concatenated (zeros for a
 * missing image part). A caller that does not read the embedding (the service, when 07 chose the
 * concatenation for its fused index) passes `earlyEmbedding: false`: the early network then runs
 * only when the combination reads it, so photos need only the views the image predictor reads.
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
import { LogLinearPool, logLinearRow } from '../models/log_linear_fusion';

export type FusionCombination =
  | { kind: 'late'; imageWeight: number }
  | { kind: 'early' }
  | { kind: 'hybrid'; earlyWeight: number }
  | { kind: 'log_linear'; pool: LogLinearPool<FusionExpert> };

/** The probabilities a log-linear fusion can combine. */
export type FusionExpert = 'image' | 'tfidf' | 'text_cnn' | 'text' | 'early';
export const FUSION_EXPERTS: readonly FusionExpert[] = ['image', 'tfidf', 'text_cnn', 'text', 'early'];

/** True when the combination's probabilities read the early network. */
export function combinationReadsEarly(c: FusionCombination): boolean {
  return c.kind === 'early' || c.kind === 'hybrid' || (c.kind === 'log_linear' && c.pool.experts.includes('early'));
}

/** Views per photo the early network reads: it was trained on the mean of both (plain, mirrored). */
const EARLY_VIEWS = 2;

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
    if (combinationReadsEarly(c) && !early) throw new Error(`a ${c.kind} fusion needs the early-fusion network`);
    if (c.kind === 'log_linear') {
      const unknown = c.pool.experts.filter((e) => !FUSION_EXPERTS.includes(e));
      if (unknown.length) throw new Error(`log-linear fusion: unknown expert(s) ${unknown.join(', ')}; known: ${FUSION_EXPERTS.join(', ')}`);
      if (c.pool.bias.length !== spec.classes.length) throw new Error(`log-linear fusion: ${c.pool.bias.length} class biases for ${spec.classes.length} classes`);
    }
    const w = c.kind === 'late' ? c.imageWeight : c.kind === 'hybrid' ? c.earlyWeight : 0;
    if (!(w >= 0 && w <= 1)) throw new Error(`fusion weight must be in [0, 1], got ${w}`);
    for (const p of [image, text]) {
      if (p.classes.join('|') !== spec.classes.join('|')) throw new Error(`the ${p.kind} predictor has other classes than the fusion`);
    }
  }

  /** Whether predict() runs the early network: the combination reads it, or the caller reads its embedding. */
  private runsEarly(earlyEmbedding: boolean): boolean {
    return this.early !== null && (earlyEmbedding || combinationReadsEarly(this.spec.combination));
  }

  /** Backbone views per photo predict() reads: the image predictor's, and both when it runs the early network. */
  viewsPerPhoto(options: { earlyEmbedding?: boolean } = {}): number {
    return Math.max(this.image.spec.views, this.runsEarly(options.earlyEmbedding ?? true) ? EARLY_VIEWS : 1);
  }

  get label(): string {
    return this.spec.label;
  }

  get classes(): readonly string[] {
    return this.spec.classes;
  }

  /** `earlyEmbedding: false`: the caller does not read the early network's embedding (see the header). */
  predict(listings: readonly ListingInput[], options: { earlyEmbedding?: boolean } = {}): ListingPrediction[] {
    if (listings.length === 0) return [];
    const textOut = this.text.outputs(listings);
    const k = this.spec.classes.length;
    const tw = textOut.embeddingWidth;
    const textRow = (values: Float32Array, i: number) => values.subarray(i * k, (i + 1) * k);
    const image = this.image.predict(listings);
    const c = this.spec.combination;
    let early: { probs: number[][]; embeddings: Float32Array; width: number } | null = null;
    if (this.early && this.runsEarly(options.earlyEmbedding ?? true)) {
      listings.forEach((l, i) => l.photos.forEach((views, j) => {
        if (views.length < EARLY_VIEWS) throw new Error(`listing ${i} photo ${j}: ${views.length} view(s), the early-fusion network reads the mean of ${EARLY_VIEWS}`);
      }));
      const imageDim = this.early.inputs[0].shape[1] as number;
      const textDim = this.early.inputs[1].shape[1] as number;
      const x = new Float32Array(listings.length * imageDim);
      const t = new Float32Array(listings.length * textDim);
      listings.forEach((l, i) => {
        x.set(meanVector(l.photos.flatMap((views) => views.slice(0, EARLY_VIEWS)), imageDim), i * imageDim);
        t.set(textOut.embeddings.subarray(i * tw, (i + 1) * tw), i * textDim);
      });
      early = fusionOutputs(this.early, x, t);
    }
    const expertRow = (name: FusionExpert, i: number): ArrayLike<number> | null => {
      switch (name) {
        case 'image': return image[i]?.probabilities ?? null;
        case 'tfidf': return textRow(textOut.tfidf, i);
        case 'text_cnn': return textRow(textOut.cnn, i);
        case 'text': return textRow(textOut.blended, i);
        case 'early': return (early as NonNullable<typeof early>).probs[i];
      }
    };
    return listings.map((_, i) => {
      const pt = textRow(textOut.blended, i);
      const pi = image[i]?.probabilities;
      let probabilities: Float32Array;
      if (c.kind === 'late') probabilities = pi ? pt.map((v, j) => c.imageWeight * pi[j] + (1 - c.imageWeight) * v) : Float32Array.from(pt);
      else if (c.kind === 'log_linear') probabilities = logLinearRow(c.pool, c.pool.experts.map((e) => expertRow(e, i)));
      else {
        const pe = Float32Array.from((early as NonNullable<typeof early>).probs[i]);
        probabilities = c.kind === 'early' ? pe : pe.map((v, j) => c.earlyWeight * v + (1 - c.earlyWeight) * pt[j]);
      }
      const embedding = early
        ? early.embeddings.slice(i * early.width, (i + 1) * early.width)
        : concatNormalised(image[i]?.embedding ?? null, this.imageEmbeddingWidth(image), textOut.embeddings.subarray(i * tw, (i + 1) * tw));
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
