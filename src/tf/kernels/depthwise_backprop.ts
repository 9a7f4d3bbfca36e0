/**
 * DepthwiseConv2dNative gradients, both missing from tfjs-backend-wasm 4.22
 * (needed to train DepthwiseConv2D / SeparableConv2D layers, e.g. MobileNet).
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, assertFloat32, inputOf } from './kernel_utils';
import { padOrCropSpatial } from './conv_geometry';
import { transposedConvolution } from './conv2d_backprop';

type Conv2DInfo = tf.backend_util.Conv2DInfo;

function depthwiseInfo(
  inShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: tf.DepthwiseConv2dNativeBackpropFilterAttrs | tf.DepthwiseConv2dNativeBackpropInputAttrs,
): Conv2DInfo {
  const dilations = attrs.dilations == null ? 1 : attrs.dilations;
  return tf.backend_util.computeConv2DInfo(
    inShape, filterShape, attrs.strides, dilations, attrs.pad, attrs.dimRoundingMode, true, 'channelsLast');
}

/**
 * dW[i, j, c, m] = sum over n, oh, ow of x[n, oh*sh + i*dh - top, ow*sw + j*dw - left, c] * dy[n, oh, ow, c*M + m].
 * One strided slice of x per filter tap, multiplied by dy and summed: fh*fw
 * memory-bound ops. Fine at stride 1; with stride 2, wasm's StridedSlice
 * (~0.3 us per element) makes this ~50x the forward pass. Good enough for
 * the occasional depthwise layer, slow for training a whole MobileNet.
 */
export function depthwiseFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, info: Conv2DInfo): tf.Tensor4D {
  const [batch, height, width, channels] = x.shape;
  const [, outHeight, outWidth] = dy.shape;
  const { filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const multiplier = info.outChannels / channels;
  const { top, left } = info.padInfo;
  const spanHeight = (outHeight - 1) * strideHeight + 1;
  const spanWidth = (outWidth - 1) * strideWidth + 1;
  const xPadded = padOrCropSpatial(
    x,
    { before: top, after: Math.max(0, spanHeight + (filterHeight - 1) * dilationHeight - height - top) },
    { before: left, after: Math.max(0, spanWidth + (filterWidth - 1) * dilationWidth - width - left) },
  );
  const positions = batch * outHeight * outWidth;
  const dyFlat = tf.reshape(dy, [positions, channels, multiplier]);
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < filterHeight; i++) {
    for (let j = 0; j < filterWidth; j++) {
      const r = i * dilationHeight;
      const c = j * dilationWidth;
      const patch = tf.stridedSlice(xPadded, [0, r, c, 0], [batch, r + spanHeight, c + spanWidth, channels], [1, strideHeight, strideWidth, 1]);
      taps.push(tf.sum(tf.mul(tf.reshape(patch, [positions, channels, 1]), dyFlat), 0)); // [C, M]
    }
  }
  return tf.reshape(tf.stack(taps), [filterHeight, filterWidth, channels, multiplier]);
}

/**
 * The input gradient is a transposed depthwise convolution: dy's C*M channels
 * are correlated with the flipped filter (flattened to [fh, fw, C*M, 1]) and
 * the M channels that came from one input channel are summed.
 */
export function depthwiseInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: [number, number, number, number], info: Conv2DInfo): tf.Tensor4D {
  const [fh, fw, channels, multiplier] = filter.shape;
  const flat = tf.reshape(filter, [fh, fw, channels * multiplier, 1]) as tf.Tensor4D;
  const perChannel = transposedConvolution(dy, flat, inputShape, info, true); // [N, H, W, C*M]
  if (multiplier === 1) return perChannel;
  const [batch, height, width] = inputShape;
  return tf.sum(tf.reshape(perChannel, [batch, height, width, channels, multiplier]), 4) as tf.Tensor4D;
}

export const depthwiseBackpropFilterKernel: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const x = inputOf(inputs, 'x', tf.DepthwiseConv2dNativeBackpropFilter);
    const dy = inputOf(inputs, 'dy', tf.DepthwiseConv2dNativeBackpropFilter);
    const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
    assertFloat32(tf.DepthwiseConv2dNativeBackpropFilter, x, dy);
    return tf.tidy(() => {
      const x4 = asTensor<tf.Rank.R4>(x);
      return depthwiseFilterGradient(x4, asTensor<tf.Rank.R4>(dy), depthwiseInfo(x4.shape, a.filterShape, a));
    });
  },
};

export const depthwiseBackpropInputKernel: tf.KernelConfig = {
  kernelName: tf.DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: ({ inputs, attrs }) => {
    const dy = inputOf(inputs, 'dy', tf.DepthwiseConv2dNativeBackpropInput);
    const filter = inputOf(inputs, 'filter', tf.DepthwiseConv2dNativeBackpropInput);
    const a = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
    assertFloat32(tf.DepthwiseConv2dNativeBackpropInput, dy, filter);
    return tf.tidy(() => {
      const filter4 = asTensor<tf.Rank.R4>(filter);
      return depthwiseInputGradient(asTensor<tf.Rank.R4>(dy), filter4, a.inputShape, depthwiseInfo(a.inputShape, filter4.shape, a));
    });
  },
};
