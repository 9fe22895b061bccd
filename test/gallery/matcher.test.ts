import { describe, expect, it } from 'vitest';
import { Matcher, nearDecision, type GalleryEntry } from '../../src/gallery/matcher.js';

function rng(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  };
}
const random = rng(7);
const vector = (dim = 128) => Float32Array.from({ length: dim }, random);
const dist = (a: Float32Array, b: Float32Array) => Math.sqrt(a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0));

describe('Matcher', () => {
  const entries: GalleryEntry[] = Array.from({ length: 300 }, (_, i) => ({
    personId: `p${i % 100}`,
    name: `P ${i % 100}`,
    embedding: vector(),
  }));

  it('agrees with a brute-force search: nearest person, runner-up and margin', async () => {
    const m = await Matcher.create(entries, 'best');
    expect(m.size).toBe(100);
    for (let q = 0; q < 20; q++) {
      const query = vector();
      const perPerson = new Map<string, number>();
      for (const e of entries)
        perPerson.set(e.personId, Math.min(perPerson.get(e.personId) ?? Infinity, dist(query, e.embedding)));
      const ranked = [...perPerson].sort((a, b) => a[1] - b[1]);
      const r = (await m.nearest(query))!;
      expect(r.personId).toBe(ranked[0]![0]);
      expect(r.distance).toBeCloseTo(ranked[0]![1], 4);
      expect(r.second!.personId).toBe(ranked[1]![0]);
      expect(r.margin).toBeCloseTo(ranked[1]![1] - ranked[0]![1], 4);
    }
  });

  it("uses a person's mean embedding when built with 'mean'", async () => {
    const a = Float32Array.from({ length: 4 }, (_, i) => (i === 0 ? 1 : 0));
    const b = Float32Array.from({ length: 4 }, (_, i) => (i === 0 ? 3 : 0));
    const rows = [
      { personId: 'x', name: 'X', embedding: a },
      { personId: 'x', name: 'X', embedding: b },
    ];
    const probe = Float32Array.from([2, 0, 0, 0]);
    expect((await (await Matcher.create(rows, 'mean')).nearest(probe))!.distance).toBeCloseTo(0, 3);
    expect((await (await Matcher.create(rows, 'best')).nearest(probe))!.distance).toBeCloseTo(1, 6);
  });

  it("keeps a 'mean' of unit embeddings at unit length: several photos draw no more strangers", async () => {
    const photos = [
      { personId: 'x', name: 'X', embedding: Float32Array.from([1, 0, 0]) },
      { personId: 'x', name: 'X', embedding: Float32Array.from([0, 1, 0]) },
    ];
    const m = await Matcher.create(photos, 'mean');
    expect((await m.nearest(Float32Array.from([Math.SQRT1_2, Math.SQRT1_2, 0])))!.distance).toBeCloseTo(0, 3);
    // A face unlike both photos is as far from the person as from a one-photo person: sqrt(2),
    // where the plain mean ([0.5, 0.5, 0]) was 1.22 from it.
    expect((await m.nearest(Float32Array.from([0, 0, 1])))!.distance).toBeCloseTo(Math.SQRT2, 5);
  });

  it('decides open-set: known under the threshold with enough margin, else unknown with the nearest', async () => {
    const one = Float32Array.from([0, 0]);
    const two = Float32Array.from([1, 0]);
    const m = await Matcher.create([
      { personId: 'a', name: 'A', embedding: one },
      { personId: 'b', name: 'B', embedding: two },
    ]);
    expect(await m.decide(Float32Array.from([0.1, 0]), 0.6)).toMatchObject({
      known: true,
      match: { personId: 'a' },
    });
    expect(await m.decide(Float32Array.from([0.45, 0]), 0.6, 0.2)).toMatchObject({
      known: false,
      nearest: { personId: 'a' },
    });
    expect(await m.decide(Float32Array.from([0, 5]), 0.6)).toMatchObject({
      known: false,
      nearest: { personId: 'a' },
    });
    expect(await (await Matcher.create([])).decide(one, 0.6)).toEqual({ known: false });
    const single = await Matcher.create([{ personId: 'a', name: 'A', embedding: one }]);
    expect((await single.nearest(one))!.margin).toBe(Infinity);
  });

  it('finds the runner-up even when the best person has several photos', async () => {
    const v = (x: number) => Float32Array.from([x, 0]);
    const m = await Matcher.create(
      [
        { personId: 'a', name: 'A', embedding: v(0) },
        { personId: 'a', name: 'A', embedding: v(0.1) },
        { personId: 'a', name: 'A', embedding: v(0.2) },
        { personId: 'b', name: 'B', embedding: v(1) },
      ],
      'best',
    );
    expect(await m.nearest(v(0))).toMatchObject({
      personId: 'a',
      distance: 0,
      second: { personId: 'b', distance: 1 },
    });
  });

  it('calls a decision near when its distance, or under the threshold its margin, is within the band', () => {
    const t = 0.5;
    const near = (distance: number, margin = Infinity, minMargin = 0) =>
      nearDecision({ distance, margin }, t, minMargin, 0.2);
    expect(near(0.5)).toBe(true);
    expect(near(0.41)).toBe(true);
    expect(near(0.59)).toBe(true);
    expect(near(0.39)).toBe(false); // clearly the person
    expect(near(0.61)).toBe(false); // clearly not
    expect(nearDecision(undefined, t, 0, 0.2)).toBe(false); // an empty gallery: nobody to match
    expect(near(0.2, 0.15, 0.2)).toBe(true); // under the threshold, margin 0.05 short of 0.2
    expect(near(0.2, 0.5, 0.2)).toBe(false); // margin clear of it
    expect(near(0.2, 0.15)).toBe(false); // no margin asked, and no near tie
    expect(near(0.2, 0.05)).toBe(true); // a near tie: the mirror pass may change who it is
    expect(near(0.7, 0.15, 0.2)).toBe(false); // over the threshold: the margin cannot make it a match
  });
});
