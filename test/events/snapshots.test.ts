// Snapshot files: photos of faces, so 0600 in 0700 folders whatever the umask, deleted when
// their kind's time is up, and cut from the frame around the face.
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { faceCrop, SnapshotStore } from '../../src/events/snapshots.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-snapshots-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const crop = { width: 8, height: 6, data: new Uint8Array(8 * 6 * 3).fill(120) };

describe('snapshots', () => {
  it('are written 0600 in 0700 folders with umask 022 (and 000), and deleted after their retention', async () => {
    const old = process.umask(0o022);
    try {
      const store = new SnapshotStore(join(dir, 'a'), { match: 60, unknown: 1, spoof: 0 });
      const jpeg = await store.save('match', 'm1', crop);
      expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      expect(readFileSync(join(dir, 'a/match/m1.jpg'))).toEqual(jpeg);
      expect(statSync(join(dir, 'a/match/m1.jpg')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'a/match')).mode & 0o777).toBe(0o700);
      process.umask(0);
      await store.save('unknown', 'u1', crop);
      expect(statSync(join(dir, 'a/unknown/u1.jpg')).mode & 0o777).toBe(0o600);
      expect(store.keeps('spoof')).toBe(false);
      // Ten seconds on: the unknown face (1 s) goes, the match (60 s) stays.
      expect(store.prune(Date.now() + 10_000)).toEqual({ match: 0, unknown: 1, spoof: 0 });
      expect(() => statSync(join(dir, 'a/unknown/u1.jpg'))).toThrow();
      expect(statSync(join(dir, 'a/match/m1.jpg')).isFile()).toBe(true);
      // An hour on, by the file's own time (a restart does not reset it).
      utimesSync(
        join(dir, 'a/match/m1.jpg'),
        new Date(Date.now() - 3600_000),
        new Date(Date.now() - 3600_000),
      );
      expect(store.prune()).toEqual({ match: 1, unknown: 0, spoof: 0 });
    } finally {
      process.umask(old);
    }
  });

  it('cuts the face with a quarter of its size around it, inside the frame', () => {
    const frame = { width: 10, height: 10, data: new Uint8Array(300) };
    for (let i = 0; i < 100; i++) frame.data.fill(i, i * 3, i * 3 + 3);
    const c = faceCrop(frame, { x: 4, y: 4, width: 4, height: 4 });
    expect(c).toMatchObject({ width: 6, height: 6 });
    expect(c.data[0]).toBe(33); // (3, 3)
    const edge = faceCrop(frame, { x: 0, y: 0, width: 4, height: 4 });
    expect(edge).toMatchObject({ width: 5, height: 5 });
    expect(edge.data[0]).toBe(0);
  });
});
