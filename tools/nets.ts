// ONNX graphs for the three face-api networks facegate uses, rebuilt op for op from the
// architectures in @vladmandic/face-api's source (see ../shared/docs/models.md). Each graph takes
// NHWC RGB pixels in 0..255 and applies the package's own normalisation inside the graph, so
// callers feed raw pixels and the parity tests compare whole networks on identical tensors.
import { DETECTOR_LEVELS } from '../src/inference/detector.js';
import { DataType, GraphBuilder } from '../src/inference/onnx-writer.js';
import { Quantizer, type ActivationRanges, type Range } from './quantize.js';
import { depthwiseToOihw, hwioToOihw, type WeightMap } from './tfjs-weights.js';

/**
 * float: the reference graph. observe: the same, with every activation the int8 graph quantizes
 * exposed as an output for calibration. Ranges: the int8 graph (tools/quantize.ts).
 */
export type Precision = 'float' | 'observe' | ActivationRanges;

/** Mean RGB that face-api subtracts before dividing by 255, per network. */
export const RECOGNITION_MEAN_RGB = [122.782, 117.001, 104.298] as const;
export const DETECTOR_MEAN_RGB = [117.001, 114.697, 97.404] as const;
export const PIXEL_DIVISOR = 255;
/** Raw pixels: uint8 holds them at a step of one grey level. */
const PIXEL_RANGE: Range = [0, 255];
export const ENCODER_SIZE = 150;
export const LANDMARKS_SIZE = 112;

/**
 * x (NHWC, 0..255) -> (x - mean) / 255 in NCHW. Transposed first: ONNX Runtime subtracts a mean
 * broadcast over whole planes far faster than over the innermost axis of 3 (0.40 -> 0.03 ms for
 * three 112x112 crops).
 */
function normalizedNchw(g: GraphBuilder, input: string, mean: readonly number[]): string {
  const nchw = g.node('Transpose', [input], { perm: [0, 3, 1, 2] });
  const centred = g.node('Sub', [nchw, g.floats('mean_rgb', [3, 1, 1], mean)]);
  return g.node('Div', [centred, g.floats('pixel_divisor', [], [PIXEL_DIVISOR])]);
}

/**
 * Weights of a first conv that reads raw pixels instead of (x - mean) / 255: exact when the conv
 * does not pad (padding would be 0 in one and mean in the other).
 */
function foldNormalization(
  weight: { dims: number[]; data: Float32Array },
  bias: Float32Array,
  mean: readonly number[],
): { weight: { dims: number[]; data: Float32Array }; bias: Float32Array } {
  const [cout, cin, kh, kw] = weight.dims as [number, number, number, number];
  const data = weight.data.map((v) => v / PIXEL_DIVISOR);
  const folded = Float32Array.from(bias);
  for (let o = 0; o < cout; o++)
    for (let c = 0; c < cin; c++)
      for (let k = 0; k < kh * kw; k++)
        folded[o] = folded[o]! - data[(o * cin + c) * kh * kw + k]! * mean[c]!;
  return { weight: { dims: weight.dims, data }, bias: folded };
}

type Pads = [top: number, left: number, bottom: number, right: number];

function conv(
  g: GraphBuilder,
  x: string,
  name: string,
  weight: { dims: number[]; data: Float32Array },
  bias: Float32Array,
  opts: { stride?: number; pads?: Pads; group?: number },
  q?: Quantizer,
): string {
  const [, , kh, kw] = weight.dims as [number, number, number, number];
  const s = opts.stride ?? 1;
  const [t, l, b, r] = opts.pads ?? [0, 0, 0, 0];
  return g.node(
    'Conv',
    q
      ? q.convInputs(x, name, weight, bias)
      : [x, g.floats(`${name}/W`, weight.dims, weight.data), g.floats(`${name}/B`, [bias.length], bias)],
    {
      kernel_shape: [kh, kw],
      strides: [s, s],
      pads: [t, l, b, r],
      group: opts.group ?? 1,
    },
  );
}

/**
 * face_recognition_model: dlib's ResNet-29, 150x150 -> 128-D descriptor (not L2-normalised).
 * Every conv is followed by a per-channel scale layer (x * w + b); it is folded into the conv.
 */
export function buildFaceRecognition(
  w: WeightMap,
  precision: Precision = 'float',
  weightLevels?: number,
): GraphBuilder {
  const g = new GraphBuilder('face_recognition');
  const q =
    precision === 'float'
      ? undefined
      : new Quantizer(g, precision === 'observe' ? undefined : precision, weightLevels);
  const mark = (v: string, name: string): string => (q ? q.activation(v, name) : v);
  const input = g.input('image', ['batch', ENCODER_SIZE, ENCODER_SIZE, 3]);
  // Raw pixels, with the normalisation folded into the first conv (exact: it does not pad). The
  // broadcast subtract and divide took 0.47 ms of 5.9 for three faces, as long as ten convs.
  const pixels = g.node('Transpose', [input], { perm: [0, 3, 1, 2] });
  let x = q ? q.activation(pixels, 'input', { range: PIXEL_RANGE, mean: RECOGNITION_MEAN_RGB }) : pixels;
  let size = ENCODER_SIZE;
  let channels = 3;

  // conv + bias, then scale (x * sw + sb) == conv with W * sw and bias * sw + sb.
  const scaledConv = (
    at: string,
    prefix: string,
    cin: number,
    cout: number,
    k: number,
    stride: number,
    pads: Pads,
    readsPixels = false,
  ): string => {
    const filters = hwioToOihw(w.get(`${prefix}/conv/filters`, [k, k, cin, cout]));
    const bias = w.get(`${prefix}/conv/bias`, [cout]).data;
    const sw = w.get(`${prefix}/scale/weights`, [cout]).data;
    const sb = w.get(`${prefix}/scale/biases`, [cout]).data;
    const per = cin * k * k;
    const folded = new Float32Array(filters.data.length);
    for (let o = 0; o < cout; o++)
      for (let i = 0; i < per; i++) folded[o * per + i] = filters.data[o * per + i]! * sw[o]!;
    const foldedBias = Float32Array.from(bias, (b, o) => b * sw[o]! + sb[o]!);
    const scaled = { weight: { dims: filters.dims, data: folded }, bias: foldedBias };
    const { weight, bias: b } = readsPixels
      ? foldNormalization(scaled.weight, scaled.bias, RECOGNITION_MEAN_RGB)
      : scaled;
    return conv(g, at, prefix, weight, b, { stride, pads }, q);
  };
  const same3: Pads = [1, 1, 1, 1]; // 3x3 stride 1 SAME pads symmetrically
  const valid: Pads = [0, 0, 0, 0];
  const outSize = (n: number, k: number, s: number): number => Math.floor((n - k) / s) + 1;

  x = mark(g.node('Relu', [scaledConv(x, 'conv32_down', 3, 32, 7, 2, valid, true)]), 'conv32_down');
  size = outSize(size, 7, 2);
  channels = 32;
  x = mark(g.node('MaxPool', [x], { kernel_shape: [3, 3], strides: [2, 2] }), 'conv32_down');
  size = outSize(size, 3, 2);

  const residual = (prefix: string): void => {
    const a = mark(
      g.node('Relu', [scaledConv(x, `${prefix}/conv1`, channels, channels, 3, 1, same3)]),
      `${prefix}/conv1`,
    );
    const b = mark(scaledConv(a, `${prefix}/conv2`, channels, channels, 3, 1, same3), `${prefix}/conv2`);
    x = mark(g.node('Relu', [g.node('Add', [b, x])]), prefix);
  };
  // Conv path: 3x3 stride 2 VALID. Shortcut: 2x2 average pool with zero channels appended.
  // When the conv path comes out one pixel smaller, face-api zero-pads it at the bottom/right.
  const residualDown = (prefix: string, cout: number): void => {
    const a = mark(
      g.node('Relu', [scaledConv(x, `${prefix}/conv1`, channels, cout, 3, 2, valid)]),
      `${prefix}/conv1`,
    );
    let b = mark(scaledConv(a, `${prefix}/conv2`, cout, cout, 3, 1, same3), `${prefix}/conv2`);
    const convSize = outSize(size, 3, 2);
    const poolSize = outSize(size, 2, 2);
    if (convSize !== poolSize) {
      const extra = poolSize - convSize;
      const pads = g.int64s(`${prefix}/pad_hw`, [0, 0, 0, 0, 0, 0, extra, extra]);
      b = mark(g.node('Pad', [b, pads]), `${prefix}/conv2`);
    }
    // The shortcut as one 2x2 stride-2 conv (0.25 from each input channel to the same output
    // channel, none to the appended ones): exact, and ONNX Runtime then runs it with the convs'
    // layout and int8 kernels instead of reordering around a pool and a pad (int8 encoder 3.36 ->
    // 3.05 ms for three faces, float 6.49 -> 6.34; bench/RESULTS.md).
    const pool = new Float32Array(cout * channels * 4);
    for (let c = 0; c < channels; c++) pool.fill(0.25, (c * channels + c) * 4, (c * channels + c + 1) * 4);
    const shortcut = mark(
      conv(
        g,
        x,
        `${prefix}/pool`,
        { dims: [cout, channels, 2, 2], data: pool },
        new Float32Array(cout),
        { stride: 2 },
        q,
      ),
      `${prefix}/pool`,
    );
    x = mark(g.node('Relu', [g.node('Add', [shortcut, b])]), prefix);
    size = poolSize;
    channels = cout;
  };

  residual('conv32_1');
  residual('conv32_2');
  residual('conv32_3');
  residualDown('conv64_down', 64);
  residual('conv64_1');
  residual('conv64_2');
  residual('conv64_3');
  residualDown('conv128_down', 128);
  residual('conv128_1');
  residual('conv128_2');
  residualDown('conv256_down', 256);
  residual('conv256_1');
  residual('conv256_2');
  residualDown('conv256_down_out', 256);

  const pooled = g.node('ReduceMean', [x], { axes: [2, 3], keepdims: 0 });
  const fc = w.get('fc', [256, 128]);
  g.node('MatMul', [pooled, g.floats('fc', fc.shape, fc.data)], {}, 'embedding');
  g.output('embedding', ['batch', 128]);
  w.assertAllUsed();
  return g;
}

function separable(
  g: GraphBuilder,
  w: WeightMap,
  x: string,
  prefix: string,
  cin: number,
  cout: number,
  stride: number,
  pads: Pads,
): string {
  const dw = depthwiseToOihw(w.get(`${prefix}/depthwise_filter`, [3, 3, cin, 1]));
  const depthwise = conv(g, x, `${prefix}/depthwise`, dw, new Float32Array(cin), {
    stride,
    pads,
    group: cin,
  });
  const pw = hwioToOihw(w.get(`${prefix}/pointwise_filter`, [1, 1, cin, cout]));
  return conv(g, depthwise, `${prefix}/pointwise`, pw, w.get(`${prefix}/bias`, [cout]).data, {});
}

/**
 * tiny_face_detector_model: Tiny-YOLOv2 with depthwise-separable blocks, fully convolutional,
 * run on a whole image pyramid at once: the level it is given and DETECTOR_LEVELS - 1 halvings.
 * Inputs: `image` [N, H, W, 3] uint8, the finest level (any size); `level_pads` [levels, 2]
 * int64, the rows and columns of zeros each level gets at its bottom and right (to multiples of
 * 32, the network's stride; negative values crop); `halving_resolution` float32, what each
 * halving is rounded to before the next: whole grey levels (1) as the halvings of a byte image
 * are, or 2^15, which keeps them exact. Level k is the first halved k times (2x2 means, an odd
 * last row or column dropped), fed to the network rounded half to even. Outputs `grid0`,
 * `grid1`, ... [N, H_k/32, W_k/32, 25] = 5 anchors x (tx, ty, tw, th, confidence logit), NHWC as
 * face-api decodes them. ONNX Runtime runs every level whether asked or not, so the caller
 * shrinks the levels it does not need to one cell (about 0.1 ms each). Halving inside the graph
 * instead of in JavaScript, one run instead of one per level, saves the halvings, the padding
 * copies and a run per level (bench/RESULTS.md).
 */
export function buildTinyFaceDetector(w: WeightMap): GraphBuilder {
  const g = new GraphBuilder('tiny_face_detector');
  const leaky = (v: string): string => g.node('LeakyRelu', [v], { alpha: { float: 0.1 } });
  // TF SAME max pooling pads only at the end; ONNX's SAME_UPPER does the same, ignoring pads.
  const pool = (v: string, stride: number): string =>
    g.node('MaxPool', [v], { kernel_shape: [2, 2], strides: [stride, stride], auto_pad: 'SAME_UPPER' });
  const c0 = foldNormalization(
    hwioToOihw(w.get('conv0/filters', [3, 3, 3, 16])),
    w.get('conv0/bias', [16]).data,
    DETECTOR_MEAN_RGB,
  );
  // The network on one padded level; built once per level, sharing its weights.
  const network = (level: string, k: number): void => {
    let x = pool(leaky(conv(g, level, 'conv0', c0.weight, c0.bias, {})), 2);
    const widths = [16, 32, 64, 128, 256, 512];
    for (let i = 1; i <= 5; i++) {
      x = leaky(separable(g, w, x, `conv${i}`, widths[i - 1]!, widths[i]!, 1, [1, 1, 1, 1]));
      x = pool(x, i === 5 ? 1 : 2);
    }
    const c8 = hwioToOihw(w.get('conv8/filters', [1, 1, 512, 25]));
    const logits = conv(g, x, 'conv8', c8, w.get('conv8/bias', [25]).data, {});
    g.node('Transpose', [logits], { perm: [0, 2, 3, 1] }, `grid${k}`);
    g.output(`grid${k}`, ['batch', `rows${k}`, `cols${k}`, 25]);
  };

  // uint8 pixels in, normalisation folded into conv0: on a 720p level the float input, and the
  // broadcast subtract and divide over it, took a quarter of the network's time.
  const pixels = g.input('image', ['batch', 'height', 'width', 3], 'uint8');
  const levelPads = g.input('level_pads', [DETECTOR_LEVELS, 2], 'int64');
  const resolution = g.input('halving_resolution', [], 'float32');
  const half = g.floats('half', [], [0.5]);
  // Level k's padding [rows, cols] at the bottom/right, as Pad's 8 values for an NHWC or NCHW tensor.
  const padsOf = (k: number, layout: 'NHWC' | 'NCHW'): string => {
    const after = g.node('Reshape', [
      g.node('Gather', [levelPads, g.int64s(`level${k}`, [k])], { axis: 0 }),
      g.int64s('flat', [-1]),
    ]);
    const parts =
      layout === 'NHWC'
        ? [g.int64s('zeros5', [0, 0, 0, 0, 0]), after, g.int64s('zeros1', [0])]
        : [g.int64s('zeros6', [0, 0, 0, 0, 0, 0]), after];
    return g.node('Concat', parts, { axis: 0 });
  };
  // The first level is padded as bytes, before the float conversion: a quarter of the memory.
  const first = g.node('Pad', [pixels, padsOf(0, 'NHWC')]);
  const firstNchw = g.node('Cast', [g.node('Transpose', [first], { perm: [0, 3, 1, 2] })], {
    to: DataType.float32,
  });
  network(firstNchw, 0);
  // Its halving from the padded tensor, cut to the unpadded level's halved size (floor), which
  // drops what the padding added to an odd last row or column.
  const halvedSize = g.node('Div', [
    g.node('Slice', [g.node('Shape', [pixels]), g.int64s('hw_start', [1]), g.int64s('hw_end', [3])]),
    g.int64s('two', [2]),
  ]);
  const halve = (v: string, size?: string): string => {
    const average = g.node('AveragePool', [v], { kernel_shape: [2, 2], strides: [2, 2] });
    const cut = size
      ? g.node('Slice', [average, g.int64s('zeros2', [0, 0]), size, g.int64s('hw_axes', [2, 3])])
      : average;
    // Rounded half up to a multiple of 1 / resolution: 1 rounds to bytes; 2^15 keeps the averages
    // exact (k halvings of bytes have 2k fractional bits, and 255 * 2^15 + 0.5 fits a float32).
    return g.node('Div', [
      g.node('Floor', [g.node('Add', [g.node('Mul', [cut, resolution]), half])]),
      resolution,
    ]);
  };
  let level = halve(firstNchw, halvedSize);
  for (let k = 1; k < DETECTOR_LEVELS; k++) {
    if (k > 1) level = halve(level);
    // To the network rounded half to even, as a Uint8ClampedArray stores a float level.
    network(g.node('Pad', [g.node('Round', [level]), padsOf(k, 'NCHW')]), k);
  }
  w.assertAllUsed();
  return g;
}

/**
 * face_landmark_68_model and face_landmark_68_tiny_model: dense blocks of depthwise-separable
 * convolutions (4 blocks of 4 convs, or 3 of 3 in the tiny one) and a fully connected layer,
 * 112x112 -> 136 values, the 68 (x, y) landmarks in 0..1 of the (centre-padded) input square.
 */
export function buildFaceLandmarks68(w: WeightMap, variant: 'full' | 'tiny'): GraphBuilder {
  const g = new GraphBuilder(variant === 'tiny' ? 'face_landmark_68_tiny' : 'face_landmark_68');
  const input = g.input('image', ['batch', LANDMARKS_SIZE, LANDMARKS_SIZE, 3]);
  let x = normalizedNchw(g, input, RECOGNITION_MEAN_RGB);
  // 3x3 stride 2 SAME on an even size pads 0 before and 1 after (TF's rule).
  const down: Pads = [0, 0, 1, 1];
  const same: Pads = [1, 1, 1, 1];
  const convsPerBlock = variant === 'tiny' ? 3 : 4;
  const widths = variant === 'tiny' ? [32, 64, 128] : [32, 64, 128, 256];

  // out1 = relu(conv0(x)); each further conv k reads relu(out1 + out2 + ... + outk) and the
  // block returns relu(out1 + ... + outN), summed right to left as face-api does.
  const denseBlock = (prefix: string, cin: number, cout: number, first: boolean): void => {
    const c0 = first
      ? conv(
          g,
          x,
          `${prefix}/conv0`,
          hwioToOihw(w.get(`${prefix}/conv0/filters`, [3, 3, cin, cout])),
          w.get(`${prefix}/conv0/bias`, [cout]).data,
          { stride: 2, pads: down },
        )
      : separable(g, w, x, `${prefix}/conv0`, cin, cout, 2, down);
    const out1 = g.node('Relu', [c0]);
    const later: string[] = [];
    let next = out1;
    for (let k = 1; k < convsPerBlock; k++) {
      later.push(separable(g, w, next, `${prefix}/conv${k}`, cout, cout, 1, same));
      const tail = later.reduceRight((acc, o) => (acc === '' ? o : g.node('Add', [o, acc])), '');
      next = g.node('Relu', [g.node('Add', [out1, tail])]);
    }
    x = next;
  };
  widths.forEach((cout, i) => denseBlock(`dense${i}`, i === 0 ? 3 : widths[i - 1]!, cout, i === 0));

  const side = LANDMARKS_SIZE / 2 ** widths.length;
  const pooled = g.node('AveragePool', [x], { kernel_shape: [side, side], strides: [2, 2] });
  const flat = g.node('Flatten', [pooled], { axis: 1 });
  const channels = widths[widths.length - 1]!;
  const fcW = w.get('fc/weights', [channels, 136]);
  const fcB = w.get('fc/bias', [136]);
  const fc = g.node('MatMul', [flat, g.floats('fc/weights', fcW.shape, fcW.data)]);
  g.node('Add', [fc, g.floats('fc/bias', [136], fcB.data)], {}, 'landmarks');
  g.output('landmarks', ['batch', 136]);
  w.assertAllUsed();
  return g;
}
