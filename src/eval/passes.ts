// Open-set decisions per pass: a person in front of the door for a few frames, decided by the
// daemon's own tracker (recognition/tracker.ts) with its votes and, when on, its fused probe.
// The report gives per-pass TPIR at per-pass FPIR, against deciding on the pass's first frame.
//
// Strangers: passes of people who are not enrolled, and every resident's pass once more with
// that resident left out of the gallery (leave-one-out), since a door's strangers are mostly
// people who look like nobody enrolled, and some who look like a resident.
import { FaceTracker, sameFaceSpread, type TrackerOptions } from '../recognition/tracker.js';
import { fusedEmbedding, type FusionFrame } from '../recognition/fusion.js';
import { euclidean } from '../inference/faces.js';
import { measurable, REPORTED_FARS } from './evaluate.js';

export type Pass = { identity: string; frames: FusionFrame[] };
export type PassRule = { tracker: TrackerOptions; minMargin: number };

type Found = { personId: string; distance: number; margin: number };
/** The nearest three people to a probe, nearest first. */
type Ranked = Found[];

/**
 * Each pass as the tracker sees it: its frames' lookups, precomputed, and its fused probes', on
 * demand and kept (the tracker's mean depends on the threshold through fusion.maxSpread).
 */
type Instance = {
  identity: string;
  mated: boolean;
  /** Left out of the gallery for this instance (leave-one-out). */
  except: string | undefined;
  frames: FusionFrame[];
  frame: (Found | undefined)[];
  rankFused: (probe: Float32Array) => Ranked;
};

export const PASS_VARIANTS = ['first frame', 'votes', 'votes + fusion'] as const;
export type PassVariant = (typeof PASS_VARIANTS)[number];

export function passReport(
  gallery: readonly { personId: string; embedding: Float32Array }[],
  passes: readonly Pass[],
  rule: PassRule,
  threshold: number,
  fpirs: readonly number[] = REPORTED_FARS,
) {
  const enrolled = new Set(gallery.map((g) => g.personId));
  const instances: Instance[] = [];
  for (const pass of passes) {
    if (!pass.frames.length) continue;
    const frameRanks = pass.frames.map((f) => rank(gallery, f.embedding));
    const fusedRanks = new Map<string, Ranked>();
    const rankFused = (probe: Float32Array) => {
      const key = Buffer.from(probe.buffer, probe.byteOffset, probe.byteLength).toString('base64');
      let r = fusedRanks.get(key);
      if (!r) fusedRanks.set(key, (r = rank(gallery, probe)));
      return r;
    };
    const as = (except?: string): Instance => ({
      identity: pass.identity,
      mated: except === undefined && enrolled.has(pass.identity),
      except,
      frames: pass.frames,
      frame: frameRanks.map((r) => pick(r, except)),
      rankFused,
    });
    instances.push(as());
    if (enrolled.has(pass.identity)) instances.push(as(pass.identity));
  }
  const mated = instances.filter((i) => i.mated);
  const strangers = instances.filter((i) => !i.mated);
  // Thresholds to try: the strangers' frame distances and those of their full-window means.
  const maxFrames = rule.tracker.fusion?.maxFrames ?? 10;
  const candidates = [
    ...new Set(
      strangers.flatMap((s) => [
        ...s.frame.map((f) => f?.distance ?? Infinity),
        ...s.frames.map(
          (_, k) =>
            pick(s.rankFused(fusedEmbedding(s.frames.slice(Math.max(0, k + 1 - maxFrames), k + 1))), s.except)
              ?.distance ?? Infinity,
        ),
      ]),
    ),
  ]
    .filter(Number.isFinite)
    .sort((a, b) => a - b);

  const rates = (variant: PassVariant, t: number) => {
    const decided = (i: Instance) => decide(i, variant, rule, t);
    return {
      tpir: mated.filter((i) => decided(i) === i.identity).length / (mated.length || 1),
      fpir: strangers.filter((i) => decided(i) !== undefined).length / (strangers.length || 1),
    };
  };
  return {
    threshold,
    matedPasses: mated.length,
    strangerPasses: strangers.length,
    framesPerPass: mated.length ? mated.reduce((s, i) => s + i.frames.length, 0) / mated.length : 0,
    variants: PASS_VARIANTS.map((variant) => {
      const at = rates(variant, threshold);
      return {
        variant,
        tpirAtThreshold: at.tpir,
        fpirAtThreshold: at.fpir,
        tpirAtFpir: fpirs.map((fpir) => {
          // The largest candidate threshold whose FPIR stays within fpir (FPIR grows with it, and
          // changes only at candidates: a threshold accepts the distances under it).
          let lo = 0;
          let hi = candidates.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (rates(variant, candidates[mid]!).fpir <= fpir) lo = mid + 1;
            else hi = mid;
          }
          // None: no stranger to bound it (Infinity); even the nearest admits too many (0).
          const t = candidates[lo - 1] ?? (candidates.length ? 0 : Infinity);
          const r = rates(variant, t);
          return {
            fpir,
            threshold: t,
            tpir: r.tpir,
            measured: r.fpir,
            measurable: measurable(fpir, strangers.length),
          };
        }),
      };
    }),
  };
}

export type PassReport = ReturnType<typeof passReport>;

/** The person a pass is decided as, at threshold t, or undefined. */
function decide(i: Instance, variant: PassVariant, rule: PassRule, t: number): string | undefined {
  const accepted = (f: Found | undefined) =>
    f && f.distance < t && f.margin >= rule.minMargin ? f.personId : null;
  if (variant === 'first frame') return accepted(i.frame[0]) ?? undefined;
  const { fusion, ...votesOnly } = rule.tracker;
  // As the daemon: fusion.maxSpread holds the pairs threshold, and t may loosen it.
  const spread = fusion?.maxSpread === undefined ? {} : { maxSpread: sameFaceSpread(t, fusion.maxSpread) };
  const tracker = new FaceTracker(
    variant === 'votes' || !fusion ? votesOnly : { ...votesOnly, fusion: { ...fusion, ...spread } },
  );
  const box = { x: 0, y: 0, width: 100, height: 100 };
  for (const [k, frame] of i.frames.entries()) {
    const found = i.frame[k];
    const decisions = tracker.update(
      [
        {
          box,
          vote: accepted(found),
          nearest: found?.personId ?? null,
          distance: found?.distance,
          fusion: frame,
        },
      ],
      k * 200,
    );
    for (const { track, probe } of tracker.fusionProbes()) {
      const d = tracker.fusedResult(track, accepted(pick(i.rankFused(probe), i.except)), k * 200);
      if (d) decisions.push(d);
    }
    const match = decisions.find((d) => d.kind === 'match');
    if (match?.kind === 'match') return match.personId;
    if (decisions.length) return undefined; // unknown
  }
  return undefined;
}

/** The nearest three people to `probe`, each at their nearest row. */
export function rank(
  gallery: readonly { personId: string; embedding: Float32Array }[],
  probe: Float32Array,
): Ranked {
  const best = new Map<string, number>();
  for (const g of gallery) {
    const d = euclidean(probe, g.embedding);
    if (d < (best.get(g.personId) ?? Infinity)) best.set(g.personId, d);
  }
  return [...best]
    .sort((a, b) => a[1] - b[1])
    .slice(0, 3)
    .map(([personId, distance]) => ({ personId, distance, margin: 0 }));
}

/** The nearest person other than `except`, with the margin to the next. */
export function pick(ranked: Ranked, except?: string): Found | undefined {
  const left = ranked.filter((r) => r.personId !== except);
  const [first, second] = left;
  if (!first) return undefined;
  return { ...first, margin: second ? second.distance - first.distance : Infinity };
}
