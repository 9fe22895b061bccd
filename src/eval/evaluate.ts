// Verification (labelled pairs) and open-set identification (one photo enrolled per identity)
// reports, from files already encoded by embedFiles.
import { Matcher, type GalleryEntry, type PersonAggregation } from '../gallery/matcher.js';
import { euclidean } from '../inference/faces.js';
import type { LabelledImage, LabelledPair } from './datasets.js';
import { seededRandom } from '../training/random.js';
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

/**
 * Whether a false-accept (or false-positive identification) rate can be measured from this many
 * impostor comparisons: about 3/rate are needed, fewer and the threshold rests on one or two of
 * them, which chance decides.
 */
export const measurable = (rate: number, comparisons: number): boolean => rate * comparisons >= 3;

/**
 * Photos encoded as the daemon sees them: each as enrolled (with its mirror image, as enrollment
 * always is) and as a live face (once, unless recognition.mirror is 'always': then `live` is
 * `enrolled`). `mirrorNear` picks the live faces that recognition.mirror 'near-threshold'
 * encodes again with their mirror, from their nearest match (in a pair, the other photo, with no
 * runner-up): those count with their mirrored encoding.
 */
export type EvalEncodings = {
  enrolled: Map<string, EmbeddedFile>;
  live: Map<string, EmbeddedFile>;
  mirrorNear?: (nearest: { distance: number; margin: number }) => boolean;
};

/** Each pair as a door would compare it: file1 enrolled, file2 a live face. */
export function scorePairs(
  pairs: readonly LabelledPair[],
  enc: EvalEncodings,
): (ScoredPair & { liveMirrored: boolean })[] {
  const between = (a: EmbeddedFile | undefined, b: EmbeddedFile | undefined) =>
    a?.ok && b?.ok ? euclidean(a.face.embedding, b.face.embedding) : Infinity;
  return pairs.map((p) => {
    const enrolled = enc.enrolled.get(p.file1);
    const distance = between(enrolled, enc.live.get(p.file2));
    if (enc.mirrorNear?.({ distance, margin: Infinity }))
      return { distance: between(enrolled, enc.enrolled.get(p.file2)), same: p.same, liveMirrored: true };
    return { distance, same: p.same, liveMirrored: enc.live === enc.enrolled && Number.isFinite(distance) };
  });
}

export function verificationReport(pairs: readonly LabelledPair[], enc: EvalEncodings, threshold: number) {
  const scored = scorePairs(pairs, enc);
  const folds = kFold(scored, 10);
  const eer = equalErrorRate(scored);
  const different = scored.filter((p) => !p.same).length;
  return {
    pairs: scored.length,
    samePairs: scored.length - different,
    differentPairs: different,
    images: enc.enrolled.size,
    withoutFace: countFailures(enc.enrolled),
    pairsWithoutFace: scored.filter((p) => !Number.isFinite(p.distance)).length,
    liveMirrored: scored.filter((p) => p.liveMirrored).length,
    threshold,
    accuracyAtThreshold: accuracyAt(scored, threshold),
    tarAtThreshold: tarAt(scored, threshold),
    farAtThreshold: farAt(scored, threshold),
    tenFold: { mean: folds.mean, std: folds.std, thresholds: folds.folds.map((f) => f.threshold) },
    equalErrorRate: eer.eer,
    eerThreshold: eer.threshold,
    tarAtFar: REPORTED_FARS.map((far) => {
      const t = thresholdAtFar(scored, far);
      return { far, threshold: t, tar: tarAt(scored, t), measurable: measurable(far, different) };
    }),
    scored,
    roc: rocCurve(scored),
  };
}

export type VerificationReport = ReturnType<typeof verificationReport>;

/** The false-accept rates reported with extra impostor pairs (--impostors). */
export const EXTRA_IMPOSTOR_FARS = [1e-3, 1e-4] as const;

/**
 * `count` different-person pairs drawn (seeded) from the photos of `pairs` whose identity
 * `identities` knows: at the low FARs a door needs, a pairs file's few hundred different pairs
 * measure nothing. Each pair once, never a photo with itself.
 */
export function extraImpostorPairs(
  pairs: readonly LabelledPair[],
  identities: ReadonlyMap<string, string>,
  count: number,
  seed = 1,
): LabelledPair[] {
  const photos = [...new Set(pairs.flatMap((p) => [p.file1, p.file2]))]
    .filter((f) => identities.has(f))
    .sort();
  const random = seededRandom(seed);
  const seen = new Set(pairs.map((p) => `${p.file1}\t${p.file2}`));
  const out: LabelledPair[] = [];
  for (let tries = 0; out.length < count && tries < 20 * count; tries++) {
    const a = photos[Math.floor(random() * photos.length)]!;
    const b = photos[Math.floor(random() * photos.length)]!;
    const key = `${a}\t${b}`;
    if (identities.get(a) === identities.get(b) || seen.has(key)) continue;
    seen.add(key);
    out.push({ file1: a, file2: b, same: false });
  }
  return out;
}

/** TAR at low FARs over the genuine pairs and every impostor pair, the extra ones included. */
export function extraImpostorReport(
  pairs: readonly LabelledPair[],
  extra: readonly LabelledPair[],
  enc: EvalEncodings,
) {
  const scored = scorePairs([...pairs, ...extra], enc);
  const different = scored.filter((p) => !p.same).length;
  return {
    impostorPairs: different,
    tarAtFar: EXTRA_IMPOSTOR_FARS.map((far) => {
      const t = thresholdAtFar(scored, far);
      return { far, threshold: t, tar: tarAt(scored, t), measurable: measurable(far, different) };
    }),
  };
}

/**
 * One-shot identification as a door sees it. Identities with more than `enrollImages` images
 * are enrolled from their first `enrollImages` (by path) and probed with the others (mated
 * probes); the rest are never enrolled and probe as strangers (non-mated probes). With several
 * enrollment images, a person's distance is their best image's or their mean embedding's.
 * `gallerySize` enrolls only the first N such identities (by name), as a door's gallery of tens
 * of residents rather than thousands; the others then probe as strangers.
 */
export type OpensetOptions = { enrollImages?: number; aggregation?: PersonAggregation; gallerySize?: number };

/**
 * Who is enrolled from which photos, and which photos probe as residents (mated) and as
 * strangers (non-mated), as opensetReport describes.
 */
export function opensetSplit(
  images: readonly LabelledImage[],
  enc: EvalEncodings,
  opts: OpensetOptions = {},
) {
  const k = opts.enrollImages ?? 1;
  const byIdentity = new Map<string, string[]>();
  for (const img of images) byIdentity.set(img.identity, [...(byIdentity.get(img.identity) ?? []), img.path]);
  const enrolled: GalleryEntry[] = [];
  const mated: { identity: string; path: string }[] = [];
  const nonMated: { identity: string; path: string }[] = [];
  let enrollFailed = 0;
  let enrollable = 0;
  for (const [identity, paths] of [...byIdentity].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const sorted = [...paths].sort();
    // Beyond the gallery size, identities that could be enrolled are strangers too.
    if (sorted.length <= k || enrollable++ >= (opts.gallerySize ?? Infinity)) {
      nonMated.push(...sorted.map((path) => ({ identity, path })));
      continue;
    }
    const usable = sorted
      .slice(0, k)
      .map((p) => enc.enrolled.get(p))
      .filter((f) => f?.ok === true);
    if (!usable.length) {
      enrollFailed++;
      continue; // a door cannot enrol a photo without a usable face; its probes are not counted
    }
    for (const f of usable)
      enrolled.push({ personId: identity, name: identity, embedding: f.face.embedding });
    for (const path of sorted.slice(k)) mated.push({ identity, path });
  }
  return { enrolled, mated, nonMated, enrollFailed };
}

/**
 * Each mated probe's nearest person (correct or not) and distance, and the distance to its nearest
 * other person (its own identity left out); each stranger's nearest distance.
 */
export async function opensetScores(
  images: readonly LabelledImage[],
  enc: EvalEncodings,
  opts: OpensetOptions = {},
) {
  const { enrolled, mated, nonMated, enrollFailed } = opensetSplit(images, enc, opts);
  const matcher = await Matcher.create(enrolled, opts.aggregation ?? 'mean');
  // A probe without a usable face is never identified (distance Infinity).
  const searchIn = async (files: Map<string, EmbeddedFile>, paths: readonly string[]) => {
    const usable = paths.map((p) => files.get(p)).map((f) => (f?.ok ? f.face.embedding : undefined));
    const found = await matcher.nearestBatch(usable.filter((e): e is Float32Array => e !== undefined));
    let i = 0;
    return usable.map((e) => (e ? found[i++] : undefined));
  };
  // Probes are live faces; those near the threshold are looked up again with their mirror pass.
  let liveMirrored = 0;
  const search = async (paths: string[]) => {
    const found = await searchIn(enc.live, paths);
    const near = found.map((r) => (r && enc.mirrorNear?.(r)) ?? false);
    const again = await searchIn(
      enc.enrolled,
      paths.filter((_, i) => near[i]),
    );
    liveMirrored += enc.live === enc.enrolled ? found.filter((r) => r).length : again.length;
    let k = 0;
    return found.map((r, i) => (near[i] ? again[k++] : r));
  };
  const mat = (await search(mated.map((m) => m.path))).map((r, i) => {
    const own = r?.personId === mated[i]!.identity;
    // The same probe with its own identity left out of the gallery: its nearest other person.
    const others = own ? r?.second?.distance : r?.distance;
    return { correct: own, distance: r?.distance ?? Infinity, othersDistance: others ?? Infinity };
  });
  const non = (await search(nonMated.map((n) => n.path))).map((r) => r?.distance ?? Infinity);
  await matcher.release();
  return { enrolled, enrollFailed, mat, non, liveMirrored };
}

export async function opensetReport(
  images: readonly LabelledImage[],
  enc: EvalEncodings,
  threshold: number,
  opts: OpensetOptions = {},
) {
  const { enrolled, enrollFailed, mat, non, liveMirrored } = await opensetScores(images, enc, opts);
  const atFpir = (strangers: readonly number[]) =>
    REPORTED_FARS.map((fpir) => {
      const t = thresholdAtFpir(strangers, fpir);
      return { fpir, threshold: t, tpir: tpirAt(mat, t), measurable: measurable(fpir, strangers.length) };
    });
  return {
    enrollImages: opts.enrollImages ?? 1,
    aggregation: opts.aggregation ?? 'mean',
    identitiesEnrolled: new Set(enrolled.map((e) => e.personId)).size,
    enrollmentWithoutFace: enrollFailed,
    matedProbes: mat.length,
    nonMatedProbes: non.length,
    probesWithoutFace:
      mat.filter((m) => !Number.isFinite(m.distance)).length + non.filter((d) => !Number.isFinite(d)).length,
    liveMirrored,
    rank1: mat.filter((m) => m.correct).length / (mat.length || 1),
    threshold,
    tpirAtThreshold: tpirAt(mat, threshold),
    fpirAtThreshold: shareUnder(non, threshold),
    tpirAtFpir: atFpir(non),
    /**
     * The strangers joined by every mated probe searched with its own identity left out
     * (leave-one-out): more stranger probes, so lower rates are measurable, and strangers that
     * look like somebody enrolled, as at a door.
     */
    leaveOneOut: {
      strangerProbes: non.length + mat.length,
      tpirAtFpir: atFpir(leaveOneOutStrangers(mat, non)),
    },
  };
}

export type OpensetReport = Awaited<ReturnType<typeof opensetReport>>;

/** The share of mated probes identified correctly under threshold `t`. */
export const tpirAt = (mated: readonly { correct: boolean; distance: number }[], t: number): number =>
  mated.filter((m) => m.correct && m.distance < t).length / (mated.length || 1);

/** The share of distances under `t`: the strangers a threshold lets in. */
export const shareUnder = (distances: readonly number[], t: number): number =>
  distances.filter((d) => d < t).length / (distances.length || 1);

/** The strangers' distances joined by every mated probe's distance to its nearest other person. */
export const leaveOneOutStrangers = (
  mated: readonly { othersDistance: number }[],
  strangers: readonly number[],
): number[] => [...strangers, ...mated.map((m) => m.othersDistance)];

/**
 * The threshold for a false-positive identification rate (facegate calibrate --openset): the
 * strangers are the non-mated probes and every mated probe with its identity left out.
 */
export function opensetCalibration(
  scores: Pick<Awaited<ReturnType<typeof opensetScores>>, 'mat' | 'non'>,
  fpir: number,
  /** How the threshold is written down (a config line's digits); the rates are measured there. */
  written: (threshold: number) => number = (t) => t,
) {
  const strangers = leaveOneOutStrangers(scores.mat, scores.non);
  const threshold = written(thresholdAtFpir(strangers, fpir));
  return {
    fpir,
    threshold,
    measuredFpir: shareUnder(strangers, threshold),
    tpir: tpirAt(scores.mat, threshold),
    strangerProbes: strangers.length,
    matedProbes: scores.mat.length,
    measurable: measurable(fpir, strangers.length),
  };
}

/**
 * The largest threshold under which at most `fpir` of the strangers fall (a stranger is accepted
 * when its distance is below the threshold).
 */
export function thresholdAtFpir(strangers: readonly number[], fpir: number): number {
  const sorted = [...strangers].sort((a, b) => a - b);
  return sorted[Math.floor(fpir * sorted.length + 1e-9)] ?? Infinity;
}
