// A picture drawn as a mesh of triangles moved in 3D: how the liveness measurements
// (eval/presentation-clips.ts) turn one photo into a head that turns and blinks, or into a printed
// photo or a phone tilted in front of the camera. Each triangle of the source picture is mapped
// by the affine map its three corners define, with a depth buffer so the nearer surface wins
// where a turn folds the mesh over itself.
import type { Point } from './alignment.js';
import type { RgbImage } from './image.js';

export type Triangle = [number, number, number];
export type Point3 = [number, number, number];

/** A pose: turns in radians (yaw about the vertical axis, pitch, roll in the picture), a shift, a scale. */
export type Pose = { yaw: number; pitch: number; roll: number; dx: number; dy: number; scale: number };

export const STILL: Pose = { yaw: 0, pitch: 0, roll: 0, dx: 0, dy: 0, scale: 1 };

function circumcircleContains(p: readonly Point[], t: Triangle, q: Point): boolean {
  const [a, b, c] = [p[t[0]]!, p[t[1]]!, p[t[2]]!];
  const [ax, ay] = [a[0] - q[0], a[1] - q[1]];
  const [bx, by] = [b[0] - q[0], b[1] - q[1]];
  const [cx, cy] = [c[0] - q[0], c[1] - q[1]];
  const det =
    (ax * ax + ay * ay) * (bx * cy - cx * by) -
    (bx * bx + by * by) * (ax * cy - cx * ay) +
    (cx * cx + cy * cy) * (ax * by - bx * ay);
  const orientation = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
  return orientation > 0 ? det > 0 : det < 0;
}

/** Delaunay triangulation (Bowyer-Watson): a mesh without slivers for any set of distinct points. */
export function delaunay(points: readonly Point[]): Triangle[] {
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const size = Math.max(maxX - minX, maxY - minY, 1) * 20;
  const [mx, my] = [(minX + maxX) / 2, (minY + maxY) / 2];
  const all: Point[] = [...points, [mx - size, my - size], [mx + size, my - size], [mx, my + size]];
  const n = points.length;
  let triangles: Triangle[] = [[n, n + 1, n + 2]];
  for (let i = 0; i < n; i++) {
    const bad = triangles.filter((t) => circumcircleContains(all, t, all[i]!));
    const edges = new Map<string, [number, number]>();
    for (const t of bad) {
      for (const [a, b] of [
        [t[0], t[1]],
        [t[1], t[2]],
        [t[2], t[0]],
      ] as const) {
        const key = a < b ? `${a},${b}` : `${b},${a}`;
        if (edges.has(key)) edges.delete(key);
        else edges.set(key, [a, b]);
      }
    }
    triangles = triangles.filter((t) => !bad.includes(t));
    for (const [a, b] of edges.values()) triangles.push([a, b, i]);
  }
  return triangles.filter((t) => t.every((v) => v < n));
}

/**
 * Where each point lands when its surface turns by `pose` about `pivot`, seen by a pinhole camera
 * `distance` pixels away (the pixel scale of the source picture). The source picture is that
 * camera's view at the still pose: each point is first taken back along its ray to its depth
 * (positive: towards the camera), so STILL maps every point onto itself.
 */
export function projectPose(points: readonly Point3[], pose: Pose, pivot: Point3, distance: number): Point[] {
  const [cy, sy] = [Math.cos(pose.yaw), Math.sin(pose.yaw)];
  const [cp, sp] = [Math.cos(pose.pitch), Math.sin(pose.pitch)];
  const [cr, sr] = [Math.cos(pose.roll), Math.sin(pose.roll)];
  return points.map(([u, v, z]) => {
    const back = (distance - z) / distance;
    const x0 = (u - pivot[0]) * back;
    const y0 = (v - pivot[1]) * back;
    const z0 = z - pivot[2];
    const [x1, z1] = [cy * x0 + sy * z0, -sy * x0 + cy * z0];
    const [y2, z2] = [cp * y0 - sp * z1, sp * y0 + cp * z1];
    const [x3, y3] = [cr * x1 - sr * y2, sr * x1 + cr * y2];
    const s = (pose.scale * distance) / (distance - (z2 + pivot[2]));
    return [pivot[0] + pose.dx + s * x3, pivot[1] + pose.dy + s * y3];
  });
}

/**
 * Draws `source` into `target`: each triangle of `mesh` from its corners in `from` (source
 * pixels) to its corners in `to` (target pixels), sampled bilinearly. `depth` per point decides
 * which surface is in front where triangles overlap; `depthBuffer` (one value per target pixel,
 * -Infinity where nothing is drawn yet) carries that across calls.
 */
export function drawMesh(
  source: RgbImage,
  target: RgbImage,
  mesh: readonly Triangle[],
  from: readonly Point[],
  to: readonly Point[],
  depth: readonly number[],
  depthBuffer: Float32Array,
): void {
  const { width: W, height: H } = target;
  for (const [i, j, k] of mesh) {
    const [a, b, c] = [to[i]!, to[j]!, to[k]!];
    const area = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    if (Math.abs(area) < 1e-9) continue; // collapsed (a closed eyelid): nothing of it shows
    const x0 = Math.max(0, Math.floor(Math.min(a[0], b[0], c[0])));
    const x1 = Math.min(W - 1, Math.ceil(Math.max(a[0], b[0], c[0])));
    const y0 = Math.max(0, Math.floor(Math.min(a[1], b[1], c[1])));
    const y1 = Math.min(H - 1, Math.ceil(Math.max(a[1], b[1], c[1])));
    const [fa, fb, fc] = [from[i]!, from[j]!, from[k]!];
    const [da, db, dc] = [depth[i]!, depth[j]!, depth[k]!];
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        // Barycentric weights of (x, y) in the target triangle.
        const wb = ((x - a[0]) * (c[1] - a[1]) - (y - a[1]) * (c[0] - a[0])) / area;
        const wc = ((b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])) / area;
        const wa = 1 - wb - wc;
        if (wa < -1e-6 || wb < -1e-6 || wc < -1e-6) continue;
        const z = wa * da + wb * db + wc * dc;
        const at = y * W + x;
        if (z < depthBuffer[at]!) continue;
        depthBuffer[at] = z;
        sample(
          source,
          wa * fa[0] + wb * fb[0] + wc * fc[0],
          wa * fa[1] + wb * fb[1] + wc * fc[1],
          target.data,
          at * 3,
        );
      }
    }
  }
}

/** Bilinear sample of `image` at (x, y), pixel centres at integers, edges clamped. */
function sample(image: RgbImage, x: number, y: number, out: Uint8Array, at: number): void {
  const { width: w, height: h, data } = image;
  const cx = Math.max(0, Math.min(w - 1, x));
  const cy = Math.max(0, Math.min(h - 1, y));
  const x0 = Math.min(w - 2, Math.floor(cx));
  const y0 = Math.min(h - 2, Math.floor(cy));
  const fx = cx - x0;
  const fy = cy - y0;
  for (let ch = 0; ch < 3; ch++) {
    const p = (y0 * w + x0) * 3 + ch;
    const top = data[p]! * (1 - fx) + data[p + 3]! * fx;
    const bottom = data[p + w * 3]! * (1 - fx) + data[p + w * 3 + 3]! * fx;
    out[at + ch] = Math.round(top * (1 - fy) + bottom * fy);
  }
}
