/**
 * UnsortedSegmentSum for the wasm backend, which lacks it in 4.22. It is the
 * gradient of Gather, so a trainable Embedding layer needs it.
 *
 * Implemented as one ScatterNd (which sums rows with repeated ids) rather than
 * the cpu backend's one mask per segment, which would cost
 * numSegments x rows: hopeless for a 20k-word vocabulary.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, inputOf } from './kernel_utils';

export function unsortedSegmentSum(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  const idShape = segmentIds.shape;
  const rows = segmentIds.size;
  if (x.shape.length < idShape.length || idShape.some((d, i) => d !== x.shape[i])) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${idShape}] must be a prefix of x shape [${x.shape}]`);
  }
  const rowShape = x.shape.slice(idShape.length);
  const outShape = [numSegments, ...rowShape];
  if (rows === 0 || numSegments === 0) return tf.zeros(outShape, x.dtype);
  const ids = tf.reshape(tf.cast(segmentIds, 'int32'), [rows]);
  const values = tf.reshape(x, [rows, ...rowShape]);
  // Like TensorFlow and the cpu backend, ids outside [0, numSegments) are
  // dropped: zero their rows and point them at segment 0 (ScatterNd itself
  // does not check bounds).
  const valid = tf.logicalAnd(tf.greaterEqual(ids, 0), tf.less(ids, numSegments));
  const safeIds = tf.where(valid, ids, tf.zerosLike(ids));
  const keep = tf.reshape(tf.cast(valid, x.dtype), [rows, ...rowShape.map(() => 1)]);
  return tf.scatterND(tf.reshape(safeIds, [rows, 1]), tf.mul(values, keep), outShape);
}

export const unsortedSegmentSumKernel: tf.KernelConfig = {
  kernelName: tf.UnsortedSegmentSum,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = inputOf(inputs, 'x', tf.UnsortedSegmentSum);
    const segmentIds = inputOf(inputs, 'segmentIds', tf.UnsortedSegmentSum);
    const { numSegments } = attrs as unknown as tf.UnsortedSegmentSumAttrs;
    return tf.tidy(() => unsortedSegmentSum(asTensor(x), asTensor(segmentIds), numSegments));
  },
};
