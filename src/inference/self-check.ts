// The encoder self-check. The int8 encoder's integer arithmetic runs on whichever kernels this CPU
// has (VNNI, AMX, AVX2, NEON), and a GPU provider runs the float graph in its own precision, so
// the same model file can give other embeddings on another machine: with 8-bit weights, ONNX
// Runtime's AVX2 kernels put a face 0.21 from its float embedding, half the match threshold. Such
// an encoder is therefore checked each time it loads: it encodes the faces of the self-check
// photos beside the models, the float graph on the CPU encodes the same chips, and if any face
// lies further than SELF_CHECK_TOLERANCE from its float embedding, the float encoder on the CPU
// runs instead. The engine reports the outcome (the daemon logs it, says it in /readyz and in the
// metrics): a wrong model never runs silently.
import { join } from 'node:path';
import { decodeImage, type RgbImage } from '../vision/image.js';
import { euclidean } from './faces.js';
import { loadPinnedFile, type ModelManifest } from './model-manifest.js';

/**
 * The largest distance allowed between a face's embedding and its float one (unit length; the
 * match threshold is 0.42). The int8 encoder stays within 0.036 of float on every sample face on
 * AVX2 and VNNI alike; saturating int8 kernels reach 0.10-0.21 (bench/RESULTS.md, 2026-12-06).
 */
export const SELF_CHECK_TOLERANCE = 0.08;

export type EncoderSelfCheck = {
  /** The encoder asked for: 'int8 on cpu', 'float on tensorrt', ... */
  requested: string;
  /** The encoder that runs: the one asked for, or 'float on cpu' when the check failed. */
  running: string;
  passed: boolean;
  /** Faces compared, and the largest distance of one from its float embedding. */
  faces: number;
  maxDistance: number | null;
  tolerance: number;
  /** Why the encoder asked for does not run. */
  reason?: string;
};

/** Encodes ready chips (NHWC RGB 0..255), one pass each, to unit-length embeddings. */
export type ChipEncoder = (chips: Float32Array, count: number) => Promise<Float32Array[]>;

/** The self-check photos the manifest pins, decoded; each failure names the file. */
export async function selfCheckPhotos(modelsDir: string, manifest: ModelManifest): Promise<RgbImage[]> {
  const photos = manifest.selfCheck?.photos;
  if (!photos?.length) {
    throw new Error(
      `${join(modelsDir, 'manifest.json')} names none (written before them); run "make models"`,
    );
  }
  return Promise.all(photos.map((p) => decodeImage(loadPinnedFile(modelsDir, p, 'self-check photo'))));
}

/**
 * Compares `candidate` with `reference` (the float graph on the CPU) on the chips of `faces`. The
 * verdict names what runs afterwards: `requested` when it passed, 'float on cpu' otherwise.
 */
export async function checkEncoder(
  requested: string,
  candidate: ChipEncoder,
  reference: ChipEncoder,
  faces: () => Promise<{ data: Float32Array; count: number }>,
  tolerance = SELF_CHECK_TOLERANCE,
): Promise<EncoderSelfCheck> {
  const verdict = (count: number, maxDistance: number | null, reason?: string): EncoderSelfCheck => ({
    requested,
    running: reason ? 'float on cpu' : requested,
    passed: !reason,
    faces: count,
    maxDistance,
    tolerance,
    ...(reason ? { reason } : {}),
  });
  let chips: { data: Float32Array; count: number };
  try {
    chips = await faces();
  } catch (err) {
    return verdict(0, null, `no self-check faces: ${(err as Error).message}`);
  }
  const { data, count } = chips;
  if (!count) return verdict(0, null, 'no face found in the self-check photos');
  let got: Float32Array[];
  try {
    got = await candidate(data, count);
  } catch (err) {
    return verdict(count, null, `${requested} failed on the self-check faces: ${(err as Error).message}`);
  }
  const distances = (await reference(data, count)).map((want, i) => euclidean(got[i]!, want));
  // The worst face; a NaN (a non-finite embedding) is the worst of all.
  const worst = distances.reduce((a, d, i) => (Number.isNaN(d) || d > distances[a]! ? i : a), 0);
  const d = distances[worst]!;
  if (d <= tolerance) return verdict(count, d);
  return verdict(
    count,
    Number.isFinite(d) ? d : null,
    `${requested} puts self-check face ${worst} ${Number.isFinite(d) ? d.toFixed(3) : 'infinitely far'} from the float encoder's embedding (tolerance ${tolerance}): on this machine it does not compute what it was built to`,
  );
}

/** What runs instead of what was asked for: 'float on cpu runs instead of int8 on cpu'. */
export const fallbackOf = (check: EncoderSelfCheck): string =>
  `${check.running} runs instead of ${check.requested}`;
