// Nearest-neighbour search over the gallery, run by ONNX Runtime: the gallery is one [D, N]
// matrix inside a small ONNX graph (MatMul, then TopK), so a query costs one pass of optimised
// GEMV over the embeddings instead of a JavaScript loop (100,000 people: 29 ms in JS). With
// squared norms precomputed, |q - g|^2 = |q|^2 + |g|^2 - 2 q.g and |q|^2 does not change the order.
// With several enrollment images, a person is their mean embedding (default: on lfw-dev with two
// photos each, TPIR at FPIR 1e-2 79% against 67% for the best single photo) or each photo is a
// row and the person's distance is their best row ('best').
import * as ort from 'onnxruntime-node';
import { vectorLength } from '../inference/faces.js';
import { GraphBuilder } from '../inference/onnx-writer.js';

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

type Row = { person: number; v: Float32Array };

/** What every gallery search offers the daemon and enrollment. */
export interface GallerySearch {
  readonly size: number;
  nearest(query: Float32Array): Promise<MatchResult | undefined>;
  decide(query: Float32Array, threshold: number, minMargin?: number): Promise<Decision>;
  release(): Promise<void>;
}

/** The people of a gallery and the rows that represent them (see the aggregation above). */
export function galleryRows(
  entries: readonly GalleryEntry[],
  aggregation: PersonAggregation,
): { people: { personId: string; name: string }[]; rows: Row[]; dim: number } {
  const byPerson = new Map<string, { name: string; rows: Float32Array[] }>();
  for (const e of entries) {
    const p = byPerson.get(e.personId) ?? { name: e.name, rows: [] };
    p.rows.push(e.embedding);
    byPerson.set(e.personId, p);
  }
  const dim = entries[0]?.embedding.length ?? 128;
  const people = [...byPerson].map(([personId, p]) => ({ personId, name: p.name }));
  const rows: Row[] = [];
  [...byPerson.values()].forEach((p, person) => {
    for (const v of p.rows) {
      if (v.length !== dim)
        throw new Error(`embedding of ${people[person]!.personId} has ${v.length} values, expected ${dim}`);
    }
    if (aggregation === 'mean' && p.rows.length > 1) {
      // The mean direction, at the photos' own length (1 for every encoder's embeddings): a plain
      // mean is shorter than its photos, so nearer to every face, and one threshold would let
      // more strangers in as a person with several photos (measured: bench/RESULTS.md).
      const m = new Float32Array(dim);
      for (const r of p.rows) for (let k = 0; k < dim; k++) m[k]! += r[k]! / p.rows.length;
      const length = p.rows.reduce((sum, r) => sum + vectorLength(r), 0) / p.rows.length;
      const scale = length / (vectorLength(m) || 1);
      for (let k = 0; k < dim; k++) m[k]! *= scale;
      rows.push({ person, v: m });
    } else {
      for (const v of p.rows) rows.push({ person, v });
    }
  });
  return { people, rows, dim };
}

/** Open-set decision from the nearest person: known when under `threshold` with `minMargin` to spare. */
export function decideFrom(match: MatchResult | undefined, threshold: number, minMargin: number): Decision {
  if (match && match.distance < threshold && match.margin >= minMargin) return { known: true, match };
  return match ? { known: false, nearest: match } : { known: false };
}

/**
 * Whether a steadier embedding could turn this decision over: the nearest distance within
 * `band` x threshold of the threshold, or, under it, a margin over the runner-up within as much
 * of `minMargin` (with no margin asked, a near tie: who it is could change). Only such faces are
 * worth the mirror pass (recognition.mirror 'near-threshold'; bench/RESULTS.md, 2026-11-29).
 */
export function nearDecision(
  nearest: Pick<MatchResult, 'distance' | 'margin'> | undefined,
  threshold: number,
  minMargin: number,
  band: number,
): boolean {
  if (!nearest) return false;
  const reach = band * threshold;
  if (Math.abs(nearest.distance - threshold) <= reach) return true;
  return nearest.distance < threshold && Math.abs(nearest.margin - minMargin) <= reach;
}

export class Matcher implements GallerySearch {
  private constructor(
    private readonly session: ort.InferenceSession | undefined,
    private readonly owner: Int32Array,
    private readonly people: { personId: string; name: string }[],
    readonly dim: number,
  ) {}

  static async create(
    entries: readonly GalleryEntry[],
    aggregation: PersonAggregation = 'best',
  ): Promise<Matcher> {
    const { people, rows, dim } = galleryRows(entries, aggregation);
    const owner = Int32Array.from(rows, (r) => r.person);
    if (!rows.length) return new Matcher(undefined, owner, people, dim);
    // Enough rows that the second-nearest person is always among them.
    const rowsPerPerson = new Map<number, number>();
    for (const r of rows) rowsPerPerson.set(r.person, (rowsPerPerson.get(r.person) ?? 0) + 1);
    const k = Math.min(rows.length, Math.max(...rowsPerPerson.values()) + 1);
    const session = await ort.InferenceSession.create(searchGraph(rows, dim, k), {
      graphOptimizationLevel: 'all',
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
    return new Matcher(session, owner, people, dim);
  }

  get size(): number {
    return this.people.length;
  }

  /** The nearest person and the runner-up; undefined for an empty gallery. */
  async nearest(query: Float32Array): Promise<MatchResult | undefined> {
    return (await this.nearestBatch([query]))[0];
  }

  /** nearest() for many queries in one pass. */
  async nearestBatch(queries: readonly Float32Array[]): Promise<(MatchResult | undefined)[]> {
    if (!this.session || !queries.length) return queries.map(() => undefined);
    const input = new Float32Array(queries.length * this.dim);
    queries.forEach((q, i) => {
      if (q.length !== this.dim) throw new Error(`query has ${q.length} values, expected ${this.dim}`);
      input.set(q, i * this.dim);
    });
    const out = await this.session.run({
      query: new ort.Tensor('float32', input, [queries.length, this.dim]),
    });
    const d2 = out.d2!.data as Float32Array;
    const idx = out.rows!.data as BigInt64Array;
    const k = d2.length / queries.length;
    return queries.map((q, i) => {
      let qn = 0;
      for (let j = 0; j < this.dim; j++) qn += q[j]! * q[j]!;
      const dist = (at: number) => Math.sqrt(Math.max(0, d2[i * k + at]! + qn));
      const best = this.owner[Number(idx[i * k])]!;
      let second = -1;
      for (let j = 1; j < k; j++) {
        if (this.owner[Number(idx[i * k + j])] !== best) {
          second = j;
          break;
        }
      }
      const top = this.people[best]!;
      const distance = dist(0);
      if (second < 0) return { ...top, distance, margin: Infinity };
      const runnerUp = { ...this.people[this.owner[Number(idx[i * k + second])]!]!, distance: dist(second) };
      return { ...top, distance, second: runnerUp, margin: runnerUp.distance - distance };
    });
  }

  /** Open-set decision: known when the nearest person is under `threshold` with `minMargin` to spare. */
  async decide(query: Float32Array, threshold: number, minMargin = 0): Promise<Decision> {
    return decideFrom(await this.nearest(query), threshold, minMargin);
  }

  async release(): Promise<void> {
    await this.session?.release();
  }
}

/** query [B, D] -> the k rows with the smallest |g|^2 - 2 q.g, ascending. */
function searchGraph(rows: readonly Row[], dim: number, k: number): Uint8Array {
  const n = rows.length;
  const transposed = new Float32Array(dim * n);
  const norms = new Float32Array(n);
  rows.forEach((r, i) => {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      transposed[j * n + i] = r.v[j]!;
      s += r.v[j]! * r.v[j]!;
    }
    norms[i] = s;
  });
  const g = new GraphBuilder('gallery_search');
  const query = g.input('query', ['batch', dim]);
  const dots = g.node('MatMul', [query, g.floats('gallery', [dim, n], transposed)]);
  const scaled = g.node('Mul', [dots, g.floats('minus_two', [], [-2])]);
  const d2 = g.node('Add', [scaled, g.floats('norms', [n], norms)]);
  g.node('TopK', [d2, g.int64s('k', [k])], { axis: -1, largest: 0, sorted: 1 }, ['d2', 'rows']);
  g.output('d2', ['batch', k]);
  g.output('rows', ['batch', k], 'int64');
  return g.toModel({ producer: 'facegate matcher', version: '1', doc: `gallery of ${n} embeddings` });
}
