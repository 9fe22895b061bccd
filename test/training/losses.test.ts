// The training maths on hand-computed cases, the miner on a constructed batch, and every
// hand-written gradient against finite differences.
import { describe, expect, it } from 'vitest';
import {
  absDifferences,
  batchPairs,
  binaryCrossEntropy,
  mineTriplets,
  pairwiseSquared,
  tripletLoss,
  type Triplet,
} from '../../src/training/losses.js';
import { backward, createNetwork, forward, type Network } from '../../src/training/network.js';
import { gaussian, seededRandom } from '../../src/training/random.js';

describe('triplet loss', () => {
  it('is zero when the negative is farther than the positive by the margin', () => {
    const y = Float64Array.from([0, 0, 1, 0, 0, 2]); // a, p, n in 2-D
    const r = tripletLoss(y, 2, [{ anchor: 0, positive: 1, negative: 2 }], 0.5);
    expect(r.loss).toBe(0); // 1 - 4 + 0.5 < 0
    expect(r.active).toBe(0);
    expect([...r.grad]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('has the hand-computed value and gradient inside the margin', () => {
    const y = Float64Array.from([0, 0, 1, 0, 0, 1]);
    const r = tripletLoss(y, 2, [{ anchor: 0, positive: 1, negative: 2 }], 0.5);
    expect(r.loss).toBeCloseTo(0.5, 12); // 1 - 1 + 0.5
    expect(r.active).toBe(1);
    // dA = 2(n - p), dP = -2(a - p), dN = 2(a - n)
    expect([...r.grad]).toEqual([-2, 2, 2, 0, 0, -2]);
  });

  it('averages over every triplet, active or not', () => {
    const y = Float64Array.from([0, 0, 1, 0, 0, 1, 0, 3]);
    const r = tripletLoss(
      y,
      2,
      [
        { anchor: 0, positive: 1, negative: 2 },
        { anchor: 0, positive: 1, negative: 3 },
      ],
      0.5,
    );
    expect(r.loss).toBeCloseTo(0.25, 12);
    expect(r.count).toBe(2);
    expect(r.active).toBe(1);
  });
});

describe('mining inside a batch', () => {
  // Points on a line: A at 0, 1, 2; B at 2.5, 6; C at 10. Squared distances.
  const xs = [0, 1, 2, 2.5, 6, 10];
  const labels = ['A', 'A', 'A', 'B', 'B', 'C'];
  const d2 = Float64Array.from(xs.flatMap((a) => xs.map((b) => (a - b) ** 2)));
  const random = seededRandom(3);
  const byAnchor = (t: Triplet[], a: number) => t.filter((x) => x.anchor === a);

  it('takes every anchor-positive pair, with the hardest negative', () => {
    const t = mineTriplets(d2, labels, 0.2, 'hard', random);
    expect(t).toHaveLength(3 * 2 + 2 * 1); // A: 3 anchors x 2 positives, B: 2 x 1, C: none
    expect(byAnchor(t, 0)).toEqual([
      { anchor: 0, positive: 1, negative: 3 },
      { anchor: 0, positive: 2, negative: 3 },
    ]);
    expect(byAnchor(t, 4)).toEqual([{ anchor: 4, positive: 3, negative: 2 }]);
  });

  it('semi-hard: the closest negative beyond the positive, inside the margin; else the hardest', () => {
    // Anchor 0 (at 0) with positive 1 (d2 = 1): negatives at d2 6.25 (B 2.5), 36, 100. With a
    // margin of 6, only 6.25 lies in (1, 7); with positive 2 (d2 = 4), 6.25 lies in (4, 10).
    const t = mineTriplets(d2, labels, 6, 'semi-hard', random);
    expect(byAnchor(t, 0).map((x) => x.negative)).toEqual([3, 3]);
    // Anchor 3 (B at 2.5) with positive 4 (d2 = 12.25): negatives at 6.25, 2.25, 0.25, 56.25;
    // none in (12.25, 18.25), so the hardest (A at 2, d2 0.25).
    expect(byAnchor(t, 3)).toEqual([{ anchor: 3, positive: 4, negative: 2 }]);
  });

  it('random: a negative of another identity', () => {
    const t = mineTriplets(d2, labels, 0.2, 'random', seededRandom(9));
    for (const x of t) expect(labels[x.negative]).not.toBe(labels[x.anchor]);
    expect(new Set(t.map((x) => x.negative)).size).toBeGreaterThan(1);
  });

  it('binary pairs: every positive pair, and per anchor its hardest and a random negative', () => {
    const pairs = batchPairs(d2, labels, seededRandom(2));
    expect(pairs.filter((p) => p.same)).toHaveLength(3 + 1);
    expect(pairs.filter((p) => !p.same)).toHaveLength(2 * 6);
    expect(pairs.find((p) => p.a === 0 && !p.same)).toEqual({ a: 0, b: 3, same: false });
  });
});

/** Loss as a function of the network's parameters, for finite differences. */
function checkGradients(net: Network, loss: () => { value: number; grads: ReturnType<typeof backward> }) {
  const { grads } = loss();
  const h = 1e-6;
  let checked = 0;
  net.layers.forEach((layer, l) => {
    for (const [name, params, g] of [
      ['w', layer.w, grads.w[l]!],
      ['b', layer.b, grads.b[l]!],
    ] as const) {
      for (let i = 0; i < params.length; i += Math.max(1, Math.floor(params.length / 25))) {
        const keep = params[i]!;
        params[i] = keep + h;
        const up = loss().value;
        params[i] = keep - h;
        const down = loss().value;
        params[i] = keep;
        const numeric = (up - down) / (2 * h);
        expect(Math.abs(numeric - g[i]!), `layer ${l} ${name}[${i}]`).toBeLessThan(
          1e-6 + 1e-4 * Math.abs(numeric),
        );
        checked++;
      }
    }
  });
  expect(checked).toBeGreaterThan(20);
}

function randomBatch(rows: number, dim: number, seed: number): Float64Array {
  const r = seededRandom(seed);
  return Float64Array.from({ length: rows * dim }, () => gaussian(r));
}

describe('gradients against finite differences', () => {
  const labels = ['a', 'a', 'a', 'b', 'b', 'c', 'c', 'd'];
  const x = randomBatch(labels.length, 6, 1);

  for (const hidden of [0, 5]) {
    it(`triplet head (${hidden ? 'two layers' : 'linear'}, L2-normalised), hard triplets`, () => {
      const net = createNetwork(hidden ? [6, hidden, 4] : [6, 4], {
        normalize: true,
        random: seededRandom(7),
      });
      const f0 = forward(net, x, labels.length);
      // Triplets fixed from the starting point, so the loss is smooth around it.
      const triplets = mineTriplets(
        pairwiseSquared(f0.output, labels.length, 4),
        labels,
        1.5,
        'hard',
        seededRandom(1),
      );
      checkGradients(net, () => {
        const f = forward(net, x, labels.length);
        const r = tripletLoss(f.output, 4, triplets, 1.5);
        expect(r.active).toBeGreaterThan(0);
        return { value: r.loss, grads: backward(net, f, r.grad) };
      });
    });
  }

  it('binary head on |e1 - e2|: hidden layer, logistic output, cross-entropy', () => {
    const net = createNetwork([6, 5, 1], { normalize: false, random: seededRandom(11) });
    const pairs = batchPairs(pairwiseSquared(x, labels.length, 6), labels, seededRandom(4));
    const input = absDifferences(x, 6, pairs);
    checkGradients(net, () => {
      const f = forward(net, input, pairs.length);
      const r = binaryCrossEntropy(
        f.output,
        pairs.map((p) => p.same),
      );
      return { value: r.loss, grads: backward(net, f, r.grad) };
    });
  });

  it('cross-entropy has the hand-computed value', () => {
    const r = binaryCrossEntropy(Float64Array.from([0, 2]), [true, false]);
    expect(r.loss).toBeCloseTo((Math.log(2) + Math.log(1 + Math.exp(2))) / 2, 12);
    expect(r.grad[0]).toBeCloseTo(-0.25, 12);
    expect(r.active).toBe(1); // logit 2 says same for a different pair
  });
});
