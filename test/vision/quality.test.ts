// Quality measures on real faces and their transformations, and each gate on its own.
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { FaceEngine, type Face } from '../../src/inference/faces.js';
import { decodeImage } from '../../src/vision/image.js';
import {
  checkGates,
  DEFAULT_QUALITY_GATES,
  laplacianVariance,
  type FaceQuality,
} from '../../src/vision/quality.js';
import { faceCrop } from '../helpers/faces.js';

let engine: FaceEngine;
beforeAll(async () => {
  engine = await FaceEngine.open();
});

async function face(img: Buffer): Promise<Face> {
  const [f] = await engine.analyze(await decodeImage(img));
  if (!f) throw new Error('no face in test image');
  return f;
}

describe('quality measures', () => {
  it('scale with the face: eye distance halves when the photo is halved', async () => {
    const crop = await faceCrop(0);
    const full = await face(crop);
    const meta = await sharp(crop).metadata();
    const half = await face(
      await sharp(crop)
        .resize(Math.round(meta.width / 2))
        .png()
        .toBuffer(),
    );
    expect(half.quality.eyeDistance / full.quality.eyeDistance).toBeGreaterThan(0.42);
    expect(half.quality.eyeDistance / full.quality.eyeDistance).toBeLessThan(0.58);
  });

  it('see blur: sharpness falls when the photo is blurred', async () => {
    const crop = await faceCrop(1);
    const sharpFace = await face(crop);
    const blurred = await face(await sharp(crop).blur(4).png().toBuffer());
    expect(blurred.quality.sharpness).toBeLessThan(sharpFace.quality.sharpness / 3);
  });

  it('see roll: a photo rotated by 20 degrees measures 12-30 degrees more roll (the landmark net is not exact under rotation)', async () => {
    const crop = await faceCrop(1);
    const upright = await face(crop);
    const rotated = await face(await sharp(crop).rotate(20, { background: '#000' }).png().toBuffer());
    expect(rotated.quality.roll - upright.quality.roll).toBeGreaterThan(12);
    expect(rotated.quality.roll - upright.quality.roll).toBeLessThan(30);
  });

  it('see a face cut by the frame edge', async () => {
    const crop = await faceCrop(1);
    const whole = await face(crop);
    const meta = await sharp(crop).metadata();
    const b = whole.box;
    // Keep only the left half of the face.
    const cut = await sharp(crop)
      .extract({ left: 0, top: 0, width: Math.round(b.x + 0.5 * b.width), height: meta.height })
      .png()
      .toBuffer();
    expect(whole.quality.outside).toBeLessThan(0.05);
    expect((await face(cut)).quality.outside).toBeGreaterThan(0.15);
  });

  it('laplacian variance is zero on a flat chip and large on a checkerboard', () => {
    const flat = new Float32Array(10 * 10 * 3).fill(128);
    expect(laplacianVariance(flat, 10)).toBe(0);
    const board = Float32Array.from({ length: 300 }, (_, i) =>
      ((Math.floor(i / 3) % 10) + Math.floor(i / 30)) % 2 ? 255 : 0,
    );
    expect(laplacianVariance(board, 10)).toBeGreaterThan(1e5);
  });
});

describe('quality gates', () => {
  const good: FaceQuality = { score: 0.95, eyeDistance: 60, sharpness: 150, yaw: 5, roll: -3, outside: 0 };
  it('pass a good face', () => {
    expect(checkGates(good, DEFAULT_QUALITY_GATES)).toEqual([]);
  });
  it.each<[keyof FaceQuality, number, string]>([
    ['score', 0.3, 'detector score 0.30 below 0.50'],
    ['eyeDistance', 8, 'eye distance (px) 8.00 below'],
    ['sharpness', 2, 'sharpness 2.00 below'],
    ['yaw', -70, 'yaw (degrees) 70 above'],
    ['roll', 50, 'roll (degrees) 50 above'],
    ['outside', 0.5, 'fraction outside the frame 0.50 above'],
  ])('reject %s = %d with the reason', (key, value, reason) => {
    const failures = checkGates({ ...good, [key]: value }, DEFAULT_QUALITY_GATES);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.reason).toContain(reason);
  });
});
