// The door-capture simulation on constructed faces (unit vectors at angles, threshold 0.8): a
// resident's visits join their photos step by step; a stranger who comes near those captures but
// far from the photo the resident enrolled with is not captured (no drift).
import { describe, expect, it } from 'vitest';
import type { EmbeddedFile } from '../../src/eval/embed-files.js';
import { growthReport } from '../../src/eval/growth.js';
import type { Face } from '../../src/inference/faces.js';

const at = (angle: number) => Float32Array.from([Math.cos(angle), Math.sin(angle)]);
const file = (angle: number): EmbeddedFile => ({ ok: true, face: { embedding: at(angle) } as Face });

describe('growthReport', () => {
  it('captures the resident walking in steps, never the stranger beyond their enrolled photo', () => {
    const live = new Map<string, EmbeddedFile>([
      ['ann/1', file(0.35)], // 0.35 from her enrolled photo: captured
      ['ann/2', file(0.6)], // 0.25 from that capture, 0.59 from the photo: captured
      ['ann/3', file(0.2)], // her test photo
      ['bob/1', file(Math.PI - 0.1)],
      // Two strangers alike, so that one visits whichever half the seed picks: 0.39 from ann's
      // last capture, 0.96 from her enrolled photo.
      ['s1/0', file(1.0)],
      ['s2/0', file(1.0)],
    ]);
    const enrolled = [
      { personId: 'ann', name: 'ann', embedding: at(0) },
      { personId: 'bob', name: 'bob', embedding: at(Math.PI) },
    ];
    const mated = ['ann/1', 'ann/2', 'ann/3', 'bob/1'].map((path) => ({
      identity: path.split('/')[0]!,
      path,
    }));
    const nonMated = ['s1/0', 's2/0'].map((path) => ({ identity: path.split('/')[0]!, path }));
    const policy = { enabled: true, maxPerPerson: 3, maxDistance: 0.9, minMargin: 0.1 };
    const options = { threshold: 0.8, minMargin: 0, aggregation: 'best' as const, policy };
    // Every visit order the seed can give: ann's second visit only counts after her first.
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = growthReport(enrolled, mated, nonMated, live, { ...options, seed });
      expect(r.visits).toEqual({ residents: 2, strangers: 1 });
      expect(r.captures.wrongPerson).toBe(0);
      expect(r.captures.added).toBeGreaterThanOrEqual(1);
      expect(r.test).toEqual({ residents: 2, strangers: 3 }); // one held out, and two left-one-out
      expect(r.grown.tpirAtThreshold).toBe(1);
    }
    // The contrast: with a threshold her enrolled photo's 0.96 passes, the same stranger, coming
    // after her captures in some order, is captured as her. The guard above is what refused it.
    const wrong = [1, 2, 3, 4, 5].map(
      (seed) =>
        growthReport(enrolled, mated, nonMated, live, { ...options, threshold: 1, seed }).captures
          .wrongPerson,
    );
    expect(wrong).toContain(1);
  });

  it('keeps at most maxPerPerson captures, the newest', () => {
    const angles = [0.1, 0.2, 0.3, 0.4, 0.5];
    const live = new Map<string, EmbeddedFile>(angles.map((a, i) => [`ann/${i}`, file(a)]));
    const mated = angles.map((_, i) => ({ identity: 'ann', path: `ann/${i}` }));
    const enrolled = [{ personId: 'ann', name: 'ann', embedding: at(0) }];
    const policy = { enabled: true, maxPerPerson: 2, maxDistance: 0.9, minMargin: 0 };
    const r = growthReport(enrolled, mated, [], live, {
      threshold: 0.8,
      minMargin: 0,
      aggregation: 'mean',
      policy,
    });
    expect(r.captures).toEqual({ added: 4, people: 1, wrongPerson: 0 });
  });
});
