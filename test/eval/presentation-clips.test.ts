// The liveness clips are reproducible (a seed gives the same frames), each kind is what it says
// (a still photo only changes by the camera's noise; a head and a moved photo change more), and
// the face in them stays findable (the detector and landmark network see it in every frame).
import { describe, expect, it } from 'vitest';
import { CLIP_KINDS, presentationClip } from '../../src/eval/presentation-clips.js';
import { FaceEngine } from '../../src/inference/faces.js';
import { decodeImage, type RgbImage } from '../../src/vision/image.js';
import { faceCrop } from '../helpers/faces.js';

const meanChange = (a: RgbImage, b: RgbImage) => {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i]! - b.data[i]!);
  return sum / a.data.length;
};

describe('presentation-attack clips', () => {
  it('are seeded, and each kind moves as it should', async () => {
    const engine = await FaceEngine.open();
    try {
      const photo = await decodeImage(await faceCrop(0));
      const [face] = await engine.analyze(photo, { select: 'largest', mirror: false });
      const options = { frames: 6, fps: 5, seed: 3 };
      const clips = Object.fromEntries(
        await Promise.all(
          CLIP_KINDS.map(
            async (k) => [k, await presentationClip(photo, face!.landmarks, k, options)] as const,
          ),
        ),
      );
      const again = await presentationClip(photo, face!.landmarks, 'A2', options);
      expect(again.frames.map((f) => f.data)).toEqual(clips.A2!.frames.map((f) => f.data));
      for (const k of CLIP_KINDS) {
        expect(clips[k]!.frames).toHaveLength(6);
        expect(clips[k]!.frames[0]).toMatchObject({ width: 480, height: 360 });
      }
      // The still photo changes by noise and JPEG only (a grey level or two); the others move.
      const change = (k: (typeof CLIP_KINDS)[number]) =>
        meanChange(clips[k]!.frames[0]!, clips[k]!.frames[5]!);
      expect(change('A1')).toBeLessThan(3);
      for (const k of ['genuine', 'A2', 'A3-moving', 'A4-moving'] as const)
        expect(change(k), k).toBeGreaterThan(2 * change('A1'));
      // The head and the photo keep a findable face in every frame.
      for (const k of ['genuine', 'A1', 'A2'] as const)
        for (const f of clips[k]!.frames)
          expect(await engine.analyze(f, { select: 'largest', mirror: false }), k).toHaveLength(1);
      expect(clips.genuine!.eyesClosed.every((c) => c >= 0 && c <= 1)).toBe(true);
    } finally {
      await engine.release();
    }
  }, 60_000);
});
