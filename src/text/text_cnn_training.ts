/**
 * Training the text CNN (src/models/text_cnn.ts) with the shared loop: the one function notebook 04
 * calls for its frozen and fine-tuned runs, and the out-of-fold runs (src/eval/oof.ts) call for
 * each fold. The checkpoint key names the run, the recipe, the data and, for a fold run, the fold,
 * so a re-run loads every finished network.
 */
import * as path from 'path';
import { tf } from '../tf/runtime';
import { buildTextCnn, sequenceBatches, TEXT_CNN_RECIPE, TextCnnConfig } from '../models/text_cnn';
import { trainModel, TrainResult } from '../train/loop';
import type { TrainSettings } from '../train/step';
import type { TrainerExport } from '../train/both_cores';
import type { EpochLogs } from '../train/epoch_record';

/** The recipe's loop settings for up to `epochs` epochs (the recipe's own count caps it). */
export function textCnnSettings(epochs: number): TrainSettings {
  return {
    epochs: Math.min(epochs, TEXT_CNN_RECIPE.epochs), patience: TEXT_CNN_RECIPE.patience, optimizer: TEXT_CNN_RECIPE.optimizer,
    schedule: { kind: 'cosine', base: TEXT_CNN_RECIPE.baseLr, min: 0 }, labelSmoothing: TEXT_CNN_RECIPE.labelSmoothing,
  };
}

/** Encoded sequences (row-major int32 ids [n, sequenceLength]) and their labels. */
export interface EncodedSplit {
  ids: Int32Array;
  labels: readonly number[];
}

export interface TrainTextCnnOptions {
  /** Run name ('glove frozen', 'glove fine-tuned'): part of the checkpoint key. */
  name: string;
  /** The architecture (vocabulary, sequence length, classes, embedding, seed, recipe architecture). */
  cnn: TextCnnConfig;
  trainableEmbedding: boolean;
  train: EncodedSplit;
  /** Early stopping. */
  val: EncodedSplit;
  settings: TrainSettings;
  /** Content key of the data the run reads (training ids and labels, validation ids, vocabulary, sequence length). */
  dataKey: string;
  seed: number;
  /** For an out-of-fold run: which fold it leaves out (added to the checkpoint key). */
  fold?: { k: number; fold: number; assignment: string };
  retrain?: boolean;
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  quiet?: boolean;
  modelsDir?: string;
}

/** Where a worker thread finds trainTextCnn (src/train/both_cores.ts). */
export const TEXT_CNN_TRAINER: TrainerExport = { modulePath: path.join(__dirname, 'text_cnn_training.ts'), exportName: 'trainTextCnn' };

/** Builds the text CNN and trains it with the shared loop (checkpointed: a finished run is reloaded). */
export async function trainTextCnn(options: TrainTextCnnOptions): Promise<{ model: tf.LayersModel; result: TrainResult }> {
  const { cnn, train, val, settings, seed } = options;
  const sequenceLength = cnn.sequenceLength;
  const batchSize = TEXT_CNN_RECIPE.batchSize;
  const model = buildTextCnn({ ...cnn, trainableEmbedding: options.trainableEmbedding });
  const result = await trainModel({
    stage: 'text_cnn',
    config: { name: options.name, trainableEmbedding: options.trainableEmbedding, arch: TEXT_CNN_RECIPE.architecture, batchSize, data: options.dataKey, seed,
      ...(options.fold ? { fold: options.fold } : {}) },
    model, ...settings, stepsPerEpoch: Math.ceil(train.labels.length / batchSize), retrain: options.retrain,
    trainBatches: (epoch) => sequenceBatches(train.ids, train.labels, sequenceLength, batchSize, seed + epoch),
    valBatches: () => sequenceBatches(val.ids, val.labels, sequenceLength, 256),
    onEpochEnd: options.onEpochEnd,
    quiet: options.quiet,
    modelsDir: options.modelsDir,
  });
  return { model, result };
}
