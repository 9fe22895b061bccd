// Files a configuration names (secrets, keys, certificates): read when needed, and a failure is
// a configuration error that names the key and the file.
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { FacegateError, readFileOrThrow } from '../errors.js';

export function readConfiguredFile(file: string, key: string): Buffer {
  return readFileOrThrow(file, 'CONFIG_INVALID', (reason) => `${key} ${file}: ${reason}`);
}

/**
 * Makes `path` a private file before anything writes to it: its folder created 0700 if missing,
 * the file created 0600 (or made 0600 if it was there before), whatever the umask. SQLite gives a
 * database's -wal and -shm files the database file's mode, so they follow. Faces and events are
 * personal data: nobody else on the box reads them.
 */
export function privateFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

/**
 * How a secret file is exposed: the words for a mode that lets the group or others read or write
 * it, with the fix; undefined when only its owner can. (A systemd credential is 0400 already.)
 */
export function exposure(file: string, key: string): string | undefined {
  let mode: number;
  try {
    mode = statSync(file).mode & 0o777;
  } catch {
    return undefined; // reading it reports what is wrong
  }
  if (!(mode & 0o077)) return undefined;
  return `${key} ${file} can be read by others than its owner (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${file}, or pass it as a systemd credential (LoadCredential=)`;
}

/**
 * Reads a secret whose leak lets someone open a door (a signing key, an access token): refused,
 * with the fix, when others than its owner can read it.
 */
export function readSecretFile(file: string, key: string): Buffer {
  const exposed = exposure(file, key);
  if (exposed) throw new FacegateError('CONFIG_INVALID', exposed);
  return readConfiguredFile(file, key);
}
