/**
 * Static int8 quantisation of an fp32 ONNX model (the project's ResNet-50 export), in the QDQ
 * format onnxruntime fuses into its int8 kernels (QLinearConv, QLinearAdd, VNNI on x86):
 *
 * - weights of every Conv: int8 storage with a 7-bit range ([-63, 63], "reduce range"), symmetric,
 *   one scale per output channel (axis 0), behind a DequantizeLinear. Why 7 bits: on x86 CPUs
 *   without VNNI (AVX2, or AVX-512 without VNNI) onnxruntime multiplies uint8 × int8 with
 *   VPMADDUBSW, whose int16 pair sums saturate for 8-bit weights (255 · 127 · 2 > 32767): measured on
 *   an AMD EPYC (AVX2), 8-bit weights gave ResNet-50 features a cosine of only 0.91–0.97 to fp32;
 *   with 7 bits no pair sum can saturate (255 · 63 · 2 < 32767), on any CPU; the bias as int32 with scale = activation scale × weight scale (what
 *   onnxruntime's QDQ Conv selector needs to take the node);
 * - activations: uint8, asymmetric, one scale per tensor, a QuantizeLinear → DequantizeLinear
 *   pair on every float tensor that a Conv, Add, Pad, MaxPool or GlobalAveragePool reads. A Relu
 *   output is quantised after the Relu (zero point 0: onnxruntime drops the Relu into the Q);
 *   a Pad or MaxPool output reuses its input's scale (onnxruntime then runs them on uint8);
 * - ranges come from calibration: the fp32 model with every such tensor made a graph output, run
 *   on calibration inputs (training photos only); `min-max` takes the observed range,
 *   `percentile` clips both tails at a percentile of a 2048-bin histogram over that range.
 *
 * Pure functions (quantise/dequantise, per-channel weights, ranges) are exported for tests.
 */
import { onnx } from 'onnx-proto';
import type * as OrtTypes from 'onnxruntime-node';

const DT = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

/** How activation ranges are chosen from the calibration statistics. */
export type CalibrationMethod = { kind: 'minmax' } | { kind: 'percentile'; percentile: number };

export function methodName(m: CalibrationMethod): string {
  return m.kind === 'minmax' ? 'minmax' : `percentile_${m.percentile}`;
}

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

/** ONNX QuantizeLinear rounding: half to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** q = clamp(round(x / scale) + zeroPoint, qmin, qmax), as ONNX QuantizeLinear. */
export function quantizeValue(x: number, p: QuantParams, qmin: number, qmax: number): number {
  return Math.min(qmax, Math.max(qmin, roundHalfEven(x / p.scale) + p.zeroPoint));
}

export function dequantizeValue(q: number, p: QuantParams): number {
  return (q - p.zeroPoint) * p.scale;
}

/** uint8 asymmetric parameters covering [min, max] (the range is widened to include 0, so 0 is exact). */
export function uint8Params(min: number, max: number): QuantParams {
  const lo = Math.min(0, min);
  const hi = Math.max(0, max);
  if (!(hi > lo)) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / 255;
  return { scale, zeroPoint: Math.min(255, Math.max(0, roundHalfEven(-lo / scale))) };
}

/**
 * Symmetric int8 weights, one scale per output channel: `weights` is [channels, …] row-major.
 * scale_c = max|w_c| / qmax (1 for an all-zero channel), q in [-qmax, qmax]; qmax is
 * WEIGHT_QMAX (7 bits, see the header) unless a test asks for another.
 */
export const WEIGHT_QMAX = 63;

export function perChannelInt8(weights: Float32Array, channels: number, qmax = WEIGHT_QMAX): { q: Int8Array; scales: Float32Array } {
  if (weights.length % channels !== 0) throw new Error(`perChannelInt8: ${weights.length} weights do not split into ${channels} channels`);
  const per = weights.length / channels;
  const q = new Int8Array(weights.length);
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    let amax = 0;
    for (let j = 0; j < per; j++) amax = Math.max(amax, Math.abs(weights[c * per + j]));
    const scale = amax > 0 ? amax / qmax : 1;
    scales[c] = scale;
    for (let j = 0; j < per; j++) q[c * per + j] = Math.min(qmax, Math.max(-qmax, roundHalfEven(weights[c * per + j] / scale)));
  }
  return { q, scales };
}

// ---------------------------------------------------------------------------------------
// Calibration statistics

const HISTOGRAM_BINS = 2048;

/** Per-tensor range and histogram, filled in two passes (min/max, then a histogram over it). */
export class TensorStats {
  min = Infinity;
  max = -Infinity;
  histogram: Float64Array | null = null;

  observeRange(data: Float32Array): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    this.min = lo;
    this.max = hi;
  }

  observeHistogram(data: Float32Array): void {
    const h = (this.histogram ??= new Float64Array(HISTOGRAM_BINS));
    const width = this.max - this.min;
    if (!(width > 0)) {
      h[0] += data.length;
      return;
    }
    const inv = HISTOGRAM_BINS / width;
    const min = this.min;
    const last = HISTOGRAM_BINS - 1;
    for (let i = 0; i < data.length; i++) {
      const b = ((data[i] - min) * inv) | 0;
      h[b > last ? last : b < 0 ? 0 : b]++;
    }
  }

  /** The range `method` keeps: the observed one, or both tails clipped at a percentile. */
  range(method: CalibrationMethod): { min: number; max: number } {
    if (!Number.isFinite(this.min)) throw new Error('no calibration data was observed for this tensor');
    if (method.kind === 'minmax') return { min: this.min, max: this.max };
    const h = this.histogram;
    if (!h) throw new Error('percentile calibration needs the histogram pass');
    const p = method.percentile;
    if (!(p > 50 && p <= 100)) throw new Error(`percentile must be in (50, 100], got ${p}`);
    const total = h.reduce((a, b) => a + b, 0);
    const width = (this.max - this.min) / HISTOGRAM_BINS;
    const tail = (total * (100 - p)) / 100;
    let lowBin = 0;
    for (let acc = 0; lowBin < HISTOGRAM_BINS; lowBin++) {
      acc += h[lowBin];
      if (acc > tail) break;
    }
    let highBin = HISTOGRAM_BINS - 1;
    for (let acc = 0; highBin >= 0; highBin--) {
      acc += h[highBin];
      if (acc > tail) break;
    }
    // The lower bound only moves for tensors with negative values (ReLU outputs start at 0).
    const lo = this.min < 0 ? this.min + lowBin * width : this.min;
    const hi = this.min + (highBin + 1) * width;
    return { min: Math.min(lo, this.max), max: Math.max(Math.min(hi, this.max), lo) };
  }
}

// ---------------------------------------------------------------------------------------
// Graph analysis

/** Ops whose float inputs get a QuantizeLinear → DequantizeLinear pair (input indices read). */
const QUANTISED_INPUTS: Record<string, number[]> = { Conv: [0], Add: [0, 1], Pad: [0], MaxPool: [0], GlobalAveragePool: [0] };
/** Ops that keep their input's scale on their output (no requantisation: onnxruntime runs them in uint8). */
const SCALE_PRESERVING = new Set(['Pad', 'MaxPool']);

function decode(bytes: Uint8Array): onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** The float activation tensors a QDQ model quantises, in graph order. */
export function activationTensors(model: onnx.IModelProto): string[] {
  const graph = model.graph as onnx.IGraphProto;
  const initialisers = new Set((graph.initializer ?? []).map((t) => t.name as string));
  const out: string[] = [];
  const seen = new Set<string>();
  for (const node of graph.node ?? []) {
    for (const i of QUANTISED_INPUTS[node.opType as string] ?? []) {
      const t = (node.input ?? [])[i];
      if (!t || initialisers.has(t) || seen.has(t)) continue;
      seen.add(t);
      out.push(t);
    }
  }
  return out;
}

/** The model with `tensors` added as float graph outputs (to observe them in calibration). */
export function withIntermediateOutputs(bytes: Uint8Array, tensors: string[]): Uint8Array {
  const model = decode(bytes);
  const graph = model.graph as onnx.GraphProto;
  const existing = new Set(graph.output.map((o) => o.name as string));
  for (const t of tensors) {
    if (!existing.has(t)) graph.output.push(onnx.ValueInfoProto.create({ name: t, type: { tensorType: { elemType: DT.FLOAT } } }));
  }
  return onnx.ModelProto.encode(model).finish();
}

export interface CalibrationBatch {
  /** Inputs in the model's layout, n × … floats. */
  x: Float32Array;
  n: number;
}

/**
 * Runs the fp32 model (every quantised tensor exposed) over `batches` twice with onnxruntime-node:
 * min/max, then histograms. Returns the statistics by tensor name.
 */
export async function calibrate(
  bytes: Uint8Array,
  batches: readonly CalibrationBatch[],
  options: { inputName: string; inputShape: Array<number | string>; threads?: number; onProgress?: (done: number, total: number) => void },
): Promise<Map<string, TensorStats>> {
  if (batches.length === 0) throw new Error('calibration needs at least one batch of inputs');
  const tensors = activationTensors(decode(bytes));
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const ort = require('onnxruntime-node') as typeof OrtTypes;
  const session = await ort.InferenceSession.create(withIntermediateOutputs(bytes, tensors), {
    intraOpNumThreads: options.threads ?? 2, interOpNumThreads: 1, graphOptimizationLevel: 'basic', executionMode: 'sequential',
  });
  const stats = new Map(tensors.map((t) => [t, new TensorStats()] as const));
  try {
    const total = batches.length * 2;
    let done = 0;
    for (const pass of ['range', 'histogram'] as const) {
      for (const b of batches) {
        const dims = options.inputShape.map((d) => (typeof d === 'number' ? d : b.n));
        const out = await session.run({ [options.inputName]: new ort.Tensor('float32', b.x, dims) }, tensors);
        for (const t of tensors) {
          const data = out[t].data as Float32Array;
          const s = stats.get(t) as TensorStats;
          if (pass === 'range') s.observeRange(data);
          else s.observeHistogram(data);
        }
        options.onProgress?.(++done, total);
      }
    }
  } finally {
    await session.release();
  }
  return stats;
}

// ---------------------------------------------------------------------------------------
// The QDQ rewrite

function scalarTensor(name: string, dataType: number, value: number): onnx.ITensorProto {
  return dataType === DT.FLOAT
    ? { name, dims: [], dataType, rawData: new Uint8Array(new Float32Array([value]).buffer) }
    : { name, dims: [], dataType, rawData: new Uint8Array([value & 0xff]) };
}

function floatData(t: onnx.ITensorProto): Float32Array {
  if (t.dataType !== DT.FLOAT) throw new Error(`initializer ${t.name}: expected float32, got data type ${t.dataType}`);
  if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  }
  return Float32Array.from(t.floatData ?? []);
}

export interface QuantizeResult {
  bytes: Uint8Array;
  stats: { quantizedConvs: number; convs: number; quantizedTensors: number };
}

/**
 * Rewrites the fp32 model into QDQ int8 with the given activation ranges (from TensorStats.range).
 * Every tensor of activationTensors(model) needs a range.
 */
export function quantizeQdq(bytes: Uint8Array, ranges: Map<string, { min: number; max: number }>): QuantizeResult {
  const model = decode(bytes);
  const graph = model.graph as onnx.GraphProto;
  const tensors = activationTensors(model);
  const producer = new Map<string, onnx.INodeProto>();
  for (const n of graph.node) for (const o of n.output ?? []) producer.set(o, n);
  const params = new Map<string, QuantParams>();
  const paramsOf = (t: string): QuantParams => {
    const known = params.get(t);
    if (known) return known;
    const p = producer.get(t);
    let result: QuantParams;
    if (p && SCALE_PRESERVING.has(p.opType as string) && tensors.includes((p.input ?? [])[0])) {
      result = paramsOf((p.input ?? [])[0]);
    } else {
      const r = ranges.get(t);
      if (!r) throw new Error(`no calibration range for tensor ${t}`);
      result = uint8Params(r.min, r.max);
    }
    params.set(t, result);
    return result;
  };

  const init = new Map(graph.initializer.map((t) => [t.name as string, t] as const));
  const dropInit = new Set<string>();
  const newInit: onnx.ITensorProto[] = [];
  const dq = (t: string) => `${t}__dq`;
  const qdqNodes = (t: string): onnx.INodeProto[] => {
    const p = paramsOf(t);
    newInit.push(scalarTensor(`${t}__scale`, DT.FLOAT, p.scale), scalarTensor(`${t}__zero_point`, DT.UINT8, p.zeroPoint));
    return [
      { opType: 'QuantizeLinear', name: `QuantizeLinear_${t}`, input: [t, `${t}__scale`, `${t}__zero_point`], output: [`${t}__q`] },
      { opType: 'DequantizeLinear', name: `DequantizeLinear_${t}`, input: [`${t}__q`, `${t}__scale`, `${t}__zero_point`], output: [dq(t)] },
    ];
  };
  const quantised = new Set(tensors);
  const nodes: onnx.INodeProto[] = [];
  for (const input of graph.input) if (quantised.has(input.name as string)) nodes.push(...qdqNodes(input.name as string));
  let convs = 0;
  let quantizedConvs = 0;
  for (const node of graph.node) {
    const op = node.opType as string;
    const inputs = (node.input ?? []).slice();
    for (const i of QUANTISED_INPUTS[op] ?? []) if (quantised.has(inputs[i])) inputs[i] = dq(inputs[i]);
    if (op === 'Conv') {
      convs++;
      const w = init.get(inputs[1]);
      if (w && inputs[0].endsWith('__dq')) {
        const dims = (w.dims ?? []).map(Number);
        const cout = dims[0];
        const { q, scales } = perChannelInt8(floatData(w), cout);
        const wName = inputs[1];
        dropInit.add(wName);
        newInit.push(
          { name: `${wName}__int8`, dims, dataType: DT.INT8, rawData: new Uint8Array(q.buffer) },
          { name: `${wName}__scale`, dims: [cout], dataType: DT.FLOAT, rawData: new Uint8Array(scales.buffer) },
          { name: `${wName}__zero_point`, dims: [cout], dataType: DT.INT8, rawData: new Uint8Array(cout) },
        );
        nodes.push({ opType: 'DequantizeLinear', name: `DequantizeLinear_${wName}`, input: [`${wName}__int8`, `${wName}__scale`, `${wName}__zero_point`],
          output: [dq(wName)], attribute: [{ name: 'axis', type: A.INT, i: 0 }] });
        inputs[1] = dq(wName);
        const b = inputs[2] ? init.get(inputs[2]) : undefined;
        if (b) {
          const xScale = paramsOf(inputs[0].slice(0, -'__dq'.length)).scale;
          const bias = floatData(b);
          const bScales = new Float32Array(cout);
          const bq = new Int32Array(cout);
          for (let o = 0; o < cout; o++) {
            bScales[o] = xScale * scales[o];
            bq[o] = Math.max(-2147483647, Math.min(2147483647, roundHalfEven(bias[o] / bScales[o])));
          }
          const bName = inputs[2];
          dropInit.add(bName);
          newInit.push(
            { name: `${bName}__int32`, dims: [cout], dataType: DT.INT32, rawData: new Uint8Array(bq.buffer) },
            { name: `${bName}__scale`, dims: [cout], dataType: DT.FLOAT, rawData: new Uint8Array(bScales.buffer) },
            { name: `${bName}__zero_point`, dims: [cout], dataType: DT.INT32, rawData: new Uint8Array(cout * 4) },
          );
          nodes.push({ opType: 'DequantizeLinear', name: `DequantizeLinear_${bName}`, input: [`${bName}__int32`, `${bName}__scale`, `${bName}__zero_point`],
            output: [dq(bName)], attribute: [{ name: 'axis', type: A.INT, i: 0 }] });
          inputs[2] = dq(bName);
        }
        quantizedConvs++;
      }
    }
    nodes.push({ ...node, input: inputs });
    for (const o of node.output ?? []) if (quantised.has(o)) nodes.push(...qdqNodes(o));
  }
  graph.node = nodes.map((n) => onnx.NodeProto.create(n));
  graph.initializer = [...graph.initializer.filter((t) => !dropInit.has(t.name as string)), ...newInit.map((t) => onnx.TensorProto.create(t))];
  model.docString = `${model.docString ?? ''}; static int8 QDQ (per-channel int8 weights, per-tensor uint8 activations)`;
  return { bytes: onnx.ModelProto.encode(model).finish(), stats: { quantizedConvs, convs, quantizedTensors: tensors.length } };
}

/** Cosine similarity of two equal-length vectors (row `i` of two row-major matrices with `dim` columns). */
export function rowCosine(a: Float32Array, b: Float32Array, dim: number, i: number): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let j = i * dim; j < (i + 1) * dim; j++) {
    dot += a[j] * b[j];
    na += a[j] * a[j];
    nb += b[j] * b[j];
  }
  return na > 0 && nb > 0 ? dot / Math.sqrt(na * nb) : na === nb ? 1 : 0;
}
