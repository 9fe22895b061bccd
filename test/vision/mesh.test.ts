// The mesh warp behind the liveness clips: a triangulation that covers its points' hull, a pose
// that leaves a picture where it is when still, and a warp that moves pixels where the mesh says.
import { describe, expect, it } from 'vitest';
import type { Point } from '../../src/vision/alignment.js';
import { delaunay, drawMesh, projectPose, STILL, type Point3 } from '../../src/vision/mesh.js';

const grid = (n: number, step: number): Point[] =>
  Array.from({ length: n * n }, (_, i): Point => [(i % n) * step, Math.floor(i / n) * step]);

const area = (p: readonly Point[], [a, b, c]: readonly number[]) =>
  Math.abs(
    (p[b!]![0] - p[a!]![0]) * (p[c!]![1] - p[a!]![1]) - (p[b!]![1] - p[a!]![1]) * (p[c!]![0] - p[a!]![0]),
  ) / 2;

describe('mesh', () => {
  it('triangulates a grid into triangles that tile its square exactly', () => {
    const points = grid(5, 10);
    const mesh = delaunay(points);
    expect(mesh).toHaveLength(2 * 4 * 4);
    expect(mesh.reduce((s, t) => s + area(points, t), 0)).toBeCloseTo(40 * 40, 6);
    // Scattered points: every point is a corner, no triangle is degenerate.
    const scattered: Point[] = Array.from({ length: 40 }, (_, i) => [
      (i * 37) % 101,
      ((i * 59) % 97) + (i % 3) * 0.5,
    ]);
    const m = delaunay(scattered);
    expect(new Set(m.flat()).size).toBe(scattered.length);
    for (const t of m) expect(area(scattered, t)).toBeGreaterThan(1e-9);
  });

  it('leaves every point where it is at the still pose; a turn moves near points more than far ones', () => {
    const points: Point3[] = [
      [100, 100, 0],
      [140, 100, 30],
      [60, 120, -20],
    ];
    const still = projectPose(points, STILL, [100, 100, -40], 400);
    still.forEach((p, i) => {
      expect(p[0]).toBeCloseTo(points[i]![0], 9);
      expect(p[1]).toBeCloseTo(points[i]![1], 9);
    });
    const turned = projectPose(points, { ...STILL, yaw: 0.2 }, [100, 100, -40], 400);
    // Yaw about an axis 40 px behind the first point: the nearer (30) point shifts more across.
    expect(Math.abs(turned[1]![0] - 140)).toBeGreaterThan(Math.abs(turned[0]![0] - 100));
  });

  it('draws a picture shifted by a mesh shifted the same, and the nearer surface over the farther', () => {
    const source = { width: 20, height: 20, data: new Uint8Array(20 * 20 * 3) };
    for (let i = 0; i < 400; i++) source.data.fill((i * 7) % 256, i * 3, i * 3 + 3);
    const corners: Point[] = [
      [0, 0],
      [19, 0],
      [0, 19],
      [19, 19],
    ];
    const mesh = delaunay(corners);
    const target = { width: 30, height: 30, data: new Uint8Array(30 * 30 * 3) };
    const depth = new Float32Array(900).fill(-Infinity);
    drawMesh(
      source,
      target,
      mesh,
      corners,
      corners.map(([x, y]) => [x + 5, y + 3]),
      [0, 0, 0, 0],
      depth,
    );
    for (const [x, y] of [
      [0, 0],
      [7, 11],
      [19, 19],
    ])
      expect(target.data[((y! + 3) * 30 + x! + 5) * 3]).toBe(source.data[(y! * 20 + x!) * 3]);
    expect(target.data[0]).toBe(0); // outside the mesh: untouched
    // A farther copy drawn over it does not show; a nearer one does.
    const black = { width: 20, height: 20, data: new Uint8Array(1200) };
    const shifted = corners.map(([x, y]): Point => [x + 5, y + 3]);
    drawMesh(black, target, mesh, corners, shifted, [-1, -1, -1, -1], depth);
    expect(target.data[(14 * 30 + 12) * 3]).toBe(source.data[(11 * 20 + 7) * 3]);
    drawMesh(black, target, mesh, corners, shifted, [1, 1, 1, 1], depth);
    expect(target.data[(14 * 30 + 12) * 3]).toBe(0);
  });
});
