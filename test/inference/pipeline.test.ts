// The face pipeline on the image sizes a gateway meets: a 36-megapixel phone photo, a 720p frame
// with faces far from the camera, a 150x150 crop; and the detector's pyramid.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_OPTIONS, pyramidScales, runDetector } from '../../src/inference/detector.js';
import { ENCODER_THRESHOLDS, euclidean, FaceEngine } from '../../src/inference/faces.js';
import { DEFAULT_ENCODER } from '../../src/inference/model-manifest.js';
import { decodeImage, MAX_DECODED_SIDE, type RgbImage } from '../../src/vision/image.js';
import { ImagePyramid } from '../../src/vision/warp.js';
import { faceCrop } from '../helpers/faces.js';
import { PROJECT_ROOT, samplePhoto, sharedFace, sharedFacesAvailable } from '../helpers/fixtures.js';

let engine: FaceEngine;
let reference: Float32Array;
/** Half the default encoder's threshold (MobileFaceNet's 1.12: the 36-megapixel photo measured 0.35). */
const SAME_FACE = ENCODER_THRESHOLDS[DEFAULT_ENCODER] / 2;
beforeAll(async () => {
  engine = await FaceEngine.open();
  reference = (await engine.analyze(await decodeImage(await faceCrop(1))))[0]!.embedding;
});

describe('face pipeline', () => {
  it.runIf(sharedFacesAvailable('second look between pyramid octaves (lfw-dev photos)'))(
    'looks again between the octaves when a photo shows no face, not on video frames',
    async () => {
      // A face the first look misses: between two pyramid levels for the tiny detector.
      const photo = await decodeImage(sharedFace('lfw-dev/Jude_Law/Jude_Law_0002.jpg'));
      expect(await engine.analyze(photo, { secondLook: false })).toHaveLength(0);
      expect(await engine.analyze(photo, { select: 'all' })).toHaveLength(0);
      expect(await engine.analyze(photo)).toHaveLength(1);
    },
  );

  it('handles a 36-megapixel photo: finds the face, same person as the original', async () => {
    const huge = await sharp(await faceCrop(1))
      .resize(7200, 5000, { fit: 'fill' })
      .jpeg({ quality: 90 })
      .toBuffer();
    // Decoded shrunk to 4096 px on its longer side: the face still far larger than the encoder's chip.
    const image = await decodeImage(huge);
    expect([image.width, image.height, image.scale]).toEqual([
      MAX_DECODED_SIDE,
      2844,
      7200 / MAX_DECODED_SIDE,
    ]);
    const [face] = await engine.analyze(image);
    expect(face).toBeDefined();
    expect(euclidean(face!.embedding, reference)).toBeLessThan(SAME_FACE); // stretched, still the same person
  });

  it("detects a photo in a session of its own: the cameras' detector keeps its size", () => {
    // In a process of its own, as the daemon is (with its unit's malloc setting): a test process
    // that has run other files has a heap of their history.
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'test/helpers/photo-detector-memory.ts')],
      { encoding: 'utf8', env: { ...process.env, MALLOC_ARENA_MAX: '2' } },
    );
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>;
    expect(r.sameBox).toBe(1);
    expect(r.afterOwn! - r.before!).toBeLessThan(64);
    // The same photo on the cameras' detector: its arena grows to the photo's size and stays.
    expect(r.afterShared! - r.afterOwn!).toBeGreaterThan(100); // measured: 200 MiB
  });

  it('encodes once, then with the mirror only the faces a picker chooses', async () => {
    const frame = await decodeImage(samplePhoto('sample1.jpg'));
    const once = await engine.analyze(frame, { select: 'all', mirror: false });
    const mirrored = await engine.analyze(frame, { select: 'all', mirror: true });
    expect(once.length).toBeGreaterThanOrEqual(3);
    const seen: number[] = [];
    const picked = await engine.analyze(frame, {
      select: 'all',
      mirror: (face) => {
        seen.push(euclidean(face.embedding, once[seen.length]!.embedding));
        return seen.length % 2 === 1; // the 1st, 3rd, ... face
      },
    });
    // The picker sees every face's first pass; the picked ones come back as if mirrored throughout.
    expect(seen).toHaveLength(once.length);
    for (const d of seen) expect(d).toBeLessThan(1e-5);
    picked.forEach((face, i) => {
      const [same, other] = i % 2 === 0 ? [mirrored[i]!, once[i]!] : [once[i]!, mirrored[i]!];
      expect(euclidean(face.embedding, same.embedding)).toBeLessThan(1e-5);
      expect(euclidean(face.embedding, other.embedding)).toBeGreaterThan(1e-3);
    });
  });

  it('handles a 150x150 crop', async () => {
    const small = await sharp(await faceCrop(1))
      .resize(150, 150, { fit: 'cover' })
      .png()
      .toBuffer();
    const [face] = await engine.analyze(await decodeImage(small));
    expect(face).toBeDefined();
    expect(euclidean(face!.embedding, reference)).toBeLessThan(SAME_FACE);
  });

  it('finds faces with about 20 px between the eyes in a 720p frame', async () => {
    // The face crop shrunk so its eyes are ~20 px apart, pasted at four places in a grey 720p frame.
    const crop = await faceCrop(1);
    const [full] = await engine.analyze(await decodeImage(crop));
    const factor = 21 / full!.quality.eyeDistance;
    const meta = await sharp(crop).metadata();
    const tiny = await sharp(crop)
      .resize(Math.round(meta.width * factor))
      .png()
      .toBuffer();
    const spots = [
      [100, 100],
      [600, 300],
      [1000, 500],
      [300, 550],
    ] as const;
    const frame = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#7a7a7a' } })
      .composite(spots.map(([left, top]) => ({ input: tiny, left, top })))
      .png()
      .toBuffer();
    const faces = await engine.analyze(await decodeImage(frame), { select: 'all' });
    expect(faces.length).toBeGreaterThanOrEqual(3);
    for (const f of faces) expect(f.quality.eyeDistance).toBeLessThan(30);
  });

  it('halves the first level inside the detector exactly, or in bytes as the image pyramid does', async () => {
    const frame = await decodeImage(
      await sharp(samplePhoto('sample1.jpg')).resize(1280, 720, { fit: 'cover' }).png().toBuffer(),
    );
    const alone = async (image: RgbImage, roundsHalvings: boolean) =>
      (await runDetector(engine.detector, image, 1, roundsHalvings))[0]!.data;
    // Below the image itself: exact means of 2^k x 2^k blocks, rounded half to even only as the
    // network's input (as a Uint8ClampedArray stores them).
    const own = await runDetector(engine.detector, frame, 3, false);
    expect(own[1]!.data).toEqual(await alone(exactMeans(frame, 1), false));
    expect(own[2]!.data).toEqual(await alone(exactMeans(frame, 2), false));
    // Below a libvips level: rounded half up at every step, as the pyramid stores its halvings.
    const pyramid = new ImagePyramid(frame);
    const resized = await pyramid.detectorLevel(0.6);
    expect(resized.roundsHalvings).toBe(true);
    const fromResized = await runDetector(engine.detector, resized.image, 3, true);
    expect(fromResized[1]!.data).toEqual(await alone(await pyramid.at(0.3), true));
    expect(fromResized[2]!.data).toEqual(await alone(await pyramid.at(0.15), true));
  });

  it('builds the pyramid from the smallest face of interest down to a level that holds the whole frame', () => {
    expect(pyramidScales(1280, 720, DEFAULT_DETECTOR_OPTIONS)).toEqual([1, 0.5, 0.25, 0.125]);
    // Huge photos: the first level is bounded by maxInputSide.
    const scales = pyramidScales(7200, 5000, DEFAULT_DETECTOR_OPTIONS);
    expect(7200 * scales[0]!).toBeCloseTo(1920, 6);
    expect(7200 * scales.at(-1)!).toBeLessThanOrEqual(160);
    // Small faces wanted: the first level upsamples.
    expect(pyramidScales(640, 480, { ...DEFAULT_DETECTOR_OPTIONS, minFaceSize: 24 })[0]).toBe(2);
  });
});

/** The means of an image's 2^k x 2^k blocks (a partial last row or column dropped), rounded half to even. */
function exactMeans(image: RgbImage, k: number): RgbImage {
  const n = 2 ** k;
  const width = Math.floor(image.width / n);
  const height = Math.floor(image.height / n);
  const sums = new Float64Array(width * height * 3);
  for (let y = 0; y < height * n; y++)
    for (let x = 0; x < width * n; x++)
      for (let c = 0; c < 3; c++)
        sums[(Math.floor(y / n) * width + Math.floor(x / n)) * 3 + c]! +=
          image.data[(y * image.width + x) * 3 + c]!;
  const means = Uint8ClampedArray.from(sums, (s) => s / (n * n));
  return { width, height, data: new Uint8Array(means.buffer) };
}
