// Snapshots: the face crop behind each decision, as a JPEG, kept on disk for a while and
// published on the snapshot topic, so a person looking at an event (or a Home Assistant image
// entity) sees the face it was about. They are photos of faces: files 0600 and folders 0700
// whatever the umask, and each kind of decision keeps its own for only as long as configured,
// then they are deleted.
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from '../vision/libvips.js';
import type { RgbImage } from '../vision/image.js';

export const SNAPSHOT_KINDS = ['match', 'unknown', 'spoof'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

export class SnapshotStore {
  constructor(
    private readonly dir: string,
    /** Seconds each kind is kept; 0 keeps none of that kind. */
    private readonly retention: Record<SnapshotKind, number>,
  ) {}

  /** Whether snapshots of `kind` are kept at all. */
  keeps(kind: SnapshotKind): boolean {
    return this.retention[kind] > 0;
  }

  /** The JPEG of `crop`, written as `<dir>/<kind>/<id>.jpg` (0600); returns its bytes. */
  async save(kind: SnapshotKind, id: string, crop: RgbImage): Promise<Buffer> {
    const jpeg = await sharp(crop.data, { raw: { width: crop.width, height: crop.height, channels: 3 } })
      .jpeg({ quality: 85 })
      .toBuffer();
    const folder = join(this.dir, kind);
    // mode is masked by the umask, which only takes bits away: 0700 and 0600 stay so under any.
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    writeFileSync(join(folder, `${id}.jpg`), jpeg, { mode: 0o600 });
    return jpeg;
  }

  /** Deletes the snapshots older than their kind's retention; returns how many. */
  prune(now = Date.now()): number {
    let deleted = 0;
    for (const kind of SNAPSHOT_KINDS) {
      const folder = join(this.dir, kind);
      let names: string[];
      try {
        names = readdirSync(folder);
      } catch {
        continue; // none of this kind yet
      }
      for (const name of names) {
        const file = join(folder, name);
        if (now - statSync(file).mtimeMs > this.retention[kind] * 1000) {
          rmSync(file, { force: true });
          deleted++;
        }
      }
    }
    return deleted;
  }
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
