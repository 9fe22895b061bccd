// The audit log: an append-only, hash-chained record of every access decision, gallery change,
// configuration reload, retention sweep and key rotation, in <stateDir>/audit.sqlite. Each entry's
// hash covers its content and the previous entry's hash, so editing, removing or reordering any
// entry breaks the chain from there on (`facegate audit verify`). The last entry's hash is also
// kept apart (the head), so cutting entries off the end is found too. Old entries leave by the
// retention sweep only, which records what it cut in the chain itself.
//
// What a chain cannot stop: someone who can write the file rewriting it whole from some entry
// on. An auditor who keeps an export (it ends with the head hash) can tell: their copy's head must
// still be an entry of the chain, with the same hash.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { canonicalJson } from '../events/signing.js';
import { privateFile } from '../config/files.js';
import { FacegateError } from '../errors.js';

export const AUDIT_KINDS = [
  'access',
  'gallery.change',
  'gallery.sync',
  'config.reload',
  'config.change',
  'console.login',
  'attempt.marked',
  'retention.sweep',
  'audit.pruned',
  'key.rotate',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export type AuditEntry = {
  seq: number;
  /** ISO 8601, UTC. */
  at: string;
  kind: AuditKind;
  /** Who: `cli:<user>`, `sync:<source>`, `daemon`, `retention`, `api:<user>`. */
  actor: string;
  /** What it is about: a person id, a door, the configuration. */
  subject: string;
  details: Record<string, unknown>;
  /** The previous entry's hash (GENESIS for the first). */
  prev: string;
  hash: string;
};

const GENESIS = '0'.repeat(64);

export function entryHash(e: Omit<AuditEntry, 'hash'> & { hash?: string }): string {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { prev, hash, ...content } = e;
  return createHash('sha256')
    .update(`${prev}\n${canonicalJson(content)}`)
    .digest('hex');
}

type Anchor = { seq: number; hash: string };

export type AuditVerdict = {
  ok: boolean;
  entries: number;
  /** The first entry checked and the head, when there are entries. */
  first?: number;
  head?: Anchor;
  /** Each break in the chain, by entry. */
  problems: string[];
};

type Row = Omit<AuditEntry, 'details'> & { details: string };

export class AuditLog {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    try {
      privateFile(path);
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      // The daemon and the CLI append to the same log; one waits for the other.
      this.db.pragma('busy_timeout = 10000');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS entries (
          seq INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          kind TEXT NOT NULL,
          actor TEXT NOT NULL,
          subject TEXT NOT NULL,
          details TEXT NOT NULL,
          prev TEXT NOT NULL,
          hash TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS entries_at ON entries (at);
      `);
    } catch (err) {
      throw new FacegateError(
        'GALLERY_INVALID',
        `${path}: cannot open the audit log (${(err as Error).message})`,
        {
          cause: err,
        },
      );
    }
  }

  private meta(key: string): Anchor | undefined {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      { value: string } | undefined;
    return row && (JSON.parse(row.value) as Anchor);
  }

  private setMeta(key: string, value: Anchor): void {
    this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, JSON.stringify(value));
  }

  /** Appends one entry, chained to the last (one writer at a time, across processes). */
  append(kind: AuditKind, actor: string, subject: string, details: Record<string, unknown> = {}): AuditEntry {
    return this.db.transaction(() => this.appendInTransaction(kind, actor, subject, details)).immediate();
  }

  private appendInTransaction(
    kind: AuditKind,
    actor: string,
    subject: string,
    details: Record<string, unknown>,
  ): AuditEntry {
    const head = this.meta('head') ?? this.meta('anchor') ?? { seq: 0, hash: GENESIS };
    // JSON round trip: what is hashed is exactly what verify() reads back.
    const content = {
      seq: head.seq + 1,
      at: new Date().toISOString(),
      kind,
      actor,
      subject,
      details: JSON.parse(JSON.stringify(details)) as Record<string, unknown>,
      prev: head.hash,
    };
    const entry = { ...content, hash: entryHash(content) };
    this.db
      .prepare(
        'INSERT INTO entries (seq, at, kind, actor, subject, details, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(entry.seq, entry.at, kind, actor, subject, JSON.stringify(entry.details), entry.prev, entry.hash);
    this.setMeta('head', { seq: entry.seq, hash: entry.hash });
    return entry;
  }

  /** Entries with `from <= at < to` (ISO dates or times), in order. */
  range(from?: string, to?: string): AuditEntry[] {
    const rows = this.db
      .prepare('SELECT * FROM entries WHERE at >= ? AND at < ? ORDER BY seq')
      .all(from ?? '', to ?? '\uffff') as Row[];
    return rows.map(toEntry);
  }

  get head(): Anchor | undefined {
    return this.meta('head');
  }

  /** Walks the whole chain: each entry's hash, its link to the one before, and the head. */
  verify(): AuditVerdict {
    const anchor = this.meta('anchor') ?? { seq: 0, hash: GENESIS };
    const head = this.meta('head');
    const problems: string[] = [];
    let expected = anchor;
    let entries = 0;
    let first: number | undefined;
    let lastPruned: Anchor | undefined;
    for (const row of this.db
      .prepare('SELECT * FROM entries ORDER BY seq')
      .iterate() as IterableIterator<Row>) {
      const e = toEntry(row);
      first ??= e.seq;
      entries++;
      if (e.seq !== expected.seq + 1)
        problems.push(
          e.seq > expected.seq + 1
            ? `entries ${expected.seq + 1}-${e.seq - 1} are missing`
            : `entry ${e.seq} is out of order (after ${expected.seq})`,
        );
      else if (e.prev !== expected.hash)
        problems.push(
          `entry ${e.seq} does not follow entry ${expected.seq} (its link is ${e.prev.slice(0, 12)}…)`,
        );
      if (entryHash(e) !== e.hash)
        problems.push(`entry ${e.seq} (${e.kind}, ${e.at}) was changed after it was written`);
      if (e.kind === 'audit.pruned') lastPruned = e.details.through as Anchor;
      expected = { seq: e.seq, hash: e.hash };
    }
    // Entries cut off the start are legitimate only as the sweep recorded them.
    if (anchor.seq > 0 && (lastPruned?.seq !== anchor.seq || lastPruned.hash !== anchor.hash))
      problems.push(
        `the log starts after entry ${anchor.seq}, but no retention sweep recorded cutting it there`,
      );
    if (head && (head.seq !== expected.seq || head.hash !== expected.hash))
      problems.push(
        head.seq > expected.seq
          ? `entries ${expected.seq + 1}-${head.seq} were cut off the end`
          : `the head does not match entry ${expected.seq}`,
      );
    if (!head && entries) problems.push('the head record is missing');
    return {
      ok: problems.length === 0,
      entries,
      ...(first ? { first } : {}),
      ...(head ? { head } : {}),
      problems,
    };
  }

  /**
   * Deletes the entries older than `before` (the retention sweep), keeping at least the last
   * one so the chain goes on from it, and records the cut as an entry. Returns how many went.
   */
  prune(before: Date, actor: string): number {
    return this.db
      .transaction(() => {
        const last = this.db
          .prepare(
            'SELECT seq, hash FROM entries WHERE at < ? AND seq < (SELECT MAX(seq) FROM entries) ORDER BY seq DESC LIMIT 1',
          )
          .get(before.toISOString()) as Anchor | undefined;
        if (!last) return 0;
        const n = this.db.prepare('DELETE FROM entries WHERE seq <= ?').run(last.seq).changes;
        this.setMeta('anchor', last);
        this.appendInTransaction('audit.pruned', actor, 'audit', {
          through: last,
          entries: n,
          before: before.toISOString(),
        });
        return n;
      })
      .immediate();
  }

  close(): void {
    this.db.close();
  }
}

function toEntry(r: Row): AuditEntry {
  return { ...r, details: JSON.parse(r.details) as Record<string, unknown> };
}
