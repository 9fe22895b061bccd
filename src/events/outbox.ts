// The persistent outbox: every event is written to SQLite before it is published and removed
// only after the broker's PUBACK, so events survive a broker outage and a daemon killed with
// SIGKILL, and go out in the order they were written.
//
// At the bound (`maxEvents`), the oldest event is dropped to make room: a door needs the newest
// decisions most. Nothing is dropped silently: each drop is counted per kind (`dropped`), the
// caller logs it, and the counts are exported as metrics.
import Database from 'better-sqlite3';
import { privateFile } from '../config/files.js';
import { isSealed, type Sealer } from '../privacy/sealing.js';

export type OutboxRow = {
  id: number;
  topic: string;
  payload: Buffer;
  retain: boolean;
  kind: string;
  /** When it was stored, ms since the epoch. */
  createdAt: number;
};

export type OutboxOptions = {
  maxEvents: number;
  /** fsync every write (synchronous=FULL): survives power loss, costs throughput (make bench). */
  fsync: boolean;
  /** Seals payloads at rest (snapshots carry face crops); see privacy/sealing.ts. */
  sealer?: Sealer;
};

export class Outbox {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  readonly dropped = new Map<string, number>();

  constructor(
    path: string,
    private readonly options: OutboxOptions,
  ) {
    if (path !== ':memory:') privateFile(path);
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.fsync ? 'FULL' : 'NORMAL'}`);
    // A sent snapshot's JPEG is a face: its pages are zeroed when the row goes, not left free.
    this.db.pragma('secure_delete = ON');
    this.db.exec(`CREATE TABLE IF NOT EXISTS outbox (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      topic TEXT NOT NULL,
      payload BLOB NOT NULL,
      retain INTEGER NOT NULL,
      kind TEXT NOT NULL,
      created_at TEXT NOT NULL
    )`);
    if (options.sealer) this.sealPlainRows(options.sealer);
    this.insert = this.db.prepare(
      'INSERT INTO outbox (topic, payload, retain, kind, created_at) VALUES (?, ?, ?, ?, ?)',
    );
  }

  /** Events stored before encryption was turned on are sealed now, not read in plain later. */
  private sealPlainRows(sealer: Sealer): void {
    const rows = this.db.prepare('SELECT id, topic, payload FROM outbox').all() as {
      id: number;
      topic: string;
      payload: Buffer;
    }[];
    const update = this.db.prepare('UPDATE outbox SET payload = ? WHERE id = ?');
    this.db.transaction(() => {
      for (const r of rows)
        if (!isSealed(r.payload)) update.run(sealer.seal(r.payload, `outbox:${r.topic}`), r.id);
    })();
  }

  /** Stores an event; returns the dropped oldest event's kind when the bound forced one out. */
  add(
    kind: string,
    topic: string,
    payload: Buffer | string,
    retain = false,
  ): { id: number; droppedKind?: string } {
    return this.db.transaction(() => {
      let droppedKind: string | undefined;
      if (this.size >= this.options.maxEvents) {
        const oldest = this.db.prepare('SELECT id, kind FROM outbox ORDER BY id LIMIT 1').get() as {
          id: number;
          kind: string;
        };
        this.db.prepare('DELETE FROM outbox WHERE id = ?').run(oldest.id);
        this.dropped.set(oldest.kind, (this.dropped.get(oldest.kind) ?? 0) + 1);
        droppedKind = oldest.kind;
      }
      const bytes = Buffer.from(payload);
      const { lastInsertRowid } = this.insert.run(
        topic,
        this.options.sealer ? this.options.sealer.seal(bytes, `outbox:${topic}`) : bytes,
        retain ? 1 : 0,
        kind,
        new Date().toISOString(),
      );
      return { id: Number(lastInsertRowid), ...(droppedKind ? { droppedKind } : {}) };
    })();
  }

  /** Up to `limit` events after `afterId`, oldest first. */
  after(afterId: number, limit: number): OutboxRow[] {
    const rows = this.db
      .prepare(
        'SELECT id, topic, payload, retain, kind, created_at FROM outbox WHERE id > ? ORDER BY id LIMIT ?',
      )
      .all(afterId, limit) as (Omit<OutboxRow, 'retain' | 'createdAt'> & {
      retain: number;
      created_at: string;
    })[];
    const sealer = this.options.sealer;
    return rows.map(({ created_at, ...r }) => ({
      ...r,
      payload: sealer ? sealer.open(r.payload, `outbox:${r.topic}`, `outbox event ${r.id}`) : r.payload,
      retain: r.retain === 1,
      createdAt: Date.parse(created_at),
    }));
  }

  /**
   * Deletes the events (not the retained states) stored before `before` (ms since the epoch):
   * the retention sweep's, for a broker that stays away. Returns how many per kind.
   */
  expire(before: number): Map<string, number> {
    const rows = this.db
      .prepare('DELETE FROM outbox WHERE retain = 0 AND created_at < ? RETURNING kind')
      .all(new Date(before).toISOString()) as { kind: string }[];
    const counts = new Map<string, number>();
    for (const { kind } of rows) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    return counts;
  }

  remove(id: number): void {
    this.db.prepare('DELETE FROM outbox WHERE id = ?').run(id);
  }

  get size(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM outbox').get() as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}
