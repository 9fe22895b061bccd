// Gallery search with the binary head (facegate train --loss binary): the head scores the probe
// against every gallery row in one ONNX Runtime pass (|g - q| through the head), and a person's
// distance is 1 - similarity, so thresholds, margins and events keep their meaning (lower: more
// alike). It costs a head pass over the whole gallery per face: fine for a door's gallery of
// hundreds or thousands; the plain or triplet comparators stay the choice for 100,000 people.
import type { HeadModel } from '../inference/head.js';
import {
  decideFrom,
  galleryRows,
  type Decision,
  type GalleryEntry,
  type GallerySearch,
  type MatchResult,
  type PersonAggregation,
} from './matcher.js';

export class PairHeadMatcher implements GallerySearch {
  private constructor(
    private readonly head: HeadModel,
    private readonly gallery: Float32Array,
    private readonly owner: Int32Array,
    private readonly people: { personId: string; name: string }[],
    private readonly dim: number,
  ) {}

  /** `head` stays the caller's: release() does not release it. */
  static create(
    entries: readonly GalleryEntry[],
    aggregation: PersonAggregation,
    head: HeadModel,
  ): PairHeadMatcher {
    if (head.manifest.kind !== 'binary') throw new Error('PairHeadMatcher needs a binary head');
    const { people, rows, dim } = galleryRows(entries, aggregation);
    const gallery = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => gallery.set(r.v, i * dim));
    return new PairHeadMatcher(
      head,
      gallery,
      Int32Array.from(rows, (r) => r.person),
      people,
      dim,
    );
  }

  get size(): number {
    return this.people.length;
  }

  async nearest(query: Float32Array): Promise<MatchResult | undefined> {
    const n = this.owner.length;
    if (!n) return undefined;
    if (query.length !== this.dim) throw new Error(`query has ${query.length} values, expected ${this.dim}`);
    const tiled = new Float32Array(n * this.dim);
    for (let i = 0; i < n; i++) tiled.set(query, i * this.dim);
    const similarity = await this.head.similarity(this.gallery, tiled, n);
    // Best row per person, then the two best people.
    const best = new Float64Array(this.people.length).fill(Infinity);
    for (let i = 0; i < n; i++) best[this.owner[i]!] = Math.min(best[this.owner[i]!]!, 1 - similarity[i]!);
    let top = 0;
    let runner = -1;
    for (let p = 1; p < best.length; p++) {
      if (best[p]! < best[top]!) [top, runner] = [p, top];
      else if (runner < 0 || best[p]! < best[runner]!) runner = p;
    }
    const distance = best[top]!;
    if (runner < 0) return { ...this.people[top]!, distance, margin: Infinity };
    const second = { ...this.people[runner]!, distance: best[runner]! };
    return { ...this.people[top]!, distance, second, margin: second.distance - distance };
  }

  async decide(query: Float32Array, threshold: number, minMargin = 0): Promise<Decision> {
    return decideFrom(await this.nearest(query), threshold, minMargin);
  }

  async release(): Promise<void> {
    // Nothing of its own: the head belongs to the daemon.
  }
}
