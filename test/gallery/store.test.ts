// The gallery store: transactions, versions, model tags, and what survives a SIGKILL mid-write.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GalleryStore } from '../../src/gallery/store.js';
import { EXPORT_FORMAT, parseExport } from '../../src/gallery/transfer.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-store-'));
  path = join(dir, 'gallery.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const quality = { score: 0.9, eyeDistance: 40, sharpness: 80, yaw: 1, roll: 2, outside: 0 };
const vec = (v: number) => new Float32Array(128).fill(v);
const photo = (seed: number, v = seed) => ({
  bytes: Buffer.from(`photo ${seed}`),
  source: `${seed}.jpg`,
  embedding: vec(v),
  quality,
});

describe('GalleryStore', () => {
  it('stores people, photos and embeddings per model, and bumps the version once per write', () => {
    const store = new GalleryStore(path);
    expect(store.version).toBe(0);
    store.write(() =>
      store.putPerson({ id: 'ann', name: 'Ann', metadata: { flat: 3 } }, [photo(1), photo(2)], 'model-a'),
    );
    expect(store.version).toBe(1);
    expect(store.getPerson('ann')).toMatchObject({
      id: 'ann',
      name: 'Ann',
      metadata: { flat: 3 },
      images: 2,
    });
    expect(store.entries('model-a').map((e) => e.embedding[0])).toEqual([1, 2]);
    expect(store.entries('model-b')).toEqual([]);
    // The same photo again is kept once.
    store.write(() => store.putPerson({ id: 'ann', name: 'Ann B.' }, [photo(1)], 'model-a'));
    expect(store.version).toBe(2);
    expect(store.getPerson('ann')).toMatchObject({ name: 'Ann B.', images: 2 });
    expect(store.write(() => store.removePerson('ann'))).toBe(true);
    expect(store.listPeople()).toEqual([]);
    expect(store.images()).toEqual([]); // photos and embeddings go with the person
    store.close();
  });

  it('finds photos a new model has not embedded, and prunes the old model', () => {
    const store = new GalleryStore(path);
    store.write(() => store.putPerson({ id: 'bob', name: 'Bob' }, [photo(1)], 'model-a'));
    const missing = store.imagesMissingEmbedding('model-b');
    expect(missing.map((i) => i.personId)).toEqual(['bob']);
    expect(missing[0]!.bytes.toString()).toBe('photo 1'); // the enrollment photo itself is kept
    store.write(() => {
      store.putEmbedding(missing[0]!, 'model-b', vec(7), quality);
      store.pruneEmbeddings('model-b');
    });
    expect(store.imagesMissingEmbedding('model-b')).toEqual([]);
    expect(store.entries('model-a')).toEqual([]);
    expect(store.entries('model-b')[0]!.embedding[0]).toBe(7);
    store.close();
  });

  it('rolls back a write that throws: nothing of it remains, the version is unchanged', () => {
    const store = new GalleryStore(path);
    store.write(() => store.putPerson({ id: 'a', name: 'A' }, [photo(1)], 'm'));
    expect(() =>
      store.write(() => {
        store.putPerson({ id: 'b', name: 'B' }, [photo(2)], 'm');
        throw new Error('disk on fire');
      }),
    ).toThrow('disk on fire');
    expect(store.listPeople().map((p) => p.id)).toEqual(['a']);
    expect(store.version).toBe(1);
    store.close();
  });

  it('stores a staged photo whole, refuses one that was not staged, and keeps staging out of the gallery file', () => {
    const store = new GalleryStore(path);
    const big = Buffer.alloc(256 * 1024, 7);
    const staged = store.stage(big);
    expect(store.stagedCount).toBe(1);
    store.write(() =>
      store.putPerson({ id: 'a', name: 'A' }, [{ staged, source: 'a.jpg', embedding: vec(1), quality }], 'm'),
    );
    expect(store.images('a')[0]!.bytes.equals(big)).toBe(true);
    expect(() =>
      store.write(() =>
        store.putPerson(
          { id: 'b', name: 'B' },
          [{ staged: 'f'.repeat(64), source: 'b.jpg', embedding: vec(2), quality }],
          'm',
        ),
      ),
    ).toThrow(/b: photo f+ was not staged/);
    expect(store.listPeople().map((p) => p.id)).toEqual(['a']);
    store.clearStaged();
    expect(store.stagedCount).toBe(0);
    // The gallery file holds the photo once (in images), not a staged copy.
    const db = new Database(path, { readonly: true });
    expect(
      db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all(),
    ).toEqual(['embeddings', 'images', 'meta', 'people']);
    db.close();
    store.close();
  });

  it('refuses invalid person ids with the rule', () => {
    const store = new GalleryStore(path);
    expect(() => store.write(() => store.putPerson({ id: '../etc', name: 'x' }, [], 'm'))).toThrow(
      /person id "\.\.\/etc": use 1-128 letters/,
    );
    store.close();
  });

  it('names a file that is not a gallery', () => {
    const bad = join(dir, 'bad.sqlite');
    writeFileSync(bad, 'not a database at all, just text'.repeat(100));
    expect(() => new GalleryStore(bad)).toThrow(/bad\.sqlite: cannot open the gallery/);
  });

  async function runWriter(mode: 'KILL' | 'COMMIT'): Promise<void> {
    // node itself with tsx as a loader: the tsx wrapper would leave its node child alive on SIGKILL.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'test/gallery/crash-writer.ts'), path, mode],
      {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (mode === 'KILL' && out.includes('IN_TRANSACTION')) child.kill('SIGKILL');
      });
      child.on('exit', (code, signal) => {
        if (mode === 'KILL' && signal === 'SIGKILL') resolve();
        else if (mode === 'COMMIT' && code === 0 && out.includes('COMMITTED')) resolve();
        else reject(new Error(`writer ended with ${code ?? signal}: ${out}`));
      });
    });
  }

  it('after SIGKILL in the middle of a write, holds the old gallery; after a commit, the new one', async () => {
    const before = new GalleryStore(path);
    before.write(() => before.putPerson({ id: 'resident', name: 'Resident' }, [photo(1)], 'model-a'));
    before.close();

    await runWriter('KILL');
    const afterKill = new GalleryStore(path);
    expect(afterKill.version).toBe(1);
    expect(afterKill.listPeople().map((p) => p.id)).toEqual(['resident']);
    afterKill.close();
    const check = new Database(path);
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    check.close();

    await runWriter('COMMIT');
    const afterCommit = new GalleryStore(path);
    expect(afterCommit.version).toBe(2);
    expect(afterCommit.listPeople()).toHaveLength(102);
    afterCommit.close();
  });
});

describe('what a person may be', () => {
  it('refuses control characters and direction overrides in names and metadata, storing nothing', () => {
    const store = new GalleryStore(path);
    const put =
      (person: { id: string; name: string; metadata?: Record<string, unknown> }, images = [photo(1)]) =>
      () =>
        store.write(() => store.putPerson(person, images, 'model-a'));
    expect(put({ id: 'eve', name: '\u001b[31mEve\u001b[0m' })).toThrow(
      /person "eve": the name must be 1 to 200 printable characters .* not "\\u001b\[31mEve\\u001b\[0m"/,
    );
    expect(put({ id: 'eve', name: 'Eve\u202egnp.exe' })).toThrow(/printable characters/);
    expect(put({ id: 'eve', name: '' })).toThrow(/printable characters/);
    expect(put({ id: 'eve', name: 'Eve', metadata: { note: 'hi\u0007' } })).toThrow(
      /metadata metadata\.note holds a control character/,
    );
    expect(put({ id: 'eve', name: 'Eve', metadata: { 'a\nb': 1 } })).toThrow(/metadata key "a\\nb"/);
    expect(store.peopleCount).toBe(0);
    expect(store.version).toBe(0);
    put({ id: 'eve', name: 'Ève Müller-Łukasz 李' })();
    expect(store.getPerson('eve')?.name).toBe('Ève Müller-Łukasz 李');
    store.close();
  });

  it('refuses an export with a person without a photo, or with a control character in a name', () => {
    const doc = (person: Record<string, unknown>) =>
      JSON.stringify({ format: EXPORT_FORMAT, version: 1, people: [person] });
    expect(() => parseExport(doc({ id: 'bob', name: 'Bob', images: [] }), 'g.json')).toThrow(
      /g\.json: people\[0\] \(bob\): no photo/,
    );
    expect(() => parseExport(doc({ id: 'bob', name: 'B\u0000b', images: [] }), 'g.json')).toThrow(
      /printable/,
    );
  });
});

describe('removing a person', () => {
  it('leaves the bytes of their photo and embedding in no file under the gallery folder', () => {
    const store = new GalleryStore(path);
    const bytes = randomBytes(64 * 1024); // a photo spills over many pages
    const embedding = new Float32Array(128).map((_, i) => Math.sin(i + 0.5));
    const anns = { bytes, source: 'ann.jpg', embedding, quality };
    store.write(() => store.putPerson({ id: 'ann', name: 'Ann' }, [anns], 'model-a'));
    store.write(() => store.putPerson({ id: 'bob', name: 'Bob' }, [photo(2)], 'model-a'));
    const everything = () => Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
    const needles = [bytes.subarray(30_000, 30_064), Buffer.from(embedding.buffer).subarray(64, 128)];
    for (const n of needles) expect(everything().includes(n)).toBe(true); // the search finds them while stored
    expect(store.write(() => store.removePerson('ann'))).toBe(true);
    for (const n of needles) expect(everything().includes(n)).toBe(false);
    expect(store.getPerson('bob')).toBeDefined();
    store.close();
    for (const n of needles) expect(everything().includes(n)).toBe(false);
  });
});

describe('door captures', () => {
  const capture = (n: number) => ({
    bytes: randomBytes(32 * 1024),
    source: `door:front:event-${n}`,
    embedding: vec(10 + n),
    quality,
  });

  it('keeps the newest maxPerPerson captures beside the enrolled photos, which alone a sync compares', () => {
    const store = new GalleryStore(path);
    store.write(() =>
      store.putPerson({ id: 'ann', name: 'Ann', metadata: { flat: 3 } }, [photo(1)], 'model-a'),
    );
    const enrolledHashes = store.imageHashes('ann');
    const captures = [1, 2, 3].map(capture);
    for (const c of captures) store.write(() => store.addDoorCapture('ann', c, 'model-a', 2));
    expect(store.images('ann').map((i) => i.source)).toEqual([
      '1.jpg',
      'door:front:event-2',
      'door:front:event-3',
    ]);
    expect(store.doorCaptures('ann').map((c) => c.source)).toEqual([
      'door:front:event-2',
      'door:front:event-3',
    ]);
    expect(store.imageHashes('ann')).toEqual(enrolledHashes);
    expect(store.enrolledEmbeddings('ann', 'model-a').map((e) => e[0])).toEqual([1]);
    expect(store.entries('model-a').map((e) => e.embedding[0])).toEqual([1, 12, 13]); // all of them match
    expect(store.getPerson('ann')).toMatchObject({ name: 'Ann', metadata: { flat: 3 }, images: 3 });
    // The dropped capture's bytes are in no file any more.
    const everything = () => Buffer.concat(readdirSync(dir).map((f) => readFileSync(join(dir, f))));
    expect(everything().includes(captures[0]!.bytes.subarray(1000, 1064))).toBe(false);
    expect(everything().includes(captures[2]!.bytes.subarray(1000, 1064))).toBe(true);
    // One taken out (its match marked wrong): the others stay.
    expect(store.write(() => store.removeDoorCapture('ann', 'door:front:event-2'))).toBe(true);
    expect(store.write(() => store.removeDoorCapture('ann', '1.jpg'))).toBe(false); // not a capture
    expect(store.images('ann').map((i) => i.source)).toEqual(['1.jpg', 'door:front:event-3']);
    // New photos from the source: the captures were judged against the old ones and go with them.
    store.write(() => store.replacePerson({ id: 'ann', name: 'Ann' }, [photo(4)], 'model-a'));
    expect(store.images('ann').map((i) => i.source)).toEqual(['4.jpg']);
    expect(everything().includes(captures[2]!.bytes.subarray(1000, 1064))).toBe(false);
    store.close();
  });

  it('takes no capture with the bytes of a photo the person has: the photo stays an enrolled one', () => {
    const store = new GalleryStore(path);
    store.write(() => store.putPerson({ id: 'ann', name: 'Ann' }, [photo(1)], 'model-a'));
    const same = { ...capture(1), bytes: photo(1).bytes };
    expect(store.write(() => store.addDoorCapture('ann', same, 'model-a', 3))).toBe(false);
    expect(store.images('ann').map((i) => i.source)).toEqual(['1.jpg']);
    expect(store.imageHashes('ann')).toHaveLength(1);
    store.close();
  });

  it('refuses a capture for somebody not enrolled, or whose source is not a door, storing nothing', () => {
    const store = new GalleryStore(path);
    store.write(() => store.putPerson({ id: 'ann', name: 'Ann' }, [photo(1)], 'model-a'));
    expect(() => store.write(() => store.addDoorCapture('bob', capture(1), 'model-a', 3))).toThrow(
      'bob: not enrolled',
    );
    expect(() =>
      store.write(() => store.addDoorCapture('ann', { ...capture(1), source: 'x.jpg' }, 'model-a', 3)),
    ).toThrow('must start with door:');
    expect(store.images().map((i) => i.source)).toEqual(['1.jpg']);
    expect(store.version).toBe(1);
    store.close();
  });
});
