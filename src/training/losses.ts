// The two ways facegate learns a similarity on top of the frozen encoder.
//
// Triplet loss (FaceNet): for an anchor A, a positive P (same person) and a negative N,
//   L = max(|f(A) - f(P)|^2 - |f(A) - f(N)|^2 + alpha, 0),
// over every anchor-positive pair of a P-identities x K-images mini-batch, each with one negative
// mined inside the batch: 'hard' (the closest negative), 'semi-hard' (the closest negative that
// is still farther than the positive, inside the margin; the hardest when there is none), or
// 'random'. The fraction of triplets that still violate the margin shows how training goes.
//
// Binary head: |f(x1) - f(x2)| element-wise into a small network with a logistic output,
// trained with binary cross-entropy on same/different pairs of the batch (every positive pair;
// per anchor its hardest negative and a random one), so the output is a similarity in 0..1.
import type { Random } from './random.js';

export const MINING = ['hard', 'semi-hard', 'random'] as const;
export type Mining = (typeof MINING)[number];

export type Triplet = { anchor: number; positive: number; negative: number };

/** Squared Euclidean distances between all rows of y (rows x dim). */
export function pairwiseSquared(y: Float64Array, rows: number, dim: number): Float64Array {
  const d = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) {
    for (let j = i + 1; j < rows; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (y[i * dim + k]! - y[j * dim + k]!) ** 2;
      d[i * rows + j] = s;
      d[j * rows + i] = s;
    }
  }
  return d;
}

/** The batch members of another identity than `a`, and the closest of them (-1: none). */
function negativesOf(d2: Float64Array, labels: readonly (string | number)[], a: number) {
  const n = labels.length;
  const negatives: number[] = [];
  let hardest = -1;
  for (let j = 0; j < n; j++) {
    if (labels[j] === labels[a]) continue;
    negatives.push(j);
    if (hardest < 0 || d2[a * n + j]! < d2[a * n + hardest]!) hardest = j;
  }
  return { negatives, hardest };
}

/** Every ordered anchor-positive pair of the batch with one negative chosen by `mining`. */
export function mineTriplets(
  d2: Float64Array,
  labels: readonly (string | number)[],
  margin: number,
  mining: Mining,
  random: Random,
): Triplet[] {
  const n = labels.length;
  const triplets: Triplet[] = [];
  for (let a = 0; a < n; a++) {
    const { negatives, hardest } = negativesOf(d2, labels, a);
    if (hardest < 0) continue;
    for (let p = 0; p < n; p++) {
      if (p === a || labels[p] !== labels[a]) continue;
      let negative = hardest;
      if (mining === 'random') negative = negatives[Math.floor(random() * negatives.length)]!;
      else if (mining === 'semi-hard') {
        const dp = d2[a * n + p]!;
        let best = -1;
        for (const j of negatives) {
          const dn = d2[a * n + j]!;
          if (dn > dp && dn < dp + margin && (best < 0 || dn < d2[a * n + best]!)) best = j;
        }
        if (best >= 0) negative = best;
      }
      triplets.push({ anchor: a, positive: p, negative });
    }
  }
  return triplets;
}

export type LossResult = {
  loss: number;
  /** dLoss/dOutputs, same layout as the outputs. */
  grad: Float64Array;
  count: number;
  /** Triplets (or pairs) with a non-zero loss: still violating the margin / misclassified. */
  active: number;
};

/**
 * Mean triplet loss over `triplets` and its gradient with respect to y (rows x dim). `d2`: the
 * rows' squared distances, when the caller has them from mining.
 */
export function tripletLoss(
  y: Float64Array,
  dim: number,
  triplets: readonly Triplet[],
  margin: number,
  d2: Float64Array = pairwiseSquared(y, y.length / dim, dim),
): LossResult {
  const grad = new Float64Array(y.length);
  let loss = 0;
  let active = 0;
  const rows = y.length / dim;
  for (const { anchor: a, positive: p, negative: n } of triplets) {
    const l = d2[a * rows + p]! - d2[a * rows + n]! + margin;
    if (l <= 0) continue;
    active++;
    loss += l;
    for (let k = 0; k < dim; k++) {
      const ya = y[a * dim + k]!;
      const yp = y[p * dim + k]!;
      const yn = y[n * dim + k]!;
      grad[a * dim + k]! += 2 * (yn - yp);
      grad[p * dim + k]! += -2 * (ya - yp);
      grad[n * dim + k]! += 2 * (ya - yn);
    }
  }
  const count = triplets.length || 1;
  for (let i = 0; i < grad.length; i++) grad[i]! /= count;
  return { loss: loss / count, grad, count: triplets.length, active };
}

export type Pair = { a: number; b: number; same: boolean };

/** Every positive pair of the batch, and per anchor its hardest negative and a random one. */
export function batchPairs(d2: Float64Array, labels: readonly (string | number)[], random: Random): Pair[] {
  const n = labels.length;
  const pairs: Pair[] = [];
  for (let a = 0; a < n; a++) {
    for (let j = a + 1; j < n; j++) if (labels[j] === labels[a]) pairs.push({ a, b: j, same: true });
    const { negatives, hardest } = negativesOf(d2, labels, a);
    if (hardest < 0) continue;
    pairs.push({ a, b: hardest, same: false });
    pairs.push({ a, b: negatives[Math.floor(random() * negatives.length)]!, same: false });
  }
  return pairs;
}

export const sigmoid = (z: number): number =>
  z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));

/** Mean binary cross-entropy of logits against labels, and its gradient (p - y) / m. */
export function binaryCrossEntropy(logits: Float64Array, same: readonly boolean[]): LossResult {
  const grad = new Float64Array(logits.length);
  let loss = 0;
  let active = 0;
  const m = logits.length || 1;
  logits.forEach((z, i) => {
    const y = same[i] ? 1 : 0;
    // log(1 + e^-|z|) form: no overflow for large logits.
    loss += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
    const p = sigmoid(z);
    if ((p >= 0.5 ? 1 : 0) !== y) active++;
    grad[i] = (p - y) / m;
  });
  return { loss: loss / m, grad, count: logits.length, active };
}

/** |e_a - e_b| for each pair: the binary head's input. */
export function absDifferences(
  e: Float64Array,
  dim: number,
  pairs: readonly { a: number; b: number }[],
): Float64Array {
  const x = new Float64Array(pairs.length * dim);
  pairs.forEach(({ a, b }, i) => {
    for (let k = 0; k < dim; k++) x[i * dim + k] = Math.abs(e[a * dim + k]! - e[b * dim + k]!);
  });
  return x;
}
