/**
 * Conv2D gradients for the wasm backend, expressed as forward convolutions so
 * they run on XNNPACK's fast convolution:
 *
 * - Conv2DBackpropFilter is missing from tfjs-backend-wasm 4.22, so a conv
 *   net cannot train there at all.
 * - Conv2DBackpropInput exists but is a naive loop, about 10x slower than the
 *   forward convolution of the same size; it dominates a training step.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, assertFloat32, fromChannelsLast, inputOf, toChannelsLast } from './kernel_utils';
import { inputGradientPhases, interleavePhases, padOrCropSpatial, phaseSubFilter, AxisEdges } from './conv_geometry';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

function convInfoFor(
  inShapeNhwc: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: { strides: [number, number] | number; pad: tf.backend_util.ExplicitPadding | 'valid' | 'same' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
): Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inShapeNhwc, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
}

/**
 * dW[i, j, ci, co] = sum over n, oh, ow of x[n, oh*sh + i - top, ow*sw + j - left, ci] * dy[n, oh, ow, co].
 * That is a convolution in which the input channels play the batch, the batch
 * plays the channels and dy is the filter, dilated by the forward strides.
 */
export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const [, height, width] = x.shape;
  const [, outHeight, outWidth] = dy.shape;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { top, left } = info.padInfo;
  const xT = tf.transpose(x, [3, 1, 2, 0]); // [Cin, H, W, N]
  const dyT = tf.transpose(dy, [1, 2, 0, 3]); // [OH, OW, N, Cout]
  // Pad only as far as the last tap reads; rows past it are cropped below.
  const bottom = Math.max(0, (outHeight - 1) * strideHeight + filterHeight - height - top);
  const right = Math.max(0, (outWidth - 1) * strideWidth + filterWidth - width - left);
  let grad = tf.conv2d(xT, dyT, 1, [[0, 0], [top, bottom], [left, right], [0, 0]], 'NHWC', [strideHeight, strideWidth]);
  if (grad.shape[1] !== filterHeight || grad.shape[2] !== filterWidth) {
    grad = tf.slice(grad, [0, 0, 0, 0], [-1, filterHeight, filterWidth, -1]);
  }
  return tf.transpose(grad, [1, 2, 0, 3]); // [fh, fw, Cin, Cout]
}

/** A stride-1 convolution of dy with dy's edges padded (or cropped) first. */
function correlate(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  rows: AxisEdges,
  cols: AxisEdges,
  dilation: [number, number],
  depthwise: boolean,
): tf.Tensor4D {
  const conv = depthwise ? tf.depthwiseConv2d : tf.conv2d;
  if (rows.before >= 0 && rows.after >= 0 && cols.before >= 0 && cols.after >= 0) {
    // Let the convolution pad: saves a copy of dy.
    return conv(dy, filter, 1, [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [0, 0]], 'NHWC', dilation);
  }
  return conv(padOrCropSpatial(dy, rows, cols), filter, 1, 'valid', 'NHWC', dilation);
}

/**
 * The input gradient (a transposed convolution) split into strideH * strideW
 * stride-1 convolutions, one per output phase, then interleaved.
 *
 * `filter` is [fh, fw, dyChannels, outChannels] for a regular convolution
 * (the forward filter with its channel axes swapped), or the forward
 * depthwise filter flattened to [fh, fw, C*M, 1] when `depthwise` is set.
 */
export function transposedConvolution(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  info: Conv2DInfo,
  depthwise: boolean,
): tf.Tensor4D {
  const [batch, height, width] = inputShape;
  const [, outHeight, outWidth, dyChannels] = dy.shape;
  const stride: [number, number] = [info.strideHeight, info.strideWidth];
  const rowPlans = inputGradientPhases(height, outHeight, info.filterHeight, stride[0], info.dilationHeight, info.padInfo.top);
  const colPlans = inputGradientPhases(width, outWidth, info.filterWidth, stride[1], info.dilationWidth, info.padInfo.left);
  const outChannels = depthwise ? dyChannels : filter.shape[3];
  const phases: tf.Tensor4D[] = [];
  for (const rowPlan of rowPlans) {
    for (const colPlan of colPlans) {
      if (rowPlan.tapCount === 0 || colPlan.tapCount === 0 || rowPlan.outLength === 0 || colPlan.outLength === 0) {
        // No tap of the filter lands on this phase (e.g. 1x1 filter, stride 2).
        phases.push(tf.zeros([batch, Math.ceil(height / stride[0]), Math.ceil(width / stride[1]), outChannels]));
        continue;
      }
      const subFilter = phaseSubFilter(filter, rowPlan, colPlan, stride);
      phases.push(correlate(dy, subFilter, rowPlan.dyEdges, colPlan.dyEdges, [rowPlan.dilation, colPlan.dilation], depthwise));
    }
  }
  return interleavePhases(phases, stride, height, width);
}

export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: [number, number, number, number], info: Conv2DInfo): tf.Tensor4D {
  const swapped = tf.transpose(filter, [0, 1, 3, 2]); // dy's channels are this convolution's inputs
  return transposedConvolution(dy, swapped, inputShape, info, false);
}

function nhwcShape(shape: [number, number, number, number], dataFormat: 'NHWC' | 'NCHW' | undefined): [number, number, number, number] {
  return dataFormat === 'NCHW' ? [shape[0], shape[2], shape[3], shape[1]] : shape;
}

export const conv2dBackpropFilterKernel: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = inputOf(inputs, 'x', tf.Conv2DBackpropFilter);
    const dy = inputOf(inputs, 'dy', tf.Conv2DBackpropFilter);
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    assertFloat32(tf.Conv2DBackpropFilter, x, dy);
    return tf.tidy(() => {
      const x4 = toChannelsLast(asTensor<tf.Rank.R4>(x), a.dataFormat);
      const dy4 = toChannelsLast(asTensor<tf.Rank.R4>(dy), a.dataFormat);
      return conv2dFilterGradient(x4, dy4, convInfoFor(x4.shape, a.filterShape, a));
    });
  },
};

export const conv2dBackpropInputKernel: tf.KernelConfig = {
  kernelName: tf.Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const dy = inputOf(inputs, 'dy', tf.Conv2DBackpropInput);
    const filter = inputOf(inputs, 'filter', tf.Conv2DBackpropInput);
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    assertFloat32(tf.Conv2DBackpropInput, dy, filter);
    return tf.tidy(() => {
      const inShape = nhwcShape(a.inputShape, a.dataFormat);
      const dy4 = toChannelsLast(asTensor<tf.Rank.R4>(dy), a.dataFormat);
      const filter4 = asTensor<tf.Rank.R4>(filter);
      const dx = conv2dInputGradient(dy4, filter4, inShape, convInfoFor(inShape, filter4.shape, a));
      return fromChannelsLast(dx, a.dataFormat);
    });
  },
};
