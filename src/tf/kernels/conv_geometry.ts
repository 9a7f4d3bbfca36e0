/**
 * Index arithmetic shared by the convolution gradient kernels.
 *
 * Everything here works on one spatial axis at a time; the 2-D kernels combine
 * a row plan and a column plan. Conventions follow TensorFlow: an output
 * position o reads input position o * stride + tap * dilation - padBefore.
 */
import * as tf from '@tensorflow/tfjs';

/** Padding (positive) or cropping (negative) of one spatial axis. */
export interface AxisEdges {
  before: number;
  after: number;
}

/**
 * Pads with zeros where an edge is positive and crops where it is negative, on
 * the two spatial axes of an NHWC tensor. Tensors are created in the caller's
 * scope (call it inside tf.tidy).
 */
export function padOrCropSpatial(x: tf.Tensor4D, rows: AxisEdges, cols: AxisEdges): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -rows.before);
  const cropBottom = Math.max(0, -rows.after);
  const cropLeft = Math.max(0, -cols.before);
  const cropRight = Math.max(0, -cols.after);
  let out = x;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    out = tf.slice(x, [0, cropTop, cropLeft, 0], [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c]);
  }
  const padTop = Math.max(0, rows.before);
  const padBottom = Math.max(0, rows.after);
  const padLeft = Math.max(0, cols.before);
  const padRight = Math.max(0, cols.after);
  if (padTop + padBottom + padLeft + padRight > 0) {
    out = tf.pad(out, [[0, 0], [padTop, padBottom], [padLeft, padRight], [0, 0]]);
  }
  return out;
}

/**
 * How to compute one phase of the input gradient of a strided convolution
 * along one axis as a plain stride-1 correlation of dy with a sub-filter.
 *
 * Input positions x = phase + stride * a (a = 0 .. outLength-1) receive
 * contributions only from the taps firstTap, firstTap + stride, ... (tapCount of
 * them). Correlating dy, padded by dyEdges, with those taps in reverse order
 * (at the given dilation) yields exactly outLength values.
 */
export interface PhasePlan {
  phase: number;
  firstTap: number;
  tapCount: number;
  dilation: number;
  dyEdges: AxisEdges;
  outLength: number;
}

/**
 * Splits the transposed convolution along one axis into `stride` phases, so
 * the input gradient costs stride-1 convolutions instead of a convolution over
 * a zero-upsampled dy (which would waste stride^2 of the work).
 */
export function inputGradientPhases(
  inLength: number,
  outLength: number,
  filterLength: number,
  stride: number,
  dilation: number,
  padBefore: number,
): PhasePlan[] {
  if (stride > 1 && dilation > 1) {
    throw new Error(`convolution gradient: strides (${stride}) and dilations (${dilation}) cannot both exceed 1`);
  }
  const plans: PhasePlan[] = [];
  for (let phase = 0; phase < stride; phase++) {
    const firstTap = (phase + padBefore) % stride;
    const tapCount = firstTap < filterLength ? Math.ceil((filterLength - firstTap) / stride) : 0;
    // dy index of tap firstTap for a = 0 (an integer by construction).
    const dyOffset = (phase + padBefore - firstTap) / stride;
    const phaseLength = phase < inLength ? Math.ceil((inLength - phase) / stride) : 0;
    const effectiveTaps = (tapCount - 1) * dilation + 1;
    const before = effectiveTaps - 1 - dyOffset;
    const after = phaseLength + effectiveTaps - 1 - outLength - before;
    plans.push({ phase, firstTap, tapCount, dilation, dyEdges: { before, after }, outLength: phaseLength });
  }
  return plans;
}

/**
 * Selects the taps of a phase from an HWIO-like filter ([fh, fw, a, b]) and
 * reverses them, turning the transposed convolution into a correlation.
 */
export function phaseSubFilter(filter: tf.Tensor4D, rowPlan: PhasePlan, colPlan: PhasePlan, stride: [number, number]): tf.Tensor4D {
  const [fh, fw, a, b] = filter.shape;
  const taps = tf.stridedSlice(
    filter,
    [rowPlan.firstTap, colPlan.firstTap, 0, 0],
    [fh, fw, a, b],
    [stride[0], stride[1], 1, 1],
  ) as tf.Tensor4D;
  return tf.reverse(taps, [0, 1]);
}

/**
 * Interleaves per-phase results ([N, Ah, Aw, C] each, phases listed row-phase
 * major) into one [N, height, width, C] tensor: row r, column c comes from
 * phase (r % sh, c % sw) at (floor(r / sh), floor(c / sw)).
 */
export function interleavePhases(
  phases: tf.Tensor4D[],
  stride: [number, number],
  height: number,
  width: number,
): tf.Tensor4D {
  const [sh, sw] = stride;
  if (sh === 1 && sw === 1) return phases[0];
  const rowsPerPhase = Math.ceil(height / sh);
  const colsPerPhase = Math.ceil(width / sw);
  const [n, , , c] = phases[0].shape;
  // Pad every phase to the same size so they can be stacked.
  const padded = phases.map((p) =>
    padOrCropSpatial(p, { before: 0, after: rowsPerPhase - p.shape[1] }, { before: 0, after: colsPerPhase - p.shape[2] }),
  );
  const rows: tf.Tensor[] = [];
  for (let ph = 0; ph < sh; ph++) {
    rows.push(tf.stack(padded.slice(ph * sw, (ph + 1) * sw), 3)); // [N, Ah, Aw, sw, C]
  }
  const grid = tf.stack(rows, 2); // [N, Ah, sh, Aw, sw, C]
  const full = tf.reshape(grid, [n, rowsPerPhase * sh, colsPerPhase * sw, c]) as tf.Tensor4D;
  if (full.shape[1] === height && full.shape[2] === width) return full;
  return tf.slice(full, [0, 0, 0, 0], [n, height, width, c]);
}
