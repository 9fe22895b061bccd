// The trainable part: a small fully connected network on top of the frozen encoder's
// embeddings, with gradients written by hand (one or two layers do not pay for an
// automatic-differentiation library; test/training checks every gradient against finite
// differences). Layers are dense, ReLU between them, optionally an L2 normalisation at the end
// (the triplet head: distances between unit vectors, so the margin has a fixed scale).
import { gaussian, type Random } from './random.js';

export type Dense = {
  inDim: number;
  outDim: number;
  /** Row-major [outDim][inDim]. */
  w: Float64Array;
  b: Float64Array;
};

export type Network = { layers: Dense[]; normalize: boolean };

export type Gradients = { w: Float64Array[]; b: Float64Array[] };

/**
 * `dims` = [input, hidden..., output]. With `identity` (one layer, square) the network starts as
 * the identity, so training starts from the plain embedding distance rather than from noise;
 * otherwise He-initialised.
 */
export function createNetwork(
  dims: readonly number[],
  opts: { normalize: boolean; identity?: boolean; random: Random },
): Network {
  const layers: Dense[] = [];
  for (let l = 0; l + 1 < dims.length; l++) {
    const inDim = dims[l]!;
    const outDim = dims[l + 1]!;
    const w = new Float64Array(outDim * inDim);
    const scale = Math.sqrt(2 / inDim);
    if (opts.identity && dims.length === 2 && inDim === outDim)
      for (let i = 0; i < inDim; i++) w[i * inDim + i] = 1;
    else for (let i = 0; i < w.length; i++) w[i] = gaussian(opts.random) * scale;
    layers.push({ inDim, outDim, w, b: new Float64Array(outDim) });
  }
  return { layers, normalize: opts.normalize };
}

export function cloneNetwork(n: Network): Network {
  return {
    normalize: n.normalize,
    layers: n.layers.map((l) => ({ ...l, w: Float64Array.from(l.w), b: Float64Array.from(l.b) })),
  };
}

export type ForwardCache = {
  rows: number;
  /** Input of each layer (after the previous ReLU), then the final pre-normalisation output. */
  acts: Float64Array[];
  /** Norm of each output row, when normalising. */
  norms: Float64Array | undefined;
  output: Float64Array;
};

/** x: `rows` inputs of the first layer's width, row-major. */
export function forward(net: Network, x: Float64Array, rows: number): ForwardCache {
  const acts = [x];
  let cur = x;
  net.layers.forEach((layer, l) => {
    const out = new Float64Array(rows * layer.outDim);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < layer.outDim; o++) {
        let s = layer.b[o]!;
        const wo = o * layer.inDim;
        const xr = r * layer.inDim;
        for (let i = 0; i < layer.inDim; i++) s += layer.w[wo + i]! * cur[xr + i]!;
        out[r * layer.outDim + o] = l < net.layers.length - 1 ? Math.max(0, s) : s;
      }
    }
    acts.push(out);
    cur = out;
  });
  if (!net.normalize) return { rows, acts, norms: undefined, output: cur };
  const dim = net.layers.at(-1)!.outDim;
  const norms = new Float64Array(rows);
  const output = new Float64Array(cur.length);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += cur[r * dim + k]! ** 2;
    const n = Math.sqrt(s) + 1e-12;
    norms[r] = n;
    for (let k = 0; k < dim; k++) output[r * dim + k] = cur[r * dim + k]! / n;
  }
  return { rows, acts, norms, output };
}

/** Gradients of the parameters given dLoss/dOutput. */
export function backward(net: Network, cache: ForwardCache, dOutput: Float64Array): Gradients {
  const { rows, acts } = cache;
  const last = net.layers.at(-1)!;
  let grad = dOutput;
  if (net.normalize) {
    // y = z / |z|: dz = (dy - y (y . dy)) / |z|
    const dim = last.outDim;
    grad = new Float64Array(dOutput.length);
    for (let r = 0; r < rows; r++) {
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += cache.output[r * dim + k]! * dOutput[r * dim + k]!;
      for (let k = 0; k < dim; k++)
        grad[r * dim + k] = (dOutput[r * dim + k]! - cache.output[r * dim + k]! * dot) / cache.norms![r]!;
    }
  }
  const gw: Float64Array[] = [];
  const gb: Float64Array[] = [];
  for (let l = net.layers.length - 1; l >= 0; l--) {
    const layer = net.layers[l]!;
    const input = acts[l]!;
    const w = new Float64Array(layer.w.length);
    const b = new Float64Array(layer.outDim);
    const dInput = new Float64Array(rows * layer.inDim);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < layer.outDim; o++) {
        const g = grad[r * layer.outDim + o]!;
        if (g === 0) continue;
        b[o]! += g;
        const wo = o * layer.inDim;
        const xr = r * layer.inDim;
        for (let i = 0; i < layer.inDim; i++) {
          w[wo + i]! += g * input[xr + i]!;
          dInput[xr + i]! += g * layer.w[wo + i]!;
        }
      }
    }
    gw[l] = w;
    gb[l] = b;
    // Through the ReLU that produced this layer's input.
    if (l > 0) for (let i = 0; i < dInput.length; i++) if (input[i]! <= 0) dInput[i] = 0;
    grad = dInput;
  }
  return { w: gw, b: gb };
}

/**
 * Adam, with the usual defaults. `weightDecay` is an L2 pull of the weights (not biases), by
 * default toward their starting values (L2-SP): a head that starts as the identity stays near
 * the encoder's own geometry unless the data says otherwise, which matters with few training
 * identities. A randomly initialised head decays toward zero instead.
 */
export class Adam {
  private t = 0;
  private readonly m: Float64Array[];
  private readonly v: Float64Array[];
  private readonly start: Float64Array[];

  constructor(
    private readonly net: Network,
    private readonly lr: number,
    private readonly weightDecay = 0,
    /** Pull toward the starting weights (L2-SP) rather than toward zero (plain L2). */
    towardStart = true,
    private readonly beta1 = 0.9,
    private readonly beta2 = 0.999,
  ) {
    const params = this.params();
    this.m = params.map((p) => new Float64Array(p.length));
    this.v = params.map((p) => new Float64Array(p.length));
    this.start = params.map((p) => (towardStart ? Float64Array.from(p) : new Float64Array(p.length)));
  }

  private params(): Float64Array[] {
    return this.net.layers.flatMap((l) => [l.w, l.b]);
  }

  step(g: Gradients): void {
    this.t++;
    const grads = this.net.layers.flatMap((_, l) => [g.w[l]!, g.b[l]!]);
    const params = this.params();
    const c1 = 1 - this.beta1 ** this.t;
    const c2 = 1 - this.beta2 ** this.t;
    params.forEach((p, k) => {
      const gk = grads[k]!;
      const m = this.m[k]!;
      const v = this.v[k]!;
      const decay = k % 2 === 0 ? this.weightDecay : 0;
      const start = this.start[k]!;
      for (let i = 0; i < p.length; i++) {
        const gi = gk[i]! + decay * (p[i]! - start[i]!);
        m[i] = this.beta1 * m[i]! + (1 - this.beta1) * gi;
        v[i] = this.beta2 * v[i]! + (1 - this.beta2) * gi * gi;
        p[i]! -= (this.lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
      }
    });
  }
}
