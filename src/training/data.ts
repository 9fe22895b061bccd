// Training data: labelled face photos (a folder per identity, or a manifest), each detected,
// aligned and encoded once with the frozen encoder. The embeddings are cached in a JSON file
// keyed by the encoder's sha256, the pipeline's settings and each file's path, size and mtime, so
// a second run (another loss, another seed) starts training at once, and a changed photo, model
// or setting is encoded again.
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { FacegateError } from '../errors.js';
import type { LabelledImage } from '../eval/datasets.js';
import { embedFile } from '../eval/embed-files.js';
import { photosBySubfolder } from '../gallery/sources.js';
import { blobVector, vectorBlob } from '../gallery/store.js';
import type { AnalyzeOptions, FaceEngine } from '../inference/faces.js';
import type { LabelledEmbeddings } from './train.js';

/** dir/<identity>/<photo>: paths relative to dir, the folder name as the identity. */
export function listIdentityFolders(dir: string): LabelledImage[] {
  let byId;
  try {
    byId = photosBySubfolder(dir);
  } catch (err) {
    throw new FacegateError('USAGE', `${dir}: cannot read the folder (${(err as Error).message})`);
  }
  const images = [...byId].flatMap(([identity, paths]) => paths.map((path) => ({ path, identity })));
  if (!images.length)
    throw new FacegateError('USAGE', `${dir}: no photos in sub-folders (one sub-folder per identity)`);
  return images;
}

type CacheEntry = { size: number; mtimeMs: number; embedding?: string; reason?: string };
type CacheFile = {
  encoder: string;
  grayscale: boolean;
  settings: string;
  entries: Record<string, CacheEntry>;
};

/**
 * Bumped when the face pipeline changes what it finds or how it encodes in ways the encoder's
 * sha256 does not show (2: a second look for faces between the pyramid's octaves).
 */
const PIPELINE_VERSION = 2;

export type EmbeddedSet = LabelledEmbeddings & {
  paths: string[];
  /** Photos without an embedding, and why (unreadable, no face). */
  missing: { path: string; reason: string }[];
  /** Photos encoded by this call (the others came from the cache). */
  encoded: number;
};

export async function embedLabelled(
  engine: FaceEngine,
  root: string,
  images: readonly LabelledImage[],
  opts: {
    cacheFile?: string;
    grayscale?: boolean;
    analyze?: AnalyzeOptions;
    onProgress?: (done: number, total: number) => void;
  } = {},
): Promise<EmbeddedSet> {
  const grayscale = opts.grayscale ?? false;
  const settings = JSON.stringify({ pipeline: PIPELINE_VERSION, analyze: opts.analyze ?? {} });
  let cache: CacheFile = { encoder: engine.encoderId, grayscale, settings, entries: {} };
  if (opts.cacheFile && existsSync(opts.cacheFile)) {
    try {
      const read = JSON.parse(readFileSync(opts.cacheFile, 'utf8')) as CacheFile;
      if (read.encoder === engine.encoderId && read.grayscale === grayscale && read.settings === settings)
        cache = read;
    } catch {
      // A damaged cache is only a cache: encode again.
    }
  }
  const save = () => {
    if (!opts.cacheFile) return;
    writeFileSync(`${opts.cacheFile}.tmp`, JSON.stringify(cache));
    renameSync(`${opts.cacheFile}.tmp`, opts.cacheFile);
  };
  const out: EmbeddedSet = { embeddings: [], labels: [], paths: [], missing: [], encoded: 0 };
  for (const [i, img] of images.entries()) {
    const file = resolve(root, img.path);
    let entry = cache.entries[file];
    let stat;
    try {
      stat = statSync(file);
    } catch (err) {
      out.missing.push({ path: img.path, reason: `unreadable: ${(err as Error).message}` });
      continue;
    }
    if (!entry || entry.size !== stat.size || entry.mtimeMs !== stat.mtimeMs) {
      const r = await embedFile(engine, file, { ...opts.analyze, grayscale });
      entry = {
        size: stat.size,
        mtimeMs: stat.mtimeMs,
        ...(r.ok
          ? { embedding: vectorBlob(r.face.embedding).toString('base64') }
          : { reason: r.reason === 'unreadable' ? `unreadable: ${r.detail}` : r.reason }),
      };
      cache.entries[file] = entry;
      if (++out.encoded % 200 === 0) save();
    }
    if (entry.embedding) {
      out.embeddings.push(blobVector(Buffer.from(entry.embedding, 'base64')));
      out.labels.push(img.identity);
      out.paths.push(img.path);
    } else out.missing.push({ path: img.path, reason: entry.reason ?? 'no face' });
    opts.onProgress?.(i + 1, images.length);
  }
  if (out.encoded) save();
  return out;
}
