// `make models`: builds models/*.onnx and models/manifest.json from the packaged tfjs weights.
import { join } from 'node:path';
import { defaultModelsDir } from '../src/inference/model-manifest.js';
import { convertModels } from './converter.js';

const outDir = process.argv[2] ?? defaultModelsDir();
const manifest = convertModels(outDir);
for (const [role, e] of Object.entries(manifest.models)) {
  for (const [name, m] of [
    [role, e],
    [`${role} int8`, e.int8],
  ] as const) {
    if (m) console.log(`${name.padEnd(13)} ${join(outDir, m.file)}  ${m.bytes} bytes  sha256 ${m.sha256}`);
  }
}
