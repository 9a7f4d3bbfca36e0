/**
 * MaxPoolGrad for the wasm backend, correcting a bug in its own kernel
 * (tfjs-backend-wasm 4.22): it starts each window's running maximum at 0, so
 * a window whose values are all <= 0 passes no gradient at all (cpu and
 * TensorFlow give it to the window's maximum). Any max-pool whose input can
 * be negative (BatchNorm -> pool, LeakyReLU/ELU, a plain conv) trains wrongly.
 * (Its MaxPoolWithArgmax has the same bug and returns index 0.)
 *
 * The native kernel only compares values, so it is run on the input shifted to
 * be >= 1 everywhere: same order, so the same winners, and no window is
 * missed. Cost: one reduction and one elementwise op on top of the native
 * kernel. Ties go to the LAST maximal position of a window, as in the
 * native kernel (cpu and TensorFlow pick the first; both are valid
 * subgradients, and exact ties in practice are ReLU zeros, whose gradient the
 * ReLU discards anyway). Shifting rounds values to the precision of
 * x - min + 1, so values closer than ~1e-6 (for activations of order 1)
 * count as tied.
 */
import * as tf from '@tensorflow/tfjs';
import { asTensor, fallbackTo, inputOf } from './kernel_utils';

export function correctMaxPoolGradKernel(original: tf.KernelConfig | undefined): tf.KernelConfig {
  const native = fallbackTo(original, tf.MaxPoolGrad);
  return {
    kernelName: tf.MaxPoolGrad,
    backendName: 'wasm',
    kernelFunc: (args) => {
      const input = inputOf(args.inputs, 'input', tf.MaxPoolGrad);
      if (input.dtype !== 'float32') return native(args);
      return tf.tidy(() => {
        const x = asTensor(input);
        // Synchronous read is cheap on wasm (memory is local).
        const lowest = tf.min(x).dataSync()[0];
        if (!Number.isFinite(lowest)) {
          // An infinite or NaN input would make every shifted value equal.
          return asTensor(native(args) as tf.TensorInfo);
        }
        const shifted = tf.add(x, tf.scalar(1 - lowest));
        return asTensor(native({ ...args, inputs: { ...args.inputs, input: shifted } }) as tf.TensorInfo);
      });
    },
  };
}
