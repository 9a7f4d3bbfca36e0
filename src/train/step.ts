/**
 * One training step on its own: the batch and settings types, the optimiser, the loss, and
 * `createTrainStep` (forward, gradients, update, weight decay). The loop (loop.ts) drives it
 * epoch by epoch; the data-parallel replicas (parallel.ts) run the same step in worker threads;
 * the speed benchmark times exactly this.
 */
import { tf } from '../tf/runtime';
import type { ScheduleSpec } from './schedule';
import { packedDistillationLoss, unpackTargets, type DistillationSpec } from './distillation';

/** One batch: inputs (one tensor, or one per model input) and labels (int32 [B] or one-hot [B, C]). */
export interface Batch {
  x: tf.Tensor | tf.Tensor[];
  y: tf.Tensor;
}

export type OptimizerSpec =
  | { kind: 'adam'; beta1?: number; beta2?: number; epsilon?: number; weightDecay?: number }
  | { kind: 'sgd'; momentum?: number; nesterov?: boolean; weightDecay?: number };

/** Everything about training that changes the result (hashed into the checkpoint key). */
export interface TrainSettings {
  /** Upper bound: early stopping may end sooner. */
  epochs: number;
  /** Stop after this many epochs without a validation-loss improvement (default: never). */
  patience?: number;
  /** Smallest decrease of validation loss that counts as an improvement (default 1e-4). */
  minDelta?: number;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  /** Label smoothing of the training loss (default 0). The validation loss never smooths. */
  labelSmoothing?: number;
  /** What the model outputs (default 'logits'). */
  output?: 'logits' | 'probs';
  /**
   * Data parallelism (default 1): each batch is cut into this many parts whose gradients are
   * averaged, computed by this thread and `replicas − 1` worker threads (parallel.ts) on the
   * wasm backend. Batch-norm sees each part's statistics, so this changes the result slightly
   * and is part of the checkpoint key.
   */
  replicas?: number;
  /** Train on a teacher's soft labels too (distillation.ts); each batch's y is then packed [one-hot | teacher]. */
  distillation?: DistillationSpec;
}

function makeOptimizer(spec: OptimizerSpec, lr: number): tf.Optimizer {
  if (spec.kind === 'adam') return tf.train.adam(lr, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
  if ((spec.momentum ?? 0) > 0) return tf.train.momentum(lr, spec.momentum as number, spec.nesterov ?? false);
  return tf.train.sgd(lr);
}

/** Sets the learning rate of a tfjs optimiser (Adam reads its field at every update). */
function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = lr;
}

function oneHotOf(y: tf.Tensor, classes: number): tf.Tensor {
  return y.rank === 1 ? tf.oneHot(tf.cast(y, 'int32') as tf.Tensor1D, classes) : y;
}

/** Class indices of labels given as int32 [B] or one-hot [B, C]. */
export function labelsOf(y: tf.Tensor): tf.Tensor {
  return y.rank === 1 ? tf.cast(y, 'int32') : tf.argMax(y, -1);
}

/** Mean cross-entropy of model outputs against labels, optionally label-smoothed. */
export function crossEntropy(output: tf.Tensor, y: tf.Tensor, from: 'logits' | 'probs', smoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const classes = output.shape[output.shape.length - 1] as number;
    const target = oneHotOf(y, classes);
    if (from === 'logits') return tf.losses.softmaxCrossEntropy(target, output, undefined, smoothing) as tf.Scalar;
    const smoothed = smoothing > 0 ? tf.add(tf.mul(target, 1 - smoothing), smoothing / classes) : target;
    const logp = tf.log(tf.clipByValue(output, 1e-7, 1));
    return tf.neg(tf.mean(tf.sum(tf.mul(smoothed, logp), -1))) as tf.Scalar;
  });
}

export interface TrainStep {
  optimizer: tf.Optimizer;
  /** The trainable variables, in the order gradients are flattened. */
  vars: tf.Variable[];
  /** One optimisation step on a batch at learning rate `lr`: the batch's mean loss and correct count. Disposes nothing of the batch. */
  step(batch: Batch, lr: number): { loss: number; correct: number };
  /** Gradients of the mean loss on a batch (the caller disposes them), without updating anything but batch-norm statistics. */
  gradients(batch: Batch): { grads: tf.NamedTensorMap; loss: number; correct: number };
  /** Optimiser update with the given gradients at rate `lr`, then decoupled weight decay. Disposes nothing. */
  apply(grads: tf.NamedTensorMap, lr: number): void;
}

/**
 * The training step of the loop, on its own (the speed benchmark times exactly this):
 * forward in training mode, cross-entropy (label-smoothed), gradients of the trainable
 * weights, optimiser update, then decoupled weight decay on kernels (rank ≥ 2).
 */
export function createTrainStep(
  model: tf.LayersModel,
  settings: Pick<TrainSettings, 'optimizer' | 'labelSmoothing' | 'output' | 'distillation'>,
): TrainStep {
  const from = settings.output ?? 'logits';
  const smoothing = settings.labelSmoothing ?? 0;
  if (settings.distillation && from !== 'logits') throw new Error('distillation needs a model that outputs logits (output: \'logits\')');
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const decayed = vars.filter((v) => v.rank >= 2);
  const weightDecay = settings.optimizer.weightDecay ?? 0;
  const optimizer = makeOptimizer(settings.optimizer, 1e-3);

  const gradients = (batch: Batch) => {
    const kept: { hits?: tf.Tensor } = {};
    const { value, grads } = tf.variableGrads(() => {
      const out = model.apply(batch.x, { training: true }) as tf.Tensor;
      const labels = settings.distillation ? unpackTargets(batch.y).hard : batch.y;
      kept.hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(out, -1), labelsOf(labels)), 'int32')));
      return settings.distillation ? packedDistillationLoss(out, batch.y, settings.distillation, smoothing) : crossEntropy(out, batch.y, from, smoothing);
    }, vars);
    const loss = value.dataSync()[0];
    const correct = kept.hits ? kept.hits.dataSync()[0] : 0;
    tf.dispose([value, ...(kept.hits ? [kept.hits] : [])]);
    return { grads, loss, correct };
  };

  const apply = (grads: tf.NamedTensorMap, lr: number) => {
    setLearningRate(optimizer, lr);
    optimizer.applyGradients(grads);
    if (weightDecay > 0) {
      tf.tidy(() => {
        for (const v of decayed) v.assign(tf.mul(v, 1 - lr * weightDecay));
      });
    }
  };

  return {
    optimizer,
    vars,
    gradients,
    apply,
    step(batch: Batch, lr: number) {
      const { grads, loss, correct } = gradients(batch);
      apply(grads, lr);
      tf.dispose(Object.values(grads));
      return { loss, correct };
    },
  };
}

