// The liveness cues on constructed landmark tracks (test/helpers/landmark-tracks.ts): a face in 3D
// seen by a pinhole camera, and a photo of it, each moved as a head or a hand moves them, with
// landmark noise at the level the landmark network shows on a still picture.
import { describe, expect, it } from 'vitest';
import {
  eyeAspectRatio,
  homographyResidual,
  livenessCues,
  livenessVerdict,
  STEADY_LEVEL,
  STILL_MOTION,
  TURN_LEVEL,
} from '../../src/recognition/liveness.js';
import type { Point } from '../../src/vision/alignment.js';
import { face3d, noisy, photo, project, type Pose } from '../helpers/landmark-tracks.js';

const deg = Math.PI / 180;
const FRAMES = 12;
const poses = (pose: (t: number) => Pose): Pose[] =>
  Array.from({ length: FRAMES }, (_, i) => pose(i / (FRAMES - 1)));
const opts = { minFrames: 8, threshold: 1 };

describe('liveness cues', () => {
  it('a picture that does not move: still, not live', () => {
    const frames = noisy(
      poses(() => ({})).map((p) => project(photo(), p)),
      1,
    );
    const v = livenessVerdict(frames, opts);
    expect(v.cues.motion).toBeLessThan(STILL_MOTION);
    expect(v.cues.turn).toBeLessThan(TURN_LEVEL / 4);
    expect(v).toMatchObject({ live: false, reason: 'still', cues: { frames: FRAMES, blinks: 0 } });
  });

  it('a picture moved by hand (shifted, turned, tilted, nearer): it moves, but as a plane, not live', () => {
    const frames = noisy(
      poses((t) => ({
        x: 0.4 * t,
        y: -0.2 * t,
        roll: 12 * deg * t,
        yaw: 25 * deg * Math.sin(3 * t),
        pitch: -15 * deg * t,
        distance: 8 - 3 * t,
      })).map((p) => project(photo(), p)),
      2,
    );
    const v = livenessVerdict(frames, opts);
    expect(v.cues.motion).toBeGreaterThan(STILL_MOTION);
    expect(v.cues.parallax).toBeLessThan(0.015);
    expect(v.cues.turn).toBeLessThan(TURN_LEVEL / 2);
    expect(v).toMatchObject({ live: false, reason: 'flat' });
  });

  it('a head that turns a little (10 degrees of yaw, 5 of pitch): the nose moves against the outline, live', () => {
    const frames = noisy(
      poses((t) => ({ yaw: 10 * deg * Math.sin(2 * Math.PI * t), pitch: 5 * deg * t, x: 0.1 * t })).map((p) =>
        project(face3d(), p),
      ),
      3,
    );
    const v = livenessVerdict(frames, opts);
    expect(v.cues.turn).toBeGreaterThan(TURN_LEVEL);
    expect(v.cues.steadiness).toBeGreaterThan(STEADY_LEVEL);
    expect(v.cues.parallax).toBeGreaterThan(0.03); // where planar moves stay under 0.015
    expect(v).toMatchObject({ live: true, reason: 'turned' });
    expect(v.score).toBeGreaterThanOrEqual(1);
  });

  it('a picture whose landmarks jump (moire on a screen, print dots): as far as a turn, but not steady, not live', () => {
    // Landmark noise of 4% of the eye distance, frame to frame: the nose's place jumps by as much
    // as a turn moves it, but back and forth, not along a path.
    const frames = noisy(
      poses(() => ({})).map((p) => project(photo(), p)),
      8,
      4,
    );
    const v = livenessVerdict(frames, opts);
    expect(v.cues.turn).toBeGreaterThan(TURN_LEVEL / 2);
    expect(v.cues.steadiness).toBeLessThan(STEADY_LEVEL);
    expect(v.live).toBe(false);
  });

  it('a head that only slides across the picture does not turn: turning is what proves depth', () => {
    const frames = noisy(
      poses((t) => ({ x: 0.3 * t, y: 0.1 * t })).map((p) => project(face3d(), p)),
      4,
    );
    const v = livenessVerdict(frames, opts);
    expect(v.cues.parallax).toBeLessThan(0.03);
    expect(v).toMatchObject({ live: false, reason: 'flat' });
  });

  it('counts a blink (eyes closed in two frames), which a print cannot do; reported, not counted', () => {
    const still = project(face3d(), {});
    const closed = still.map((p, i): Point => {
      // Upper lids (37, 38, 43, 44) and lower lids (40, 41, 46, 47) meet on the eye's midline.
      const eye = i >= 42 ? 42 : 36;
      if (![1, 2, 4, 5].includes(i - eye) || i < 36 || i > 47) return p;
      const midline = (still[eye]![1] + still[eye + 3]![1]) / 2;
      return [p[0], midline + 0.1 * (p[1] - midline)];
    });
    expect(eyeAspectRatio(closed)).toBeLessThan(0.2 * eyeAspectRatio(still));
    const frames = noisy(
      Array.from({ length: FRAMES }, (_, i) => (i === 5 || i === 6 ? closed : still)),
      5,
    );
    // Our landmark network does not follow eyelids, and moire made it blink on prints: a blink
    // alone does not make a track live (docs/liveness.md).
    expect(livenessVerdict(frames, opts)).toMatchObject({ live: false, cues: { blinks: 1 } });
    // Closed from the start is no blink: it never opened before closing.
    expect(livenessCues(noisy([closed, closed, still, still], 6)).blinks).toBe(0);
  });

  it("one frame's landmark glitch does not make a picture live", () => {
    const frames = noisy(
      poses(() => ({})).map((p) => project(photo(), p)),
      7,
    );
    frames[4] = frames[4]!.map(([x, y], i): Point => (i === 30 ? [x + 20, y - 15] : [x, y]));
    expect(livenessVerdict(frames, opts).live).toBe(false);
  });

  it('is not live before minFrames, and fits an exact homography with no residual', () => {
    const frames = poses((t) => ({ yaw: 10 * deg * Math.sin(2 * Math.PI * t) })).map((p) =>
      project(face3d(), p),
    );
    expect(livenessVerdict(frames.slice(0, 7), opts)).toMatchObject({
      live: false,
      score: 0,
      reason: 'too_few_frames',
    });
    const flat = project(photo(), {});
    const tilted = project(photo(), { yaw: 30 * deg, pitch: 10 * deg, roll: 5 * deg, distance: 5 });
    expect(homographyResidual(flat, tilted)).toBeLessThan(1e-6);
  });
});
