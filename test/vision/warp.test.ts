import { describe, expect, it } from 'vitest';
import { alignmentTemplate, alignmentTransform, boxCropTransform } from '../../src/vision/alignment.js';
import type { RgbImage } from '../../src/vision/image.js';
import { applyAffine, fitSimilarity, warpAffine, type Affine } from '../../src/vision/warp.js';

function image(
  width: number,
  height: number,
  f: (x: number, y: number) => [number, number, number],
): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data.set(f(x, y), (y * width + x) * 3);
  return { width, height, data };
}

describe('warpAffine', () => {
  const img = image(8, 6, (x, y) => [x * 30, y * 40, 7]);

  it('reproduces the image under the identity map', () => {
    const out = new Float32Array(8 * 6 * 3);
    warpAffine(img, [1, 0, 0, 0, 1, 0], 8, 6, out);
    expect(Array.from(out)).toEqual(Array.from(img.data));
  });

  it('reads zeros outside the image and outside the clip rectangle', () => {
    const out = new Float32Array(4 * 3);
    warpAffine(img, [1, 0, 6, 0, 1, 0], 4, 1, out); // x = 6, 7, 8, 9
    expect(Array.from(out)).toEqual([180, 0, 7, 210, 0, 7, 0, 0, 0, 0, 0, 0]);
    const clipped = new Float32Array(8 * 3);
    warpAffine(img, [1, 0, 0, 0, 1, 0], 8, 1, clipped, 0, { x: 2, y: 0, width: 3, height: 6 });
    expect(Array.from(clipped.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(clipped.subarray(6, 9))).toEqual([60, 0, 7]);
    expect(Array.from(clipped.subarray(15, 18))).toEqual([0, 0, 0]);
  });

  it('averages when shrinking instead of picking single pixels', () => {
    const stripes = image(16, 16, (x) => (x % 2 ? [255, 255, 255] : [0, 0, 0]));
    const out = new Float32Array(4 * 4 * 3);
    warpAffine(stripes, [4, 0, 0, 0, 4, 0], 4, 4, out);
    for (const v of out) expect(v).toBeCloseTo(127.5, 0);
  });
});

describe('fitSimilarity', () => {
  it('recovers a rotation, scale and translation exactly', () => {
    const angle = 0.3;
    const s = 2.5;
    const m: Affine = [
      s * Math.cos(angle),
      -s * Math.sin(angle),
      12,
      s * Math.sin(angle),
      s * Math.cos(angle),
      -4,
    ];
    const from: [number, number][] = [
      [0, 0],
      [10, 3],
      [4, 9],
      [7, 7],
    ];
    const fit = fitSimilarity(
      from,
      from.map(([x, y]) => applyAffine(m, x, y)),
    );
    fit.forEach((v, i) => expect(v).toBeCloseTo(m[i]!, 9));
  });
});

describe('alignment', () => {
  it("uses dlib's mean face: nose, eyes and upper mouth, placed with padding 0.25", () => {
    const t = alignmentTemplate(150);
    expect(t.map((p) => p.index)).toEqual([
      ...Array.from({ length: 28 }, (_, i) => 27 + i),
      ...[60, 61, 62, 63, 64],
    ]);
    // Landmark 36, the outer corner of the image-left eye: mean (0.121737, 0.216423).
    const eye = t.find((p) => p.index === 36)!.chip;
    expect(eye[0]).toBeCloseTo(((0.25 + 0.121737) / 1.5) * 150, 6);
    expect(eye[1]).toBeCloseTo(((0.25 + 0.216423) / 1.5) * 150, 6);
  });

  it('recovers the map when the landmarks are the template moved by a similarity', () => {
    const chipToImage: Affine = [2.4, -0.7, 310, 0.7, 2.4, 95];
    const landmarks = Array.from({ length: 68 }, (): [number, number] => [1e6, -1e6]); // unused points are ignored
    for (const { index, chip } of alignmentTemplate(150))
      landmarks[index] = applyAffine(chipToImage, ...chip);
    alignmentTransform(landmarks, 150).forEach((v, i) => expect(v).toBeCloseTo(chipToImage[i]!, 6));
  });

  it('box crop pads the box to a square around its centre', () => {
    const m = boxCropTransform({ x: 10, y: 20, width: 100, height: 50 }, 50);
    expect(applyAffine(m, 0, 0)).toEqual([10, -5]);
    expect(applyAffine(m, 50, 50)).toEqual([110, 95]);
  });
});
