// models/manifest.json: which ONNX files facegate runs, where their weights came from, their
// tensors and preprocessing, and the sha256 each file must have. The loader refuses any file
// that does not match, so a corrupted or swapped model stops the program instead of matching
// the wrong people.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FacegateError, readFileOrThrow } from '../errors.js';
import { PROJECT_ROOT } from '../project.js';

/** encoder: dlib's ResNet (the one in use); mobilefacenet: the ArcFace-trained second encoder. */
export const MODEL_ROLES = ['encoder', 'detector', 'landmarks', 'mobilefacenet'] as const;
export type ModelRole = (typeof MODEL_ROLES)[number];

/** The encoders to choose from (models.encoder): dlib's ResNet, or MobileFaceNet. */
export const ENCODERS = ['dlib', 'mobilefacenet'] as const;
export type EncoderName = (typeof ENCODERS)[number];

/**
 * MobileFaceNet: far ahead at the false-accept rates a door needs, level elsewhere
 * (bench/RESULTS.md, 2026-12-06; the measurements and their caveat in docs/models.md).
 */
export const DEFAULT_ENCODER: EncoderName = 'mobilefacenet';

/** The manifest entry of an encoder. */
export function encoderEntry(manifest: ModelManifest, name: EncoderName = DEFAULT_ENCODER): ModelEntry {
  return name === 'mobilefacenet' ? manifest.models.mobilefacenet : manifest.models.encoder;
}

export type TensorSpec = {
  name: string;
  shape: (number | string)[];
  dtype: 'float32' | 'uint8' | 'int64';
};

export type ModelEntry = PinnedFile & {
  /** Where the weights came from: the package, its version, the file in it (and its sha256). */
  source: { package: string; version: string; weights: string; sha256?: string };
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** Pixel layout and normalisation applied inside the graph; callers feed NHWC RGB 0..255. */
  preprocessing: {
    input: 'NHWC RGB float32 0..255' | 'NHWC RGB uint8';
    size: number | 'any; halved inside, each level padded to multiples of 32';
    meanRgb: number[];
    divisor: number;
    /**
     * How the input is padded: a face crop to a centred square, a frame at the bottom/right; or
     * not at all, the face aligned to ArcFace's 112-pixel five-point template.
     */
    pad: 'centre to square' | 'bottom-right to multiples of 32' | 'none: aligned to the ArcFace template';
  };
  multiplyAdds: number;
  description: string;
  /** The same network quantized to int8, for the CPU provider (models.int8). */
  int8?: ModelEntry;
};

/** A file the manifest pins by size and sha256 (a model, a self-check photo). */
export type PinnedFile = { file: string; sha256: string; bytes: number };

/**
 * Photos of faces, copied from the source package, on which a model whose output can depend on
 * the CPU (the int8 encoder) or on the execution provider is compared with the float encoder on
 * the CPU each time it loads (self-check.ts).
 */
export type SelfCheckPhotos = {
  source: { package: string; version: string };
  photos: (PinnedFile & { from: string })[];
};

export type ModelManifest = {
  format: 1;
  models: Record<ModelRole, ModelEntry>;
  /** Absent in manifests written before the self-check: a model that needs it then runs as float. */
  selfCheck?: SelfCheckPhotos;
};

/** The models folder of this checkout: <project root>/models. */
export function defaultModelsDir(): string {
  return join(PROJECT_ROOT, 'models');
}

export function readManifest(modelsDir: string): ModelManifest {
  const path = join(modelsDir, 'manifest.json');
  const text = readFileOrThrow(
    path,
    'MODEL_MISSING',
    (reason) => `${path}: cannot read the model manifest (${reason}); run "make models"`,
  ).toString('utf8');
  let manifest: ModelManifest;
  try {
    manifest = JSON.parse(text) as ModelManifest;
  } catch (err) {
    throw new FacegateError('MODEL_INVALID', `${path}: not valid JSON (${(err as Error).message})`);
  }
  if (manifest.format !== 1 || typeof manifest.models !== 'object') {
    throw new FacegateError('MODEL_INVALID', `${path}: unknown manifest format`);
  }
  for (const role of MODEL_ROLES) {
    const e = manifest.models[role];
    if (!e || typeof e.file !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) {
      throw new FacegateError('MODEL_INVALID', `${path}: entry "${role}" is missing or has no sha256`);
    }
  }
  return manifest;
}

/**
 * Reads a model's bytes and checks them against the manifest: present, the recorded size and
 * sha256, and an ONNX protobuf at all. Every failure names the file and what is wrong.
 */
export function loadModelBytes(modelsDir: string, entry: ModelEntry): Uint8Array {
  const path = join(modelsDir, entry.file);
  const bytes = loadPinnedFile(modelsDir, entry, 'model', (b) =>
    looksLikeOnnx(b) ? '' : ' and it is not an ONNX model',
  );
  if (!looksLikeOnnx(bytes)) throw new FacegateError('MODEL_INVALID', `${path}: not an ONNX model`);
  return bytes;
}

/** Reads a file of the models folder that the manifest pins, refusing it if its sha256 differs. */
export function loadPinnedFile(
  modelsDir: string,
  pinned: PinnedFile,
  what: string,
  hint: (bytes: Buffer) => string = () => '',
): Buffer {
  const path = join(modelsDir, pinned.file);
  const bytes = readFileOrThrow(
    path,
    'MODEL_MISSING',
    (reason) =>
      `${path}: ${reason === 'ENOENT' ? `${what} file is missing` : `cannot read ${what} (${reason})`}; run "make models"`,
  );
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== pinned.sha256) {
    throw new FacegateError(
      'MODEL_CHECKSUM',
      `${path}: sha256 ${sha} does not match the manifest (${pinned.sha256})${hint(bytes)}; rebuild with "make models"`,
    );
  }
  return bytes;
}

/** An ONNX ModelProto starts with field 1 (ir_version) as a varint: byte 0x08. */
function looksLikeOnnx(bytes: Uint8Array): boolean {
  return bytes.length > 16 && bytes[0] === 0x08;
}
