/**
 * The text baseline: TF-IDF features fitted on the training split (TfidfVectoriser:
 * sklearn-style smooth idf, sublinear tf, l2-normalised rows) and multinomial logistic
 * regression on them (fitSoftmaxRegression: one softmax layer with an L2 penalty, Adam,
 * early stopping on validation loss).
 *
 * The document is the title written `titleRepeats` times (default 2), then the description:
 * repeating the title doubles the term frequency of its words, so the few words that name the
 * item weigh more than the seller's boilerplate (sublinear tf keeps that from dominating).
 */
import { TfidfVectoriser } from '../models/features';
import { fitSoftmaxRegression, type EpochMetrics, type SoftmaxFitResult } from '../models/softmax_regression';
import type { TextFields } from './tokenizer';

export interface TfidfBaselineOptions {
  numClasses: number;
  titleRepeats?: number;
  /** Minimum document frequency of a term in the training split (default 2). */
  minDf?: number;
  sublinearTf?: boolean;
  maxFeatures?: number;
  l2?: number;
  learningRate?: number;
  batchSize?: number;
  epochs?: number;
  patience?: number;
  seed?: number;
  onEpochEnd?: (epoch: number, logs: EpochMetrics) => void;
}

/** The TF-IDF document of a listing: title × titleRepeats, then the description. */
export function tfidfDocument(fields: TextFields, titleRepeats = 2): string {
  return `${(fields.title + ' ').repeat(titleRepeats)}${fields.description}`;
}

/** Dense row-major [n, vocabulary] float32 TF-IDF matrix. */
export function tfidfMatrix(vectoriser: TfidfVectoriser, docs: readonly string[]): Float32Array {
  const width = vectoriser.vocabulary.length;
  const x = new Float32Array(docs.length * width);
  vectoriser.transformSparse(docs).forEach((row, i) => {
    for (let k = 0; k < row.indices.length; k++) x[i * width + row.indices[k]] = row.values[k];
  });
  return x;
}

export interface TfidfBaseline {
  vectoriser: TfidfVectoriser;
  fit: SoftmaxFitResult;
  options: Required<Omit<TfidfBaselineOptions, 'onEpochEnd' | 'maxFeatures'>> & { maxFeatures?: number };
  /** Class probabilities of listings (one row each). */
  predict(rows: readonly TextFields[]): number[][];
  /** Terms with the largest weight for a class (what the model reads as evidence). */
  topTerms(classIndex: number, count: number): Array<{ term: string; weight: number }>;
  dispose(): void;
}

export async function fitTfidfBaseline(
  train: { rows: readonly TextFields[]; labels: readonly number[] },
  val: { rows: readonly TextFields[]; labels: readonly number[] },
  options: TfidfBaselineOptions,
): Promise<TfidfBaseline> {
  const o = {
    numClasses: options.numClasses,
    titleRepeats: options.titleRepeats ?? 2,
    minDf: options.minDf ?? 2,
    sublinearTf: options.sublinearTf ?? true,
    maxFeatures: options.maxFeatures,
    l2: options.l2 ?? 1e-5,
    learningRate: options.learningRate ?? 0.03,
    batchSize: options.batchSize ?? 128,
    epochs: options.epochs ?? 40,
    patience: options.patience ?? 3,
    seed: options.seed ?? 42,
  };
  const doc = (f: TextFields) => tfidfDocument(f, o.titleRepeats);
  const vectoriser = new TfidfVectoriser({ minDf: o.minDf, sublinearTf: o.sublinearTf, maxFeatures: o.maxFeatures }).fit(train.rows.map(doc));
  const width = vectoriser.vocabulary.length;
  const fit = await fitSoftmaxRegression(
    { x: tfidfMatrix(vectoriser, train.rows.map(doc)), y: train.labels },
    { x: tfidfMatrix(vectoriser, val.rows.map(doc)), y: val.labels },
    width,
    {
      numClasses: o.numClasses, l2: o.l2, learningRate: o.learningRate, batchSize: o.batchSize, epochs: o.epochs,
      patience: o.patience, seed: o.seed, onEpochEnd: options.onEpochEnd,
    },
  );
  return {
    vectoriser,
    fit,
    options: o,
    predict: (rows) => fit.model.predictProba(tfidfMatrix(vectoriser, rows.map(doc))),
    topTerms(classIndex, count) {
      const { kernel } = fit.model.weights();
      const vocab = vectoriser.vocabulary;
      const k = o.numClasses;
      return vocab
        .map((term, j) => ({ term, weight: kernel[j * k + classIndex] }))
        .sort((a, b) => b.weight - a.weight)
        .slice(0, count);
    },
    dispose: () => fit.model.dispose(),
  };
}
