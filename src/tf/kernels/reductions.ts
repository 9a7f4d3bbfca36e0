/**
 * Sum and Mean over leading axes for the wasm backend.
 *
 * wasm reduces only innermost axes: for axes [0, 1, 2] of an NHWC tensor
 * (every BatchNormalization statistic and gradient, every bias gradient) it
 * first transposes the whole tensor. The tensor viewed as [rows, columns],
 * transposed, times a column of ones gives the same sums through XNNPACK's
 * matrix multiply, 3-6x faster (the other operand order is slower: XNNPACK
 * repacks its right-hand side on every call). Small, single-column or other
 * reductions go to the backend's own kernels.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, fallbackTo, inputOf } from './kernel_utils';

/** Number of leading axes reduced, or 0 when the axes are not a leading run that leaves some axis. */
export function leadingAxesCount(axis: number | number[], rank: number): number {
  const axes = [...new Set(tf.util.parseAxisParam(axis, new Array<number>(rank).fill(1)))].sort((a, b) => a - b);
  const isLeadingRun = axes.every((a, i) => a === i);
  return isLeadingRun && axes.length < rank ? axes.length : 0;
}

export function sumLeadingAxes(x: tf.Tensor, count: number, keepDims: boolean, mean: boolean): tf.Tensor {
  const rows = x.shape.slice(0, count).reduce((a, b) => a * b, 1);
  const kept = x.shape.slice(count);
  const columns = kept.reduce((a, b) => a * b, 1);
  const weight = mean ? 1 / rows : 1;
  const total = tf.matMul(tf.reshape(x, [rows, columns]), tf.fill([rows, 1], weight), true, false);
  return tf.reshape(total, keepDims ? [...x.shape.slice(0, count).map(() => 1), ...kept] : kept);
}

/** Below this many elements the native reduction is as fast. */
const MIN_SIZE_FOR_MATMUL = 4096;

function leadingReductionKernel(kernelName: typeof tf.Sum | typeof tf.Mean, original: tf.KernelConfig | undefined): tf.KernelConfig {
  const native = fallbackTo(original, kernelName);
  return {
    kernelName,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = inputOf(args.inputs, 'x', kernelName);
      const { axis, keepDims } = args.attrs as unknown as tf.SumAttrs;
      const count = x.dtype === 'float32' && x.shape.length > 1 ? leadingAxesCount(axis, x.shape.length) : 0;
      const columns = x.shape.slice(count).reduce((a, b) => a * b, 1);
      if (count === 0 || columns < 2 || tf.util.sizeFromShape(x.shape) < MIN_SIZE_FOR_MATMUL) return native(args);
      return tf.tidy(() => sumLeadingAxes(asTensor(x), count, keepDims, kernelName === tf.Mean));
    },
  };
}

export function fastSumKernel(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return leadingReductionKernel(tf.Sum, original);
}

export function fastMeanKernel(original: tf.KernelConfig | undefined): tf.KernelConfig {
  return leadingReductionKernel(tf.Mean, original);
}
