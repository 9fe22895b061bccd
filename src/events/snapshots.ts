// Snapshots: the face crop behind each decision, as a JPEG, kept on disk for a while and
// published on the snapshot topic, so a person looking at an event (or a Home Assistant image
// entity) sees the face it was about. They are photos of faces: files 0600 and folders 0700
// whatever the umask, and each kind of decision keeps its own for only as long as configured,
// then they are deleted.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sealer } from '../privacy/sealing.js';
import sharp from '../vision/libvips.js';
import type { RgbImage } from '../vision/image.js';

export const SNAPSHOT_KINDS = ['match', 'unknown', 'spoof'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/** A sealed snapshot's file name ends so; a plain one is a .jpg. */
const SEALED = '.jpg.sealed';
const ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * `<dir>/<kind>/<id>.jpg`, or `<dir>/<kind>/<person>/<id>.jpg` for a face that was matched to a
 * person (a match, or a spoof of someone's photo), so removing the person takes their snapshots
 * with them. With a sealer (encryption at rest) each file is sealed: `<id>.jpg.sealed`.
 */
export class SnapshotStore {
  constructor(
    private readonly dir: string,
    /** Seconds each kind is kept; 0 keeps none of that kind. */
    private readonly retention: Record<SnapshotKind, number>,
    private readonly sealer?: Sealer,
  ) {}

  /** Whether snapshots of `kind` are kept at all. */
  keeps(kind: SnapshotKind): boolean {
    return this.retention[kind] > 0;
  }

  /** The JPEG of `crop`, written (0600) and returned. */
  async save(kind: SnapshotKind, id: string, crop: RgbImage, personId?: string): Promise<Buffer> {
    const jpeg = await jpegOf(crop);
    const folder = personId ? join(this.dir, kind, personId) : join(this.dir, kind);
    // mode is masked by the umask, which only takes bits away: 0700 and 0600 stay so under any.
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    if (this.sealer)
      writeFileSync(join(folder, `${id}${SEALED}`), this.sealer.seal(jpeg, `snapshot:${id}`), {
        mode: 0o600,
      });
    else writeFileSync(join(folder, `${id}.jpg`), jpeg, { mode: 0o600 });
    return jpeg;
  }

  /**
   * A kept snapshot's JPEG by id, or undefined when there is none (any more). With `at` (the
   * decision's kind and person, which the caller knows) it opens the one file it can be;
   * without, it looks through every kind's folder.
   */
  read(id: string, at?: { kind: SnapshotKind; personId?: string | null }): Buffer | undefined {
    if (!ID.test(id)) return undefined;
    const candidates = at
      ? [join(this.dir, at.kind, ...(at.personId ? [at.personId] : []))].flatMap((folder) =>
          [`${id}.jpg`, `${id}${SEALED}`].map((name) => ({ file: join(folder, name), name })),
        )
      : [...this.files()];
    for (const { file, name } of candidates) {
      try {
        if (name === `${id}.jpg`) return readFileSync(file);
        if (name === `${id}${SEALED}` && this.sealer)
          return this.sealer.open(readFileSync(file), `snapshot:${id}`, file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return undefined;
  }

  /** Every snapshot file, with its kind. */
  private *files(): Generator<{ kind: SnapshotKind; file: string; name: string }> {
    const list = (folder: string) => {
      try {
        return readdirSync(folder, { withFileTypes: true });
      } catch {
        return []; // none of this kind yet
      }
    };
    for (const kind of SNAPSHOT_KINDS)
      for (const entry of list(join(this.dir, kind))) {
        const path = join(this.dir, kind, entry.name);
        if (entry.isDirectory())
          for (const inner of list(path))
            if (inner.isFile()) yield { kind, file: join(path, inner.name), name: inner.name };
        if (entry.isFile()) yield { kind, file: path, name: entry.name };
      }
  }

  /** Deletes the snapshots older than their kind's retention; returns how many per kind. */
  prune(now = Date.now()): Record<SnapshotKind, number> {
    const deleted = { match: 0, unknown: 0, spoof: 0 };
    for (const { kind, file } of this.files())
      if (now - statSync(file).mtimeMs > this.retention[kind] * 1000) {
        rmSync(file, { force: true });
        deleted[kind]++;
      }
    return deleted;
  }

  /** Deletes every snapshot of these people (they were removed from the gallery); returns how many. */
  wipe(personIds: readonly string[]): number {
    let deleted = 0;
    for (const kind of SNAPSHOT_KINDS)
      for (const id of personIds) {
        const folder = join(this.dir, kind, id);
        try {
          deleted += readdirSync(folder).length;
        } catch {
          continue;
        }
        rmSync(folder, { recursive: true, force: true });
      }
    return deleted;
  }
}

/** A face crop as the JPEG a snapshot (or a door capture in the gallery) keeps. */
export function jpegOf(crop: RgbImage): Promise<Buffer> {
  return sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/**
 * The face at `box` with a quarter of its size around it, cut from `frame` (raw pixels, no
 * encoding: this runs for every usable face, and only the decision's is encoded).
 */
export function faceCrop(
  frame: RgbImage,
  box: { x: number; y: number; width: number; height: number },
): RgbImage {
  const margin = 0.25;
  const x0 = Math.max(0, Math.floor(box.x - margin * box.width));
  const y0 = Math.max(0, Math.floor(box.y - margin * box.height));
  const x1 = Math.min(frame.width, Math.ceil(box.x + (1 + margin) * box.width));
  const y1 = Math.min(frame.height, Math.ceil(box.y + (1 + margin) * box.height));
  const width = Math.max(1, x1 - x0);
  const height = Math.max(1, y1 - y0);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((y0 + y) * frame.width + x0) * 3;
    data.set(frame.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { width, height, data };
}
