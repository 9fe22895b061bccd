// Verification (labelled pairs) and open-set identification (one photo enrolled per identity)
// reports, from files already encoded by embedFiles.
import { Matcher } from '../gallery/matcher.js';
import { euclidean } from '../inference/faces.js';
import type { LabelledImage, LabelledPair } from './datasets.js';
import { countFailures, type EmbeddedFile } from './embed-files.js';
import {
  accuracyAt,
  equalErrorRate,
  farAt,
  kFold,
  rocCurve,
  tarAt,
  thresholdAtFar,
  type ScoredPair,
} from './metrics.js';

export const REPORTED_FARS = [1e-2, 1e-3] as const;

export function scorePairs(pairs: readonly LabelledPair[], files: Map<string, EmbeddedFile>): ScoredPair[] {
  return pairs.map((p) => {
    const a = files.get(p.file1);
    const b = files.get(p.file2);
    const distance = a?.ok && b?.ok ? euclidean(a.face.embedding, b.face.embedding) : Infinity;
    return { distance, same: p.same };
  });
}

export function verificationReport(
  pairs: readonly LabelledPair[],
  files: Map<string, EmbeddedFile>,
  threshold: number,
) {
  const scored = scorePairs(pairs, files);
  const folds = kFold(scored, 10);
  const eer = equalErrorRate(scored);
  return {
    pairs: scored.length,
    samePairs: scored.filter((p) => p.same).length,
    differentPairs: scored.filter((p) => !p.same).length,
    images: files.size,
    withoutFace: countFailures(files),
    pairsWithoutFace: scored.filter((p) => !Number.isFinite(p.distance)).length,
    threshold,
    accuracyAtThreshold: accuracyAt(scored, threshold),
    tarAtThreshold: tarAt(scored, threshold),
    farAtThreshold: farAt(scored, threshold),
    tenFold: { mean: folds.mean, std: folds.std, thresholds: folds.folds.map((f) => f.threshold) },
    equalErrorRate: eer.eer,
    eerThreshold: eer.threshold,
    tarAtFar: REPORTED_FARS.map((far) => {
      const t = thresholdAtFar(scored, far);
      return { far, threshold: t, tar: tarAt(scored, t) };
    }),
    scored,
    roc: rocCurve(scored),
  };
}

export type VerificationReport = ReturnType<typeof verificationReport>;

/**
 * One-shot identification as a door sees it. Identities with two or more images are enrolled
 * from their first image (by path) and probed with the others (mated probes); identities with a
 * single image are never enrolled and probe as strangers (non-mated probes).
 */
export function opensetReport(
  images: readonly LabelledImage[],
  files: Map<string, EmbeddedFile>,
  threshold: number,
) {
  const byIdentity = new Map<string, string[]>();
  for (const img of images) byIdentity.set(img.identity, [...(byIdentity.get(img.identity) ?? []), img.path]);
  const enrolled: { personId: string; name: string; embedding: Float32Array }[] = [];
  const mated: { identity: string; path: string }[] = [];
  const nonMated: string[] = [];
  let enrollFailed = 0;
  for (const [identity, paths] of byIdentity) {
    const sorted = [...paths].sort();
    if (sorted.length < 2) {
      nonMated.push(sorted[0]!);
      continue;
    }
    const first = files.get(sorted[0]!);
    if (!first?.ok) {
      enrollFailed++;
      continue; // a door cannot enrol a photo without a usable face; its probes are not counted
    }
    enrolled.push({ personId: identity, name: identity, embedding: first.face.embedding });
    for (const p of sorted.slice(1)) mated.push({ identity, path: p });
  }
  const matcher = new Matcher(enrolled);
  // A probe without a usable face is never identified (distance Infinity).
  const mat = mated.map((m) => {
    const f = files.get(m.path);
    const r = f?.ok ? matcher.nearest(f.face.embedding) : undefined;
    return { correct: r?.personId === m.identity, distance: r?.distance ?? Infinity };
  });
  const non = nonMated.map((p) => {
    const f = files.get(p);
    return f?.ok ? (matcher.nearest(f.face.embedding)?.distance ?? Infinity) : Infinity;
  });
  const sortedNon = [...non].sort((a, b) => a - b);
  const tpirAt = (t: number) => mat.filter((m) => m.correct && m.distance < t).length / (mat.length || 1);
  const fpirAt = (t: number) => non.filter((d) => d < t).length / (non.length || 1);
  return {
    identitiesEnrolled: enrolled.length,
    enrollmentWithoutFace: enrollFailed,
    matedProbes: mat.length,
    nonMatedProbes: non.length,
    probesWithoutFace:
      mat.filter((m) => !Number.isFinite(m.distance)).length + non.filter((d) => !Number.isFinite(d)).length,
    rank1: mat.filter((m) => m.correct).length / (mat.length || 1),
    threshold,
    tpirAtThreshold: tpirAt(threshold),
    fpirAtThreshold: fpirAt(threshold),
    tpirAtFpir: REPORTED_FARS.map((fpir) => {
      const t = sortedNon[Math.floor(fpir * sortedNon.length + 1e-9)] ?? Infinity;
      return { fpir, threshold: t, tpir: tpirAt(t) };
    }),
  };
}

export type OpensetReport = ReturnType<typeof opensetReport>;
