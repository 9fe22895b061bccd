// Liveness over a track's 68 landmarks (issue 21): what an RGB camera can tell over several
// frames about whether the face in front of it is a head or a picture of one.
//   - turn: a head that turns moves its nose tip against the face outline and the chin (the nose
//     is 1.2 eye distances nearer the camera than the outline); a picture, however it is moved,
//     tilted or turned, keeps the nose where the print has it between them. The cue is how far
//     the nose's place between outline and chin went over the track, smoothed over 3 frames.
//   - steadiness: turn against the frame-to-frame jitter of the same measure. A head turns
//     smoothly; the landmark network on a screen's moire or a print's dots jumps from frame to
//     frame, which the smoothing cannot hide alone.
//   A track is live when both clear their level: score = min(turn / TURN_LEVEL, steadiness /
//   STEADY_LEVEL), live at liveness.threshold (1 by default).
//   - motion (frame-to-frame landmark movement) only says why a track is not live: 'still' (a
//     photo on a stand, a paused screen) or 'flat' (it moved, but as a picture).
//   - parallax (the residual of the homography that maps each frame onto the first) and blinks
//     (the eye aspect ratio closing and opening) are reported but do not count: with our
//     68-point network the first is as large on a waved photo as on a turning head, and the
//     second does not follow closing eyelids (a drawn blink moved it 7%) while moire made false
//     blinks (bench/RESULTS.md, docs/liveness.md).
// Distances are in eye distances (between the eye centres in the first frame), so the cues do not
// depend on how large the face is in the picture. What this does not catch: docs/liveness.md (a
// replayed video of a moving face turns; a mask is a head).
import { Type, type Static } from '@sinclair/typebox';
import type { Point } from '../vision/alignment.js';
import { centroid, eyeCentres } from '../vision/quality.js';

export const LIVENESS_MODES = ['off', 'report', 'require'] as const;
export type LivenessMode = (typeof LIVENESS_MODES)[number];

export const LIVENESS_REASONS = ['turned', 'still', 'flat', 'too_few_frames', 'off'] as const;

export const LivenessCuesSchema = Type.Object(
  {
    frames: Type.Integer({ description: 'Usable frames the cues were computed from' }),
    motion: Type.Number({ description: 'Median frame-to-frame landmark movement, eye distances' }),
    turn: Type.Number({
      description:
        "How far the nose tip moved against the face outline and chin (fractions of the face's width and height, smoothed over 3 frames, 10th to 90th percentile)",
    }),
    steadiness: Type.Number({
      description:
        'turn over the frame-to-frame jitter of the same measure: a head turns smoothly, a picture jitters',
    }),
    parallax: Type.Number({ description: 'Homography residual, eye distances: reported, not counted' }),
    blinks: Type.Integer({ description: 'Eye aspect ratio blinks: reported, not counted' }),
  },
  { description: "The liveness cues of the track's usable frames (docs/liveness.md)" },
);
export type LivenessCues = Static<typeof LivenessCuesSchema>;

export type LivenessOptions = {
  /** Usable frames a track needs before a verdict. */
  minFrames: number;
  /** The score at and above which a track is live. */
  threshold: number;
};

/** A camera's liveness settings (the liveness section, and cameras[].liveness over it). */
export type LivenessPolicy = LivenessOptions & {
  mode: LivenessMode;
  /** Usable frames a track may take to be live; with 'require' it is a spoof after them. */
  maxFrames: number;
};

export type LivenessVerdict = {
  live: boolean;
  /** min(turn / TURN_LEVEL, steadiness / STEADY_LEVEL); 0 before minFrames. */
  score: number;
  reason: Exclude<(typeof LIVENESS_REASONS)[number], 'off'>;
  cues: LivenessCues;
};

/**
 * The levels a head clears and a picture does not, set on bench/liveness.ts's clips (a head
 * turning 5-12 degrees against photos held still, moved, on a screen and printed): at score 1,
 * 9% of genuine clips of 20 frames were not live (4% had too few usable faces) while 0% of still
 * photos and 22% of moved photos were (bench/RESULTS.md).
 */
export const TURN_LEVEL = 0.07;
export const STEADY_LEVEL = 3.5;

/** Jitter floor of the steadiness ratio: landmark noise on a clean still picture. */
const JITTER_FLOOR = 0.005;

/** 'require' by default: a photo held up to the camera must not open a door (docs/liveness.md). */
export const DEFAULT_LIVENESS: LivenessPolicy = {
  mode: 'require',
  threshold: 1,
  minFrames: 10,
  maxFrames: 20,
};

/**
 * Motion below this (eye distances, frame to frame) is a face that did not move: our landmark
 * network on a still photo with codec noise moved its landmarks 0.009-0.024 (bench/liveness.ts).
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

const dot = (a: Point, b: Point): number => a[0] * b[0] + a[1] * b[1];
const minus = (a: Point, b: Point): Point => [a[0] - b[0], a[1] - b[1]];

/**
 * Where the nose tip (30) is in one frame: across, between the outline points 2 and 14 along
 * the eye line (0 at 2, 1 at 14); down, between the eyes' midpoint and the chin (8).
 */
function nosePlace(l: readonly Point[]): Point {
  const [left, right] = eyeCentres(l);
  const eyes = minus(right, left);
  const length = Math.hypot(eyes[0], eyes[1]) || 1;
  const across: Point = [eyes[0] / length, eyes[1] / length];
  const down: Point = [-across[1], across[0]];
  const middle: Point = [(left[0] + right[0]) / 2, (left[1] + right[1]) / 2];
  return [
    dot(minus(l[30]!, l[2]!), across) / (dot(minus(l[14]!, l[2]!), across) || 1),
    dot(minus(l[30]!, middle), down) / (dot(minus(l[8]!, middle), down) || 1),
  ];
}

/** Each value averaged with its neighbours (3 frames; 2 at the ends). */
function smoothed(values: readonly number[]): number[] {
  return values.map((_, i) => {
    const near = values.slice(Math.max(0, i - 1), i + 2);
    return near.reduce((s, v) => s + v, 0) / near.length;
  });
}

/** 90th minus 10th percentile: the range the values covered, without one outlier at each end. */
function range(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.round(0.9 * (s.length - 1))]! - s[Math.round(0.1 * (s.length - 1))]!;
}

const median = (values: readonly number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** The cues of a track: each usable frame's 68 landmarks, oldest first. */
export function livenessCues(frames: readonly (readonly Point[])[]): LivenessCues {
  const n = frames.length;
  if (n < 2) return { frames: n, motion: 0, turn: 0, steadiness: 0, parallax: 0, blinks: 0 };
  const unit = dist(...eyeCentres(frames[0]!)) || 1;
  const moves: number[] = [];
  for (let i = 1; i < n; i++) {
    let sum = 0;
    frames[i]!.forEach((p, k) => (sum += dist(p, frames[i - 1]![k]!) ** 2));
    moves.push(Math.sqrt(sum / frames[i]!.length) / unit);
  }
  const places = frames.map(nosePlace);
  const across = places.map((p) => p[0]);
  const down = places.map((p) => p[1]);
  const [smoothAcross, smoothDown] = [smoothed(across), smoothed(down)];
  const turn = Math.hypot(range(smoothAcross), range(smoothDown));
  let jitter = 0;
  for (let i = 0; i < n; i++)
    jitter += (across[i]! - smoothAcross[i]!) ** 2 + (down[i]! - smoothDown[i]!) ** 2;
  const residuals = frames
    .slice(1)
    .map((f) => homographyResidual(f, frames[0]!) / unit)
    .sort((a, b) => b - a);
  return {
    frames: n,
    motion: median(moves),
    turn,
    steadiness: turn / (Math.sqrt(jitter / n) + JITTER_FLOOR),
    // The second largest: one frame's landmark glitch is not parallax.
    parallax: residuals[Math.min(1, residuals.length - 1)]!,
    blinks: countBlinks(frames.map(eyeAspectRatio)),
  };
}

/** The verdict on a track's usable frames (the latest maxFrames of them). */
export function livenessVerdict(
  frames: readonly (readonly Point[])[],
  opts: LivenessOptions,
): LivenessVerdict {
  const cues = livenessCues(frames);
  if (frames.length < opts.minFrames) return { live: false, score: 0, reason: 'too_few_frames', cues };
  const score = Math.min(cues.turn / TURN_LEVEL, cues.steadiness / STEADY_LEVEL);
  const live = score >= opts.threshold;
  return { live, score, reason: live ? 'turned' : cues.motion < STILL_MOTION ? 'still' : 'flat', cues };
}
