// The gallery store: people, their enrollment images (kept, so a new encoder can re-embed them)
// and embeddings tagged with the encoder that made them, in one SQLite file in the state
// directory. Every change runs in one transaction and bumps the gallery version, so a process
// killed mid-write leaves the old gallery or the new one, never a mix.
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { privateFile } from '../config/files.js';
import { FacegateError } from '../errors.js';
import type { AuditLog } from '../privacy/audit.js';
import type { Sealer } from '../privacy/sealing.js';
import type { FaceQuality } from '../vision/quality.js';
import type { Consent } from './manifest.js';
import type { GalleryEntry } from './matcher.js';

// 2: consent and retain_until per person (added to a version 1 file when it is opened).
const SCHEMA_VERSION = 2;

export type Person = {
  id: string;
  name: string;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  images: number;
  /** Why the source may hold this face (from a synced manifest), when it says. */
  consent?: Consent;
  /** The person is wiped by the retention sweep after this date. */
  retainUntil?: string;
};

/** What a write may set about a person. */
export type PersonDetails = Pick<Person, 'id' | 'name' | 'consent' | 'retainUntil'> & {
  metadata?: Record<string, unknown>;
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

export type GalleryStoreOptions = {
  /** Seals photos and embeddings (encryption at rest); a gallery once sealed needs it. */
  sealer?: Sealer;
  /** Where each committed change is recorded, and by whom (`cli:<user>`, `daemon`...). */
  audit?: { log: AuditLog; actor: string };
  /** Called after a write that removed people: their other traces (snapshots) go too. */
  onRemoved?: (ids: string[]) => void;
};

const imageContext = (personId: string, sha: string) => `image:${personId}:${sha}`;
const embeddingContext = (personId: string, sha: string, model: string) =>
  `embedding:${personId}:${sha}:${model}`;

export class GalleryStore {
  private readonly db: Database.Database;
  private readonly sealer: Sealer | undefined;
  private staging = false;
  /** What the current write changed: recorded in the audit log once it commits. */
  private changes = {
    put: new Map<
      string,
      {
        photos: number;
        consent?: unknown;
        doorCapture?: string;
        dropped?: number;
        doorCaptureRemoved?: string;
      }
    >(),
    removed: [] as string[],
    /** Photos were deleted (not only people): the write-ahead log must be emptied too. */
    wiped: false,
  };

  constructor(
    readonly path: string,
    private readonly options: GalleryStoreOptions = {},
  ) {
    this.sealer = options.sealer;
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
      this.checkSealing();
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
        updated_at TEXT NOT NULL,
        consent TEXT,
        retain_until TEXT
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
    } else if (Number(version) === 1) {
      this.db.transaction(() => {
        this.db.exec(
          'ALTER TABLE people ADD COLUMN consent TEXT; ALTER TABLE people ADD COLUMN retain_until TEXT;',
        );
        this.db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
      })();
    } else if (Number(version) !== SCHEMA_VERSION) {
      throw new FacegateError(
        'GALLERY_INVALID',
        `${this.path}: gallery schema ${version}, this facegate reads ${SCHEMA_VERSION}`,
      );
    }
  }

  /**
   * A sealed gallery opened without the key is refused (no plain fallback); a plain one opened
   * with a key is sealed now, in one transaction, and its plain pages wiped.
   */
  private checkSealing(): void {
    const sealed = this.meta('sealed') === '1';
    if (sealed && !this.sealer)
      throw new FacegateError(
        'CONFIG_INVALID',
        `${this.path}: the gallery is encrypted; configure its key (encryption.keyFile or encryption.credential)`,
      );
    if (sealed && this.sealer) {
      const check = this.db.prepare("SELECT value FROM meta WHERE key = 'seal_check'").get() as
        { value: string } | undefined;
      try {
        this.sealer.open(Buffer.from(check?.value ?? '', 'base64'), 'gallery', this.path);
      } catch {
        throw new FacegateError(
          'CONFIG_INVALID',
          `${this.path}: the gallery was encrypted with another data key than keyring.json's (was the keyring replaced?)`,
        );
      }
    }
    if (sealed || !this.sealer) return;
    const sealer = this.sealer;
    this.db.transaction(() => {
      const images = this.db.prepare('SELECT id, person_id, sha256, bytes FROM images').all() as {
        id: number;
        person_id: string;
        sha256: string;
        bytes: Buffer;
      }[];
      const updateImage = this.db.prepare('UPDATE images SET bytes = ? WHERE id = ?');
      for (const i of images)
        updateImage.run(sealer.seal(i.bytes, imageContext(i.person_id, i.sha256)), i.id);
      const vectors = this.db
        .prepare(
          'SELECT e.image_id, e.model, e.vector, i.person_id, i.sha256 FROM embeddings e JOIN images i ON i.id = e.image_id',
        )
        .all() as { image_id: number; model: string; vector: Buffer; person_id: string; sha256: string }[];
      const updateVector = this.db.prepare(
        'UPDATE embeddings SET vector = ? WHERE image_id = ? AND model = ?',
      );
      for (const v of vectors)
        updateVector.run(
          sealer.seal(v.vector, embeddingContext(v.person_id, v.sha256, v.model)),
          v.image_id,
          v.model,
        );
      this.db
        .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('sealed', '1'), ('seal_check', ?)")
        .run(sealer.seal(Buffer.from('facegate'), 'gallery').toString('base64'));
    })();
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** Whether photos and embeddings are stored encrypted. */
  get sealed(): boolean {
    return this.meta('sealed') === '1';
  }

  private seal(plain: Uint8Array, context: string): Buffer {
    return this.sealer ? this.sealer.seal(plain, context) : Buffer.from(plain);
  }

  private open(box: Buffer, context: string): Buffer {
    return this.sealer
      ? this.sealer.open(box, context, `${this.path} (${context.split(':', 2).join(' ')})`)
      : box;
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

  /**
   * sha256 of each enrollment photo of a person (not the door's captures: a sync compares these
   * with its manifest), without loading the photos.
   */
  imageHashes(personId: string): string[] {
    const rows = this.db
      .prepare(`SELECT sha256 FROM images WHERE person_id = ? AND ${notCapture()} ORDER BY sha256`)
      .all(personId) as { sha256: string }[];
    return rows.map((r) => r.sha256);
  }

  /** A person's captures from the door (gallery/door-captures.ts), oldest first. */
  doorCaptures(personId: string): { sha256: string; source: string }[] {
    return this.db
      .prepare(`SELECT sha256, source FROM images WHERE person_id = ? AND NOT (${notCapture()}) ORDER BY id`)
      .all(personId) as { sha256: string; source: string }[];
  }

  /** Removes one capture from the door (inside write()): a match marked wrong in the console. */
  removeDoorCapture(personId: string, source: string): boolean {
    const gone =
      this.db
        .prepare(`DELETE FROM images WHERE person_id = ? AND source = ? AND NOT (${notCapture()})`)
        .run(personId, source).changes > 0;
    if (gone) {
      this.changes.put.set(personId, { photos: 0, doorCaptureRemoved: source });
      this.changes.wiped = true;
    }
    return gone;
  }

  /**
   * The embeddings of a person's enrollment photos from `model`, without the door's captures:
   * what a new capture must match, so that the captures cannot drift away from the person
   * enrolled.
   */
  enrolledEmbeddings(personId: string, model: string): Float32Array[] {
    const rows = this.db
      .prepare(
        `SELECT i.sha256, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id
         WHERE i.person_id = ? AND e.model = ? AND ${notCapture('i.source')} ORDER BY i.id`,
      )
      .all(personId, model) as { sha256: string; vector: Buffer }[];
    return rows.map((r) => blobVector(this.open(r.vector, embeddingContext(personId, r.sha256, model))));
  }

  /**
   * Adds a capture from the door to an enrolled person (inside write()), keeping at most `keep`
   * captures: the oldest go first, so the person's look at the door stays current. A sync that
   * changes the person's photos replaces the captures too (replacePerson).
   */
  addDoorCapture(
    personId: string,
    capture: NewImage & { bytes: Buffer },
    model: string,
    keep: number,
  ): boolean {
    if (!capture.source.startsWith(DOOR_CAPTURE_SOURCE))
      throw new Error(`${personId}: a door capture's source must start with ${DOOR_CAPTURE_SOURCE}`);
    const person = this.getPerson(personId);
    if (!person) throw new Error(`${personId}: not enrolled`);
    // The very bytes of a photo the person has (an enrollment from an attempt's snapshot, a still
    // camera): storing them again would turn that photo into a capture.
    if (this.hasImage(personId, sha256(capture.bytes))) return false;
    this.putPerson(person, [capture], model);
    const old = this.db
      .prepare(
        `SELECT id FROM images WHERE person_id = ? AND NOT (${notCapture()}) ORDER BY id DESC LIMIT -1 OFFSET ?`,
      )
      .all(personId, keep) as { id: number }[];
    for (const { id } of old) this.db.prepare('DELETE FROM images WHERE id = ?').run(id);
    const change = this.changes.put.get(personId)!;
    change.doorCapture = capture.source;
    if (old.length) {
      change.dropped = old.length;
      this.changes.wiped = true;
    }
    return true;
  }

  /** Whether the person has a photo (enrolled or captured) with these bytes. */
  hasImage(personId: string, hash: string): boolean {
    return !!this.db.prepare('SELECT 1 FROM images WHERE person_id = ? AND sha256 = ?').get(personId, hash);
  }

  /** Increases on every committed change; events carry it so a decision can be traced to a gallery. */
  get version(): number {
    return Number(this.meta('gallery_version') ?? 0);
  }

  /** Runs `fn` as one transaction that bumps the gallery version once. */
  write<T>(fn: () => T, actor: string | undefined = this.options.audit?.actor): T {
    this.changes = { put: new Map(), removed: [], wiped: false };
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
    const { put, removed, wiped } = this.changes;
    if (removed.length || wiped) this.db.pragma('wal_checkpoint(TRUNCATE)');
    const audit = this.options.audit;
    if (audit && actor) {
      const galleryVersion = this.version;
      for (const [id, change] of put)
        audit.log.append('gallery.change', actor, id, { change: 'put', galleryVersion, ...change });
      for (const id of removed)
        audit.log.append('gallery.change', actor, id, { change: 'removed', galleryVersion });
    }
    if (removed.length) this.options.onRemoved?.(removed);
    return result;
  }

  /** Records something about the gallery that is not a write (a refused sync) in the audit log. */
  record(kind: 'gallery.sync', actor: string, details: Record<string, unknown>): void {
    this.options.audit?.log.append(kind, actor, 'gallery', details);
  }

  getPerson(id: string): Person | undefined {
    const row = this.db
      .prepare(
        `SELECT p.id, p.name, p.metadata, p.created_at, p.updated_at, p.consent, p.retain_until, COUNT(i.id) AS images
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
        `SELECT p.id, p.name, p.metadata, p.created_at, p.updated_at, p.consent, p.retain_until, COUNT(i.id) AS images
         FROM people p LEFT JOIN images i ON i.person_id = p.id GROUP BY p.id ORDER BY p.id`,
      )
      .all() as PersonRow[];
    return rows.map(toPerson);
  }

  /**
   * Creates or updates a person and adds images with their embeddings (an image already stored
   * for that person is kept once). Call inside write() to combine with other changes.
   */
  putPerson(person: PersonDetails, images: readonly NewImage[], model: string): void {
    validatePersonId(person.id);
    validatePersonText(person);
    const now = new Date().toISOString();
    this.db
      .prepare(
        `INSERT INTO people (id, name, metadata, created_at, updated_at, consent, retain_until)
         VALUES (@id, @name, @metadata, @now, @now, @consent, @retainUntil)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, metadata = excluded.metadata,
           updated_at = excluded.updated_at, consent = excluded.consent, retain_until = excluded.retain_until`,
      )
      .run({
        id: person.id,
        name: person.name,
        metadata: JSON.stringify(person.metadata ?? {}),
        now,
        consent: person.consent ? JSON.stringify(person.consent) : null,
        retainUntil: person.retainUntil ?? null,
      });
    // A photo given as bytes, or taken from the staging area (stage()); kept once per person.
    const insertImage = this.db.prepare(
      `INSERT INTO images (person_id, sha256, source, bytes, added_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(person_id, sha256) DO UPDATE SET source = excluded.source RETURNING id`,
    );
    const insertEmbedding = this.db.prepare(
      'INSERT OR REPLACE INTO embeddings (image_id, model, vector, quality) VALUES (?, ?, ?, ?)',
    );
    for (const img of images) {
      const bytes = 'bytes' in img ? img.bytes : this.staged(person.id, img.staged);
      const hash = 'bytes' in img ? sha256(bytes) : img.staged;
      const { id } = insertImage.get(
        person.id,
        hash,
        img.source,
        this.seal(bytes, imageContext(person.id, hash)),
        now,
      ) as { id: number };
      insertEmbedding.run(
        id,
        model,
        this.seal(vectorBlob(img.embedding), embeddingContext(person.id, hash, model)),
        JSON.stringify(img.quality),
      );
    }
    const change = this.changes.put.get(person.id);
    this.changes.put.set(person.id, {
      photos: (change?.photos ?? 0) + images.length,
      ...(person.consent ? { consent: person.consent } : {}),
    });
  }

  private staged(personId: string, hash: string): Buffer {
    const row = this.staging
      ? (this.db.prepare('SELECT bytes FROM staging.photos WHERE sha256 = ?').get(hash) as
          { bytes: Buffer } | undefined)
      : undefined;
    if (!row) throw new Error(`${personId}: photo ${hash} was not staged`);
    return this.open(row.bytes, `staged:${hash}`);
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
    // Sealed too: the staging file is on disk (in the temporary folder) until the sync ends.
    this.db
      .prepare('INSERT OR IGNORE INTO staging.photos (sha256, bytes) VALUES (?, ?)')
      .run(hash, this.seal(bytes, `staged:${hash}`));
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
  replacePerson(person: PersonDetails, images: readonly NewImage[], model: string): void {
    if (this.db.prepare('DELETE FROM images WHERE person_id = ?').run(person.id).changes)
      this.changes.wiped = true;
    this.putPerson(person, images, model);
  }

  removePerson(id: string): boolean {
    const gone = this.db.prepare('DELETE FROM people WHERE id = ?').run(id).changes > 0;
    if (gone) {
      this.changes.removed.push(id);
      this.changes.put.delete(id);
    }
    return gone;
  }

  private openImages(rows: StoredImage[]): StoredImage[] {
    return rows.map((r) => ({ ...r, bytes: this.open(r.bytes, imageContext(r.personId, r.sha256)) }));
  }

  images(personId?: string): StoredImage[] {
    const sql =
      'SELECT id, person_id AS personId, sha256, source, bytes FROM images' +
      (personId ? ' WHERE person_id = ? ORDER BY id' : ' ORDER BY id');
    return this.openImages(
      (personId ? this.db.prepare(sql).all(personId) : this.db.prepare(sql).all()) as StoredImage[],
    );
  }

  /** Images that have no embedding from `model` yet: what a model change must re-embed. */
  imagesMissingEmbedding(model: string): StoredImage[] {
    return this.openImages(
      this.db
        .prepare(
          `SELECT i.id, i.person_id AS personId, i.sha256, i.source, i.bytes FROM images i
           WHERE NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.image_id = i.id AND e.model = ?) ORDER BY i.id`,
        )
        .all(model) as StoredImage[],
    );
  }

  putEmbedding(image: StoredImage, model: string, embedding: Float32Array, quality: FaceQuality): void {
    this.db
      .prepare('INSERT OR REPLACE INTO embeddings (image_id, model, vector, quality) VALUES (?, ?, ?, ?)')
      .run(
        image.id,
        model,
        this.seal(vectorBlob(embedding), embeddingContext(image.personId, image.sha256, model)),
        JSON.stringify(quality),
      );
  }

  /** Drops embeddings made by other models, once everything has one from `model`. */
  pruneEmbeddings(keepModel: string): number {
    return this.db.prepare('DELETE FROM embeddings WHERE model <> ?').run(keepModel).changes;
  }

  /** Every embedding of one person, from any model (what removal must leave nowhere). */
  personEmbeddings(personId: string): Float32Array[] {
    const rows = this.db
      .prepare(
        'SELECT i.sha256, e.model, e.vector FROM embeddings e JOIN images i ON i.id = e.image_id WHERE i.person_id = ?',
      )
      .all(personId) as { sha256: string; model: string; vector: Buffer }[];
    return rows.map((r) => blobVector(this.open(r.vector, embeddingContext(personId, r.sha256, r.model))));
  }

  /** People whose retainUntil has passed (the retention sweep removes them). */
  expiredPeople(now = new Date()): string[] {
    return (
      this.db.prepare('SELECT id, retain_until FROM people WHERE retain_until IS NOT NULL').all() as {
        id: string;
        retain_until: string;
      }[]
    )
      .filter((r) => Date.parse(r.retain_until) <= now.getTime())
      .map((r) => r.id);
  }

  /** Every embedding from `model`, with its person: what the matcher is built from. */
  entries(model: string): GalleryEntry[] {
    const rows = this.db
      .prepare(
        `SELECT p.id AS personId, p.name, i.sha256, e.vector FROM embeddings e
         JOIN images i ON i.id = e.image_id JOIN people p ON p.id = i.person_id
         WHERE e.model = ? ORDER BY p.id, i.id`,
      )
      .all(model) as { personId: string; name: string; sha256: string; vector: Buffer }[];
    return rows.map((r) => ({
      personId: r.personId,
      name: r.name,
      embedding: blobVector(this.open(r.vector, embeddingContext(r.personId, r.sha256, model))),
    }));
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
  consent: string | null;
  retain_until: string | null;
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
    ...(r.consent ? { consent: JSON.parse(r.consent) as Consent } : {}),
    ...(r.retain_until ? { retainUntil: r.retain_until } : {}),
  };
}

/** The source of every capture the door added to the gallery: `door:<camera>:<event id>`. */
export const DOOR_CAPTURE_SOURCE = 'door:';
const notCapture = (column = 'source') => `${column} NOT LIKE '${DOOR_CAPTURE_SOURCE}%'`;

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
