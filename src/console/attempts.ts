// Recent recognition attempts: every face the daemon decided on (match, unknown, spoof, or
// unusable with the gate that refused it), with its distance, nearest person, quality, liveness
// and the id of its snapshot (the crop, kept by the snapshot store with its retention). The
// console lists them, enrolls from them and marks them wrong. In <stateDir>/attempts.sqlite
// (0600); an attempt leaves with its kind's snapshot retention.
import Database from 'better-sqlite3';
import { Type, type Static } from '@sinclair/typebox';
import { privateFile } from '../config/files.js';

export const ATTEMPT_KINDS = ['match', 'unknown', 'spoof', 'unusable'] as const;

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);

export const AttemptSchema = Type.Object(
  {
    id: Type.String(),
    at: Type.String({ description: 'When it was decided (ISO 8601)' }),
    camera: Type.String(),
    kind: Type.Union(ATTEMPT_KINDS.map((k) => Type.Literal(k))),
    person: Type.Union([Type.String(), Type.Null()], { description: 'Who it matched (match, spoof)' }),
    nearest: Type.Union([Type.Object({ id: Type.String(), distance: Type.Number() }), Type.Null()], {
      description: 'The nearest enrolled person and the distance to them',
    }),
    threshold: Type.Union([Type.Number(), Type.Null()]),
    quality: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    liveness: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    reason: Nullable(Type.String({ description: 'Why an unusable face was not used' })),
    snapshot: Nullable(Type.String({ description: 'The crop: GET /api/v1/attempts/{id}/crop' })),
    wrong: Type.Union([
      Type.Object({ by: Type.String(), at: Type.String(), truth: Type.Union([Type.String(), Type.Null()]) }),
      Type.Null(),
    ]),
    enrolledAs: Nullable(Type.String()),
  },
  { $id: 'Attempt' },
);
export type Attempt = Static<typeof AttemptSchema>;

export type AttemptFilter = {
  camera?: string;
  kind?: Attempt['kind'];
  person?: string;
  /** Attempts strictly before this one (the previous page's last id). */
  before?: string;
  limit: number;
};

type Row = { id: string; json: string };

export class AttemptLog {
  private readonly db: Database.Database;

  constructor(path: string) {
    privateFile(path);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS attempts (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT UNIQUE NOT NULL,
      at TEXT NOT NULL,
      camera TEXT NOT NULL,
      kind TEXT NOT NULL,
      person TEXT,
      json TEXT NOT NULL
    )`);
  }

  add(a: Attempt): void {
    this.db
      .prepare('INSERT INTO attempts (id, at, camera, kind, person, json) VALUES (?, ?, ?, ?, ?, ?)')
      .run(a.id, a.at, a.camera, a.kind, a.person ?? a.nearest?.id ?? null, JSON.stringify(a));
  }

  get(id: string): Attempt | undefined {
    const row = this.db.prepare('SELECT json FROM attempts WHERE id = ?').get(id) as Row | undefined;
    return row && (JSON.parse(row.json) as Attempt);
  }

  /** Newest first. */
  list(f: AttemptFilter): Attempt[] {
    const conditions: [string, string | undefined][] = [
      ['camera = ?', f.camera],
      ['kind = ?', f.kind],
      ['person = ?', f.person],
      ['seq < (SELECT seq FROM attempts WHERE id = ?)', f.before],
    ];
    const used = conditions.filter(([, v]) => v !== undefined);
    const where = used.map(([sql]) => sql);
    const args = used.map(([, v]) => v);
    const rows = this.db
      .prepare(
        `SELECT json FROM attempts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`,
      )
      .all(...args, f.limit) as Row[];
    return rows.map((r) => JSON.parse(r.json) as Attempt);
  }

  update(id: string, change: Partial<Pick<Attempt, 'wrong' | 'enrolledAs'>>): Attempt | undefined {
    const a = this.get(id);
    if (!a) return undefined;
    const next = { ...a, ...change };
    this.db.prepare('UPDATE attempts SET json = ? WHERE id = ?').run(JSON.stringify(next), id);
    return next;
  }

  /** Deletes the attempts of `kind` decided before `before`; returns how many. */
  prune(kind: Attempt['kind'], before: Date): number {
    return this.db.prepare('DELETE FROM attempts WHERE kind = ? AND at < ?').run(kind, before.toISOString())
      .changes;
  }

  close(): void {
    this.db.close();
  }
}
