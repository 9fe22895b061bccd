// Static int8 quantization of the graphs in tools/nets.ts, in ONNX Runtime's QDQ form: each
// activation the builder marks passes through QuantizeLinear/DequantizeLinear with a range
// measured on calibration images, and each convolution's weights are stored as int8 with one
// scale per output channel (and its bias as int32 at input scale x weight scale). ONNX Runtime
// fuses those groups into QLinearConv and friends, which run on the CPU's int8 units (VNNI, AMX);
// TensorRT reads the same form. The float graph stays the reference: the same builder, with no
// ranges, marks the same activations as extra outputs so calibration can measure them.
import type { GraphBuilder } from '../src/inference/onnx-writer.js';

export type Range = [min: number, max: number];
/** Calibrated [min, max] of each marked activation, by the name the builder gives it. */
export type ActivationRanges = Record<string, Range>;

type UInt8Params = { scale: number; zeroPoint: number };

/** Asymmetric uint8 parameters for [min, max], widened to hold 0 exactly (zero padding). */
export function uint8Params([lo, hi]: Range): UInt8Params {
  const min = Math.min(0, lo);
  const max = Math.max(0, hi);
  const scale = Math.fround((max - min) / 255 || 1);
  return { scale, zeroPoint: Math.min(255, Math.max(0, Math.round(-min / scale))) };
}

/**
 * The largest int8 weight magnitude: 7 bits (ONNX Runtime's "reduce range"), not 127. Without
 * VNNI (AVX2, AVX-512 without VNNI) ONNX Runtime's u8 x s8 kernels (MLAS QGEMM and ConvSym) use
 * vpmaddubsw, which adds two adjacent products into a saturating int16: 255 x 127 x 2 = 64,770
 * overflows 32,767, 255 x 63 x 2 = 32,130 does not. With VNNI/AMX (vpdpbusd, int32 sums) and on
 * ARM64 (widening multiplies or sdot/udot into int32) no sum saturates either way, so with 7-bit
 * weights every CPU computes the same integers. Measured (bench/RESULTS.md, 2026-12-06): 8-bit
 * weights put a face 0.21 from its float embedding on AVX2; 7-bit weights keep every sample face
 * within 0.036 on AVX2 and VNNI alike, for 0.1 point of lfw-dev accuracy and no speed.
 */
export const WEIGHT_LEVELS = 63;

/** Symmetric int8 weights in [-levels, levels], one scale per output channel (the first axis). */
export function int8PerChannel(
  data: Float32Array,
  outChannels: number,
  levels = WEIGHT_LEVELS,
): { q: Int8Array; scales: Float32Array } {
  const per = data.length / outChannels;
  const q = new Int8Array(data.length);
  const scales = new Float32Array(outChannels);
  for (let o = 0; o < outChannels; o++) {
    let peak = 0;
    for (let i = 0; i < per; i++) peak = Math.max(peak, Math.abs(data[o * per + i]!));
    const scale = Math.fround(peak / levels || 1);
    scales[o] = scale;
    for (let i = 0; i < per; i++) q[o * per + i] = Math.round(data[o * per + i]! / scale);
  }
  return { q, scales };
}

export class Quantizer {
  private readonly observed = new Set<string>();
  private readonly params = new Map<string, { scale: string; zeroPoint: string; value: UInt8Params }>();
  private readonly scaleOfTensor = new Map<string, number>();
  private readonly meanOfTensor = new Map<string, readonly number[]>();

  /** With ranges, builds the int8 graph; without, the float graph with marked activations exposed. */
  constructor(
    private readonly g: GraphBuilder,
    private readonly ranges?: ActivationRanges,
    /** 127 only to show what 8-bit weights do on CPUs without VNNI (the emulated-CPU test). */
    private readonly weightLevels = WEIGHT_LEVELS,
  ) {}

  /**
   * Marks activation `x` under `name`: in the int8 graph it comes back quantized and dequantized;
   * in the float graph it is also exposed as an output of that name, for calibration, unless it
   * is `known` without measuring (raw pixels: their range, and the mean the network was trained on).
   */
  activation(x: string, name: string, known?: { range: Range; mean: readonly number[] }): string {
    if (!this.ranges) {
      if (!known && !this.observed.has(name)) {
        this.g.node('Identity', [x], {}, name);
        this.g.output(name, [`${name}:n`, `${name}:c`, `${name}:h`, `${name}:w`]);
        this.observed.add(name);
      }
      return x;
    }
    const p = this.paramsFor(name, known?.range);
    const q = this.g.node('QuantizeLinear', [x, p.scale, p.zeroPoint]);
    const out = this.dequantized(q, p);
    if (known) this.meanOfTensor.set(out, known.mean);
    return out;
  }

  /** Conv weights and bias: as they are in the float graph, int8/int32 behind DequantizeLinear in the int8 one. */
  convInputs(
    x: string,
    name: string,
    weight: { dims: readonly number[]; data: Float32Array },
    bias: Float32Array | undefined,
  ): string[] {
    const g = this.g;
    if (!this.ranges) {
      const w = g.floats(`${name}/W`, weight.dims, weight.data);
      return bias ? [x, w, g.floats(`${name}/B`, [bias.length], bias)] : [x, w];
    }
    const inputScale = this.scaleOfTensor.get(x);
    if (inputScale === undefined) throw new Error(`${name}: its input is not a quantized activation`);
    const cout = weight.dims[0]!;
    const { q, scales } = int8PerChannel(weight.data, cout, this.weightLevels);
    // Bias correction: rounding the weights shifts each output by sum((wq - w) * x), whose
    // expectation is sum((wq - w) * E[x]); with raw pixels (mean about 115) that shift is large.
    const mean = this.meanOfTensor.get(x);
    if (bias && mean) {
      bias = Float32Array.from(bias);
      const cin = mean.length;
      const per = weight.data.length / cout / cin;
      for (let o = 0; o < cout; o++)
        for (let c = 0; c < cin; c++)
          for (let k = 0; k < per; k++) {
            const i = (o * cin + c) * per + k;
            bias[o] = bias[o]! - (q[i]! * scales[o]! - weight.data[i]!) * mean[c]!;
          }
    }
    const wScales = g.floats(`${name}/W_scale`, [cout], scales);
    const w = g.node(
      'DequantizeLinear',
      [
        g.constant(`${name}/W_q`, { type: 'int8', dims: weight.dims, data: q }),
        wScales,
        g.constant(`${name}/W_zero`, { type: 'int8', dims: [cout], data: new Int8Array(cout) }),
      ],
      { axis: 0 },
    );
    if (!bias) return [x, w];
    const bScales = Float32Array.from(scales, (s) => Math.fround(s * inputScale));
    const b = g.node(
      'DequantizeLinear',
      [
        g.constant(`${name}/B_q`, {
          type: 'int32',
          dims: [cout],
          data: Int32Array.from(bias, (v, o) => Math.round(v / bScales[o]!)),
        }),
        g.floats(`${name}/B_scale`, [cout], bScales),
        g.constant(`${name}/B_zero`, { type: 'int32', dims: [cout], data: new Int32Array(cout) }),
      ],
      { axis: 0 },
    );
    return [x, w, b];
  }

  private paramsFor(name: string, known?: Range) {
    let p = this.params.get(name);
    if (!p) {
      const range = known ?? this.ranges?.[name];
      if (!range) throw new Error(`no calibrated range for activation ${name}`);
      const value = uint8Params(range);
      p = {
        value,
        scale: this.g.floats(`${name}/scale`, [], [value.scale]),
        zeroPoint: this.g.constant(`${name}/zero_point`, {
          type: 'uint8',
          dims: [],
          data: Uint8Array.of(value.zeroPoint),
        }),
      };
      this.params.set(name, p);
    }
    return p;
  }

  private dequantized(q: string, p: { scale: string; zeroPoint: string; value: UInt8Params }): string {
    const out = this.g.node('DequantizeLinear', [q, p.scale, p.zeroPoint]);
    this.scaleOfTensor.set(out, p.value.scale);
    return out;
  }
}
