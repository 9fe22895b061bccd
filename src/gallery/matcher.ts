// Nearest-neighbour search over the gallery. Embeddings live in one contiguous Float32Array
// with their squared norms precomputed, so a query costs one pass of dot products:
// |q - g|^2 = |q|^2 + |g|^2 - 2 q.g. Several enrollment images of one person are separate rows;
// a person's distance is their best row (or the mean embedding, when built with 'mean').

export type GalleryEntry = { personId: string; name: string; embedding: Float32Array };

export type MatchResult = {
  personId: string;
  name: string;
  distance: number;
  /** The nearest other person, if any: how close the runner-up came. */
  second?: { personId: string; name: string; distance: number };
  /** second.distance - distance; Infinity with one person enrolled. */
  margin: number;
};

export type Decision = { known: true; match: MatchResult } | { known: false; nearest?: MatchResult };

export type PersonAggregation = 'best' | 'mean';

export class Matcher {
  readonly dim: number;
  private readonly vectors: Float32Array;
  private readonly norms: Float32Array;
  /** Row -> person index. */
  private readonly owner: Int32Array;
  private readonly people: { personId: string; name: string }[];

  constructor(entries: readonly GalleryEntry[], aggregation: PersonAggregation = 'best') {
    const byPerson = new Map<string, { name: string; rows: Float32Array[] }>();
    for (const e of entries) {
      const p = byPerson.get(e.personId) ?? { name: e.name, rows: [] };
      p.rows.push(e.embedding);
      byPerson.set(e.personId, p);
    }
    this.dim = entries[0]?.embedding.length ?? 128;
    this.people = [...byPerson].map(([personId, p]) => ({ personId, name: p.name }));
    const rows: { person: number; v: Float32Array }[] = [];
    [...byPerson.values()].forEach((p, person) => {
      if (aggregation === 'mean' && p.rows.length > 1) {
        const m = new Float32Array(this.dim);
        for (const r of p.rows) for (let k = 0; k < this.dim; k++) m[k]! += r[k]! / p.rows.length;
        rows.push({ person, v: m });
      } else {
        for (const v of p.rows) rows.push({ person, v });
      }
    });
    this.vectors = new Float32Array(rows.length * this.dim);
    this.norms = new Float32Array(rows.length);
    this.owner = new Int32Array(rows.length);
    rows.forEach((r, i) => {
      if (r.v.length !== this.dim)
        throw new Error(
          `embedding of ${this.people[r.person]!.personId} has ${r.v.length} values, expected ${this.dim}`,
        );
      this.vectors.set(r.v, i * this.dim);
      let n = 0;
      for (let k = 0; k < this.dim; k++) n += r.v[k]! * r.v[k]!;
      this.norms[i] = n;
      this.owner[i] = r.person;
    });
  }

  get size(): number {
    return this.people.length;
  }

  /** The nearest person and the runner-up; undefined for an empty gallery. */
  nearest(query: Float32Array): MatchResult | undefined {
    const rows = this.owner.length;
    if (!rows) return undefined;
    const dim = this.dim;
    let qn = 0;
    for (let k = 0; k < dim; k++) qn += query[k]! * query[k]!;
    // Best and second-best squared distance over distinct people.
    let best = Infinity;
    let bestP = -1;
    let second = Infinity;
    let secondP = -1;
    const v = this.vectors;
    for (let r = 0; r < rows; r++) {
      const o = r * dim;
      let dot0 = 0;
      let dot1 = 0;
      let dot2 = 0;
      let dot3 = 0;
      let k = 0;
      for (; k + 3 < dim; k += 4) {
        dot0 += query[k]! * v[o + k]!;
        dot1 += query[k + 1]! * v[o + k + 1]!;
        dot2 += query[k + 2]! * v[o + k + 2]!;
        dot3 += query[k + 3]! * v[o + k + 3]!;
      }
      for (; k < dim; k++) dot0 += query[k]! * v[o + k]!;
      const d = qn + this.norms[r]! - 2 * (dot0 + dot1 + dot2 + dot3);
      if (d >= second) continue;
      const p = this.owner[r]!;
      if (p === bestP) {
        best = Math.min(best, d);
      } else if (d < best) {
        second = best;
        secondP = bestP;
        best = d;
        bestP = p;
      } else {
        second = d;
        secondP = p;
      }
    }
    const dist = (sq: number): number => Math.sqrt(Math.max(0, sq));
    const top = this.people[bestP]!;
    const runnerUp = secondP >= 0 ? this.people[secondP]! : undefined;
    return {
      personId: top.personId,
      name: top.name,
      distance: dist(best),
      ...(runnerUp ? { second: { ...runnerUp, distance: dist(second) } } : {}),
      margin: runnerUp ? dist(second) - dist(best) : Infinity,
    };
  }

  /** Open-set decision: known when the nearest person is under `threshold` with `minMargin` to spare. */
  decide(query: Float32Array, threshold: number, minMargin = 0): Decision {
    const match = this.nearest(query);
    if (match && match.distance < threshold && match.margin >= minMargin) return { known: true, match };
    return match ? { known: false, nearest: match } : { known: false };
  }
}
