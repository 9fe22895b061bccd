// Motion gating's measure on real pictures: a sensor's noise and a codec's ripple leave every
// block of the grey grid as it was, a face brought into view (even a small one) changes blocks.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { changedBlocks, MotionGate, thumbnailOf } from '../../src/camera/motion.js';
import { faceCrop } from '../helpers/faces.js';
import { samplePhoto } from '../helpers/fixtures.js';

const WIDTH = 1280;
const HEIGHT = 720;

/** A 720p RGB frame: a blurred photo as the empty scene, with a face pasted at (x, y) if given. */
async function frame(face?: { size: number; x: number; y: number }) {
  const overlays = face
    ? [
        {
          input: await sharp(await faceCrop(0))
            .resize(face.size, face.size)
            .toBuffer(),
          left: face.x,
          top: face.y,
        },
      ]
    : [];
  const data = await sharp(samplePhoto('sample2.jpg'))
    .resize(WIDTH, HEIGHT, { fit: 'cover' })
    .blur(8)
    .composite(overlays)
    .removeAlpha()
    .raw()
    .toBuffer();
  return { width: WIDTH, height: HEIGHT, data: new Uint8Array(data) };
}

/** The same frame with sensor-like noise: every byte moved by up to +-amplitude. */
function noisy(f: { width: number; height: number; data: Uint8Array }, amplitude: number, seed = 1) {
  let s = seed;
  const data = f.data.map((v) => {
    s = (s * 1103515245 + 12345) >>> 0;
    return Math.max(0, Math.min(255, v + ((s >>> 16) % (2 * amplitude + 1)) - amplitude));
  });
  return { ...f, data };
}

describe('motion gating', () => {
  it('keeps the grid about 32 blocks across at the frame aspect ratio', () => {
    const at = (width: number, height: number) => {
      const t = thumbnailOf({ width, height, data: new Uint8Array(width * height * 3).fill(128) });
      return [t.columns, t.rows, Math.round(t.luma[0]!)];
    };
    expect(at(1280, 720)).toEqual([32, 18, 128]);
    expect(at(640, 480)).toEqual([32, 24, 128]);
    expect(at(20, 10)).toEqual([20, 10, 128]);
  });

  it("sees no change in a still scene's sensor noise, and a change where a face comes into view", async () => {
    const empty = await frame();
    const before = thumbnailOf(noisy(empty, 12, 1));
    expect(changedBlocks(before, thumbnailOf(noisy(empty, 12, 2)), 6)).toBe(0);
    // A face 48 px wide (about the smallest facegate can recognise), and one at door distance.
    for (const face of [
      { size: 48, x: 700, y: 300 },
      { size: 300, x: 500, y: 200 },
    ]) {
      const withFace = thumbnailOf(noisy(await frame(face), 12, 3));
      expect(changedBlocks(before, withFace, 6)).toBeGreaterThan(0);
    }
  });

  it('lets a frame through on a change, on the first frame, and when the last analysis is old', async () => {
    const gate = new MotionGate({ threshold: 6, maxSkipMs: 2000 });
    const still = thumbnailOf(await frame());
    const moved = thumbnailOf(await frame({ size: 200, x: 100, y: 100 }));
    expect(gate.changed(still, 0)).toBe(true);
    gate.analysed(still, 0);
    expect(gate.changed(still, 1999)).toBe(false);
    expect(gate.changed(moved, 1000)).toBe(true);
    expect(gate.changed(still, 2000)).toBe(true);
    // A new stream size compares with nothing.
    expect(changedBlocks(still, { columns: 32, rows: 24, luma: new Float32Array(32 * 24) }, 6)).toBe(32 * 24);
  });
});
