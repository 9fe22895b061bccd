// Verification and identification metrics over distances (smaller = more alike). A pair whose
// image had no usable face carries distance Infinity: it can never be accepted, which is what a
// door does with a face it cannot encode.

export type ScoredPair = { distance: number; same: boolean };

/** Accept when distance < threshold. */
export function accuracyAt(pairs: readonly ScoredPair[], threshold: number): number {
  let correct = 0;
  for (const p of pairs) if (p.distance < threshold === p.same) correct++;
  return pairs.length ? correct / pairs.length : 0;
}

/** The threshold with the best accuracy on `pairs`: midpoints between consecutive distances. */
export function bestThreshold(pairs: readonly ScoredPair[]): number {
  const sorted = [...pairs]
    .filter((p) => Number.isFinite(p.distance))
    .sort((a, b) => a.distance - b.distance);
  if (!sorted.length) return 0;
  // Sweep: accepting everything under the threshold; count correct decisions incrementally.
  let correct = pairs.filter((p) => !p.same).length; // threshold below every distance: all rejected
  let best = correct;
  let bestT = sorted[0]!.distance - 1e-6;
  for (let i = 0; i < sorted.length; i++) {
    correct += sorted[i]!.same ? 1 : -1;
    const next = sorted[i + 1]?.distance ?? sorted[i]!.distance + 1e-6;
    if (next === sorted[i]!.distance) continue; // ties must fall on the same side
    if (correct > best) {
      best = correct;
      bestT = (sorted[i]!.distance + next) / 2;
    }
  }
  return bestT;
}

export type FoldResult = { threshold: number; accuracy: number };

/**
 * The LFW protocol: pairs split into `k` folds (same and different pairs spread evenly); for
 * each fold the threshold is chosen on the other folds and accuracy measured on this one.
 */
export function kFold(
  pairs: readonly ScoredPair[],
  k = 10,
): { folds: FoldResult[]; mean: number; std: number } {
  const folds: ScoredPair[][] = Array.from({ length: k }, () => []);
  let nSame = 0;
  let nDiff = 0;
  for (const p of pairs) folds[p.same ? nSame++ % k : nDiff++ % k]!.push(p);
  const results = folds.map((test, i) => {
    const train = folds.filter((_, j) => j !== i).flat();
    const threshold = bestThreshold(train);
    return { threshold, accuracy: accuracyAt(test, threshold) };
  });
  const mean = results.reduce((s, r) => s + r.accuracy, 0) / k;
  const std = Math.sqrt(results.reduce((s, r) => s + (r.accuracy - mean) ** 2, 0) / k);
  return { folds: results, mean, std };
}

/**
 * The threshold with false-accept rate at most `far`: the largest t with
 * |{different pairs with distance < t}| <= far * |different pairs|.
 */
export function thresholdAtFar(pairs: readonly ScoredPair[], far: number): number {
  const neg = pairs
    .filter((p) => !p.same)
    .map((p) => p.distance)
    .sort((a, b) => a - b);
  const allowed = Math.floor(far * neg.length + 1e-9);
  // Accepting the `allowed` closest negatives is fine; the next one must stay rejected.
  return neg[allowed] ?? Infinity;
}

/** True-accept rate among same pairs at a threshold. */
export function tarAt(pairs: readonly ScoredPair[], threshold: number): number {
  const pos = pairs.filter((p) => p.same);
  return pos.length ? pos.filter((p) => p.distance < threshold).length / pos.length : 0;
}

export function farAt(pairs: readonly ScoredPair[], threshold: number): number {
  const neg = pairs.filter((p) => !p.same);
  return neg.length ? neg.filter((p) => p.distance < threshold).length / neg.length : 0;
}

/** Equal error rate: where false accepts and false rejects balance, and its threshold. */
export function equalErrorRate(pairs: readonly ScoredPair[]): { eer: number; threshold: number } {
  const candidates = [...new Set(pairs.map((p) => p.distance).filter(Number.isFinite))].sort((a, b) => a - b);
  let best = { eer: 1, threshold: 0, gap: Infinity };
  for (const t of candidates) {
    const far = farAt(pairs, t);
    const frr = 1 - tarAt(pairs, t);
    const gap = Math.abs(far - frr);
    if (gap < best.gap) best = { eer: (far + frr) / 2, threshold: t, gap };
  }
  return { eer: best.eer, threshold: best.threshold };
}

/** ROC curve: (FAR, TAR) at every distinct distance, FAR ascending. */
export function rocCurve(pairs: readonly ScoredPair[]): { far: number; tar: number; threshold: number }[] {
  const pos = pairs.filter((p) => p.same).length || 1;
  const neg = pairs.filter((p) => !p.same).length || 1;
  const sorted = [...pairs]
    .filter((p) => Number.isFinite(p.distance))
    .sort((a, b) => a.distance - b.distance);
  const points = [{ far: 0, tar: 0, threshold: sorted[0]?.distance ?? 0 }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i]!.same) tp++;
    else fp++;
    if (sorted[i + 1]?.distance === sorted[i]!.distance) continue;
    points.push({ far: fp / neg, tar: tp / pos, threshold: sorted[i]!.distance + 1e-9 });
  }
  return points;
}
