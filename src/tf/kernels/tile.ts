/**
 * Tile for the wasm backend. Its own Tile moves one element at a time
 * (~10 M elements/s): the BatchNormalization gradient tiles a [C] vector to
 * the full activation shape, which made Tile the slowest kernel of a CNN
 * training step. Broadcasting against zeros of the output shape runs through
 * the vectorised Add instead (~20x faster).
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, fallbackTo, inputOf } from './kernel_utils';

/**
 * Shapes for tiling as a broadcast: x viewed as `inShape`, added to zeros of
 * `broadcastShape`. Every axis becomes a copy axis (x keeps its size) or a
 * repeat axis (x has size 1); runs of the same kind are merged so the
 * broadcast has as few axes as possible.
 */
export function tileAsBroadcast(shape: number[], reps: number[]): { inShape: number[]; broadcastShape: number[] } {
  type Axis = { kind: 'copy' | 'repeat'; size: number };
  const axes: Axis[] = [];
  shape.forEach((size, i) => {
    const rep = reps[i];
    if (rep > 1) axes.push({ kind: 'repeat', size: rep });
    if (size !== 1 || rep === 1) axes.push({ kind: 'copy', size });
  });
  const merged: Axis[] = [];
  for (const axis of axes) {
    const last = merged[merged.length - 1];
    if (last != null && last.kind === axis.kind) last.size *= axis.size;
    else merged.push({ ...axis });
  }
  return {
    inShape: merged.map((a) => (a.kind === 'copy' ? a.size : 1)),
    broadcastShape: merged.map((a) => a.size),
  };
}

export function tileByBroadcast(x: tf.Tensor, reps: number[]): tf.Tensor {
  const outShape = x.shape.map((d, i) => d * reps[i]);
  if (outShape.some((d) => d === 0)) return tf.zeros(outShape, x.dtype);
  const { inShape, broadcastShape } = tileAsBroadcast(x.shape, reps);
  const tiled = tf.add(tf.reshape(x, inShape), tf.zeros(broadcastShape, x.dtype));
  return tf.reshape(tiled, outShape);
}

/** Wraps the backend's own Tile: numeric tensors take the fast path, the rest (bool, string) the original. */
export function fastTileKernel(original: tf.KernelConfig | undefined): tf.KernelConfig {
  const native = fallbackTo(original, tf.Tile);
  return {
    kernelName: tf.Tile,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const x = inputOf(args.inputs, 'x', tf.Tile);
      const { reps } = args.attrs as unknown as tf.TileAttrs;
      if ((x.dtype === 'float32' || x.dtype === 'int32') && reps.length === x.shape.length) {
        return tf.tidy(() => tileByBroadcast(asTensor(x), reps));
      }
      return native(args);
    },
  };
}
