// Constructed landmark tracks for the liveness tests: the mean face's 68 landmarks with a depth
// each (dlib's template for 17-67, a jaw arc for 0-16), seen by a pinhole camera, and a photo of
// it (the same landmarks on a plane), each moved as a head or a hand moves them.
import { gaussian, seededRandom } from '../../src/training/random.js';
import { meanFacePoint, type Point } from '../../src/vision/alignment.js';

export type Point3 = [number, number, number];

/** The mean face (dlib's template for 17-67, a jaw arc for 0-16), in eye distances, with depths. */
export function face3d(): Point3[] {
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

export type Pose = { yaw?: number; pitch?: number; roll?: number; x?: number; y?: number; distance?: number };

/** A pinhole camera 8 eye distances away (about 50 cm), 100 pixels per eye distance at that distance. */
export function project(points: readonly Point3[], pose: Pose): Point[] {
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
export function photo(): Point3[] {
  return project(face3d(), {}).map(([x, y]): Point3 => [(x - 320) / 100, (y - 240) / 100, 0]);
}

/** Landmark noise: 0.5% of the eye distance (100 px here), as on a still picture. */
export function noisy(frames: Point[][], seed: number, sigma = 0.5): Point[][] {
  const random = seededRandom(seed);
  return frames.map((f) =>
    f.map(([x, y]): Point => [x + sigma * gaussian(random), y + sigma * gaussian(random)]),
  );
}
