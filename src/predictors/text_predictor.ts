/**
 * Notebook 04's selected text model as a predictor: the TF-IDF + softmax-regression model and
 * the text CNN, blended `cnnWeight · p_cnn + (1 − cnnWeight) · p_tfidf` (1 = the CNN alone,
 * 0 = TF-IDF alone), with everything they read saved beside them: the TF-IDF vocabulary and
 * idf, the regression's weights, the tokeniser vocabulary and sequence length, the CNN.
 *
 * The embedding is the text CNN's penultimate layer (what fusion and search use), also when
 * the blend gives the CNN weight 0.
 */
import * as fs from 'fs';
import * as path from 'path';
import { tf } from '../tf/runtime';
import { loadModel, saveModel } from '../train/model_io';
import { TfidfState, TfidfVectoriser } from '../models/features';
import { tfidfDocument } from '../text/tfidf_baseline';
import { sparseSoftmaxProbs } from '../models/sparse_softmax_regression';
import { encodeFields, tokenizeFields, Vocabulary, VocabularyState } from '../text/tokenizer';
import { cutPadding, cutPaddingRunner, TEXT_EMBEDDING_LAYER } from '../models/text_cnn';
import { artifactHeader } from '../artifacts/registry';
import { embedAndClassify, f32Bytes, ListingInput, ListingPrediction, Predictor, PredictorHeader, readF32, readPredictorJson, withEmbedding, writePredictorJson } from './predictor';

export interface TfidfPart {
  vectoriser: TfidfVectoriser;
  titleRepeats: number;
  /** Row-major [terms, classes]. */
  kernel: Float32Array;
  bias: Float32Array;
}

export interface CnnPart {
  model: tf.LayersModel;
  vocabulary: Vocabulary;
  sequenceLength: number;
}

export interface TextPredictorSpec {
  label: string;
  classes: string[];
  /** Weight of the CNN's probabilities in the blend (1 = CNN alone, 0 = TF-IDF alone). */
  cnnWeight: number;
  /** Free text: which CNN run. */
  cnn: string;
}

interface TextHeader extends PredictorHeader, TextPredictorSpec {
  kind: 'text';
  tfidf: { state: string; kernel: string; bias: string; titleRepeats: number; terms: number };
  cnnModel: string;
  vocabulary: string;
  sequenceLength: number;
}

export interface TextOutputs {
  /** Row-major [listings, classes] per part. */
  tfidf: Float32Array;
  cnn: Float32Array;
  blended: Float32Array;
  embeddings: Float32Array;
  embeddingWidth: number;
}

export class TextPredictor implements Predictor {
  readonly kind = 'text' as const;
  /**
   * The CNN's embedding and logits: on cut padding (same outputs, less work) when its layers allow
   * it, else at full width (window null) on the model itself.
   */
  private readonly runner: { runner: tf.LayersModel; window: number | null };

  constructor(readonly spec: TextPredictorSpec, private readonly tfidf: TfidfPart, private readonly cnn: CnnPart) {
    if (!(spec.cnnWeight >= 0 && spec.cnnWeight <= 1)) throw new Error(`cnnWeight must be in [0, 1], got ${spec.cnnWeight}`);
    this.runner = cutPaddingRunner(cnn.model, [TEXT_EMBEDDING_LAYER, cnn.model.outputLayers[0].name])
      ?? { runner: withEmbedding(cnn.model, TEXT_EMBEDDING_LAYER), window: null };
  }

  get label(): string {
    return this.spec.label;
  }

  get classes(): readonly string[] {
    return this.spec.classes;
  }

  /** TF-IDF probabilities of documents (softmax regression: x·W + b, softmax, on the sparse rows). */
  private tfidfProbs(listings: readonly ListingInput[]): Float32Array {
    const rows = this.tfidf.vectoriser.transformSparse(listings.map((l) => tfidfDocument(l, this.tfidf.titleRepeats)));
    return Float32Array.from(sparseSoftmaxProbs(rows, this.tfidf.kernel, this.tfidf.bias).flat());
  }

  /** Ids the CNN reads for a listing's text. */
  encodeIds(listing: Pick<ListingInput, 'title' | 'description'>): Int32Array {
    return encodeFields(this.cnn.vocabulary, tokenizeFields(listing), this.cnn.sequenceLength);
  }

  outputs(listings: readonly ListingInput[]): TextOutputs {
    const L = this.cnn.sequenceLength;
    const ids = new Int32Array(listings.length * L);
    listings.forEach((l, i) => ids.set(this.encodeIds(l), i * L));
    // Batches of 256, each cut to the columns its longest text needs (same outputs, less work).
    const k = this.spec.classes.length;
    const cnnProbs = new Float32Array(listings.length * k);
    const embeddingWidth = this.runner.runner.outputs[0].shape[1] as number;
    const embeddings = new Float32Array(listings.length * embeddingWidth);
    for (let start = 0; start < listings.length; start += 256) {
      const end = Math.min(listings.length, start + 256);
      const cut = cutPadding(ids, L, start, end, this.runner.window);
      const out = embedAndClassify(this.runner.runner, cut.ids, cut.width, 256);
      embeddings.set(out.embeddings, start * embeddingWidth);
      cnnProbs.set(out.probs, start * k);
    }
    const tfidf = this.tfidfProbs(listings);
    const wc = this.spec.cnnWeight;
    const blended = cnnProbs.map((p, i) => wc * p + (1 - wc) * tfidf[i]);
    return { tfidf, cnn: cnnProbs, blended, embeddings, embeddingWidth };
  }

  predict(listings: readonly ListingInput[]): ListingPrediction[] {
    if (listings.length === 0) return [];
    const o = this.outputs(listings);
    const k = this.spec.classes.length;
    return listings.map((_, i) => ({
      probabilities: o.blended.slice(i * k, (i + 1) * k),
      embedding: o.embeddings.slice(i * o.embeddingWidth, (i + 1) * o.embeddingWidth),
    }));
  }

  async save(dir: string): Promise<void> {
    await saveModel(this.cnn.model, path.join(dir, 'text_cnn'));
    const header: TextHeader = {
      ...artifactHeader('text_predictor'), kind: 'text', ...this.spec,
      tfidf: { state: 'tfidf_vectoriser.json', kernel: 'tfidf_kernel.f32', bias: 'tfidf_bias.f32', titleRepeats: this.tfidf.titleRepeats,
        terms: this.tfidf.vectoriser.vocabulary.length },
      cnnModel: 'text_cnn', vocabulary: 'vocabulary.json', sequenceLength: this.cnn.sequenceLength,
    };
    writePredictorJson(dir, { ...header }, {
      'tfidf_vectoriser.json': JSON.stringify(this.tfidf.vectoriser.toJSON()),
      'tfidf_kernel.f32': f32Bytes(this.tfidf.kernel),
      'tfidf_bias.f32': f32Bytes(this.tfidf.bias),
      'vocabulary.json': JSON.stringify(this.cnn.vocabulary.toJSON()),
    });
  }

  static async load(dir: string): Promise<TextPredictor> {
    const h = readPredictorJson<TextHeader>(dir, 'text');
    const state = JSON.parse(fs.readFileSync(path.join(dir, h.tfidf.state), 'utf8')) as TfidfState;
    const vectoriser = TfidfVectoriser.fromJSON(state);
    const kernel = readF32(path.join(dir, h.tfidf.kernel));
    const bias = readF32(path.join(dir, h.tfidf.bias));
    if (kernel.length !== h.tfidf.terms * h.classes.length || bias.length !== h.classes.length) {
      throw new Error(`${dir}: TF-IDF weights have ${kernel.length} + ${bias.length} values for ${h.tfidf.terms} terms × ${h.classes.length} classes`);
    }
    const vocabulary = Vocabulary.fromJSON(JSON.parse(fs.readFileSync(path.join(dir, h.vocabulary), 'utf8')) as VocabularyState);
    const model = await loadModel(path.join(dir, h.cnnModel));
    return new TextPredictor({ label: h.label, classes: h.classes, cnnWeight: h.cnnWeight, cnn: h.cnn },
      { vectoriser, titleRepeats: h.tfidf.titleRepeats, kernel, bias }, { model, vocabulary, sequenceLength: h.sequenceLength });
  }

  dispose(): void {
    this.cnn.model.dispose();
    if (this.runner.window !== null) this.runner.runner.dispose(); // a copy; the full-width runner shares cnn.model's layers
  }
}
