// The int8 encoder: its quantization arithmetic, its activation ranges (reproducible from the sample
// photos every machine has), and how far its embeddings stay from the float encoder's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { euclidean, FaceEngine } from '../../src/inference/faces.js';
import { decodeImage } from '../../src/vision/image.js';
import { measureEncoderRanges, RANGE_PHOTOS } from '../../tools/int8-ranges.js';
import { INT8_RANGES_FILE, type Int8Ranges } from '../../tools/converter.js';
import { int8PerChannel, uint8Params, WEIGHT_LEVELS } from '../../tools/quantize.js';
import { FACE_API_DIR, samplePhoto } from '../helpers/fixtures.js';

describe('quantization arithmetic', () => {
  it('uint8 parameters hold zero exactly and cover the range', () => {
    for (const range of [
      [-0.48, 0.59],
      [0, 10.46],
      [-12.3, 3.1],
      [0.5, 2],
    ] as [number, number][]) {
      const { scale, zeroPoint } = uint8Params(range);
      expect(Number.isInteger(zeroPoint) && zeroPoint >= 0 && zeroPoint <= 255).toBe(true);
      expect((0 - zeroPoint) * scale).toBeLessThanOrEqual(Math.min(0, range[0]) + scale / 2);
      expect((255 - zeroPoint) * scale).toBeGreaterThanOrEqual(range[1] - scale / 2);
    }
  });

  it('int8 weights: each output channel at its own scale, within half a step', () => {
    const w = Float32Array.from([0.5, -1, 0.25, 100, -50, 1]);
    const { q, scales } = int8PerChannel(w, 2);
    expect(Array.from(q.slice(0, 3))).toEqual([31, -63, 16]); // 0.5 is 31.4999 steps of fround(1/63)
    expect(q[3]).toBe(63);
    w.forEach((v, i) =>
      expect(Math.abs(q[i]! * scales[i < 3 ? 0 : 1]! - v)).toBeLessThanOrEqual(scales[i < 3 ? 0 : 1]! / 2),
    );
  });

  it('int8 weights cannot saturate the 16-bit pair sums of u8 x s8 kernels without VNNI', () => {
    // vpmaddubsw (AVX2, AVX-512BW) adds two u8 x s8 products into a saturating int16.
    expect(2 * 255 * WEIGHT_LEVELS).toBeLessThanOrEqual(32_767);
    const w = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i * 12.9898) * (1 + (i % 7)));
    const { q } = int8PerChannel(w, 8);
    expect(Math.max(...Array.from(q, Math.abs))).toBe(WEIGHT_LEVELS);
  });
});

describe('int8 encoder', () => {
  it('measuring the ranges again reproduces tools/int8-ranges.json', async () => {
    const committed = JSON.parse(readFileSync(INT8_RANGES_FILE, 'utf8')) as Int8Ranges;
    const fresh = await measureEncoderRanges(FACE_API_DIR);
    expect(fresh.photos).toEqual(RANGE_PHOTOS);
    expect(fresh.faces).toBe(committed.faces);
    const names = Object.keys(committed.ranges.encoder!);
    expect(Object.keys(fresh.ranges.encoder!)).toEqual(names);
    for (const name of names) {
      const [lo, hi] = committed.ranges.encoder![name]!;
      const [flo, fhi] = fresh.ranges.encoder![name]!;
      expect(Math.abs(flo - lo), name).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(lo)));
      expect(Math.abs(fhi - hi), name).toBeLessThanOrEqual(1e-3 * Math.max(1, Math.abs(hi)));
    }
  });

  it('gives embeddings within 0.05 of the float encoder (threshold 0.42) for every sample face', async () => {
    const [float, int8] = await Promise.all([
      FaceEngine.open({ encoder: 'dlib' }),
      FaceEngine.open({ encoder: 'dlib', int8: true }),
    ]);
    expect(int8.unitEncoderId).not.toBe(float.unitEncoderId);
    let faces = 0;
    for (const name of ['sample2.jpg', 'sample3.jpg', 'sample5.jpg']) {
      const image = await decodeImage(samplePhoto(name));
      const [a, b] = await Promise.all([
        float.analyze(image, { select: 'all' }),
        int8.analyze(image, { select: 'all' }),
      ]);
      expect(b.map((f) => f.box)).toEqual(a.map((f) => f.box));
      a.forEach((f, i) =>
        expect(euclidean(f.embedding, b[i]!.embedding), `${name} face ${i}`).toBeLessThan(0.05),
      );
      faces += a.length;
    }
    expect(faces).toBeGreaterThanOrEqual(10);
    await Promise.all([float.release(), int8.release()]);
  });
});
