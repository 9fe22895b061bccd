// What facegate writes is its own: the gallery, the outbox, exports, with umask 022 (a shell's
// usual) or 000, and SQLite's -wal and -shm files too; a signing key others can read is refused,
// naming the file and the fix.
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exposure, readSecretFile } from '../../src/config/files.js';
import { loadConfig } from '../../src/config/schema.js';
import { writeFileOrThrow } from '../../src/errors.js';
import { Outbox } from '../../src/events/outbox.js';
import { signingKey } from '../../src/events/from-config.js';
import { GalleryStore } from '../../src/gallery/store.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-private-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const mode = (p: string) => statSync(p).mode & 0o777;

describe('private files', () => {
  it.each([0o022, 0o000])('creates every state file 0600 and its folder 0700 with umask %o', (umask) => {
    const old = process.umask(umask);
    try {
      const state = join(dir, `state-${umask}`, 'facegate');
      const store = new GalleryStore(join(state, 'gallery.sqlite'));
      store.setState('touched', 'yes'); // a write: the WAL and its index exist now
      const outbox = new Outbox(join(state, 'outbox.sqlite'), { maxEvents: 10, fsync: false });
      outbox.add('match', 't', '{}');
      writeFileOrThrow(join(state, 'export.json'), '{}');
      expect(mode(state)).toBe(0o700);
      const files = readdirSync(state);
      expect(files).toEqual(
        expect.arrayContaining(['gallery.sqlite', 'gallery.sqlite-wal', 'outbox.sqlite-wal']),
      );
      for (const f of files) expect(mode(join(state, f)), f).toBe(0o600);
      store.close();
      outbox.close();
    } finally {
      process.umask(old);
    }
  });

  it('makes a gallery or export that an older version left 0644 private', () => {
    const file = join(dir, 'old.sqlite');
    writeFileSync(file, '');
    chmodSync(file, 0o644);
    new GalleryStore(file).close();
    expect(mode(file)).toBe(0o600);
    const exported = join(dir, 'old-export.json');
    writeFileSync(exported, '[]');
    chmodSync(exported, 0o644);
    writeFileOrThrow(exported, '{}');
    expect(mode(exported)).toBe(0o600);
  });

  it('refuses a signing key others can read, naming the file and the fix; takes it at 0600', () => {
    const key = join(dir, 'signing.key');
    writeFileSync(key, 'k'.repeat(32));
    chmodSync(key, 0o644);
    const c = loadConfig(undefined, { FACEGATE_MQTT_SIGNING_KEY_FILE: key });
    expect(() => signingKey(c)).toThrow(
      new RegExp(
        `mqtt\\.signingKeyFile ${key} can be read by others than its owner \\(mode 0644\\): chmod 600 ${key}`,
      ),
    );
    expect(exposure(key, 'k')).toMatch(/LoadCredential/);
    chmodSync(key, 0o600);
    expect(signingKey(c)?.length).toBe(32);
    expect(exposure(key, 'k')).toBeUndefined();
    chmodSync(key, 0o660); // the group is others too
    expect(() => readSecretFile(key, 'token')).toThrow(/mode 0660/);
  });
});
