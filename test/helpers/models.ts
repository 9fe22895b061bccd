// A private copy of the built models folder, for tests that alter a model or the manifest.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultModelsDir, readManifest, type ModelManifest } from '../../src/inference/model-manifest.js';

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
