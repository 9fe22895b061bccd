// The face pipeline on the image sizes a gateway meets: a 36-megapixel phone photo, a 720p frame
// with faces far from the camera, a 150x150 crop; and the detector's pyramid.
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DETECTOR_OPTIONS, pyramidScales } from '../../src/inference/detector.js';
import { euclidean, FaceEngine } from '../../src/inference/faces.js';
import { decodeImage } from '../../src/vision/image.js';
import { faceCrop } from '../helpers/faces.js';
import { sharedFace, sharedFacesAvailable } from '../helpers/fixtures.js';

let engine: FaceEngine;
let reference: Float32Array;
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
    const image = await decodeImage(huge);
    expect(image.width * image.height).toBe(36_000_000);
    const [face] = await engine.analyze(image);
    expect(face).toBeDefined();
    expect(euclidean(face!.embedding, reference)).toBeLessThan(0.32); // stretched, still the same person (0.45 before unit length)
  });

  it('handles a 150x150 crop', async () => {
    const small = await sharp(await faceCrop(1))
      .resize(150, 150, { fit: 'cover' })
      .png()
      .toBuffer();
    const [face] = await engine.analyze(await decodeImage(small));
    expect(face).toBeDefined();
    expect(euclidean(face!.embedding, reference)).toBeLessThan(0.32);
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
