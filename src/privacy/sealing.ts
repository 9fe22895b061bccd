// Encryption at rest of everything biometric: enrollment photos and embeddings in the gallery,
// snapshots, the outbox's payloads (they carry face crops) and exports. AES-256-GCM with a random
// data key; the data key is kept in <stateDir>/keyring.json sealed (AES-256-GCM again) by the
// key-encryption key, which comes from a file or a systemd credential (LoadCredentialEncrypted=,
// sealed by the TPM where the board has one). Rotating the key-encryption key re-seals the data
// key only: nothing biometric is re-encrypted or re-enrolled.
//
// Each box names what it holds (its context, e.g. "image:ann:<sha256>") as associated data, so a
// box moved to another row or file does not open. A missing or wrong key stops facegate with
// exit 78; there is no plain fallback.
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { FacegateError, readFileOrThrow, writeFileOrThrow } from '../errors.js';
import { privateFile, readSecretFile } from '../config/files.js';

const MAGIC = Buffer.from('FGE1');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER = MAGIC.length + IV_BYTES + TAG_BYTES;

function gcmSeal(key: Buffer, plain: Uint8Array, context: string): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context));
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return Buffer.concat([MAGIC, iv, cipher.getAuthTag(), body]);
}

/** undefined when the box does not open with this key and context. */
function gcmOpen(key: Buffer, box: Buffer, context: string): Buffer | undefined {
  if (box.length < HEADER || !box.subarray(0, MAGIC.length).equals(MAGIC)) return undefined;
  const decipher = createDecipheriv('aes-256-gcm', key, box.subarray(MAGIC.length, MAGIC.length + IV_BYTES));
  decipher.setAAD(Buffer.from(context));
  decipher.setAuthTag(box.subarray(MAGIC.length + IV_BYTES, HEADER));
  try {
    return Buffer.concat([decipher.update(box.subarray(HEADER)), decipher.final()]);
  } catch {
    return undefined;
  }
}

export const isSealed = (b: Uint8Array): boolean =>
  b.length >= HEADER && Buffer.from(b.buffer, b.byteOffset, MAGIC.length).equals(MAGIC);

/** Seals and opens with the data key. */
export class Sealer {
  constructor(private readonly dataKey: Buffer) {}

  seal(plain: Uint8Array, context: string): Buffer {
    return gcmSeal(this.dataKey, plain, context);
  }

  /** `where` names the file or row in the error when the box does not open. */
  open(box: Buffer, context: string, where: string): Buffer {
    const plain = gcmOpen(this.dataKey, box, context);
    if (!plain)
      throw new FacegateError(
        'GALLERY_INVALID',
        `${where}: encrypted data does not open with the data key (changed, moved, or not facegate's)`,
      );
    return plain;
  }
}

export const KEYRING_FILE = 'keyring.json';

type Keyring = {
  format: 'facegate-keyring';
  version: 1;
  /** Which key-encryption key sealed it: a hash, so a wrong key is told from a damaged keyring. */
  keyId: string;
  sealed: string;
  createdAt: string;
  rotatedAt?: string;
};

const keyId = (kek: Buffer) =>
  createHash('sha256').update('facegate key id\n').update(kek).digest('hex').slice(0, 16);

/**
 * A key-encryption key from a file: 32 bytes, raw, as 64 hex digits or as base64
 * (`openssl rand -hex 32 > key`, or `systemd-creds encrypt`ed the same way).
 */
export function readKeyFile(file: string, key: string): Buffer {
  const raw = readSecretFile(file, key);
  const text = raw.toString('utf8').trim();
  const kek =
    raw.length === 32
      ? raw
      : /^[0-9a-fA-F]{64}$/.test(text)
        ? Buffer.from(text, 'hex')
        : /^[A-Za-z0-9+/]{43}=$/.test(text)
          ? Buffer.from(text, 'base64')
          : undefined;
  if (!kek)
    throw new FacegateError(
      'CONFIG_INVALID',
      `${key} ${file}: not a 256-bit key (32 raw bytes, 64 hex digits or base64); make one with: openssl rand -hex 32 > ${file}`,
    );
  return kek;
}

export type KeySource = { file: string; key: string };

/**
 * Where the key-encryption key comes from, by the configuration: `encryption.keyFile`, or the
 * systemd credential `encryption.credential` (in $CREDENTIALS_DIRECTORY). undefined: encryption off.
 */
export function keySource(
  enc: { keyFile: string; credential: string },
  env: NodeJS.ProcessEnv = process.env,
): KeySource | undefined {
  if (enc.keyFile) return { file: enc.keyFile, key: 'encryption.keyFile' };
  if (!enc.credential) return undefined;
  const dir = env.CREDENTIALS_DIRECTORY;
  if (!dir)
    throw new FacegateError(
      'CONFIG_INVALID',
      `encryption.credential "${enc.credential}": $CREDENTIALS_DIRECTORY is not set (run under systemd with LoadCredentialEncrypted=${enc.credential}:..., or use encryption.keyFile)`,
    );
  return { file: join(dir, enc.credential), key: `encryption.credential ${enc.credential}` };
}

function readKeyring(path: string): Keyring {
  let doc: Keyring;
  try {
    doc = JSON.parse(
      readFileOrThrow(path, 'CONFIG_INVALID', (r) => `${path}: ${r}`).toString('utf8'),
    ) as Keyring;
  } catch (err) {
    if (err instanceof FacegateError) throw err;
    throw new FacegateError('CONFIG_INVALID', `${path}: not a facegate keyring (${(err as Error).message})`);
  }
  if (doc?.format !== 'facegate-keyring' || doc.version !== 1 || typeof doc.sealed !== 'string')
    throw new FacegateError('CONFIG_INVALID', `${path}: not a facegate keyring`);
  return doc;
}

function writeKeyring(path: string, doc: Keyring): void {
  // Written beside and renamed: a crash leaves the old keyring or the new, never half of one.
  const tmp = `${path}.tmp`;
  privateFile(tmp);
  writeFileOrThrow(tmp, `${JSON.stringify(doc, null, 2)}\n`);
  renameSync(tmp, path);
}

function unseal(path: string, doc: Keyring, kek: Buffer, source: KeySource): Buffer {
  const dataKey = gcmOpen(kek, Buffer.from(doc.sealed, 'base64'), 'data key');
  if (!dataKey)
    throw new FacegateError(
      'CONFIG_INVALID',
      doc.keyId !== keyId(kek)
        ? `${source.key} ${source.file}: not the key that sealed ${path} (the data of this state directory cannot be read with it)`
        : `${path}: the sealed data key is damaged`,
    );
  return dataKey;
}

export type Sealers = {
  /** Seals what stays in the state directory, with its data key. */
  data: Sealer;
  /**
   * Seals exports, with a key derived from the key-encryption key: another box given the same
   * key file reads them (its data key is its own).
   */
  transfer: Sealer;
};

/**
 * The data key of a state directory, unsealed with the configured key; made and sealed on first
 * use. Throws (exit 78) when the key is missing, unreadable or not the one that sealed it.
 */
export function openDataKey(stateDir: string, source: KeySource): Sealers {
  const kek = readKeyFile(source.file, source.key);
  const transfer = new Sealer(Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), 'facegate export', 32)));
  const path = join(stateDir, KEYRING_FILE);
  if (!existsSync(path)) {
    const dataKey = randomBytes(32);
    writeKeyring(path, {
      format: 'facegate-keyring',
      version: 1,
      keyId: keyId(kek),
      sealed: gcmSeal(kek, dataKey, 'data key').toString('base64'),
      createdAt: new Date().toISOString(),
    });
    return { data: new Sealer(dataKey), transfer };
  }
  return { data: new Sealer(unseal(path, readKeyring(path), kek, source)), transfer };
}

/** Whether the state directory's data is encrypted (it has a keyring). */
export const hasKeyring = (stateDir: string): boolean => existsSync(join(stateDir, KEYRING_FILE));

/** Re-seals the data key with a new key-encryption key; the data stays as it is. */
export function rotateKey(stateDir: string, current: KeySource, next: KeySource): { keyId: string } {
  const path = join(stateDir, KEYRING_FILE);
  if (!existsSync(path))
    throw new FacegateError('CONFIG_INVALID', `${path}: no keyring: this state directory is not encrypted`);
  const doc = readKeyring(path);
  const dataKey = unseal(path, doc, readKeyFile(current.file, current.key), current);
  const kek = readKeyFile(next.file, next.key);
  writeKeyring(path, {
    ...doc,
    keyId: keyId(kek),
    sealed: gcmSeal(kek, dataKey, 'data key').toString('base64'),
    rotatedAt: new Date().toISOString(),
  });
  return { keyId: keyId(kek) };
}
