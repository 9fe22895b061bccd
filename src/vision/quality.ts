// Per-face quality measures and the gates built on them. A face that fails a gate is not
// matched (a blurry or tiny face is where false matches come from) and is reported with the
// reason, since "why was I not recognised" is the first question users ask.
import type { Point } from './alignment.js';

export type FaceQuality = {
  /** Detector confidence, 0..1. */
  score: number;
  /** Distance between the eye centres in image pixels: the face's resolution. */
  eyeDistance: number;
  /** Variance of the Laplacian of the aligned chip's luma: low is blurred or upscaled. */
  sharpness: number;
  /** Head rotation estimated from the landmarks, degrees; 0 is frontal/upright. */
  yaw: number;
  roll: number;
  /** Fraction of the detection box outside the frame. */
  outside: number;
};

export type QualityGates = {
  minScore: number;
  minEyeDistance: number;
  minSharpness: number;
  maxYaw: number;
  maxRoll: number;
  maxOutside: number;
};

/** Which measure failed, with the measured value and the limit, for logs and events. */
export type GateFailure = { gate: keyof QualityGates; value: number; limit: number; reason: string };

/** The mean of some points. */
export const centroid = (pts: readonly Point[]): Point => [
  pts.reduce((s, p) => s + p[0], 0) / pts.length,
  pts.reduce((s, p) => s + p[1], 0) / pts.length,
];

/** Eye centres (iBUG 68: 36..41 image-left eye, 42..47 image-right eye). */
export function eyeCentres(landmarks: readonly Point[]): [Point, Point] {
  return [centroid(landmarks.slice(36, 42)), centroid(landmarks.slice(42, 48))];
}

export function measureQuality(opts: {
  landmarks: readonly Point[];
  score: number;
  /** Fraction of the detector's box outside the frame. */
  outside: number;
  /** The aligned chip, NHWC RGB floats, `chipSize` square. */
  chip: Float32Array;
  chipSize: number;
}): FaceQuality {
  const { landmarks } = opts;
  const [left, right] = eyeCentres(landmarks);
  const eyeDistance = Math.hypot(right[0] - left[0], right[1] - left[1]);
  const roll = (Math.atan2(right[1] - left[1], right[0] - left[0]) * 180) / Math.PI;
  // Yaw: where the nose tip (30) sits between the jaw ends (0 and 16), projected onto the eye
  // line. Frontal puts it halfway; a head turned by angle a moves it by about sin(a)/2.
  const jawL = landmarks[0]!;
  const jawR = landmarks[16]!;
  const nose = landmarks[30]!;
  const ux = Math.cos((roll * Math.PI) / 180);
  const uy = Math.sin((roll * Math.PI) / 180);
  const along = (p: Point): number => p[0] * ux + p[1] * uy;
  const span = along(jawR) - along(jawL);
  const t = span > 0 ? (along(nose) - along(jawL)) / span : 0.5;
  const yaw = (Math.asin(Math.max(-1, Math.min(1, 2 * (t - 0.5)))) * 180) / Math.PI;
  return {
    score: opts.score,
    eyeDistance,
    sharpness: laplacianVariance(opts.chip, opts.chipSize),
    yaw,
    roll,
    outside: opts.outside,
  };
}

/** Variance of the 4-neighbour Laplacian over the chip's interior, on luma 0..255. */
export function laplacianVariance(chip: Float32Array, size: number): number {
  const luma = new Float32Array(size * size);
  for (let i = 0; i < size * size; i++) {
    luma[i] = 0.299 * chip[3 * i]! + 0.587 * chip[3 * i + 1]! + 0.114 * chip[3 * i + 2]!;
  }
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      const i = y * size + x;
      const lap = luma[i - 1]! + luma[i + 1]! + luma[i - size]! + luma[i + size]! - 4 * luma[i]!;
      sum += lap;
      sumSq += lap * lap;
      n++;
    }
  }
  const m = sum / n;
  return sumSq / n - m * m;
}

/** The gates a face fails, in a fixed order; empty when it passes them all. */
export function checkGates(q: FaceQuality, gates: QualityGates): GateFailure[] {
  const failures: GateFailure[] = [];
  const below = (gate: keyof QualityGates, value: number, limit: number, what: string) => {
    if (value < limit)
      failures.push({ gate, value, limit, reason: `${what} ${fmt(value)} below ${fmt(limit)}` });
  };
  const above = (gate: keyof QualityGates, value: number, limit: number, what: string) => {
    if (value > limit)
      failures.push({ gate, value, limit, reason: `${what} ${fmt(value)} above ${fmt(limit)}` });
  };
  below('minScore', q.score, gates.minScore, 'detector score');
  below('minEyeDistance', q.eyeDistance, gates.minEyeDistance, 'eye distance (px)');
  below('minSharpness', q.sharpness, gates.minSharpness, 'sharpness');
  above('maxYaw', Math.abs(q.yaw), gates.maxYaw, 'yaw (degrees)');
  above('maxRoll', Math.abs(q.roll), gates.maxRoll, 'roll (degrees)');
  above('maxOutside', q.outside, gates.maxOutside, 'fraction outside the frame');
  return failures;
}

const fmt = (v: number): string => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(2));

/**
 * Defaults, chosen by measurement (bench/quality-sweep.ts on 600 lfw-dev pairs, results in
 * bench/RESULTS.md): verification accuracy holds at 99.0% with 21 px between the eyes and
 * falls to 96.2% at 15 px, so faces need 20 px; it holds with sharpness 17 (blur sigma 1) and
 * falls to 97.5% at 3.8 (sigma 2), so 8. Pose and frame-edge limits are conservative defaults
 * for a door: the landmark estimates of yaw are coarse (+-15 degrees on frontal faces).
 */
export const DEFAULT_QUALITY_GATES: QualityGates = {
  minScore: 0.5,
  minEyeDistance: 20,
  minSharpness: 8,
  maxYaw: 45,
  maxRoll: 30,
  maxOutside: 0.2,
};
