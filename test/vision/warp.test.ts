import { describe, expect, it } from 'vitest';
import {
  alignmentTemplate,
  alignmentTransform,
  arcfaceTransform,
  boxCropTransform,
} from '../../src/vision/alignment.js';
import type { RgbImage } from '../../src/vision/image.js';
import {
  affineScale,
  applyAffine,
  fitSimilarity,
  ImagePyramid,
  warpAffine,
  type Affine,
} from '../../src/vision/warp.js';

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

  it("puts eye centres, nose tip and mouth corners on ArcFace's 112-pixel template, at any size", () => {
    const chipToImage: Affine = [1.8, 0.3, 200, -0.3, 1.8, 60];
    // A face whose five points, mapped back, are exactly the template (scaled to 224 px).
    const template: [number, number][] = [
      [38.2946, 51.6963],
      [73.5318, 51.5014],
      [56.0252, 71.7366],
      [41.5493, 92.3655],
      [70.7299, 92.2041],
    ].map(([x, y]) => [x! * 2, y! * 2]);
    const landmarks = Array.from({ length: 68 }, (): [number, number] => [1e6, -1e6]);
    // Each eye's six points around its centre; nose tip 30; mouth corners 48 and 54.
    for (const [eye, from] of [
      [0, 36],
      [1, 42],
    ] as const)
      for (let k = 0; k < 6; k++) {
        const d = k < 3 ? 4 : -4;
        landmarks[from + k] = applyAffine(
          chipToImage,
          template[eye]![0] + d,
          template[eye]![1] + (k % 3) - 1,
        );
      }
    landmarks[30] = applyAffine(chipToImage, ...template[2]!);
    landmarks[48] = applyAffine(chipToImage, ...template[3]!);
    landmarks[54] = applyAffine(chipToImage, ...template[4]!);
    arcfaceTransform(landmarks, 224).forEach((v, i) => expect(v).toBeCloseTo(chipToImage[i]!, 6));
  });

  it('box crop pads the box to a square around its centre', () => {
    const m = boxCropTransform({ x: 10, y: 20, width: 100, height: 50 }, 50);
    expect(applyAffine(m, 0, 0)).toEqual([10, -5]);
    expect(applyAffine(m, 50, 50)).toEqual([110, 95]);
  });
});

describe('ImagePyramid', () => {
  const noise = (width: number, height: number): RgbImage => ({
    width,
    height,
    data: Uint8Array.from({ length: width * height * 3 }, (_, i) => (i * 7) % 251),
  });

  it('makes each scale once: halvings, libvips resizes, their byte halvings, and upsamplings', async () => {
    const pyramid = new ImagePyramid(noise(640, 360));
    expect(await pyramid.at(1)).toBe(pyramid.level(0));
    expect(await pyramid.at(0.25)).toBe(pyramid.level(2));
    const resized = await pyramid.at(0.6);
    expect([resized.width, resized.height]).toEqual([384, 216]);
    expect(resized.data).toBeInstanceOf(Uint8Array);
    expect(await pyramid.at(0.6)).toBe(resized);
    // The next octave halves the resized level, rounding each 2x2 mean to the nearest byte.
    const halved = await pyramid.at(0.3);
    expect([halved.width, halved.height]).toEqual([192, 108]);
    const d = resized.data;
    const row = resized.width * 3;
    expect(halved.data[0]).toBe(Math.round((d[0]! + d[3]! + d[row]! + d[row + 3]!) / 4));
    const up = await pyramid.at(2);
    expect([up.width, up.height]).toEqual([1280, 720]);
  });

  it('warps from a resized level when it is coarser than the halving it would use', async () => {
    const base = noise(640, 360);
    const pyramid = new ImagePyramid(base);
    const level = await pyramid.at(0.6);
    // 1.8 image pixels per output pixel: without the resized level, 2x2 samples of the image.
    const m: Affine = [1.8, 0, 100, 0, 1.8, 50];
    const viaPyramid = new Float32Array(20 * 20 * 3);
    pyramid.warp(m, 20, 20, viaPyramid);
    const f = 1 / 0.6;
    const direct = new Float32Array(20 * 20 * 3);
    warpAffine(level, [m[0] / f, 0, m[2] / f, 0, m[4] / f, m[5] / f], 20, 20, direct);
    expect(Array.from(viaPyramid)).toEqual(Array.from(direct));
  });

  it('halves a resized level when a warp needs it, rather than halving the whole image', async () => {
    const pyramid = new ImagePyramid(noise(640, 360));
    await pyramid.at(0.6);
    // 3.6 image pixels per output pixel: the resized level halved (3.33) beats the image halved (2).
    const m: Affine = [3.6, 0, 10, 0, 3.6, 20];
    const viaPyramid = new Float32Array(20 * 20 * 3);
    pyramid.warp(m, 20, 20, viaPyramid);
    const halved = await pyramid.at(0.3);
    const f = 1 / 0.3;
    const direct = new Float32Array(20 * 20 * 3);
    warpAffine(halved, [m[0] / f, 0, m[2] / f, 0, m[4] / f, m[5] / f], 20, 20, direct);
    expect(Array.from(viaPyramid)).toEqual(Array.from(direct));
    expect(halved.data).toBeInstanceOf(Uint8Array);
  });

  it('halves only around a warp what the warp reads, with the pixels of the whole halving', () => {
    const image = noise(641, 363);
    // A crop of a large face, rotated, at 2.6 and 5.2 image pixels per output pixel (one and two
    // halvings), inside the image and across its corner, plain and clipped to the face's box.
    const rotated = (s: number, x: number, y: number): Affine => {
      const [c, n] = [s * Math.cos(0.3), s * Math.sin(0.3)];
      return [c, -n, x, n, c, y];
    };
    for (const [m, clip] of [
      [rotated(2.6, 300, 100), undefined],
      [rotated(5.2, 200, 20), { x: 190, y: 40, width: 150, height: 160 }],
      [rotated(2.6, 560, 300), undefined],
      [rotated(2.6, -60, -40), { x: -10, y: -10, width: 120, height: 110 }],
    ] as const) {
      const pyramid = new ImagePyramid(image);
      if (affineScale(m) >= 4) pyramid.level(1); // two halvings: the part is halved from this one
      const viaPart = new Float32Array(40 * 40 * 3);
      pyramid.warp(m, 40, 40, viaPart, 0, clip);
      const whole = new ImagePyramid(image);
      const k = affineScale(m) >= 4 ? 2 : 1;
      const f = 2 ** k;
      const direct = new Float32Array(40 * 40 * 3);
      const ck = clip && { x: clip.x / f, y: clip.y / f, width: clip.width / f, height: clip.height / f };
      warpAffine(whole.level(k), m.map((v) => v / f) as unknown as Affine, 40, 40, direct, 0, ck);
      expect(Array.from(viaPart)).toEqual(Array.from(direct));
      expect(direct.some((v) => v > 0)).toBe(true);
    }
  });
});
