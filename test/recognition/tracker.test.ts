import { describe, expect, it } from 'vitest';
import type { LivenessPolicy } from '../../src/recognition/liveness.js';
import { FaceTracker, type Observation, type TrackerOptions } from '../../src/recognition/tracker.js';
import type { Point } from '../../src/vision/alignment.js';
import { face3d, noisy, photo, project } from '../helpers/landmark-tracks.js';

const opts: TrackerOptions = {
  iou: 0.3,
  maxMissed: 2,
  window: 5,
  minVotes: 3,
  unknownAfter: 4,
  unusableAfter: 3,
  cooldownMs: 60_000,
};
const at = (x: number) => ({ x, y: 100, width: 80, height: 80 });
const face = (x: number, vote: string | null, distance = 0.4): Observation<string> => ({
  box: at(x),
  vote,
  distance,
  evidence: `x${x}d${distance}`,
});

describe('FaceTracker', () => {
  it('decides a match once, after enough agreeing votes, with the best frame as evidence', () => {
    const t = new FaceTracker<string>(opts);
    expect(t.update([face(100, 'ann', 0.5)], 0)).toEqual([]);
    expect(t.update([face(104, null)], 200)).toEqual([]); // one frame matched nobody
    expect(t.update([face(108, 'ann', 0.3)], 400)).toEqual([]);
    const d = t.update([face(112, 'ann', 0.45)], 600);
    expect(d).toEqual([
      { kind: 'match', track: 1, personId: 'ann', votes: 3, frames: 4, by: 'votes', evidence: 'x108d0.3' },
    ]);
    // The same person standing there: no second event.
    for (let i = 0; i < 10; i++) expect(t.update([face(112 + i, 'ann')], 800 + i * 200)).toEqual([]);
  });

  it('never matches on a single lucky frame among strangers', () => {
    const t = new FaceTracker<string>(opts);
    const out = [
      face(100, 'ann'),
      face(100, null),
      face(100, null),
      face(100, null),
      face(100, null),
    ].flatMap((f, i) => t.update([f], i));
    expect(out).toEqual([{ kind: 'unknown', track: 1, frames: 5, evidence: 'x100d0.4' }]);
  });

  it('reports unknown after enough frames that match nobody', () => {
    const t = new FaceTracker<string>(opts);
    const out = [0, 1, 2, 3].flatMap((i) => t.update([face(100 + i, null)], i));
    expect(out).toEqual([{ kind: 'unknown', track: 1, frames: 4, evidence: 'x100d0.4' }]);
  });

  it('keeps two people apart by position and decides each', () => {
    const t = new FaceTracker<string>(opts);
    const out = [0, 1, 2].flatMap((i) => t.update([face(100 + i, 'ann'), face(600 - i, 'bo')], i));
    expect(out.map((d) => (d.kind === 'match' ? d.personId : d.kind)).sort()).toEqual(['ann', 'bo']);
    expect(t.activeTracks).toBe(2);
  });

  it('applies a per-person cooldown across tracks, and ends tracks that leave', () => {
    const t = new FaceTracker<string>(opts);
    [0, 1, 2].forEach((i) => t.update([face(100, 'ann')], i * 100));
    t.update([], 400);
    t.update([], 500);
    t.update([], 600); // gone for 3 frames > maxMissed
    expect(t.activeTracks).toBe(0);
    // Ann comes back 10 s later: still in cooldown, no event; after 60 s: an event.
    expect([0, 1, 2].flatMap((i) => t.update([face(300, 'ann')], 10_000 + i))).toEqual([]);
    [1, 2, 3].forEach((i) => t.update([], 20_000 + i));
    const later = [0, 1, 2].flatMap((i) => t.update([face(300, 'ann')], 70_000 + i));
    expect(later).toMatchObject([{ kind: 'match', personId: 'ann' }]);
  });

  it('counts unknownAfter frames beyond the voting window', () => {
    const t = new FaceTracker<string>({ ...opts, window: 3, unknownAfter: 7 });
    const out = Array.from({ length: 7 }, (_, i) => t.update([face(100, null)], i * 100)).flat();
    expect(out).toMatchObject([{ kind: 'unknown', frames: 7 }]);
  });

  it('ends a track no frame has shown for maxGapMs, so a face in the same place later starts anew', () => {
    const t = new FaceTracker<string>({ ...opts, maxGapMs: 2000 });
    t.update([face(100, 'ann')], 0);
    t.update([face(100, 'ann')], 200);
    // The camera stalls (or repeats one picture, which is not handed on): no frames to miss.
    t.update([face(100, 'bob')], 3000);
    t.update([face(100, 'bob')], 3200);
    expect(t.update([face(100, 'bob')], 3400)).toMatchObject([{ kind: 'match', personId: 'bob', track: 2 }]);
    // A picture that stays the same (motion gating) keeps its faces seen.
    t.stillSeen(5000);
    expect(t.update([face(100, 'bob')], 6500)).toEqual([]);
    expect(t.activeTracks).toBe(1);
  });

  it('reports a face that stays unusable, with the most common reason, once', () => {
    const t = new FaceTracker<string>(opts);
    const seen = [
      { gate: 'minSharpness', reason: 'sharpness 3.00 below 8' },
      { gate: 'minEyeDistance', reason: 'eye distance (px) 12 below 20' },
      { gate: 'minEyeDistance', reason: 'eye distance (px) 11 below 20' },
      { gate: 'minEyeDistance', reason: 'eye distance (px) 10 below 20' },
    ];
    const out = seen.flatMap((u, i) => t.update([{ box: at(100), unusable: u }], i));
    expect(out).toEqual([
      {
        kind: 'unusable',
        track: 1,
        frames: 3,
        gate: 'minEyeDistance',
        reason: 'eye distance (px) 11 below 20',
        box: at(100),
      },
    ]);
  });

  describe('fusion', () => {
    const fusing: TrackerOptions = { ...opts, fusion: { minFrames: 2, maxFrames: 3 } };
    const seen = (x: number, nearest: string, v: number[], weight = 1): Observation<string> => ({
      box: at(x),
      vote: null, // no single frame is under the threshold
      nearest,
      distance: 0.6,
      evidence: `x${x}`,
      fusion: { embedding: Float32Array.from(v), weight },
    });

    it('offers the mean of the last usable faces once enough arrived, and decides on its match', () => {
      const t = new FaceTracker<string>(fusing);
      t.update([seen(100, 'ann', [1, 0])], 0);
      expect(t.fusionProbes()).toEqual([]); // one face: not yet
      t.update([seen(104, 'ann', [0, 1])], 100);
      const [probe] = t.fusionProbes();
      expect(probe!.track).toBe(1);
      // The mean of two unit vectors, back at unit length.
      expect([...probe!.probe].map((v) => +v.toFixed(4))).toEqual([0.7071, 0.7071]);
      expect(t.fusedResult(1, 'ann', 100)).toEqual({
        kind: 'match',
        track: 1,
        personId: 'ann',
        votes: 0,
        frames: 2,
        by: 'fusion',
        evidence: 'x104',
      });
      // Decided: no more probes, no second decision.
      t.update([seen(108, 'ann', [1, 0])], 200);
      expect(t.fusionProbes()).toEqual([]);
      expect(t.fusedResult(1, 'ann', 200)).toBeUndefined();
    });

    it('keeps only the last maxFrames faces, weighted', () => {
      const t = new FaceTracker<string>({ ...opts, fusion: { minFrames: 2, maxFrames: 2 } });
      t.update([seen(100, 'ann', [1, 0], 5)], 0);
      t.update([seen(100, 'ann', [0, 1], 3)], 100);
      t.update([seen(100, 'ann', [1, 0], 1)], 200); // the first face has left the window
      const [probe] = t.fusionProbes();
      // (3 x [0, 1] + 1 x [1, 0]) / 4, back at unit length.
      expect([...probe!.probe].map((v) => +v.toFixed(4))).toEqual([0.3162, 0.9487]);
    });

    it('refuses a fused match that names someone other than the face seen now', () => {
      const t = new FaceTracker<string>(fusing);
      t.update([seen(100, 'ann', [1, 0])], 0);
      t.update([seen(104, 'bob', [0, 1])], 100); // the track may have jumped to another face
      expect(t.fusionProbes()).toHaveLength(1);
      expect(t.fusedResult(1, 'ann', 100)).toBeUndefined();
      expect(t.fusedResult(1, null, 100)).toBeUndefined();
      // Still undecided: the next frames may decide it.
      t.update([seen(108, 'ann', [1, 0])], 200);
      expect(t.fusedResult(1, 'ann', 200)).toMatchObject({ kind: 'match', by: 'fusion' });
    });

    it('leaves the unknown decision to the fused probe: unknown only when the mean matches nobody too', () => {
      for (const fused of [null, 'ann'] as const) {
        const t = new FaceTracker<string>(fusing);
        // opts.unknownAfter (4) frames that match nobody: without fusion, an unknown.
        const out = [0, 1, 2, 3].flatMap((i) => {
          const d = t.update([seen(100, 'ann', [1, 0])], i * 100);
          const [probe] = t.fusionProbes();
          const f = probe && i < 3 ? t.fusedResult(probe.track, null, i * 100) : undefined;
          return f ? [...d, f] : d;
        });
        expect(out).toEqual([]);
        const [probe] = t.fusionProbes();
        expect(t.fusedResult(probe!.track, fused, 300)).toMatchObject(
          fused === null ? { kind: 'unknown', frames: 4 } : { kind: 'match', by: 'fusion', personId: 'ann' },
        );
      }
    });

    it("gives a face farther than maxSpread from its track's mean a track of its own: somebody else", () => {
      const t = new FaceTracker<string>({ ...opts, fusion: { minFrames: 2, maxFrames: 5, maxSpread: 0.5 } });
      t.update([seen(100, 'ann', [1, 0])], 0);
      t.update([seen(100, 'ann', [0.96, 0.28])], 100);
      expect(t.fusionProbes()).toMatchObject([{ track: 1 }]);
      t.update([seen(100, 'bob', [0, 1])], 200); // a stranger stepped into the track
      expect(t.activeTracks).toBe(1); // ann's track ended where bob's began
      expect(t.fusionProbes()).toEqual([]); // one face of them: not yet a mean
      t.update([seen(100, 'bob', [0.28, 0.96])], 300);
      const [probe] = t.fusionProbes();
      expect(probe!.track).toBe(2);
      expect(probe!.probe[1]).toBeGreaterThan(0.95); // bob's two faces only
    });

    it("announces the next person who steps into a decided track's place, and follows one person turning", () => {
      const t = new FaceTracker<string>({ ...opts, fusion: { minFrames: 2, maxFrames: 5, maxSpread: 0.5 } });
      const voted = (name: string, v: number[]) => ({ ...seen(100, name, v), vote: name });
      const ann = [0, 1, 2].flatMap((i) => t.update([voted('ann', [1, 0])], i * 100));
      expect(ann).toMatchObject([{ kind: 'match', personId: 'ann', track: 1 }]);
      // Ann turns slowly: each face is near the mean of the last ones, though the last is 0.77
      // from her first (over maxSpread): still her track, no second decision.
      const turning = [0.15, 0.3, 0.45, 0.6, 0.75].flatMap((a, i) =>
        t.update([voted('ann', [Math.cos(a), Math.sin(a)])], 300 + i * 100),
      );
      expect(turning).toEqual([]);
      // Bob steps into her place in the next frame: his own track, his own match.
      const bob = [0, 1, 2].flatMap((i) => t.update([voted('bob', [0, -1])], 800 + i * 100));
      expect(bob).toMatchObject([{ kind: 'match', personId: 'bob', track: 2, votes: 3 }]);
    });

    it('is off without the option, and a track decided by votes offers no probe', () => {
      const off = new FaceTracker<string>(opts);
      [0, 1, 2].forEach((i) => off.update([seen(100, 'ann', [1, 0])], i));
      expect(off.fusionProbes()).toEqual([]);
      const t = new FaceTracker<string>(fusing);
      const voted = () => ({ ...seen(100, 'ann', [1, 0]), vote: 'ann' });
      const out = [0, 1, 2].flatMap((i) => t.update([voted()], i));
      expect(out).toMatchObject([{ kind: 'match', by: 'votes' }]);
      expect(t.fusionProbes()).toEqual([]);
    });
  });
});

describe('FaceTracker with liveness', () => {
  const deg = Math.PI / 180;
  // The landmarks each frame's face gives: a head turning 10 degrees back and forth, or a photo.
  const head = noisy(
    Array.from({ length: 30 }, (_, i) =>
      project(face3d(), { yaw: 10 * deg * Math.sin((2 * Math.PI * i) / 12) }),
    ),
    1,
  );
  const still = noisy(
    Array.from({ length: 30 }, () => project(photo(), {})),
    2,
  );
  const policy = (mode: 'report' | 'require'): LivenessPolicy => ({
    mode,
    threshold: 1,
    minFrames: 8,
    maxFrames: 16,
  });
  const seen = (
    t: FaceTracker<string>,
    marks: Point[][],
    frames: number,
    vote: string | null = 'ann',
    from = 0,
  ) =>
    Array.from({ length: frames }, (_, i) =>
      t.update([{ ...face(100, vote), landmarks: marks[i] }], from + i * 200),
    ).flat();
  const leave = (t: FaceTracker<string>, at: number) => [1, 2, 3].forEach((i) => t.update([], at + i * 200));

  it("'require': a turning head matches once it has shown it, with the verdict", () => {
    const t = new FaceTracker<string>({ ...opts, liveness: policy('require') });
    const decisions = seen(t, head, 20);
    expect(decisions).toHaveLength(1);
    const [d] = decisions;
    expect(d).toMatchObject({ kind: 'match', personId: 'ann', liveness: { live: true, reason: 'turned' } });
    // Not before minFrames: the votes were there from frame 3, the verdict needs 8 frames.
    expect(d!.frames).toBeGreaterThanOrEqual(8);
    expect(t.pendingTracks).toBe(0);
  });

  it("'require': a photo holds its match, keeps the track pending, then is a spoof after maxFrames", () => {
    const t = new FaceTracker<string>({ ...opts, liveness: policy('require') });
    expect(seen(t, still, 15)).toEqual([]);
    // Held, not decided: motion gating must keep analysing its frames.
    expect(t.pendingTracks).toBe(1);
    const d = t.update([{ ...face(100, 'ann'), landmarks: still[15] }], 15 * 200);
    expect(d).toEqual([
      expect.objectContaining({
        kind: 'spoof',
        personId: 'ann',
        frames: 16,
        liveness: expect.objectContaining({ live: false, reason: 'still' }),
      }),
    ]);
    expect(t.pendingTracks).toBe(0);
    expect(seen(t, still, 10)).toEqual([]); // one spoof per track
  });

  it("'require': a stranger's photo is still just unknown (liveness guards matches only)", () => {
    const t = new FaceTracker<string>({ ...opts, liveness: policy('require') });
    expect(seen(t, still, 6, null).map((d) => d.kind)).toEqual(['unknown']);
  });

  it("'report': the same wait, then a match that says it is not live instead of a spoof", () => {
    const t = new FaceTracker<string>({ ...opts, liveness: policy('report') });
    expect(seen(t, still, 15)).toEqual([]);
    expect(seen(t, still.slice(15), 1)).toEqual([
      expect.objectContaining({
        kind: 'match',
        frames: 16,
        liveness: expect.objectContaining({ live: false }),
      }),
    ]);
    // The cooldown starts only with a live match: the photo does not hold back the person behind it.
    leave(t, 3000);
    expect(seen(t, head, 20, 'ann', 4000)).toMatchObject([{ kind: 'match', liveness: { live: true } }]);
    leave(t, 8000);
    expect(seen(t, head, 20, 'ann', 9000)).toEqual([]); // and that one does start it
  });
});
