// A TFLite float graph (tools/tflite.ts) as an ONNX graph in NCHW, op for op, for the operators
// the packaged MobileFaceNet uses: CONV_2D, DEPTHWISE_CONV_2D, ADD, SUB, MUL, ABS, RELU, RESHAPE.
// TFLite has no PReLU in this file: the exporter wrote each as relu(x) + c * (x - |x|), five ops
// over the whole activation. With a = 2c that is a * x + (1 - a) * relu(x) = a * (x + r * relu(x)),
// r = (1 - a) / a, per channel. Every PReLU here feeds only convolutions, which are linear in
// each input channel: the outer scale a goes into their weights, and what is left is a Relu and
// one per-channel scale-and-add (a BatchNormalization, which ONNX Runtime runs in its blocked
// NCHWc layout as a 1x1 depthwise convolution with the add fused). Measured (bench/RESULTS.md):
// an ONNX PRelu has no NCHWc kernel and made ONNX Runtime reorder the activation out and back
// around each of the 33 (5.2 ms a face); a * x + (1 - a) * relu(x) as two scales, 3.4 ms; this,
// one scale fewer.
import { GraphBuilder } from '../src/inference/onnx-writer.js';
import { depthwiseToOihw } from './tfjs-weights.js';
import type { TfliteModel, TfliteOperator, TfliteTensor } from './tflite.js';

/** How the input is normalised inside the graph: (x - mean) / divisor, x NHWC RGB 0..255. */
export type InputNormalization = { mean: number; divisor: number };

/** TFLite fused activations: NONE = 0, RELU = 1, RELU6 = 3 (the others do not occur here). */
const FUSED = { 0: undefined, 1: 'Relu', 3: 'Relu6' } as const;

/** [o, h, w, i] (TFLite conv filter) to ONNX [o, i, h, w]. */
function ohwiToOihw(t: TfliteTensor): { dims: number[]; data: Float32Array } {
  const [o, h, w, i] = t.shape as [number, number, number, number];
  const src = t.data as Float32Array;
  const out = new Float32Array(src.length);
  for (let k = 0; k < o; k++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < i; c++) out[((k * i + c) * h + y) * w + x] = src[((k * h + y) * w + x) * i + c]!;
  return { dims: [o, i, h, w], data: out };
}

/**
 * Multiplies an OIHW filter's input channels by `scale` (depthwise: its output channels, which are
 * its inputs), so that the convolution of x / scale gives what the original gave for x. Exact with
 * zero padding too: a padded zero is zero either way.
 */
function scaleInputChannels(
  w: { dims: number[]; data: Float32Array },
  scale: Float32Array,
  depthwise: boolean,
) {
  const [o, i, h, k] = w.dims as [number, number, number, number];
  const per = h * k;
  for (let a = 0; a < o; a++)
    for (let b = 0; b < i; b++) {
      const s = scale[depthwise ? a : b]!;
      for (let j = 0; j < per; j++) w.data[(a * i + b) * per + j]! *= s;
    }
}

/** TFLite SAME padding along one axis: [begin, end] (the extra pixel goes at the end). */
function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const total = Math.max(0, (out - 1) * stride + (kernel - 1) * dilation + 1 - size);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** The ops relu(x), |x|, x - |x|, c * that, relu + that, found by their tensors: one PRelu. */
type PreluPattern = { x: number; slope: TfliteTensor; output: number; ops: Set<TfliteOperator> };

/** Below this |a| the factored form's r = (1 - a) / a would lose precision; none is near it here. */
const MIN_FACTORED_SLOPE = 1e-5;

function findPrelus(m: TfliteModel): Map<TfliteOperator, PreluPattern> {
  const byInput = new Map<number, TfliteOperator[]>();
  for (const op of m.operators) for (const i of op.inputs) byInput.set(i, [...(byInput.get(i) ?? []), op]);
  const consumers = (t: number, kind: string) => (byInput.get(t) ?? []).filter((o) => o.op === kind);
  const found = new Map<TfliteOperator, PreluPattern>();
  for (const relu of m.operators.filter((o) => o.op === 'RELU')) {
    const x = relu.inputs[0]!;
    const abs = consumers(x, 'ABS')[0];
    const sub = abs && consumers(x, 'SUB').find((o) => o.inputs[1] === abs.outputs[0]);
    const mul = sub && consumers(sub.outputs[0]!, 'MUL')[0];
    const c = mul?.inputs.find((i) => i !== sub!.outputs[0]);
    const slope = c === undefined ? undefined : m.tensors[c];
    const add = mul && consumers(mul.outputs[0]!, 'ADD').find((o) => o.inputs.includes(relu.outputs[0]!));
    if (!abs || !sub || !mul || !add || !slope?.data) continue;
    found.set(relu, { x, slope, output: add.outputs[0]!, ops: new Set([relu, abs, sub, mul, add]) });
  }
  return found;
}

/**
 * The ONNX graph of a TFLite model with one NHWC float input and one output: input `image`
 * [batch, H, W, C] raw pixels, normalised inside; output `embedding` [batch, D]. The file's fixed
 * batch becomes a dynamic one.
 */
export function tfliteToOnnx(m: TfliteModel, name: string, norm: InputNormalization): GraphBuilder {
  const g = new GraphBuilder(name);
  const inputTensor = m.tensors[m.inputs[0]!]!;
  const [, h, w, c] = inputTensor.shape as [number, number, number, number];
  const image = g.input('image', ['batch', h, w, c]);
  const nchw = g.node('Transpose', [image], { perm: [0, 3, 1, 2] });
  const centred = g.node('Sub', [nchw, g.floats('input/mean', [], [norm.mean])]);
  /** TFLite tensor index -> ONNX value (activations in NCHW). */
  const values = new Map<number, string>([
    [m.inputs[0]!, g.node('Div', [centred, g.floats('input/divisor', [], [norm.divisor])])],
  ]);
  const value = (t: number) => {
    const v = values.get(t);
    if (v === undefined) throw new Error(`${name}: tensor ${m.tensors[t]?.name ?? t} used before it is made`);
    return v;
  };
  /** A per-channel constant [C] broadcast over NCHW as [C, 1, 1]. */
  const channelConstant = (t: TfliteTensor) => {
    const data = t.data as Float32Array;
    return g.floats(t.name, t.shape.length === 1 ? [data.length, 1, 1] : [], data);
  };
  const activation = (x: string, code: number, op: string) => {
    if (!(code in FUSED)) throw new Error(`${name}: ${op} with fused activation ${code} is not supported`);
    const kind = FUSED[code as keyof typeof FUSED];
    if (kind === 'Relu6')
      return g.node('Clip', [x, g.floats('relu6/min', [], [0]), g.floats('relu6/max', [], [6])]);
    return kind ? g.node(kind, [x]) : x;
  };

  const prelus = findPrelus(m);
  const fused = new Set([...prelus.values()].flatMap((p) => [...p.ops]));
  /** Tensors whose value in the graph is the TFLite tensor divided by these per-channel factors. */
  const pendingScale = new Map<number, Float32Array>();
  for (const op of m.operators) {
    const prelu = prelus.get(op);
    if (prelu) {
      const slope = (prelu.slope.data as Float32Array).map((v) => 2 * v);
      const readers = m.operators.filter((o) => o.inputs.includes(prelu.output));
      if (
        slope.some((a) => Math.abs(a) < MIN_FACTORED_SLOPE) ||
        readers.some((o) => !o.op.endsWith('CONV_2D'))
      )
        throw new Error(`${name}: the PReLU on ${prelu.slope.name} cannot be factored into its readers`);
      const c = slope.length;
      const at = (what: string, data: Float32Array) => g.floats(`${prelu.slope.name}/${what}`, [c], data);
      const x = value(prelu.x);
      // x + r * relu(x): the BatchNormalization scales relu(x) by r, the Add is fused into it.
      const scaledRelu = g.node(
        'BatchNormalization',
        [
          g.node('Relu', [x]),
          at(
            'r',
            slope.map((a) => (1 - a) / a),
          ),
          at('bias', new Float32Array(c)),
          at('mean', new Float32Array(c)),
          at('var', new Float32Array(c).fill(1)),
        ],
        { epsilon: { float: 0 } },
      );
      values.set(prelu.output, g.node('Add', [x, scaledRelu]));
      pendingScale.set(prelu.output, slope);
      continue;
    }
    if (fused.has(op)) continue;
    const out = op.outputs[0]!;
    const [a, b, bias] = op.inputs.map((i) => m.tensors[i]!);
    switch (op.op) {
      case 'CONV_2D':
      case 'DEPTHWISE_CONV_2D': {
        const depthwise = op.op === 'DEPTHWISE_CONV_2D';
        const [, inH, inW, inC] = a!.shape as [number, number, number, number];
        if (depthwise && op.options.depth_multiplier !== 1)
          throw new Error(
            `${name}: depthwise multiplier ${String(op.options.depth_multiplier)} not supported`,
          );
        const weight = depthwise
          ? depthwiseToOihw({
              shape: [b!.shape[1]!, b!.shape[2]!, b!.shape[3]!, 1],
              data: b!.data as Float32Array,
            })
          : ohwiToOihw(b!);
        const inputScale = pendingScale.get(op.inputs[0]!);
        if (inputScale) scaleInputChannels(weight, inputScale, depthwise);
        const [kh, kw] = weight.dims.slice(2) as [number, number];
        const [sh, sw, dh, dw] = ['stride_h', 'stride_w', 'dilation_h_factor', 'dilation_w_factor'].map(
          (k) => op.options[k] as number,
        ) as [number, number, number, number];
        const same = op.options.padding === 0;
        const [top, bottom] = same ? samePads(inH, kh, sh, dh) : [0, 0];
        const [left, right] = same ? samePads(inW, kw, sw, dw) : [0, 0];
        const conv = g.node(
          'Conv',
          [
            value(op.inputs[0]!),
            g.floats(b!.name, weight.dims, weight.data),
            g.floats(bias!.name, [bias!.shape[0]!], bias!.data as Float32Array),
          ],
          {
            kernel_shape: [kh, kw],
            strides: [sh, sw],
            dilations: [dh, dw],
            pads: [top, left, bottom, right],
            group: depthwise ? inC : 1,
          },
        );
        values.set(out, activation(conv, op.options.fused_activation_function as number, op.op));
        break;
      }
      case 'ADD':
      case 'SUB':
      case 'MUL': {
        const operand = (t: TfliteTensor, i: number) => (t.data ? channelConstant(t) : value(op.inputs[i]!));
        const kind = { ADD: 'Add', SUB: 'Sub', MUL: 'Mul' }[op.op];
        const y = g.node(kind, [operand(a!, 0), operand(b!, 1)]);
        values.set(out, activation(y, op.options.fused_activation_function as number, op.op));
        break;
      }
      case 'RELU':
        values.set(out, g.node('Relu', [value(op.inputs[0]!)]));
        break;
      case 'ABS':
        values.set(out, g.node('Abs', [value(op.inputs[0]!)]));
        break;
      case 'RESHAPE': {
        // Only the final [N, 1, 1, D] -> [N, D]: in NCHW that is a flatten too.
        const target = m.tensors[out]!.shape;
        const [, sh, sw] = a!.shape as [number, number, number, number];
        if (target.length !== 2 || sh !== 1 || sw !== 1)
          throw new Error(
            `${name}: RESHAPE [${a!.shape.join(',')}] -> [${target.join(',')}] is not supported`,
          );
        values.set(out, g.node('Flatten', [value(op.inputs[0]!)], { axis: 1 }));
        break;
      }
      default:
        throw new Error(`${name}: operator ${op.op} is not supported`);
    }
  }
  const outputTensor = m.tensors[m.outputs[0]!]!;
  g.node('Identity', [value(m.outputs[0]!)], {}, 'embedding');
  g.output('embedding', ['batch', outputTensor.shape.at(-1)!]);
  return g;
}
