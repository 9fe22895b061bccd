import { describe, expect, it } from 'vitest';
import { FaceTracker, type Observation, type TrackerOptions } from '../../src/recognition/tracker.js';

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
      { kind: 'match', track: 1, personId: 'ann', votes: 3, frames: 4, evidence: 'x108d0.3' },
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
});
