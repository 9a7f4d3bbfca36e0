/**
 * Small helpers for kernels written in terms of other TensorFlow.js ops.
 *
 * Such a kernel runs its ops on the active backend inside tf.tidy and returns
 * the result tensor: the engine accepts a Tensor as a kernel output as is, and
 * tidy disposes every intermediate, so nothing leaks.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * The engine hands kernels Tensors, but a TensorInfo is all a kernel is
 * promised. Wraps a bare TensorInfo in a Tensor (call inside tf.tidy: the
 * wrapper is released with the scope and the underlying data is untouched).
 */
export function asTensor<R extends tf.Rank>(info: tf.TensorInfo): tf.Tensor<R> {
  if (info instanceof tf.Tensor) return info as tf.Tensor<R>;
  return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor<R>;
}

/** Gradients are only defined here for float32 tensors, like in the cpu backend. */
export function assertFloat32(kernelName: string, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) {
    if (info.dtype !== 'float32') {
      throw new Error(`${kernelName} (project wasm kernel) supports float32 tensors only, got ${info.dtype}`);
    }
  }
}

/** NCHW -> NHWC, so the geometry code only deals with one layout. */
export function toChannelsLast(x: tf.Tensor4D, dataFormat: 'NHWC' | 'NCHW' | undefined): tf.Tensor4D {
  return dataFormat === 'NCHW' ? tf.transpose(x, [0, 2, 3, 1]) : x;
}

/** NHWC -> NCHW when the caller asked for channels-first. */
export function fromChannelsLast(x: tf.Tensor4D, dataFormat: 'NHWC' | 'NCHW' | undefined): tf.Tensor4D {
  return dataFormat === 'NCHW' ? tf.transpose(x, [0, 3, 1, 2]) : x;
}

/** A named kernel input, with a clear error when the caller left it out. */
export function inputOf(inputs: tf.NamedTensorInfoMap, name: string, kernelName: string): tf.TensorInfo {
  const info = inputs[name];
  if (info == null) throw new Error(`${kernelName} (project wasm kernel): missing input '${name}'`);
  return info;
}

/**
 * Calls the backend's own implementation of a kernel we replaced, for the
 * cases our version does not take. Its setup (binding the wasm function)
 * only runs for kernels registered when the backend starts, so run it once
 * here in case it was replaced before that.
 */
export function fallbackTo(original: tf.KernelConfig | undefined, kernelName: string): tf.KernelFunc {
  let ready = false;
  return (args) => {
    if (original == null) throw new Error(`${kernelName} (project wasm kernel): this case is not supported and no native kernel exists`);
    if (!ready) {
      original.setupFunc?.(args.backend);
      ready = true;
    }
    return original.kernelFunc(args);
  };
}
