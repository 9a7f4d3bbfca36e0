/**
 * The training loop every trained stage uses (02 CNN, 03 ResNet head, 04 text, 05 fusion).
 *
 * A custom loop rather than `model.fit`, for control over the learning rate at every step
 * and over what is kept on disk:
 *  - epochs over the caller's batches: `trainBatches(epoch)` yields a fresh (seeded:
 *    e.g. seed + epoch) shuffled, augmented pass; `valBatches()` the validation pass;
 *  - per epoch: train loss/accuracy (under dropout and augmentation), validation loss
 *    (plain cross-entropy, i.e. log-loss) and accuracy, the learning rate, to `onEpochEnd`
 *    (e.g. `TrainingCurve.update`), with a progress line (rate, ETA of the epoch and of
 *    the run) in the notebook and in the pipeline log;
 *  - the learning rate follows a schedule (schedule.ts), set before every step; the step
 *    itself (Adam or SGD, optionally with decoupled weight decay on kernels) is step.ts;
 *  - early stopping on validation loss with `patience`; the BEST weights are saved when the
 *    validation loss improves and restored into the model at the end;
 *  - checkpoints live in `<modelsDir>/<stage>/<hash>/` where the hash covers the caller's
 *    config, the training options and the architecture: a completed run for the same key
 *    is loaded instead of retrained (`retrain: true` forces training), and an interrupted
 *    run resumes from its last finished epoch (weights + optimiser state in `last/`);
 *  - an interrupt (SIGINT: JupyterLab's "Interrupt Kernel", or the `signal` option) stops the
 *    run before its next step (interrupt.ts); `training.json` says `complete: true` only once
 *    a run has finished, so the next call resumes after the last finished epoch;
 *  - no tensor leaks: every step runs inside tidy/variableGrads, batch tensors are
 *    disposed after use, and the optimiser is disposed at the end.
 *
 * Models end in logits (default) or probabilities (`output: 'probs'`).
 */
import * as fs from 'fs';
import * as path from 'path';
import { PATHS } from '../config';
import { contentKey } from '../artifacts/content_key';
import { inNotebook, newDisplay, pipelineLogEnabled } from '../notebook_env';
import { formatDuration, formatProgressLine, pipelineLogSink, progress, ProgressSink, stderrSink } from '../progress';
import { epochLine, logsOf, type EpochLogs, type TrainEpoch } from './epoch_record';
import { currentRuntime, tf } from '../tf/runtime';
import { loadTensors, loadWeightsInto, modelFiles, tensorFiles, writeFilesAtomic, writeFolderAtomic } from './model_io';
import { describeSchedule, learningRateAt } from './schedule';
import { DataParallelStep } from './parallel';
import { createTrainStep, crossEntropy, labelsOf, type Batch, type TrainSettings } from './step';
import { TrainingInterrupted, watchInterrupts } from './interrupt';

export { TrainingInterrupted } from './interrupt';

export interface TrainOptions extends TrainSettings {
  /** Stage name: the checkpoint folder under modelsDir, and the label of progress lines. */
  stage: string;
  /** What defines the model and its data (architecture config, image size, augmentation, seeds…). */
  config: Record<string, unknown>;
  model: tf.LayersModel;
  /** The training batches of one epoch (epochs count from 1). Seed shuffling/augmentation with it. */
  trainBatches: (epoch: number) => Iterable<Batch>;
  valBatches: () => Iterable<Batch>;
  /** Batches per epoch, for ETA and a per-step schedule (otherwise counted in epoch 1, and the rate changes per epoch). */
  stepsPerEpoch?: number;
  /** Train even if a completed checkpoint exists (the old one is deleted first). */
  retrain?: boolean;
  /** Default PATHS.models (outputs/models/<profile>). */
  modelsDir?: string;
  /** Called after each epoch, and for each stored epoch when a checkpoint is reused. */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void;
  /** No progress lines (tests). */
  quiet?: boolean;
  /** Worker threads for `replicas` (default replicas − 1; 0 computes every part on this thread). */
  threads?: number;
  /** Cancels the run before its next step, like SIGINT does (the run stays resumable). */
  signal?: AbortSignal;
}

export type TrainStatus = 'trained' | 'resumed' | 'loaded';

export interface TrainResult {
  /** 'trained' from scratch, 'resumed' an interrupted run, or 'loaded' a completed checkpoint. */
  status: TrainStatus;
  /** Checkpoint folder (model.json + weights.bin of the best epoch; training.json). */
  dir: string;
  hash: string;
  history: TrainEpoch[];
  bestEpoch: number;
  bestValLoss: number;
  /** Ended by early stopping before `epochs`. */
  stoppedEarly: boolean;
  /** Wall seconds of all epochs (including those of earlier, resumed runs). */
  trainSeconds: number;
  /** Trainable parameters of the model. */
  params: number;
}

interface TrainingRecord {
  format: 'marketplace-training';
  version: 1;
  stage: string;
  hash: string;
  complete: boolean;
  config: Record<string, unknown>;
  settings: TrainSettings;
  architecture: string[];
  params: number;
  history: TrainEpoch[];
  bestEpoch: number;
  bestValLoss: number;
  stoppedEarly: boolean;
  trainSeconds: number;
  backend: string;
  finished?: string;
}

interface ResumeState {
  history: TrainEpoch[];
  bestEpoch: number;
  bestValLoss: number;
  sinceBest: number;
}

const TRAINING_JSON = 'training.json';
const LAST_DIR = 'last';

// ---------------------------------------------------------------------------------------
// Keys and paths
// ---------------------------------------------------------------------------------------

/** Layer classes and output shapes: changes when the architecture does, not with tfjs's auto-generated names. */
export function architectureSignature(model: tf.LayersModel): string[] {
  return model.layers.map((l) => `${l.getClassName()}${JSON.stringify(l.outputShape)}:${l.countParams()}`);
}

function settingsOf(o: TrainSettings): TrainSettings {
  return {
    epochs: o.epochs,
    patience: o.patience,
    minDelta: o.minDelta,
    optimizer: o.optimizer,
    schedule: o.schedule,
    labelSmoothing: o.labelSmoothing,
    output: o.output,
    replicas: o.replicas !== undefined && o.replicas > 1 ? o.replicas : undefined,
    distillation: o.distillation,
  };
}

/** The checkpoint key: 12 hex digits of SHA-256 over config, settings and architecture. */
export function checkpointHash(config: Record<string, unknown>, settings: TrainSettings, model: tf.LayersModel): string {
  return contentKey({ config, settings: settingsOf(settings), architecture: architectureSignature(model) });
}

/** Where the checkpoint of this stage/config/settings/model lives. */
export function checkpointDir(options: Pick<TrainOptions, 'stage' | 'config' | 'model' | 'modelsDir'> & TrainSettings): string {
  return path.join(options.modelsDir ?? PATHS.models, options.stage, checkpointHash(options.config, options, options.model));
}

/** The record of a completed training run in `dir`, or null. */
export function readTrainingRecord(dir: string): TrainingRecord | null {
  const file = path.join(dir, TRAINING_JSON);
  if (!fs.existsSync(file)) return null;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as TrainingRecord;
}

// ---------------------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------------------

function batchSizeOf(batch: Batch): number {
  return batch.y.shape[0] as number;
}

function disposeBatch(batch: Batch): void {
  tf.dispose(Array.isArray(batch.x) ? [...batch.x, batch.y] : [batch.x, batch.y]);
}

/** Validation loss (no smoothing) and accuracy over batches, in inference mode. */
export function evaluateBatches(model: tf.LayersModel, batches: Iterable<Batch>, from: 'logits' | 'probs' = 'logits'): { loss: number; acc: number; n: number } {
  let lossSum = 0;
  let correct = 0;
  let n = 0;
  for (const batch of batches) {
    try {
      const [l, c] = tf.tidy(() => {
        const out = model.apply(batch.x, { training: false }) as tf.Tensor;
        const loss = crossEntropy(out, batch.y, from, 0);
        const hits = tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), labelsOf(batch.y)), 'int32'));
        return [loss.dataSync()[0], hits.dataSync()[0]];
      });
      const b = batchSizeOf(batch);
      lossSum += l * b;
      correct += c;
      n += b;
    } finally {
      disposeBatch(batch);
    }
  }
  if (n === 0) throw new Error('the validation batches are empty');
  return { loss: lossSum / n, acc: correct / n, n };
}

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------------------

/** Checkpoint folders whose load this process has announced. */
const announcedLoads = new Set<string>();

function progressSinks(quiet: boolean): { sinks: ProgressSink[] } {
  if (quiet) return { sinks: [] };
  if (!inNotebook()) return { sinks: [stderrSink()] };
  const sinks: ProgressSink[] = [];
  // One line in the cell for the whole run, overwritten by each epoch's progress.
  const entry = newDisplay();
  if (entry) sinks.push({ minIntervalMs: 250, writeAtStart: true, write: (s) => entry.text(formatProgressLine(s, { bar: true })) });
  if (pipelineLogEnabled()) sinks.push(pipelineLogSink());
  return { sinks };
}

// ---------------------------------------------------------------------------------------
// The loop
// ---------------------------------------------------------------------------------------

/**
 * Train `model` (in place) and return its history; the model ends with the best
 * validation-loss weights. See the module comment for checkpoints, resume and skip.
 */
export async function trainModel(options: TrainOptions): Promise<TrainResult> {
  const { model, stage } = options;
  const settings = settingsOf(options);
  if (!Number.isInteger(settings.epochs) || settings.epochs < 1) throw new Error(`epochs must be a positive integer, got ${settings.epochs}`);
  const from = settings.output ?? 'logits';
  const minDelta = settings.minDelta ?? 1e-4;
  const patience = settings.patience ?? Infinity;
  const hash = checkpointHash(options.config, settings, model);
  const dir = path.join(options.modelsDir ?? PATHS.models, stage, hash);
  const lastDir = path.join(dir, LAST_DIR);
  const params = model.countParams();
  const say = (line: string) => { if (!options.quiet) console.log(line); };

  if (options.retrain) fs.rmSync(dir, { recursive: true, force: true });

  // A completed run for this key: load it, replay its curve.
  const done = readTrainingRecord(dir);
  if (done?.complete) {
    await loadWeightsInto(model, dir);
    for (const r of done.history) options.onEpochEnd?.(r.epoch, logsOf(r));
    // Once per checkpoint and process: trainOnBothCores loads each one before the caller's loop loads it again.
    if (!announcedLoads.has(dir)) say(`[${stage}] loaded the trained checkpoint ${path.relative(PATHS.root, dir)} (best epoch ${done.bestEpoch}, val_loss ${done.bestValLoss.toFixed(4)}, trained in ${formatDuration(done.trainSeconds)}); pass retrain: true to train again`);
    announcedLoads.add(dir);
    return {
      status: 'loaded', dir, hash, history: done.history, bestEpoch: done.bestEpoch, bestValLoss: done.bestValLoss,
      stoppedEarly: done.stoppedEarly, trainSeconds: done.trainSeconds, params,
    };
  }

  const trainer = createTrainStep(model, settings);
  const optimizer = trainer.optimizer;

  let state: ResumeState = { history: [], bestEpoch: 0, bestValLoss: Infinity, sinceBest: 0 };
  let status: TrainStatus = 'trained';
  if (fs.existsSync(path.join(lastDir, 'state.json'))) {
    state = JSON.parse(fs.readFileSync(path.join(lastDir, 'state.json'), 'utf8')) as ResumeState;
    if (state.bestValLoss === null) state.bestValLoss = Infinity;
    await loadWeightsInto(model, lastDir);
    const saved = loadTensors(lastDir, 'optimizer');
    await optimizer.setWeights(saved);
    tf.dispose(saved.map((t) => t.tensor));
    status = 'resumed';
    for (const r of state.history) options.onEpochEnd?.(r.epoch, logsOf(r));
    say(`[${stage}] resuming ${path.relative(PATHS.root, dir)} after epoch ${state.history.length}`);
  } else {
    fs.mkdirSync(dir, { recursive: true });
  }
  say(`[${stage}] ${params.toLocaleString('en-US')} parameters; ${describeSchedule(settings.schedule, settings.epochs)}; ` +
    `checkpoint ${path.relative(PATHS.root, dir) || dir}`);

  let stepsPerEpoch = options.stepsPerEpoch;
  const { sinks } = progressSinks(options.quiet ?? false);
  let stoppedEarly = false;
  let parallel: DataParallelStep | null = null;
  const interrupts = watchInterrupts(options.signal);
  try {
    if ((settings.replicas ?? 1) > 1) {
      // Worker threads only pay off on the single-threaded wasm backend.
      const threads = tf.getBackend() === 'wasm' ? options.threads : 0;
      parallel = await DataParallelStep.start(model, trainer, settings, settings.replicas as number, { threads });
      say(`[${stage}] data-parallel: ${settings.replicas} parts per batch on ${parallel.threads + 1} thread${parallel.threads ? 's' : ''}`);
    }
    for (let epoch = state.history.length + 1; epoch <= settings.epochs; epoch++) {
      const t0 = Date.now();
      if (parallel && epoch > state.history.length + 1) await parallel.sync();
      const doneSeconds = state.history.reduce((s, r) => s + r.seconds, 0);
      const meanEpoch = state.history.length ? doneSeconds / state.history.length : NaN;
      const left = Number.isFinite(meanEpoch) ? `, run ETA ${formatDuration(meanEpoch * (settings.epochs - epoch + 1))}` : '';
      const bar = progress(stepsPerEpoch, `${stage} epoch ${epoch}/${settings.epochs}${left}`, { sinks });
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let step = 0;
      let lr = NaN;
      for (const batch of options.trainBatches(epoch)) {
        try {
          interrupts.check(`[${stage}] interrupted in epoch ${epoch} before step ${step + 1}${stepsPerEpoch ? ` of ${stepsPerEpoch}` : ''}`);
          const position = epoch - 1 + (stepsPerEpoch ? Math.min(step / stepsPerEpoch, 1) : 0);
          lr = learningRateAt(settings.schedule, position, settings.epochs);
          const { loss, correct: c } = parallel ? await parallel.step(batch, lr) : trainer.step(batch, lr);
          if (!Number.isFinite(loss)) {
            throw new Error(`[${stage}] training loss is ${loss} at epoch ${epoch}, step ${step + 1}: the run diverged ` +
              '(lower the learning rate; on wasm compare with TF_BACKEND=cpu on a few steps, cf. tfjs#4326)');
          }
          const b = batchSizeOf(batch);
          lossSum += loss * b;
          correct += c;
          seen += b;
          step++;
          bar.tick();
          // A step on one thread never yields; in a notebook, progress updates then queue up on
          // tslab's output socket until it fails the cell ("Socket is busy writing"). Let I/O run,
          // and a pending SIGINT be seen before the next step (a data-parallel step's await on its
          // workers can resume before the signal is read).
          await yieldToEventLoop();
        } finally {
          disposeBatch(batch);
        }
      }
      bar.done();
      if (seen === 0) throw new Error(`[${stage}] epoch ${epoch} had no training batches`);
      stepsPerEpoch ??= step;
      interrupts.check(`[${stage}] interrupted at the end of epoch ${epoch}`);
      const val = evaluateBatches(model, options.valBatches(), from);
      const record: TrainEpoch = {
        epoch, loss: lossSum / seen, acc: correct / seen, val_loss: val.loss, val_acc: val.acc, lr,
        seconds: (Date.now() - t0) / 1000,
      };
      state.history.push(record);
      const improved = record.val_loss < state.bestValLoss - minDelta;
      if (improved) {
        state.bestValLoss = record.val_loss;
        state.bestEpoch = epoch;
        state.sinceBest = 0;
        writeFilesAtomic(dir, { ...(await modelFiles(model)), [TRAINING_JSON]: JSON.stringify(trainingRecord(false), null, 1) });
      } else {
        state.sinceBest++;
      }
      if (options.onEpochEnd) options.onEpochEnd(epoch, logsOf(record));
      else if (!options.quiet && !inNotebook()) console.log(epochLine(stage, record, settings.epochs));
      if (state.sinceBest >= patience && epoch < settings.epochs) {
        stoppedEarly = true;
        say(`[${stage}] early stop after epoch ${epoch}: no val_loss improvement for ${patience} epochs (best ${state.bestValLoss.toFixed(4)} at epoch ${state.bestEpoch})`);
        break;
      }
      if (epoch < settings.epochs) await saveLast();
    }
  } catch (err) {
    if (err instanceof TrainingInterrupted) {
      const finished = state.history.length;
      err.message += `. The checkpoint is not complete; training again resumes ${finished ? `after epoch ${finished}` : 'from the start'}.`;
      say(err.message);
    }
    throw err;
  } finally {
    interrupts.dispose();
    await parallel?.close();
    optimizer.dispose();
  }

  // The best weights back into the model; the run is complete.
  await loadWeightsInto(model, dir);
  const record = trainingRecord(true);
  fs.writeFileSync(path.join(dir, TRAINING_JSON), JSON.stringify(record, null, 1));
  fs.rmSync(lastDir, { recursive: true, force: true });
  return {
    status, dir, hash, history: state.history, bestEpoch: state.bestEpoch, bestValLoss: state.bestValLoss,
    stoppedEarly, trainSeconds: record.trainSeconds, params,
  };

  function trainingRecord(complete: boolean): TrainingRecord {
    return {
      format: 'marketplace-training', version: 1, stage, hash, complete,
      config: options.config, settings, architecture: architectureSignature(model), params,
      history: state.history, bestEpoch: state.bestEpoch, bestValLoss: state.bestValLoss, stoppedEarly,
      trainSeconds: Math.round(state.history.reduce((s, r) => s + r.seconds, 0) * 10) / 10,
      backend: currentRuntime()?.backend ?? tf.getBackend(),
      finished: complete ? new Date().toISOString() : undefined,
    };
  }

  /** Weights, optimiser state and bookkeeping after an epoch, so an interrupted run resumes. */
  async function saveLast(): Promise<void> {
    const weights = await optimizer.getWeights();
    try {
      const files = {
        ...(await modelFiles(model)),
        ...(await tensorFiles(weights, 'optimizer')),
        'state.json': JSON.stringify(state),
      };
      writeFolderAtomic(lastDir, files);
    } finally {
      // getWeights returns the optimiser's live variables plus a fresh iteration-count scalar.
      tf.dispose(weights.filter((w) => !(w.tensor instanceof tf.Variable)).map((w) => w.tensor));
    }
  }
}
