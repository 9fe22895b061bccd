// Liveness cues over a track's 68 landmarks (issue 21): what an RGB camera can tell over several
// frames about whether the face in front of it is a head or a picture of one.
//   - motion: how far the landmarks move from frame to frame. A photo on a stand or a paused
//     screen moves only by the codec's and the landmark network's noise.
//   - parallax: a flat picture, however it is moved, tilted or turned, maps each frame's
//     landmarks onto the first frame's by one homography, up to landmark noise. A head that turns
//     does not: the nose tip moves against the face outline. The residual of the best homography
//     is the cue.
//   - blinks: the eye aspect ratio (eye height over width) drops and comes back; a print cannot.
// Every distance is in eye distances (between the eye centres in the first frame), so the cues do
// not depend on how large the face is in the picture.
// What this does not catch, and why: docs/liveness.md (a replayed video of a moving face shows
// parallax and blinks; a mask is a head).
import type { Point } from '../vision/alignment.js';
import { centroid, eyeCentres } from '../vision/quality.js';

export type LivenessCues = {
  /** Frames the cues were computed from. */
  frames: number;
  /** Median frame-to-frame landmark movement (root mean square, eye distances). */
  motion: number;
  /**
   * Residual of the homography from each frame's landmarks onto the first frame's (root mean
   * square, eye distances): the second largest over the frames, so one frame's landmark glitch
   * does not make a picture live.
   */
  parallax: number;
  /** Open-closed-open runs of the eye aspect ratio. */
  blinks: number;
};

export type LivenessOptions = {
  /** Frames a track needs before a verdict. */
  minFrames: number;
  /** The score at and above which a track is live. */
  threshold: number;
};

export type LivenessVerdict = {
  live: boolean;
  /** parallax, plus BLINK_SCORE once the track blinked. */
  score: number;
  /** Why: the cue that made it live, or what the picture did (still: nothing; planar: moved flat). */
  reason: 'parallax' | 'blink' | 'still' | 'planar';
  cues: LivenessCues;
};

/** A blink is enough alone: it lifts the score above any sane threshold. */
export const BLINK_SCORE = 1;

/**
 * Motion below this (eye distances, frame to frame) is a face that did not move: our landmark
 * network on a still photo with codec noise moved its landmarks 0.009-0.024 (bench/liveness-cues.ts).
 */
export const STILL_MOTION = 0.03;

/** A closed eye: the aspect ratio under this share of the track's median; open again above OPEN_EYE. */
const CLOSED_EYE = 0.65;
const OPEN_EYE = 0.85;

const dist = (a: Point, b: Point): number => Math.hypot(a[0] - b[0], a[1] - b[1]);

/** Eye aspect ratio, both eyes averaged: (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|) per eye. */
export function eyeAspectRatio(l: readonly Point[]): number {
  const eye = (o: number) =>
    (dist(l[o + 1]!, l[o + 5]!) + dist(l[o + 2]!, l[o + 4]!)) / (2 * dist(l[o]!, l[o + 3]!));
  return (eye(36) + eye(42)) / 2;
}

type Homography = [number, number, number, number, number, number, number, number];

/** Solves A x = b (n x n, row-major) by Gaussian elimination with partial pivoting; undefined if singular. */
function solve(a: number[][], b: number[]): number[] | undefined {
  const n = b.length;
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[p]![c]!)) p = r;
    if (Math.abs(a[p]![c]!) < 1e-12) return undefined;
    [a[c], a[p]] = [a[p]!, a[c]!];
    [b[c], b[p]] = [b[p]!, b[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k < n; k++) a[r]![k]! -= f * a[c]![k]!;
      b[r]! -= f * b[c]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r]!;
    for (let k = r + 1; k < n; k++) s -= a[r]![k]! * x[k]!;
    x[r] = s / a[r]![r]!;
  }
  return x;
}

/** Centred on their mean and scaled to unit mean distance: the least squares below is well conditioned. */
function normalised(points: readonly Point[]): { points: Point[]; centre: Point; scale: number } {
  const centre = centroid(points);
  const spread = points.reduce((s, p) => s + dist(p, centre), 0) / points.length || 1;
  return {
    points: points.map((p): Point => [(p[0] - centre[0]) / spread, (p[1] - centre[1]) / spread]),
    centre,
    scale: spread,
  };
}

const apply = (h: Homography, [x, y]: Point): Point => {
  const w = h[6] * x + h[7] * y + 1;
  return [(h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w];
};

/**
 * Root mean square distance, in `to`'s units, between `to` and `from` mapped by the homography
 * that fits them best (linear least squares on the normalised points, h33 = 1).
 */
export function homographyResidual(from: readonly Point[], to: readonly Point[]): number {
  const f = normalised(from);
  const t = normalised(to);
  const ata = Array.from({ length: 8 }, () => new Array<number>(8).fill(0));
  const atb = new Array<number>(8).fill(0);
  const add = (row: number[], v: number) => {
    for (let i = 0; i < 8; i++) {
      atb[i]! += row[i]! * v;
      for (let j = 0; j < 8; j++) ata[i]![j]! += row[i]! * row[j]!;
    }
  };
  f.points.forEach(([x, y], i) => {
    const [u, v] = t.points[i]!;
    add([x, y, 1, 0, 0, 0, -u * x, -u * y], u);
    add([0, 0, 0, x, y, 1, -v * x, -v * y], v);
  });
  const h = solve(ata, atb) as Homography | undefined;
  if (!h) return Infinity;
  let sum = 0;
  f.points.forEach((p, i) => {
    const [u, v] = apply(h, p);
    sum += (u - t.points[i]![0]) ** 2 + (v - t.points[i]![1]) ** 2;
  });
  return Math.sqrt(sum / f.points.length) * t.scale;
}

/** Open-closed-open runs of the eye aspect ratio, against the track's median. */
function countBlinks(ratios: readonly number[]): number {
  const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
  let blinks = 0;
  let state: 'open' | 'closed' | 'start' = 'start';
  for (const r of ratios) {
    if (r >= OPEN_EYE * median) {
      if (state === 'closed') blinks++;
      state = 'open';
    } else if (r < CLOSED_EYE * median && state === 'open') state = 'closed';
  }
  return blinks;
}

/** The cues of a track: each frame's 68 landmarks, oldest first. */
export function livenessCues(frames: readonly (readonly Point[])[]): LivenessCues {
  const n = frames.length;
  if (n < 2) return { frames: n, motion: 0, parallax: 0, blinks: 0 };
  const unit = dist(...eyeCentres(frames[0]!)) || 1;
  const moves: number[] = [];
  for (let i = 1; i < n; i++) {
    let sum = 0;
    frames[i]!.forEach((p, k) => (sum += dist(p, frames[i - 1]![k]!) ** 2));
    moves.push(Math.sqrt(sum / frames[i]!.length) / unit);
  }
  const residuals = frames
    .slice(1)
    .map((f) => homographyResidual(f, frames[0]!) / unit)
    .sort((a, b) => b - a);
  return {
    frames: n,
    motion: [...moves].sort((a, b) => a - b)[Math.floor(moves.length / 2)]!,
    parallax: residuals[Math.min(1, residuals.length - 1)]!,
    blinks: countBlinks(frames.map(eyeAspectRatio)),
  };
}

/** The verdict on a track's landmarks, or undefined while it has fewer than `minFrames` frames. */
export function livenessVerdict(
  frames: readonly (readonly Point[])[],
  opts: LivenessOptions,
): LivenessVerdict | undefined {
  if (frames.length < opts.minFrames) return undefined;
  const cues = livenessCues(frames);
  const score = cues.parallax + (cues.blinks > 0 ? BLINK_SCORE : 0);
  const live = score >= opts.threshold;
  const reason = live
    ? cues.blinks > 0
      ? 'blink'
      : 'parallax'
    : cues.motion < STILL_MOTION
      ? 'still'
      : 'planar';
  return { live, score, reason, cues };
}
