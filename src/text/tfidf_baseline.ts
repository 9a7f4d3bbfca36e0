/**
 * The text baseline: TF-IDF features fitted on the training split (TfidfVectoriser:
 * sklearn-style smooth idf, sublinear tf, l2-normalised rows; words and, optionally, their
 * character n-grams) and multinomial logistic regression on them (fitSparseSoftmaxRegression:
 * one softmax layer with an L2 penalty, Adam, early stopping on validation loss, on sparse rows).
 *
 * The document is the title written `titleRepeats` times (default 2), then the description:
 * repeating the title doubles the term frequency of its words, so the few words that name the
 * item weigh more than the seller's boilerplate (sublinear tf keeps that from dominating).
 */
import { TfidfVectoriser } from '../models/features';
import type { EpochMetrics } from '../models/softmax_regression';
import { fitSparseSoftmaxRegression, SparseSoftmaxFitResult } from '../models/sparse_softmax_regression';
import type { TextFields } from './tokenizer';

export interface TfidfBaselineOptions {
  numClasses: number;
  titleRepeats?: number;
  /** Minimum document frequency of a term in the training split (default 2). */
  minDf?: number;
  sublinearTf?: boolean;
  maxFeatures?: number;
  /** Character n-gram lengths [min, max] beside the words (TfidfOptions.charNgrams); absent: words only. */
  charNgrams?: [number, number];
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

export interface TfidfBaseline {
  vectoriser: TfidfVectoriser;
  fit: SparseSoftmaxFitResult;
  options: Required<Omit<TfidfBaselineOptions, 'onEpochEnd' | 'maxFeatures' | 'charNgrams'>> & { maxFeatures?: number; charNgrams?: [number, number] };
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
    charNgrams: options.charNgrams,
    l2: options.l2 ?? 1e-5,
    learningRate: options.learningRate ?? 0.03,
    batchSize: options.batchSize ?? 128,
    epochs: options.epochs ?? 40,
    patience: options.patience ?? 3,
    seed: options.seed ?? 42,
  };
  const doc = (f: TextFields) => tfidfDocument(f, o.titleRepeats);
  const vectoriser = new TfidfVectoriser({ minDf: o.minDf, sublinearTf: o.sublinearTf, maxFeatures: o.maxFeatures, charNgrams: o.charNgrams }).fit(train.rows.map(doc));
  const width = vectoriser.vocabulary.length;
  const fit = await fitSparseSoftmaxRegression(
    { rows: vectoriser.transformSparse(train.rows.map(doc)), y: train.labels },
    { rows: vectoriser.transformSparse(val.rows.map(doc)), y: val.labels },
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
    predict: (rows) => fit.model.predictProba(vectoriser.transformSparse(rows.map(doc))),
    topTerms(classIndex, count) {
      const { kernel } = fit.model;
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
