// The liveness cues on constructed landmark tracks: a face in 3D (the mean face's landmarks with a
// depth each) seen by a pinhole camera, and a photo of it (the same landmarks on a plane), each
// moved as a head or a hand moves them, with landmark noise at the level the landmark network
// shows on a still picture.
import { describe, expect, it } from 'vitest';
import {
  eyeAspectRatio,
  homographyResidual,
  livenessCues,
  livenessVerdict,
  STILL_MOTION,
} from '../../src/recognition/liveness.js';
import { gaussian, seededRandom } from '../../src/training/random.js';
import { meanFacePoint, type Point } from '../../src/vision/alignment.js';

type Point3 = [number, number, number];

/** The mean face (dlib's template for 17-67, a jaw arc for 0-16), in eye distances, with depths. */
function face3d(): Point3[] {
  const eyes = (a: number, b: number) => {
    let x = 0;
    let y = 0;
    for (let i = a; i <= b; i++) [x, y] = [x + meanFacePoint(i)[0] / 6, y + meanFacePoint(i)[1] / 6];
    return [x, y] as Point;
  };
  const [l, r] = [eyes(36, 41), eyes(42, 47)];
  const unit = Math.hypot(r[0] - l[0], r[1] - l[1]);
  const centre: Point = [(l[0] + r[0]) / 2, (l[1] + r[1]) / 2 + 0.3 * unit];
  const depth = (i: number): number => {
    if (i >= 27 && i <= 30) return 0.15 + 0.15 * (i - 27); // nose bridge to tip: 0.15 to 0.6
    if (i >= 31 && i <= 35) return 0.35; // nostrils
    if (i >= 48) return 0.2; // mouth
    if (i >= 17 && i <= 26) return 0.1; // brows
    return 0; // eyes
  };
  return Array.from({ length: 68 }, (_, i): Point3 => {
    if (i <= 16) {
      // The jaw: from one ear down round the chin to the other, well behind the eyes.
      const a = Math.PI * (i / 16);
      return [-1.05 * Math.cos(a), 0.1 + 1.25 * Math.sin(a), -0.6];
    }
    const [x, y] = meanFacePoint(i);
    return [(x - centre[0]) / unit, (y - centre[1]) / unit, depth(i)];
  });
}

type Pose = { yaw?: number; pitch?: number; roll?: number; x?: number; y?: number; distance?: number };

/** A pinhole camera 8 eye distances away (about 50 cm), 100 pixels per eye distance at that distance. */
function project(points: readonly Point3[], pose: Pose): Point[] {
  const [cy, sy] = [Math.cos(pose.yaw ?? 0), Math.sin(pose.yaw ?? 0)];
  const [cp, sp] = [Math.cos(pose.pitch ?? 0), Math.sin(pose.pitch ?? 0)];
  const [cr, sr] = [Math.cos(pose.roll ?? 0), Math.sin(pose.roll ?? 0)];
  const d = pose.distance ?? 8;
  return points.map(([x0, y0, z0]) => {
    // Yaw about the vertical axis, then pitch, then roll; depth towards the camera.
    const [x1, z1] = [cy * x0 + sy * z0, -sy * x0 + cy * z0];
    const [y2, z2] = [cp * y0 - sp * z1, sp * y0 + cp * z1];
    const [x3, y3] = [cr * x1 - sr * y2, sr * x1 + cr * y2];
    const s = (100 * 8) / (d - z2);
    return [320 + s * (x3 + (pose.x ?? 0)), 240 + s * (y3 + (pose.y ?? 0))];
  });
}

/** A photo of the face: its landmarks as the camera saw them once, on a plane (depth 0). */
function photo(): Point3[] {
  return project(face3d(), {}).map(([x, y]): Point3 => [(x - 320) / 100, (y - 240) / 100, 0]);
}

/** Landmark noise: 0.5% of the eye distance (100 px here), as on a still picture. */
function noisy(frames: Point[][], seed: number, sigma = 0.5): Point[][] {
  const random = seededRandom(seed);
  return frames.map((f) =>
    f.map(([x, y]): Point => [x + sigma * gaussian(random), y + sigma * gaussian(random)]),
  );
}

const deg = Math.PI / 180;
const FRAMES = 12;
const poses = (pose: (t: number) => Pose): Pose[] =>
  Array.from({ length: FRAMES }, (_, i) => pose(i / (FRAMES - 1)));
const opts = { minFrames: 8, threshold: 0.03 };

describe('liveness cues', () => {
  it('a picture that does not move: still, no parallax, not live', () => {
    const frames = noisy(
      poses(() => ({})).map((p) => project(photo(), p)),
      1,
    );
    const v = livenessVerdict(frames, opts)!;
    expect(v.cues.motion).toBeLessThan(STILL_MOTION);
    expect(v).toMatchObject({ live: false, reason: 'still', cues: { frames: FRAMES, blinks: 0 } });
  });

  it('a picture moved by hand (shifted, turned, tilted, nearer): it moves, but as a plane, not live', () => {
    const frames = noisy(
      poses((t) => ({
        x: 0.4 * t,
        y: -0.2 * t,
        roll: 12 * deg * t,
        yaw: 25 * deg * Math.sin(3 * t),
        pitch: -15 * deg * t,
        distance: 8 - 3 * t,
      })).map((p) => project(photo(), p)),
      2,
    );
    const v = livenessVerdict(frames, opts)!;
    expect(v.cues.motion).toBeGreaterThan(STILL_MOTION);
    expect(v.cues.parallax).toBeLessThan(opts.threshold / 2);
    expect(v).toMatchObject({ live: false, reason: 'planar' });
  });

  it('a head that turns a little (10 degrees of yaw, 5 of pitch): parallax, live', () => {
    const frames = noisy(
      poses((t) => ({ yaw: 10 * deg * Math.sin(2 * Math.PI * t), pitch: 5 * deg * t, x: 0.1 * t })).map((p) =>
        project(face3d(), p),
      ),
      3,
    );
    const v = livenessVerdict(frames, opts)!;
    expect(v.cues.parallax).toBeGreaterThan(opts.threshold); // 0.05, where planar moves stay under 0.015
    expect(v).toMatchObject({ live: true, reason: 'parallax' });
  });

  it('a head that only slides across the picture shows no parallax: turning is what proves depth', () => {
    const frames = noisy(
      poses((t) => ({ x: 0.3 * t, y: 0.1 * t })).map((p) => project(face3d(), p)),
      4,
    );
    expect(livenessCues(frames).parallax).toBeLessThan(opts.threshold);
  });

  it('a blink (eyes closed in two frames) is live on its own; a print cannot blink', () => {
    const still = project(face3d(), {});
    const closed = still.map((p, i): Point => {
      // Upper lids (37, 38, 43, 44) and lower lids (40, 41, 46, 47) meet on the eye's midline.
      const eye = i >= 42 ? 42 : 36;
      if (![1, 2, 4, 5].includes(i - eye) || i < 36 || i > 47) return p;
      const midline = (still[eye]![1] + still[eye + 3]![1]) / 2;
      return [p[0], midline + 0.1 * (p[1] - midline)];
    });
    expect(eyeAspectRatio(closed)).toBeLessThan(0.2 * eyeAspectRatio(still));
    const frames = noisy(
      Array.from({ length: FRAMES }, (_, i) => (i === 5 || i === 6 ? closed : still)),
      5,
    );
    const v = livenessVerdict(frames, opts)!;
    expect(v).toMatchObject({ live: true, reason: 'blink', cues: { blinks: 1 } });
    // Closed from the start is no blink: it never opened before closing.
    expect(livenessCues(noisy([closed, closed, still, still], 6)).blinks).toBe(0);
  });

  it("one frame's landmark glitch does not make a picture live", () => {
    const frames = noisy(
      poses(() => ({})).map((p) => project(photo(), p)),
      7,
    );
    frames[4] = frames[4]!.map(([x, y], i): Point => (i === 30 ? [x + 20, y - 15] : [x, y]));
    expect(livenessVerdict(frames, opts)!.live).toBe(false);
  });

  it('gives no verdict before minFrames, and fits an exact homography with no residual', () => {
    const frames = poses(() => ({})).map((p) => project(photo(), p));
    expect(livenessVerdict(frames.slice(0, 7), opts)).toBeUndefined();
    const flat = project(photo(), {});
    const tilted = project(photo(), { yaw: 30 * deg, pitch: 10 * deg, roll: 5 * deg, distance: 5 });
    expect(homographyResidual(flat, tilted)).toBeLessThan(1e-6);
  });
});
