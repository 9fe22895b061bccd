// A private copy of the built models folder, and other int8 encoders, for tests that alter a
// model or the manifest.
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModelsDir, readManifest, type ModelManifest } from '../../src/inference/model-manifest.js';
import { INT8_RANGES_FILE, sourceWeights, type Int8Ranges } from '../../tools/converter.js';
import { buildFaceRecognition } from '../../tools/nets.js';
import type { Range } from '../../tools/quantize.js';

/** Copies every file models/manifest.json pins (models, int8 graphs, self-check photos) to `dir`. */
export function copyModels(dir: string): ModelManifest {
  const src = defaultModelsDir();
  const manifest = readManifest(src);
  copyFileSync(join(src, 'manifest.json'), join(dir, 'manifest.json'));
  const pinned = [
    ...Object.values(manifest.models).flatMap((e) => (e.int8 ? [e, e.int8] : [e])),
    ...(manifest.selfCheck?.photos ?? []),
  ];
  for (const { file } of pinned) copyFileSync(join(src, file), join(dir, file));
  return manifest;
}

/**
 * An int8 encoder other than the one `make models` builds, as ONNX bytes: from the committed
 * activation ranges, each changed by `range` (corrupted scales), or with other `weightLevels`.
 */
export function int8Encoder(
  doc: string,
  opts: { range?: (r: Range) => Range; weightLevels?: number } = {},
): Uint8Array {
  const committed = (JSON.parse(readFileSync(INT8_RANGES_FILE, 'utf8')) as Int8Ranges).ranges.encoder!;
  const ranges = Object.fromEntries(
    Object.entries(committed).map(([name, r]) => [name, opts.range ? opts.range(r) : r]),
  );
  return buildFaceRecognition(sourceWeights('encoder'), ranges, opts.weightLevels).toModel({
    producer: 'facegate tests',
    version: '1',
    doc,
  });
}
