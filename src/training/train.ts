// Training a head on frozen embeddings: identities (not images) are split into train and
// validation, mini-batches are P identities x K images, and the epoch with the best validation
// TAR at FAR 1e-3 is kept. Seeded: the same data and options give the same head.
import { kFold, tarAt, thresholdAtFar, type ScoredPair } from '../eval/metrics.js';
import type { HeadManifest } from '../inference/head.js';
import {
  absDifferences,
  batchPairs,
  binaryCrossEntropy,
  mineTriplets,
  pairwiseSquared,
  sigmoid,
  tripletLoss,
  type Mining,
  type Pair,
} from './losses.js';
import { Adam, backward, cloneNetwork, createNetwork, forward, type Network } from './network.js';
import { seededRandom, shuffle, type Random } from './random.js';

export type HeadKind = HeadManifest['kind'];

/** Embeddings with their identity labels, index-aligned. */
export type LabelledEmbeddings = { embeddings: Float32Array[]; labels: string[] };

export type TrainOptions = {
  loss: HeadKind;
  mining: Mining;
  margin: number;
  identitiesPerBatch: number;
  imagesPerIdentity: number;
  epochs: number;
  learningRate: number;
  weightDecay: number;
  /** Hidden units; 0 = one linear layer (triplet only). */
  hidden: number;
  /**
   * Output width of the triplet head; 0: the embedding's own (128 for dlib, 192 for
   * MobileFaceNet), so a one-layer head can start as the identity.
   */
  outDim: number;
  seed: number;
};

/** Defaults of the triplet head; defaultsFor() gives the binary head's. */
export const DEFAULT_TRAIN_OPTIONS: TrainOptions = {
  loss: 'triplet',
  mining: 'hard',
  margin: 0.2,
  identitiesPerBatch: 32,
  imagesPerIdentity: 4,
  epochs: 30,
  learningRate: 1e-4,
  weightDecay: 1,
  hidden: 0,
  outDim: 0,
  seed: 1,
};

/**
 * Measured on lfw-dev (bench/RESULTS.md): the triplet head starts as the identity and overfits
 * the few hundred training identities within epochs unless it learns slowly and is pulled back
 * toward its start; heads that start from random weights need a faster rate.
 */
export function defaultsFor(loss: HeadKind, hidden?: number): TrainOptions {
  if (loss === 'triplet' && !hidden) return DEFAULT_TRAIN_OPTIONS;
  // Randomly initialised (the binary head, or a two-layer triplet head): a faster rate, L2 to zero.
  return { ...DEFAULT_TRAIN_OPTIONS, loss, hidden: hidden ?? 64, learningRate: 1e-3, weightDecay: 1e-2 };
}

/** A trained head: how to score a pair of embeddings. */
export type Head = { kind: HeadKind; net: Network };

export type EpochReport = {
  epoch: number;
  loss: number;
  /** Triplets still violating the margin (triplet) or misclassified pairs (binary). */
  activeFraction: number;
  valTar: number;
  /** Training time of the epoch (validation not included). */
  seconds: number;
};

export type TrainResult = {
  head: Head;
  history: EpochReport[];
  bestEpoch: number;
  /** Validation TAR at FAR 1e-3 of the plain distance, for comparison. */
  valTarBefore: number;
  /** The kept head's validation figures (its threshold at FAR 1e-3 goes into its manifest). */
  validation: VerificationFigures;
};

const toF64 = (rows: readonly Float32Array[], idx: readonly number[], dim: number) => {
  const x = new Float64Array(idx.length * dim);
  idx.forEach((r, i) => x.set(rows[r]!, i * dim));
  return x;
};

/** Distance-like score of each pair (lower: more alike), under a head or the plain distance. */
export function pairDistances(
  head: Head | undefined,
  data: LabelledEmbeddings,
  pairs: readonly { a: number; b: number }[],
): number[] {
  const dim = data.embeddings[0]?.length ?? 0;
  const e = toF64(data.embeddings, Array.from(data.embeddings.keys()), dim);
  if (head?.kind === 'binary') {
    const out: number[] = [];
    for (let start = 0; start < pairs.length; start += 4096) {
      const chunk = pairs.slice(start, start + 4096);
      for (const z of forward(head.net, absDifferences(e, dim, chunk), chunk.length).output)
        out.push(1 - sigmoid(z));
    }
    return out;
  }
  const y = head ? forward(head.net, e, data.embeddings.length).output : e;
  const d = head ? head.net.layers.at(-1)!.outDim : dim;
  return pairs.map(({ a, b }) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += (y[a * d + k]! - y[b * d + k]!) ** 2;
    return Math.sqrt(s);
  });
}

/** Every same-identity pair, and up to `maxImpostors` random different-identity pairs. */
export function evaluationPairs(labels: readonly string[], random: Random, maxImpostors = 50_000): Pair[] {
  const pairs: Pair[] = [];
  const byLabel = new Map<string, number[]>();
  labels.forEach((l, i) => byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
  for (const idx of byLabel.values())
    for (let i = 0; i < idx.length; i++)
      for (let j = i + 1; j < idx.length; j++) pairs.push({ a: idx[i]!, b: idx[j]!, same: true });
  if (byLabel.size < 2) return pairs;
  for (let n = 0; n < maxImpostors; n++) {
    const a = Math.floor(random() * labels.length);
    let b = Math.floor(random() * labels.length);
    while (labels[b] === labels[a]) b = Math.floor(random() * labels.length);
    pairs.push({ a, b, same: false });
  }
  return pairs;
}

export type VerificationFigures = {
  /** TAR at FAR 1e-3 and 1e-2 against every impostor pair. */
  tar1e3: number;
  tar1e2: number;
  threshold1e3: number;
  threshold1e2: number;
  /** LFW-style 10-fold accuracy on every genuine pair and as many impostor pairs. */
  tenFold: { mean: number; std: number };
  genuine: number;
  impostors: number;
};

export function verificationFigures(scored: readonly ScoredPair[]): VerificationFigures {
  const threshold1e3 = thresholdAtFar(scored, 1e-3);
  const threshold1e2 = thresholdAtFar(scored, 1e-2);
  const genuine = scored.filter((p) => p.same);
  const impostors = scored.filter((p) => !p.same);
  const folds = kFold([...genuine, ...impostors.slice(0, genuine.length)]);
  return {
    tar1e3: tarAt(scored, threshold1e3),
    tar1e2: tarAt(scored, threshold1e2),
    threshold1e3,
    threshold1e2,
    tenFold: { mean: folds.mean, std: folds.std },
    genuine: genuine.length,
    impostors: impostors.length,
  };
}

/** The pairs a set of identities is measured on, the same for every comparator with one seed. */
export function measurementPairs(labels: readonly string[], seed: number) {
  return evaluationPairs(labels, seededRandom(seed ^ 0x5eed));
}

export function evaluateHead(
  head: Head | undefined,
  data: LabelledEmbeddings,
  seed: number,
  pairs = measurementPairs(data.labels, seed),
): VerificationFigures {
  const distances = pairDistances(head, data, pairs);
  return verificationFigures(pairs.map((p, i) => ({ distance: distances[i]!, same: p.same })));
}

/** Identities (never images) split: `fraction` of them into the second set, seeded. */
export function splitIdentities(
  data: LabelledEmbeddings,
  fraction: number,
  seed: number,
): [LabelledEmbeddings, LabelledEmbeddings] {
  const ids = shuffle([...new Set(data.labels)].sort(), seededRandom(seed));
  const second = new Set(ids.slice(0, Math.round(ids.length * fraction)));
  const a: LabelledEmbeddings = { embeddings: [], labels: [] };
  const b: LabelledEmbeddings = { embeddings: [], labels: [] };
  data.labels.forEach((l, i) => {
    const to = second.has(l) ? b : a;
    to.embeddings.push(data.embeddings[i]!);
    to.labels.push(l);
  });
  return [a, b];
}

/**
 * `testFraction` of the identities held out before anything (none when 0), then `valFraction`
 * of the rest for validation; seeded, so the CLI and the bench measure the same split.
 */
export function splitForTraining(
  data: LabelledEmbeddings,
  o: { testFraction: number; valFraction: number; seed: number },
): { train: LabelledEmbeddings; val: LabelledEmbeddings; test: LabelledEmbeddings | undefined } {
  const [pool, test] = o.testFraction > 0 ? splitIdentities(data, o.testFraction, o.seed) : [data, undefined];
  const [train, val] = splitIdentities(pool, o.valFraction, o.seed + 1);
  return { train, val, test };
}

/** One epoch's mini-batches: P identities (with two images or more) x up to K images each. */
export function epochBatches(labels: readonly string[], p: number, k: number, random: Random): number[][] {
  const byLabel = new Map<string, number[]>();
  labels.forEach((l, i) => byLabel.set(l, [...(byLabel.get(l) ?? []), i]));
  const usable = shuffle(
    [...byLabel.entries()].filter(([, idx]) => idx.length >= 2).map(([l]) => l),
    random,
  );
  const batches: number[][] = [];
  for (let i = 0; i + 1 < usable.length; i += p) {
    batches.push(usable.slice(i, i + p).flatMap((l) => shuffle(byLabel.get(l)!, random).slice(0, k)));
  }
  return batches;
}

export function trainHead(
  train: LabelledEmbeddings,
  val: LabelledEmbeddings,
  options: TrainOptions,
  onEpoch: (r: EpochReport) => void = () => undefined,
): TrainResult {
  const o = options;
  const dim = train.embeddings[0]?.length;
  if (!dim) throw new Error('no training embeddings');
  if (o.loss === 'binary' && o.hidden <= 0) throw new Error('the binary head needs hidden units (--hidden)');
  const random = seededRandom(o.seed);
  const outDim = o.outDim || dim;
  const net =
    o.loss === 'triplet'
      ? createNetwork(o.hidden > 0 ? [dim, o.hidden, outDim] : [dim, outDim], {
          normalize: true,
          identity: true,
          random,
        })
      : createNetwork([dim, o.hidden, 1], { normalize: false, random });
  // Only a head that starts as the identity is pulled back toward its start.
  const optimizer = new Adam(net, o.learningRate, o.weightDecay, o.loss === 'triplet' && o.hidden === 0);
  const head: Head = { kind: o.loss, net };
  const valPairs = measurementPairs(val.labels, o.seed);
  const valTarBefore = evaluateHead(undefined, val, o.seed, valPairs).tar1e3;
  const history: EpochReport[] = [];
  let best: { epoch: number; net: Network; figures: VerificationFigures } | undefined;

  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    const t0 = performance.now();
    let loss = 0;
    let count = 0;
    let active = 0;
    for (const batch of epochBatches(train.labels, o.identitiesPerBatch, o.imagesPerIdentity, random)) {
      const labels = batch.map((i) => train.labels[i]!);
      const x = toF64(train.embeddings, batch, dim);
      let r;
      if (o.loss === 'triplet') {
        const f = forward(net, x, batch.length);
        const outDim = net.layers.at(-1)!.outDim;
        const d2 = pairwiseSquared(f.output, batch.length, outDim);
        const triplets = mineTriplets(d2, labels, o.margin, o.mining, random);
        r = tripletLoss(f.output, outDim, triplets, o.margin, d2);
        optimizer.step(backward(net, f, r.grad));
      } else {
        const pairs = batchPairs(pairwiseSquared(x, batch.length, dim), labels, random);
        const f = forward(net, absDifferences(x, dim, pairs), pairs.length);
        r = binaryCrossEntropy(
          f.output,
          pairs.map((p) => p.same),
        );
        optimizer.step(backward(net, f, r.grad));
      }
      loss += r.loss * r.count;
      count += r.count;
      active += r.active;
    }
    const seconds = (performance.now() - t0) / 1000;
    const figures = evaluateHead(head, val, o.seed, valPairs);
    const valTar = figures.tar1e3;
    const report = {
      epoch,
      loss: count ? loss / count : 0,
      activeFraction: count ? active / count : 0,
      valTar,
      seconds,
    };
    history.push(report);
    onEpoch(report);
    if (!best || valTar > best.figures.tar1e3) best = { epoch, net: cloneNetwork(net), figures };
  }
  return {
    head: { kind: o.loss, net: best!.net },
    history,
    bestEpoch: best!.epoch,
    valTarBefore,
    validation: best!.figures,
  };
}
