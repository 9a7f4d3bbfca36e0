/**
 * Kernels that let the wasm backend (tfjs-backend-wasm 4.22) train the models
 * in this project, correctly and fast.
 *
 * Found by training one tiny model of each kind on wasm and collecting every
 * "Kernel 'X' not registered for backend 'wasm'", then profiling a training
 * step for kernels that exist but are far slower than they should be, and
 * comparing every gradient with the cpu backend (which found a wrong one).
 * Each kernel is built from ops the wasm backend does have (mostly its fast
 * XNNPACK convolution) and is checked against the cpu backend in
 * test/tf_kernels.test.ts.
 */
import * as tf from '@tensorflow/tfjs';
// Registers the wasm backend and its own kernels first, so ours never get
// overwritten by a later import and the originals we wrap exist.
import '@tensorflow/tfjs-backend-wasm';
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel } from './kernels/conv2d_backprop';
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from './kernels/depthwise_backprop';
import { unsortedSegmentSumKernel } from './kernels/unsorted_segment_sum';
import { fastTileKernel } from './kernels/tile';
import { fastMeanKernel, fastSumKernel } from './kernels/reductions';
import { correctMaxPoolGradKernel } from './kernels/max_pool_grad';

/** Kernels tfjs-backend-wasm does not have at all. */
export const MISSING_WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterKernel, // Conv2D / Conv1D / SeparableConv2D / Conv2DTranspose weights
  depthwiseBackpropFilterKernel, // DepthwiseConv2D / SeparableConv2D weights
  depthwiseBackpropInputKernel, // anything below a depthwise layer
  unsortedSegmentSumKernel, // gradient of Gather: trainable Embedding
];

let replacements: tf.KernelConfig[] | null = null;

/**
 * Kernels tfjs-backend-wasm has but that we replace (each hands the cases it
 * does not cover back to the original):
 * - Conv2DBackpropInput: a scalar loop, ~10x slower than a forward
 *   convolution of the same size; it dominated every training step.
 * - Tile: one element at a time; BatchNormalization's gradient tiles a
 *   per-channel vector to the full activation shape.
 * - Sum, Mean over leading axes (BatchNormalization statistics and gradients,
 *   bias gradients): wasm transposes the whole tensor first.
 * - MaxPoolGrad: wrong for windows whose values are all <= 0 (no gradient).
 */
export function replacedWasmKernels(): readonly tf.KernelConfig[] {
  if (replacements == null) {
    const native = (name: string) => tf.getKernel(name, 'wasm');
    replacements = [
      conv2dBackpropInputKernel,
      fastTileKernel(native(tf.Tile)),
      fastSumKernel(native(tf.Sum)),
      fastMeanKernel(native(tf.Mean)),
      correctMaxPoolGradKernel(native(tf.MaxPoolGrad)),
    ];
  }
  return replacements;
}

/** Replacements that fix wrong results (the others are only faster). */
const CORRECTNESS_FIXES: readonly string[] = [tf.MaxPoolGrad];

export interface WasmKernelOptions {
  /** Also replace slow native kernels (default true); false keeps wasm's own. */
  replaceSlowKernels?: boolean;
}

function isOurs(config: tf.KernelConfig): boolean {
  const current = tf.getKernel(config.kernelName, 'wasm');
  return current != null && current.kernelFunc === config.kernelFunc;
}

/**
 * Registers the project's kernels on the 'wasm' backend. Idempotent: a kernel
 * that is already ours is left alone, and a missing kernel that someone else
 * has registered meanwhile is not overridden. Returns the names of all
 * project kernels now active on wasm.
 */
export function registerWasmGradientKernels(options: WasmKernelOptions = {}): string[] {
  const replaceSlowKernels = options.replaceSlowKernels !== false;
  for (const config of MISSING_WASM_KERNELS) {
    if (tf.getKernel(config.kernelName, 'wasm') == null) tf.registerKernel(config);
  }
  if (replaceSlowKernels) {
    for (const config of replacedWasmKernels()) {
      if (isOurs(config)) continue;
      if (tf.getKernel(config.kernelName, 'wasm') != null) tf.unregisterKernel(config.kernelName, 'wasm');
      tf.registerKernel(config);
    }
  }
  return activeProjectKernels();
}

/** Names of the project kernels currently registered on wasm. */
export function activeProjectKernels(): string[] {
  return [...MISSING_WASM_KERNELS, ...replacedWasmKernels()].filter(isOurs).map((k) => k.kernelName);
}

/** One line for logs: which kernels were added, sped up or fixed. */
export function describeProjectKernels(): string {
  const names = (configs: readonly tf.KernelConfig[]) => configs.filter(isOurs).map((k) => k.kernelName);
  const replaced = names(replacedWasmKernels());
  const groups: [string, string[]][] = [
    ['added', names(MISSING_WASM_KERNELS)],
    ['faster', replaced.filter((name) => !CORRECTNESS_FIXES.includes(name))],
    ['fixed', replaced.filter((name) => CORRECTNESS_FIXES.includes(name))],
  ];
  const parts = groups.filter(([, list]) => list.length > 0).map(([label, list]) => `${label} ${list.join(', ')}`);
  return parts.length > 0 ? parts.join('; ') : 'none';
}
