// The gallery store: people, their enrollment images (kept, so a new encoder can re-embed them)
// and embeddings tagged with the encoder that made them, in one SQLite file in the state
// directory. Every change runs in one transaction and bumps the gallery version, so a process
// killed mid-write leaves the old gallery or the new one, never a mix.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { privateFile } from '../config/files.js';
import { FacegateError } from '../errors.js';
import type { FaceQuality } from '../vision/quality.js';
import type { GalleryEntry } from './matcher.js';

const SCHEMA_VERSION = 1;

export type Person = {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  images: number;
};

export type StoredImage = {
  id: number;
  personId: string;
  sha256: string;
  source: string;
  bytes: Buffer;
};

/** A photo to store with its embedding: its bytes, or the sha256 of a photo staged by stage(). */
export type NewImage = {
  source: string;
  embedding: Float32Array;
  quality: FaceQuality;
} & ({ bytes: Buffer } | { staged: string });

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export function validatePersonId(id: string): void {
  if (!ID_PATTERN.test(id)) {
    throw new FacegateError(
      'USAGE',
      `person id "${id}": use 1-128 letters, digits, '.', '_', ':', '@' or '-', starting with a letter or digit`,
    );
  }
}

/**
 * Control characters (C0, DEL, C1) and bidirectional overrides: printed raw by `gallery list` or
 * shown in a console they rewrite the terminal or the text around them.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** A person's name and metadata as they may be stored: printable text, of a sane size. */
export function validatePersonText(person: {
  id: string;
  name: string;
  metadata?: Record<string, unknown>;
}): void {
  const where = `person "${person.id}"`;
  if (person.name.length < 1 || person.name.length > 200 || UNPRINTABLE.test(person.name))
    throw new FacegateError(
      'USAGE',
      `${where}: the name must be 1 to 200 printable characters (no control characters or direction overrides), not ${JSON.stringify(person.name)}`,
    );
  const metadata = JSON.stringify(person.metadata ?? {});
  if (metadata.length > 16_384)
    throw new FacegateError('USAGE', `${where}: metadata of ${metadata.length} bytes (at most 16384)`);
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'string' && UNPRINTABLE.test(v))
      throw new FacegateError(
        'USAGE',
        `${where}: metadata ${path} holds a control character: ${JSON.stringify(v)}`,
      );
    if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        if (UNPRINTABLE.test(k))
          throw new FacegateError(
            'USAGE',
            `${where}: metadata key ${JSON.stringify(k)} holds a control character`,
          );
        walk(x, `${path}.${k}`);
      }
  };
  walk(person.metadata ?? {}, 'metadata');
}

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export class GalleryStore {
  private readonly db: Database.Database;
  private staging = false;
  /** A person was removed in the current write: the log is checkpointed after it. */
  private removed = false;

  constructor(readonly path: string) {
    try {
      if (path !== ':memory:') privateFile(path);
      this.db = new Database(path);
      // WAL: readers (the daemon) never block on a writer (a sync); FULL: a committed change
      // survives a power cut, which matters more than write speed for a gallery.
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      // A removed person's photos and embeddings are overwritten with zeros where they lay, not
      // left in free pages for anyone with the file to read back.
      this.db.pragma('secure_delete = ON');
      this.migrate();
    } catch (err) {
      if (err instanceof FacegateError) throw err;
      throw new FacegateError(
        'GALLERY_INVALID',
        `${path}: cannot open the gallery (${(err as Error).message})`,
        { cause: err },
      );
    }
  }

  private migrate(): void {
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS people (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS images (
        id INTEGER PRIMARY KEY,
        person_id TEXT NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        sha256 TEXT NOT NULL,
        source TEXT NOT NULL,
        bytes BLOB NOT NULL,
        added_at TEXT NOT NULL,
        UNIQUE (person_id, sha256)
      );
      CREATE TABLE IF NOT EXISTS embeddings (
        image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
        model TEXT NOT NULL,
        vector BLOB NOT NULL,
        quality TEXT NOT NULL,
        PRIMARY KEY (image_id, model)
      );
    `);
    const version = this.meta('schema_version');
    if (version === undefined) {
      this.db
        .prepare('INSERT INTO meta (key, value) VALUES (?, ?), (?, ?)')
        .run('schema_version', String(SCHEMA_VERSION), 'gallery_version', '0');
    } else if (Number(version) !== SCHEMA_VERSION) {
      throw new FacegateError(
        'GALLERY_INVALID',
        `${this.path}: gallery schema ${version}, this facegate reads ${SCHEMA_VERSION}`,
      );
    }
  }

  private meta(key: string): string | undefined {
    return (this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)
      ?.value;
  }

  /** Bookkeeping of other stages (the sync source's version and ETag), changed inside write(). */
  getState(key: string): string | undefined {
    return this.meta(`state:${key}`);
  }

  setState(key: string, value: string | undefined): void {
    if (value === undefined) this.db.prepare('DELETE FROM meta WHERE key = ?').run(`state:${key}`);
    else this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(`state:${key}`, value);
  }

  /** sha256 of each enrollment photo of a person, without loading the photos. */
  imageHashes(personId: string): string[] {
    const rows = this.db
      .prepare('SELECT sha256 FROM images WHERE person_id = ? ORDER BY sha256')
      .all(personId) as { sha256: string }[];
    return rows.map((r) => r.sha256);
  }

  /** Increases on every committed change; events carry it so a decision can be traced to a gallery. */
  get version(): number {
    return Number(this.meta('gallery_version') ?? 0);
  }

  /** Runs `fn` as one transaction that bumps the gallery version once. */
  write<T>(fn: () => T): T {
    this.removed = false;
    const result = this.db
      .transaction(() => {
        const result = fn();
        this.db
          .prepare("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'gallery_version'")
          .run();
        return result;
      })
      .immediate();
    // The write-ahead log still holds the pages as they were: copied back and emptied, so the
    // removed person's photos are in no file any more.
    if (this.removed) this.db.pragma('wal_checkpoint(TRUNCATE)');
    return result;
  }

  getPerson(id: string): Person | undefined {
    const row = this.db
      .prepare(
        `SELECT p.id, p.name, p.metadata, p.created_at, p.updated_at, COUNT(i.id) AS images
         FROM people p LEFT JOIN images i ON i.person_id = p.id WHERE p.id = ? GROUP BY p.id`,
      )
      .get(id) as PersonRow | undefined;
    return row && toPerson(row);
  }

  /** How many people are enrolled, without loading them (status and metrics ask often). */
  get peopleCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM people').get() as { n: number }).n;
  }

  listPeople(): Person[] {
    const rows = this.db
      .prepare(
        `SELECT p.id, p.name, p.metadata, p.created_at, p.updated_at, COUNT(i.id) AS images
         FROM people p LEFT JOIN images i ON i.person_id = p.id GROUP BY p.id ORDER BY p.id`,
      )
      .all() as PersonRow[];
    return rows.map(toPerson);
  }

  /**
   * Creates or updates a person and adds images with their embeddings (an image already stored
   * for that person is kept once). Call inside write() to combine with other changes.
   */
  putPerson(
    person: { id: string; name: string; metadata?: Record<string, unknown> },
    images: readonly NewImage[],
    model: string,
  ): void {
    validatePersonId(person.id);
    validatePersonText(person);
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO people (id, name, metadata, created_at, updated_at) VALUES (@id, @name, @metadata, @now, @now)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, metadata = excluded.metadata, updated_at = excluded.updated_at`,
      )
      .run({ id: person.id, name: person.name, metadata: JSON.stringify(person.metadata ?? {}), now });
    // A photo given as bytes, or copied from the staging area (stage()); kept once per person.
    const upsert = 'ON CONFLICT(person_id, sha256) DO UPDATE SET source = excluded.source RETURNING id';
    const insertImage = this.db.prepare(
      `INSERT INTO images (person_id, sha256, source, bytes, added_at) VALUES (?, ?, ?, ?, ?) ${upsert}`,
    );
    const insertStaged = this.staging
      ? this.db.prepare(
          `INSERT INTO images (person_id, sha256, source, bytes, added_at)
           SELECT ?, sha256, ?, bytes, ? FROM staging.photos WHERE sha256 = ? ${upsert}`,
        )
      : undefined;
    const insertEmbedding = this.db.prepare(
      'INSERT OR REPLACE INTO embeddings (image_id, model, vector, quality) VALUES (?, ?, ?, ?)',
    );
    for (const img of images) {
      let row;
      if ('bytes' in img) row = insertImage.get(person.id, sha256(img.bytes), img.source, img.bytes, now);
      else {
        row = insertStaged?.get(person.id, img.source, now, img.staged);
        if (!row) throw new Error(`${person.id}: photo ${img.staged} was not staged`);
      }
      const { id } = row as { id: number };
      insertEmbedding.run(id, model, vectorBlob(img.embedding), JSON.stringify(img.quality));
    }
  }

  /**
   * Keeps a photo until the write that stores it, in a private temporary database (a file SQLite
   * deletes when it is detached) instead of the heap: a sync fetches every new photo before its
   * one switch, and a large gallery's photos would otherwise all be in memory at once. Returns
   * the sha256 to pass as NewImage.staged; `hash` is that sha256 when the caller has already
   * checked it (a sync verifies every photo against its manifest), so it is not computed twice.
   */
  stage(bytes: Buffer, hash = sha256(bytes)): string {
    if (!this.staging) {
      this.db.exec(`ATTACH DATABASE '' AS staging;
        CREATE TABLE staging.photos (sha256 TEXT PRIMARY KEY, bytes BLOB NOT NULL);`);
      this.staging = true;
    }
    this.db.prepare('INSERT OR IGNORE INTO staging.photos (sha256, bytes) VALUES (?, ?)').run(hash, bytes);
    return hash;
  }

  /**
   * Drops the staged photos (outside write(); a sync calls it whether or not it switched). One
   * staging area per store: syncs on a store run one at a time (GallerySyncer queues them).
   */
  clearStaged(): void {
    if (!this.staging) return;
    this.db.exec('DETACH DATABASE staging');
    this.staging = false;
  }

  /** How many photos are staged: 0 outside a sync. */
  get stagedCount(): number {
    if (!this.staging) return 0;
    return (this.db.prepare('SELECT COUNT(*) AS n FROM staging.photos').get() as { n: number }).n;
  }

  /** Replaces a person's images: the previous ones are removed in the same transaction. */
  replacePerson(
    person: { id: string; name: string; metadata?: Record<string, unknown> },
    images: readonly NewImage[],
    model: string,
  ): void {
    this.db.prepare('DELETE FROM images WHERE person_id = ?').run(person.id);
    this.putPerson(person, images, model);
  }

  removePerson(id: string): boolean {
    const gone = this.db.prepare('DELETE FROM people WHERE id = ?').run(id).changes > 0;
    this.removed ||= gone;
    return gone;
  }

  images(personId?: string): StoredImage[] {
    const sql =
      'SELECT id, person_id AS personId, sha256, source, bytes FROM images' +
      (personId ? ' WHERE person_id = ? ORDER BY id' : ' ORDER BY id');
    return (personId ? this.db.prepare(sql).all(personId) : this.db.prepare(sql).all()) as StoredImage[];
  }

  /** Images that have no embedding from `model` yet: what a model change must re-embed. */
  imagesMissingEmbedding(model: string): StoredImage[] {
    return this.db
      .prepare(
        `SELECT i.id, i.person_id AS personId, i.sha256, i.source, i.bytes FROM images i
         WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model = ?) ORDER BY i.id`,
      )
      .all(model) as StoredImage[];
  }

  putEmbedding(imageId: number, model: string, embedding: Float32Array, quality: FaceQuality): void {
    this.db
      .prepare('INSERT OR REPLACE INTO embeddings (image_id, model, vector, quality) VALUES (?, ?, ?, ?)')
      .run(imageId, model, vectorBlob(embedding), JSON.stringify(quality));
  }

  /** Drops embeddings made by other models, once everything has one from `model`. */
  pruneEmbeddings(keepModel: string): number {
    return this.db.prepare('DELETE FROM embeddings WHERE model <> ?').run(keepModel).changes;
  }

  /** Every embedding from `model`, with its person: what the matcher is built from. */
  entries(model: string): GalleryEntry[] {
    const rows = this.db
      .prepare(
        `SELECT p.id AS personId, p.name, e.vector FROM embeddings e
         JOIN images i ON i.id = e.image_id JOIN people p ON p.id = i.person_id
         WHERE e.model = ? ORDER BY p.id, i.id`,
      )
      .all(model) as { personId: string; name: string; vector: Buffer }[];
    return rows.map((r) => ({ personId: r.personId, name: r.name, embedding: blobVector(r.vector) }));
  }

  close(): void {
    this.db.close();
  }
}

type PersonRow = {
  id: string;
  name: string;
  metadata: string;
  created_at: string;
  updated_at: string;
  images: number;
};

function toPerson(r: PersonRow): Person {
  return {
    id: r.id,
    name: r.name,
    metadata: JSON.parse(r.metadata) as Record<string, unknown>,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    images: r.images,
  };
}

/** An embedding as little-endian float32 bytes, as stored (also in the training cache). */
export function vectorBlob(v: Float32Array): Buffer {
  return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

export function blobVector(b: Buffer): Float32Array {
  // Copy: the Buffer may not be 4-byte aligned.
  const out = new Float32Array(b.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = b.readFloatLE(4 * i);
  return out;
}
