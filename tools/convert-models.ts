// `make models`: builds models/*.onnx and models/manifest.json from the packaged tfjs weights.
import { join } from 'node:path';
import { defaultModelsDir } from '../src/inference/model-manifest.js';
import { convertModels } from './converter.js';

const outDir = process.argv[2] ?? defaultModelsDir();
const manifest = convertModels(outDir);
for (const [role, e] of Object.entries(manifest.models)) {
  console.log(`${role.padEnd(10)} ${join(outDir, e.file)}  ${e.bytes} bytes  sha256 ${e.sha256}`);
}
