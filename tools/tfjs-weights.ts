// Reads the weights that tfjs models ship: a *-weights_manifest.json listing tensors stored back
// to back in .bin shards, optionally uint8-quantized (value = q * scale + min).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

type WeightEntry = {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale: number; min: number };
};
type WeightGroup = { paths: string[]; weights: WeightEntry[] };

export type Tensor = { shape: number[]; data: Float32Array };

export class WeightMap {
  private readonly used = new Set<string>();

  constructor(
    private readonly tensors: Map<string, Tensor>,
    readonly source: string,
  ) {}

  /** The tensor called `name`, checked against the shape the converter expects. */
  get(name: string, shape: readonly number[]): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`${this.source}: no tensor named ${name}`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(
        `${this.source}: ${name} has shape [${t.shape.join(',')}], expected [${shape.join(',')}]`,
      );
    }
    this.used.add(name);
    return t;
  }

  /** Fails when the converter left a tensor unused: the graph would then differ from the source. */
  assertAllUsed(): void {
    const unused = [...this.tensors.keys()].filter((k) => !this.used.has(k));
    if (unused.length) throw new Error(`${this.source}: unused tensors ${unused.join(', ')}`);
  }
}

export function readTfjsWeights(manifestPath: string): WeightMap {
  const groups = JSON.parse(readFileSync(manifestPath, 'utf8')) as WeightGroup[];
  const tensors = new Map<string, Tensor>();
  for (const group of groups) {
    const buf = Buffer.concat(group.paths.map((p) => readFileSync(join(dirname(manifestPath), p))));
    let offset = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(count);
      if (w.quantization) {
        if (w.quantization.dtype !== 'uint8') {
          throw new Error(`${manifestPath}: ${w.name}: unsupported quantization ${w.quantization.dtype}`);
        }
        const { scale, min } = w.quantization;
        for (let i = 0; i < count; i++) data[i] = buf[offset + i]! * scale + min;
        offset += count;
      } else {
        if (w.dtype !== 'float32')
          throw new Error(`${manifestPath}: ${w.name}: unsupported dtype ${w.dtype}`);
        for (let i = 0; i < count; i++) data[i] = buf.readFloatLE(offset + 4 * i);
        offset += 4 * count;
      }
      tensors.set(w.name, { shape: w.shape, data });
    }
    if (offset !== buf.length) {
      throw new Error(`${manifestPath}: read ${offset} of ${buf.length} bytes of weights`);
    }
  }
  return new WeightMap(tensors, manifestPath);
}

/** HWIO (tfjs conv filter) to OIHW (ONNX Conv weight). */
export function hwioToOihw(t: Tensor): { dims: number[]; data: Float32Array } {
  const [h, w, i, o] = t.shape as [number, number, number, number];
  const out = new Float32Array(t.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < i; c++)
        for (let k = 0; k < o; k++)
          out[((k * i + c) * h + y) * w + x] = t.data[((y * w + x) * i + c) * o + k]!;
  return { dims: [o, i, h, w], data: out };
}

/** Depthwise [H, W, C, 1] to ONNX grouped-conv weight [C, 1, H, W]. */
export function depthwiseToOihw(t: Tensor): { dims: number[]; data: Float32Array } {
  const [h, w, c, m] = t.shape as [number, number, number, number];
  if (m !== 1) throw new Error(`depthwise multiplier ${m} not supported`);
  const out = new Float32Array(t.data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let k = 0; k < c; k++) out[(k * h + y) * w + x] = t.data[(y * w + x) * c + k]!;
  return { dims: [c, 1, h, w], data: out };
}
