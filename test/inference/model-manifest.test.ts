// A model that is missing, altered, or not ONNX at all stops the program with an error that
// names the file and the problem.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FaceEngine } from '../../src/inference/faces.js';
import type { ModelManifest } from '../../src/inference/model-manifest.js';
import { copyModels } from '../helpers/models.js';
import { createHash } from 'node:crypto';

let dir: string;
let manifest: ModelManifest;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-manifest-'));
  manifest = copyModels(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const open = () => FaceEngine.open({ modelsDir: dir, encoder: 'dlib' });

describe('model loading', () => {
  it('loads intact models', async () => {
    const engine = await open();
    expect(engine.providers).toEqual({ detector: 'cpu', landmarks: 'cpu', encoder: 'cpu' });
    await engine.release();
  });

  it('names a missing model file', async () => {
    rmSync(join(dir, manifest.models.encoder.file));
    await expect(open()).rejects.toThrow(/face_recognition\.onnx: model file is missing; run "make models"/);
  });

  it('opens the int8 encoder only when asked, and names it when it is missing', async () => {
    const int8 = manifest.models.encoder.int8!;
    const engine = await FaceEngine.open({ modelsDir: dir, encoder: 'dlib', int8: true });
    // The embeddings' tag follows the file that made them, so a gallery re-embeds on a switch.
    expect(engine.unitEncoderId).toBe(`${int8.sha256}/unit`);
    await engine.release();
    rmSync(join(dir, int8.file));
    const float = await open();
    expect(float.unitEncoderId).toBe(`${manifest.models.encoder.sha256}/unit`);
    await float.release();
    await expect(FaceEngine.open({ modelsDir: dir, encoder: 'dlib', int8: true })).rejects.toThrow(
      /face_recognition_int8\.onnx: model file is missing; run "make models"/,
    );
  });

  it('names a model whose sha256 does not match the manifest', async () => {
    const path = join(dir, manifest.models.landmarks.file);
    const bytes = readFileSync(path);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    writeFileSync(path, bytes);
    await expect(open()).rejects.toMatchObject({
      code: 'MODEL_CHECKSUM',
      message: expect.stringMatching(
        /face_landmark_68_tiny\.onnx: sha256 [0-9a-f]{64} does not match the manifest/,
      ),
    });
  });

  it('says when a file is not ONNX at all, even with a matching checksum', async () => {
    const text = Buffer.from('this is not a model\n'.repeat(10));
    writeFileSync(join(dir, manifest.models.detector.file), text);
    manifest.models.detector.sha256 = createHash('sha256').update(text).digest('hex');
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
    await expect(open()).rejects.toMatchObject({
      code: 'MODEL_INVALID',
      message: expect.stringMatching(/tiny_face_detector\.onnx: not an ONNX model/),
    });
  });

  it('says when a file is not ONNX and does not match', async () => {
    writeFileSync(join(dir, manifest.models.detector.file), 'garbage');
    await expect(open()).rejects.toThrow(/tiny_face_detector\.onnx: sha256 .* and it is not an ONNX model/);
  });

  it('names a missing or broken manifest', async () => {
    rmSync(join(dir, 'manifest.json'));
    await expect(open()).rejects.toThrow(/manifest\.json: cannot read the model manifest \(ENOENT\)/);
    writeFileSync(join(dir, 'manifest.json'), '{"format": 1, "models": {}}');
    await expect(open()).rejects.toThrow(/manifest\.json: entry "encoder" is missing/);
    writeFileSync(join(dir, 'manifest.json'), '{not json');
    await expect(open()).rejects.toThrow(/manifest\.json: not valid JSON/);
  });
});
