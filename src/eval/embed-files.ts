// Encodes a set of image files once each, for evaluation: every file ends up either with an
// embedding or with the reason it has none (unreadable, no face, or failed a quality gate).
import { join } from 'node:path';
import type { AnalyzeOptions, Face, FaceEngine } from '../inference/faces.js';
import { decodeImage, toGrayscale } from '../vision/image.js';
import { checkGates, type QualityGates } from '../vision/quality.js';
import { jitteredFrames } from './jitter.js';

export type EmbeddedFile =
  | { ok: true; face: Face; onePass?: Float32Array }
  | { ok: false; reason: 'unreadable' | 'no face' | 'gated'; detail: string };

export type EmbedFileOptions = AnalyzeOptions & {
  gates?: QualityGates;
  /** Encode a grayscale version, as a monochrome or infrared camera would see the photo. */
  grayscale?: boolean;
  /**
   * Encode the face with its mirror image and also keep its first pass alone (`onePass`): both
   * ways a daemon may encode it, from one detection.
   */
  keepOnePass?: boolean;
};

export async function embedFiles(
  engine: FaceEngine,
  root: string,
  paths: readonly string[],
  opts: EmbedFileOptions & { onProgress?: (done: number, total: number) => void } = {},
): Promise<Map<string, EmbeddedFile>> {
  const out = new Map<string, EmbeddedFile>();
  const unique = [...new Set(paths)];
  for (const [i, path] of unique.entries()) {
    out.set(path, await embedFile(engine, join(root, path), opts));
    opts.onProgress?.(i + 1, unique.length);
  }
  return out;
}

/** The first face of one photo (see AnalyzeOptions.select), or why there is none. */
export async function embedFile(
  engine: FaceEngine,
  file: string,
  opts: EmbedFileOptions = {},
): Promise<EmbeddedFile> {
  let faces: Face[];
  // The mirror picker sees each face's first pass, in the order analyze returns the faces.
  const onePass: Float32Array[] = [];
  const mirror = opts.keepOnePass ? (face: Face) => onePass.push(face.embedding) > 0 : opts.mirror;
  try {
    const image = await decodeImage(file);
    faces = await engine.analyze(opts.grayscale ? toGrayscale(image) : image, { ...opts, mirror });
  } catch (err) {
    return { ok: false, reason: 'unreadable', detail: (err as Error).message };
  }
  const face = faces[0];
  if (!face) return { ok: false, reason: 'no face', detail: `${file}: no face found` };
  const failed = opts.gates ? checkGates(face.quality, opts.gates) : [];
  if (failed.length) return { ok: false, reason: 'gated', detail: failed.map((f) => f.reason).join('; ') };
  return { ok: true, face, ...(opts.keepOnePass ? { onePass: onePass[0] } : {}) };
}

/** Files embedded with `keepOnePass`, each face with its first pass alone as its embedding. */
export function onePassOf(files: Map<string, EmbeddedFile>): Map<string, EmbeddedFile> {
  const once = (f: EmbeddedFile): EmbeddedFile => {
    if (!f.ok) return f;
    if (!f.onePass) throw new Error('onePassOf: the files were embedded without keepOnePass');
    return { ok: true, face: { ...f.face, embedding: f.onePass } };
  };
  return new Map([...files].map(([path, f]) => [path, once(f)]));
}

/** How many files ended without an embedding, by reason. */
export function countFailures(
  files: Map<string, EmbeddedFile>,
): Record<'unreadable' | 'no face' | 'gated', number> {
  const counts = { unreadable: 0, 'no face': 0, gated: 0 };
  for (const f of files.values()) if (!f.ok) counts[f.reason]++;
  return counts;
}

/**
 * Each photo as `count` frames of one pass (eval/jitter.ts), the central (or largest) face of each
 * frame encoded as a live face; frames where no face is found are left out, as a camera's frame
 * without a detection would be. Seeded by the path, so an evaluation repeats exactly.
 */
export async function embedJittered(
  engine: FaceEngine,
  root: string,
  paths: readonly string[],
  count: number,
  opts: AnalyzeOptions & { grayscale?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<Map<string, Face[]>> {
  const out = new Map<string, Face[]>();
  for (const [i, path] of paths.entries()) {
    const faces: Face[] = [];
    try {
      for (const frame of await jitteredFrames(await decodeImage(join(root, path)), count, seedOf(path))) {
        const [face] = await engine.analyze(opts.grayscale ? toGrayscale(frame) : frame, opts);
        if (face) faces.push(face);
      }
    } catch {
      // unreadable: a pass without frames, counted as never decided
    }
    out.set(path, faces);
    opts.onProgress?.(i + 1, paths.length);
  }
  return out;
}

/** A 32-bit FNV-1a hash of a path: the same photo gets the same jitter in any subset. */
function seedOf(path: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
