/**
 * Knowledge distillation (Hinton et al. 2015): the student learns from a teacher's soft labels
 * as well as from the true labels,
 *
 *   loss = α · T² · KL(softmax(log p_teacher / T) ‖ softmax(z / T)) + (1 − α) · CE(y, softmax(z))
 *
 * with z the student's logits, T the temperature (T > 1 softens both distributions, so the
 * teacher's ranking of the wrong classes carries signal) and T² keeping the soft term's gradient
 * on the scale of the hard one. At α = 0 it is the plain (label-smoothed) cross-entropy.
 *
 * Through the training loop: a batch's `y` carries both targets packed side by side,
 * [B, 2C] = [one-hot true label | teacher probabilities] (`packTargets`), so batches, the
 * data-parallel split and the worker wire format stay as they are; `TrainSettings.distillation`
 * switches the loop's loss to this one.
 */
import { tf } from '../tf/runtime';

export interface DistillationSpec {
  /** Weight of the soft (teacher) term, in [0, 1]. */
  alpha: number;
  /** Softmax temperature of both distributions in the soft term (> 0). */
  temperature: number;
}

export function checkDistillation(spec: DistillationSpec): void {
  if (!(spec.alpha >= 0 && spec.alpha <= 1)) throw new Error(`distillation alpha must lie in [0, 1], got ${spec.alpha}`);
  if (!(spec.temperature > 0)) throw new Error(`distillation temperature must be > 0, got ${spec.temperature}`);
}

/**
 * Mean distillation loss over a batch. `hard`: int labels [B] or one-hot [B, C]; `teacher`:
 * the teacher's probabilities [B, C] (rows summing to 1); `smoothing`: label smoothing of the hard term.
 */
export function distillationLoss(logits: tf.Tensor, hard: tf.Tensor, teacher: tf.Tensor, spec: DistillationSpec, smoothing = 0): tf.Scalar {
  checkDistillation(spec);
  return tf.tidy(() => {
    const classes = logits.shape[logits.shape.length - 1] as number;
    const oneHot = hard.rank === 1 ? tf.oneHot(tf.cast(hard, 'int32') as tf.Tensor1D, classes) : hard;
    const hardLoss = tf.losses.softmaxCrossEntropy(oneHot, logits, undefined, smoothing) as tf.Scalar;
    if (spec.alpha === 0) return hardLoss;
    const T = spec.temperature;
    const softTarget = tf.softmax(tf.div(tf.log(tf.clipByValue(teacher, 1e-8, 1)), T));
    const logTarget = tf.log(tf.clipByValue(softTarget, 1e-12, 1));
    const studentLog = tf.logSoftmax(tf.div(logits, T));
    const kl = tf.mean(tf.sum(tf.mul(softTarget, tf.sub(logTarget, studentLog)), -1));
    return tf.add(tf.mul(kl, spec.alpha * T * T), tf.mul(hardLoss, 1 - spec.alpha)) as tf.Scalar;
  });
}

/** Rows [one-hot label | teacher probabilities], row-major [n, 2C]: the `y` of a distillation batch. */
export function packTargets(labels: ArrayLike<number>, teacher: Float32Array, classes: number): Float32Array {
  const n = labels.length;
  if (teacher.length !== n * classes) throw new Error(`teacher probabilities hold ${teacher.length} values, expected ${n} × ${classes}`);
  const out = new Float32Array(n * 2 * classes);
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) throw new Error(`row ${i}: label ${label} is not a class index in [0, ${classes})`);
    out[i * 2 * classes + label] = 1;
    out.set(teacher.subarray(i * classes, (i + 1) * classes), i * 2 * classes + classes);
  }
  return out;
}

/** Splits packed targets [B, 2C] into the one-hot labels and the teacher probabilities. */
export function unpackTargets(y: tf.Tensor): { hard: tf.Tensor2D; teacher: tf.Tensor2D } {
  if (y.rank !== 2 || (y.shape[1] as number) % 2 !== 0) throw new Error(`distillation targets must be [B, 2C] (one-hot | teacher), got [${y.shape.join(', ')}]`);
  const c = (y.shape[1] as number) / 2;
  const [hard, teacher] = tf.split(y, [c, c], 1) as tf.Tensor2D[];
  return { hard, teacher };
}

/** The loop's training loss on packed targets. */
export function packedDistillationLoss(logits: tf.Tensor, y: tf.Tensor, spec: DistillationSpec, smoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const { hard, teacher } = unpackTargets(y);
    return distillationLoss(logits, hard, teacher, spec, smoothing);
  });
}

/** A teacher's probabilities per photo id (row-major [ids, classes]). */
export interface TeacherLabels {
  ids: string[];
  probs: Float32Array;
  classes: number;
}

/**
 * The batches with each `y` replaced by packed targets [one-hot label | teacher row], the teacher
 * row looked up by photo id (a photo without one is an error naming it). The old `y` is disposed.
 */
export function* withTeacherTargets<B extends { y: tf.Tensor; labels: ArrayLike<number>; imageIds: string[] }>(
  batches: Iterable<B>,
  teacher: TeacherLabels,
): Generator<B> {
  const c = teacher.classes;
  const row = new Map(teacher.ids.map((id, i) => [id, i] as [string, number]));
  for (const batch of batches) {
    const soft = new Float32Array(batch.imageIds.length * c);
    batch.imageIds.forEach((id, i) => {
      const r = row.get(id);
      if (r === undefined) throw new Error(`no teacher soft label for photo ${id}: the teacher must label every training photo`);
      soft.set(teacher.probs.subarray(r * c, (r + 1) * c), i * c);
    });
    batch.y.dispose();
    yield { ...batch, y: tf.tensor2d(packTargets(batch.labels, soft, c), [batch.imageIds.length, 2 * c]) };
  }
}
