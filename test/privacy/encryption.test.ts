// Encryption at rest, as an installer meets it through the facegate command: no photo, embedding
// or snapshot byte in plain text anywhere under the state directory; a missing, wrong or exposed
// key stops with exit 78 naming it; the key rotates without re-enrolling; a plain gallery is
// sealed when encryption is turned on; removal with --verify proves the bytes are gone.
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Outbox } from '../../src/events/outbox.js';
import { vectorBlob } from '../../src/gallery/store.js';
import { keySource } from '../../src/privacy/sealing.js';
import { cliActor, PrivateState } from '../../src/privacy/state.js';
import { filesHolding, needles } from '../../src/privacy/traces.js';
import { faceCrop } from '../helpers/faces.js';

const root = mkdtempSync(join(tmpdir(), 'fg-encryption-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let photoA: string;
let photoB: string;
let photoBytes: Buffer;
const crop = { width: 40, height: 40, data: new Uint8Array(randomBytes(40 * 40 * 3)) };

function keyFile(name: string, mode = 0o600): string {
  const file = join(root, name);
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode });
  chmodSync(file, mode);
  return file;
}

/** A config file for this state directory and key. */
function configFile(stateDir: string, keyFile?: string): string {
  const file = join(root, `config-${Math.random()}.json`);
  writeFileSync(file, JSON.stringify({ stateDir, ...(keyFile ? { encryption: { keyFile } } : {}) }));
  return file;
}

async function cli(config: string, ...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['--config', config, ...argv], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out, err: err.join('\n') };
}

/** Pieces of ann's photo, her embeddings (read through the store) and `extra`. */
function traces(stateDir: string, key: string | undefined, extra: Buffer[] = []): Buffer[] {
  const state = new PrivateState(
    {
      encryption: { keyFile: key ?? '', credential: '' },
      snapshots: { keepSeconds: { match: 60, unknown: 60, spoof: 60 } },
    },
    stateDir,
  );
  const store = state.gallery(cliActor());
  const vectors = store.personEmbeddings('ann');
  store.close();
  state.close();
  expect(vectors.length).toBeGreaterThan(0);
  return [
    ...needles(photoBytes),
    ...vectors.flatMap((v) => needles(vectorBlob(v), 128)),
    ...extra.flatMap((b) => needles(b)),
  ];
}

function* walk(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    yield p;
    if (e.isDirectory()) yield* walk(p);
  }
}

beforeAll(async () => {
  photoBytes = await faceCrop(0);
  photoA = join(root, 'ann.png');
  photoB = join(root, 'bob.png');
  writeFileSync(photoA, photoBytes);
  writeFileSync(photoB, await faceCrop(1));
});

describe('encryption at rest', () => {
  it('leaves no photo, embedding, snapshot or queued-event byte in plain text; every file 0600', async () => {
    const old = process.umask(0o022);
    try {
      const stateDir = join(root, 'sealed');
      const key = keyFile('key-sealed');
      const config = configFile(stateDir, key);
      expect((await cli(config, 'enroll', '--id', 'ann', '--name', 'Ann', photoA)).code).toBe(0);
      expect((await cli(config, 'enroll', '--id', 'bob', '--name', 'Bob', photoB)).code).toBe(0);
      // What the daemon writes beside the gallery: a snapshot of ann, and an event carrying it.
      const state = new PrivateState(
        {
          encryption: { keyFile: key, credential: '' },
          snapshots: { keepSeconds: { match: 60, unknown: 60, spoof: 60 } },
        },
        stateDir,
      );
      const jpeg = await state.snapshots.save('match', 'snap1', crop, 'ann');
      expect(state.snapshots.read('snap1')).toEqual(jpeg);
      const outbox = new Outbox(join(stateDir, 'outbox.sqlite'), {
        maxEvents: 10,
        fsync: false,
        sealer: state.sealers!.data,
      });
      outbox.add('snapshot', 'facegate/x/snapshot/snap1', jpeg);
      expect(outbox.after(0, 10)[0]!.payload).toEqual(jpeg);
      outbox.close();
      state.close();
      const exported = await cli(config, 'gallery', 'export', join(stateDir, 'gallery-export'));
      expect(JSON.parse(exported.out[0]!)).toMatchObject({ exported: 2, encrypted: true });

      const pieces = traces(stateDir, key, [jpeg]);
      expect(filesHolding(stateDir, pieces)).toEqual([]);
      // The search finds them where they are in plain: a plain export (outside the state directory).
      const plain = join(root, 'plain-export.json');
      expect((await cli(config, 'gallery', 'export', '--plain', plain)).code).toBe(0);
      writeFileSync(join(root, 'photo-copy'), photoBytes);
      expect(filesHolding(root, needles(photoBytes)).map((f) => f.slice(root.length + 1))).toContain(
        'photo-copy',
      );

      for (const path of walk(stateDir))
        expect(statSync(path).mode & 0o777, path).toBe(statSync(path).isDirectory() ? 0o700 : 0o600);
      const list = await cli(config, 'gallery', 'list', '--json');
      expect(JSON.parse(list.out[0]!)).toMatchObject({
        encrypted: true,
        people: [{ id: 'ann' }, { id: 'bob' }],
      });
      // The encrypted export comes back in, on another state directory with the same key.
      const other = configFile(join(root, 'other'), key);
      const imported = await cli(other, 'gallery', 'import', join(stateDir, 'gallery-export'));
      expect(imported.code, imported.err).toBe(0);
      expect(JSON.parse(imported.out[0]!)).toMatchObject({ imported: 2 });
    } finally {
      process.umask(old);
    }
  });

  it('exits 78 naming the key when it is missing, malformed, exposed or wrong, and without one when data is sealed', async () => {
    const stateDir = join(root, 'keys');
    const key = keyFile('key-keys');
    expect(
      (await cli(configFile(stateDir, key), 'enroll', '--id', 'ann', '--name', 'Ann', photoA)).code,
    ).toBe(0);
    const cases: [string | undefined, RegExp][] = [
      [join(root, 'no-such-key'), /encryption\.keyFile: cannot read .*no-such-key: no such file/],
      [keyFile('key-exposed', 0o644), /encryption\.keyFile .*key-exposed can be read by others .*chmod 600/],
      [keyFile('key-other'), /encryption\.keyFile .*key-other: not the key that sealed .*keyring\.json/],
      [undefined, /holds encrypted data \(keyring\.json\): configure its key/],
    ];
    const malformed = join(root, 'key-short');
    writeFileSync(malformed, 'secret\n', { mode: 0o600 });
    cases.push([malformed, /key-short: not a 256-bit key .*openssl rand -hex 32/]);
    for (const [file, message] of cases) {
      const r = await cli(configFile(stateDir, file), 'gallery', 'list');
      expect(r.code, String(file)).toBe(78);
      expect(r.err).toMatch(message);
    }
    // The daemon stops the same way, before loading anything.
    const run = await cli(configFile(stateDir, keyFile('key-run')), 'run');
    expect(run.code).toBe(78);
    expect(run.err).toMatch(/not the key that sealed/);
  });

  it('reads the key from a systemd credential, and says what is missing without one', () => {
    const credentials = mkdtempSync(join(root, 'creds-'));
    writeFileSync(join(credentials, 'facegate-key'), randomBytes(32), { mode: 0o400 }); // 32 raw bytes, as systemd leaves it
    expect(
      keySource({ keyFile: '', credential: 'facegate-key' }, { CREDENTIALS_DIRECTORY: credentials }),
    ).toEqual({
      file: join(credentials, 'facegate-key'),
      key: 'encryption.credential facegate-key',
    });
    expect(() => keySource({ keyFile: '', credential: 'facegate-key' }, {})).toThrow(
      /encryption\.credential "facegate-key": \$CREDENTIALS_DIRECTORY is not set .*LoadCredentialEncrypted=/,
    );
    const stateDir = join(root, 'credential');
    const state = new PrivateState(
      {
        encryption: { keyFile: join(credentials, 'facegate-key'), credential: '' },
        snapshots: { keepSeconds: { match: 1, unknown: 1, spoof: 1 } },
      },
      stateDir,
    );
    expect(state.sealers).toBeDefined();
    state.close();
  });

  it('rotates the key: the new one opens everything, the old one no longer does, nothing re-enrolled', async () => {
    const stateDir = join(root, 'rotate');
    const k1 = keyFile('key-1');
    const k2 = keyFile('key-2');
    expect((await cli(configFile(stateDir, k1), 'enroll', '--id', 'ann', '--name', 'Ann', photoA)).code).toBe(
      0,
    );
    const before = JSON.parse((await cli(configFile(stateDir, k1), 'gallery', 'list', '--json')).out[0]!) as {
      galleryVersion: number;
    };
    const rotated = await cli(configFile(stateDir, k1), 'key', 'rotate', '--new-key-file', k2);
    expect(rotated.code, rotated.err).toBe(0);
    const after = await cli(configFile(stateDir, k2), 'gallery', 'list', '--json');
    expect(after.code).toBe(0);
    expect(JSON.parse(after.out[0]!)).toMatchObject({
      galleryVersion: before.galleryVersion, // no write: nothing re-encrypted or re-enrolled
      people: [{ id: 'ann', images: 1 }],
    });
    expect((await cli(configFile(stateDir, k1), 'gallery', 'list')).code).toBe(78);
    const audit = await cli(configFile(stateDir, k2), 'audit', 'export');
    expect(audit.out.map((l) => (JSON.parse(l) as { kind?: string }).kind)).toContain('key.rotate');
    expect(
      (await cli(configFile(stateDir, k2), 'key', 'rotate', '--new-key-file', join(root, 'nope'))).code,
    ).toBe(78);
  });

  it('seals a plain gallery when encryption is turned on, leaving none of its plain bytes', async () => {
    const stateDir = join(root, 'migrate');
    expect((await cli(configFile(stateDir), 'enroll', '--id', 'ann', '--name', 'Ann', photoA)).code).toBe(0);
    const plainPieces = traces(stateDir, undefined);
    expect(filesHolding(stateDir, plainPieces).length).toBeGreaterThan(0);
    const key = keyFile('key-migrate');
    const list = await cli(configFile(stateDir, key), 'gallery', 'list', '--json');
    expect(JSON.parse(list.out[0]!)).toMatchObject({ encrypted: true, people: [{ id: 'ann' }] });
    expect(filesHolding(stateDir, plainPieces)).toEqual([]);
  });
});

describe('facegate gallery remove --verify', () => {
  it.each([
    ['unencrypted', false],
    ['encrypted', true],
  ])('%s: wipes the person, their snapshots, and proves their bytes are in no file', async (_, sealed) => {
    const stateDir = join(root, `remove-${sealed}`);
    const key = sealed ? keyFile(`key-remove`) : undefined;
    const config = configFile(stateDir, key);
    expect((await cli(config, 'enroll', '--id', 'ann', '--name', 'Ann', photoA)).code).toBe(0);
    expect((await cli(config, 'enroll', '--id', 'bob', '--name', 'Bob', photoB)).code).toBe(0);
    const state = new PrivateState(
      {
        encryption: { keyFile: key ?? '', credential: '' },
        snapshots: { keepSeconds: { match: 60, unknown: 60, spoof: 60 } },
      },
      stateDir,
    );
    const jpeg = await state.snapshots.save('match', 'annsnap', crop, 'ann');
    await state.snapshots.save('match', 'bobsnap', crop, 'bob');
    // A pair marked wrong in the console holds a copy of her photo too.
    state.marked.add(
      {
        attempt: 'annsnap',
        person: 'ann',
        same: true,
        distance: null,
        by: 'api:admin',
        at: new Date().toISOString(),
      },
      jpeg,
      { sha256: 'a'.repeat(64), bytes: photoBytes },
    );
    state.close();
    const pieces = traces(stateDir, key, [jpeg]);
    if (!sealed) expect(filesHolding(stateDir, pieces).length).toBeGreaterThan(0);

    const r = await cli(config, 'gallery', 'remove', '--verify', 'ann');
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out[0]!)).toMatchObject({ removed: 'ann', verified: true, holding: [] });
    expect(filesHolding(stateDir, needles(photoBytes))).toEqual([]);
    const after = new PrivateState(
      {
        encryption: { keyFile: key ?? '', credential: '' },
        snapshots: { keepSeconds: { match: 60, unknown: 60, spoof: 60 } },
      },
      stateDir,
    );
    expect(after.snapshots.read('annsnap')).toBeUndefined();
    expect(after.snapshots.read('bobsnap')).toBeDefined();
    expect(after.marked.list()).toEqual([]);
    // Who removed ann, in the audit log.
    expect(
      after.audit
        .range()
        .filter((e) => e.subject === 'ann')
        .map((e) => [e.actor, e.details.change]),
    ).toEqual([
      [cliActor(), 'put'],
      [cliActor(), 'removed'],
    ]);
    after.close();
    expect((await cli(config, 'gallery', 'remove', 'ann')).code).toBe(2);
  });
});
