// Where the gallery comes from: an HTTP(S) manifest (signed with Ed25519 unless unsigned sources
// are allowed explicitly) or a local directory. Both yield the same thing: a manifest and a way
// to load each image, checked against its sha256.
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { FacegateError } from '../errors.js';
import { httpGet } from './http-get.js';
import { parseManifest, type GalleryManifest } from './manifest.js';

export type FetchedManifest = {
  manifest: GalleryManifest;
  /** Identifies this content: an HTTP ETag, or a digest of a directory listing. */
  etag: string | undefined;
  /** Whether versions are meaningful (a remote manifest's) and must not go backwards. */
  versioned: boolean;
};

export interface GallerySource {
  readonly description: string;
  /** undefined when the content is unchanged since `etag`. */
  fetchManifest(etag: string | undefined): Promise<FetchedManifest | undefined>;
  /** The image bytes, verified against `sha256`. */
  loadImage(url: string, sha256: string): Promise<Buffer>;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function checkSha(bytes: Buffer, expected: string, where: string): Buffer {
  const actual = sha(bytes);
  if (actual !== expected)
    throw new FacegateError(
      'SYNC_REJECTED',
      `${where}: sha256 ${actual} does not match the manifest (${expected})`,
    );
  return bytes;
}

export type HttpSourceOptions = {
  manifestUrl: string;
  /** Ed25519 public key, PEM (SPKI) or the 32 raw bytes in base64. */
  publicKey?: string;
  allowUnsigned: boolean;
  bearerToken?: string;
  ca?: Buffer;
  timeoutMs: number;
  stallMs: number;
  maxManifestBytes: number;
  maxImageBytes: number;
};

export function ed25519Key(text: string): KeyObject {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) return createPublicKey(trimmed);
  const raw = Buffer.from(trimmed, 'base64');
  if (raw.length !== 32)
    throw new FacegateError('CONFIG_INVALID', 'gallery public key: expected PEM or 32 bytes of base64');
  // SPKI wrapper for a raw Ed25519 key (RFC 8410).
  return createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]),
    format: 'der',
    type: 'spki',
  });
}

export class HttpSource implements GallerySource {
  private readonly key: KeyObject | undefined;

  constructor(private readonly o: HttpSourceOptions) {
    if (!o.publicKey && !o.allowUnsigned) {
      throw new FacegateError(
        'CONFIG_INVALID',
        `${o.manifestUrl}: no public key to verify the manifest; allow unsigned sources explicitly if intended`,
      );
    }
    this.key = o.publicKey ? ed25519Key(o.publicKey) : undefined;
  }

  get description(): string {
    return this.o.manifestUrl;
  }

  private get(url: string, maxBytes: number, etag?: string) {
    return httpGet(url, {
      maxBytes,
      timeoutMs: this.o.timeoutMs,
      stallMs: this.o.stallMs,
      ...(this.o.ca ? { ca: this.o.ca } : {}),
      ...(this.o.bearerToken ? { bearerToken: this.o.bearerToken } : {}),
      ...(etag ? { etag } : {}),
    });
  }

  async fetchManifest(etag: string | undefined): Promise<FetchedManifest | undefined> {
    const res = await this.get(this.o.manifestUrl, this.o.maxManifestBytes, etag);
    if (res.status === 304) return undefined;
    if (this.key) {
      const sig = await this.get(`${this.o.manifestUrl}.sig`, 1024).catch((err: Error) => {
        // A server that has the manifest but no signature for it is refused, not retried.
        if (/HTTP 404/.test(err.message))
          throw new FacegateError('SYNC_REJECTED', `${err.message}: no signature for the manifest`);
        throw err;
      });
      if (sig.status !== 200)
        throw new FacegateError('SYNC_REJECTED', `${this.o.manifestUrl}.sig: no signature`);
      // The signature as 64 raw bytes, or as base64 text.
      const text = sig.body.toString('utf8').trim();
      const signature = sig.body.length === 64 ? sig.body : Buffer.from(text, 'base64');
      if (!verify(null, res.body, this.key, signature)) {
        throw new FacegateError(
          'SYNC_REJECTED',
          `${this.o.manifestUrl}: signature does not verify with the configured key`,
        );
      }
    }
    return { manifest: parseManifest(res.body, this.o.manifestUrl), etag: res.etag, versioned: true };
  }

  async loadImage(url: string, sha256: string): Promise<Buffer> {
    const absolute = new URL(url, this.o.manifestUrl).toString();
    const res = await this.get(absolute, this.o.maxImageBytes);
    if (res.status !== 200)
      throw new FacegateError('SYNC_FAILED', `${absolute}: not modified on an unconditional request`);
    return checkSha(res.body, sha256, absolute);
  }
}

const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp']);
const isPhoto = (file: string) => IMAGE_EXTENSIONS.has(extname(file).toLowerCase());

/**
 * The photos in `dir/<id>/` sub-folders, by id (the folder name), as paths relative to `dir`,
 * sorted; folders without photos are left out, linked folders are followed. The layout of a
 * gallery folder and of training data.
 */
export function photosBySubfolder(dir: string): Map<string, string[]> {
  const byId = new Map<string, string[]>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    // A linked folder counts too: data sets are often assembled from links.
    const folder =
      entry.isDirectory() ||
      (entry.isSymbolicLink() && statSync(join(dir, entry.name), { throwIfNoEntry: false })?.isDirectory());
    if (!folder) continue;
    const photos = readdirSync(join(dir, entry.name)).filter(isPhoto).sort();
    if (photos.length)
      byId.set(
        entry.name,
        photos.map((f) => `${entry.name}/${f}`),
      );
  }
  return byId;
}

/**
 * A local folder: `<id>/` sub-folders of photos or `<id>.<ext>` files, and an optional
 * people.json ({"<id>": {"name": ..., "metadata": {...}}}) for names.
 */
export class DirectorySource implements GallerySource {
  constructor(readonly dir: string) {}

  get description(): string {
    return this.dir;
  }

  async fetchManifest(etag: string | undefined): Promise<FetchedManifest | undefined> {
    await Promise.resolve();
    // A sub-folder per person, or a loose photo named by the person's id.
    const files = photosBySubfolder(this.dir);
    for (const entry of readdirSync(this.dir, { withFileTypes: true })) {
      if (entry.isDirectory() || !isPhoto(entry.name)) continue;
      const id = entry.name.slice(0, -extname(entry.name).length);
      files.set(id, [...(files.get(id) ?? []), entry.name]);
    }
    const listing = [...files.values()].flat().sort();
    const digest = sha(
      Buffer.from(
        listing
          .map((f) => {
            const st = statSync(join(this.dir, f));
            return `${f}:${st.size}:${st.mtimeMs}`;
          })
          .join('\n'),
      ),
    );
    let names: Record<string, { name?: string; metadata?: Record<string, unknown> }> = {};
    try {
      names = JSON.parse(readFileSync(join(this.dir, 'people.json'), 'utf8')) as typeof names;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new FacegateError(
          'SYNC_REJECTED',
          `${join(this.dir, 'people.json')}: ${(err as Error).message}`,
        );
    }
    const namesDigest = sha(Buffer.from(JSON.stringify(names)));
    const tag = `${digest}:${namesDigest}`;
    if (tag === etag) return undefined;
    const manifest: GalleryManifest = {
      version: 0,
      people: [...files]
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([id, photos]) => ({
          id,
          name: names[id]?.name ?? id,
          ...(names[id]?.metadata ? { metadata: names[id].metadata } : {}),
          images: photos.map((url) => ({ url, sha256: sha(readFileSync(join(this.dir, url))) })),
        })),
    };
    return {
      manifest: parseManifest(Buffer.from(JSON.stringify(manifest)), this.dir),
      etag: tag,
      versioned: false,
    };
  }

  async loadImage(url: string, sha256: string): Promise<Buffer> {
    await Promise.resolve();
    return checkSha(readFileSync(join(this.dir, url)), sha256, join(this.dir, url));
  }
}
