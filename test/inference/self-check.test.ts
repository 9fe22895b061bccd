// The encoder self-check: an int8 encoder that does not compute what the float one does (here its
// activation scales corrupted on purpose, as saturating int8 kernels corrupt its sums on some
// CPUs) is caught when it loads, and the float encoder runs instead: in the engine, in the CLI,
// and in the daemon, which logs why and says so in /readyz and the metrics.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import { FaceEngine } from '../../src/inference/faces.js';
import type { ModelManifest } from '../../src/inference/model-manifest.js';
import { checkEncoder, SELF_CHECK_TOLERANCE } from '../../src/inference/self-check.js';
import { samplePhoto } from '../helpers/fixtures.js';
import { copyModels, int8Encoder } from '../helpers/models.js';

let dir: string;
let manifest: ModelManifest;

/** Writes `bytes` as the int8 encoder of the models folder in `dir`, and pins it in its manifest. */
function replaceInt8(bytes: Uint8Array): void {
  const int8 = manifest.models.encoder.int8!;
  writeFileSync(join(dir, int8.file), bytes);
  int8.sha256 = createHash('sha256').update(bytes).digest('hex');
  int8.bytes = bytes.length;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-self-check-'));
  manifest = copyModels(dir);
  // Every activation's quantization scale an eighth of the calibrated one: activations clip.
  replaceInt8(
    int8Encoder('int8 encoder with corrupted activation scales', { range: ([lo, hi]) => [lo / 8, hi / 8] }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('encoder self-check', () => {
  it('passes the int8 encoder as built, on this CPU', async () => {
    const engine = await FaceEngine.open({ encoder: 'dlib', int8: true });
    const check = engine.selfCheck!;
    expect(check).toMatchObject({ requested: 'int8 on cpu', running: 'int8 on cpu', passed: true });
    expect(check.faces).toBeGreaterThanOrEqual(8);
    expect(check.maxDistance).toBeLessThan(SELF_CHECK_TOLERANCE);
    expect(engine.encoder.entry.file).toBe('face_recognition_int8.onnx');
    await engine.release();
    // The float encoder on the CPU is the reference: nothing to check.
    const float = await FaceEngine.open();
    expect(float.selfCheck).toBeUndefined();
    await float.release();
  });

  it('runs the float encoder instead of an int8 graph with corrupted scales, and says why', async () => {
    const engine = await FaceEngine.open({ modelsDir: dir, encoder: 'dlib', int8: true });
    const check = engine.selfCheck!;
    expect(check).toMatchObject({ requested: 'int8 on cpu', running: 'float on cpu', passed: false });
    expect(check.maxDistance).toBeGreaterThan(SELF_CHECK_TOLERANCE);
    expect(check.reason).toMatch(
      /^int8 on cpu puts self-check face \d+ \d\.\d{3} from the float encoder's embedding \(tolerance 0\.08\)/,
    );
    // What runs is the float encoder, and the embeddings say so: a gallery made with it matches.
    expect(engine.encoder.entry.file).toBe('face_recognition.onnx');
    expect(engine.unitEncoderId).toBe(`${manifest.models.encoder.sha256}/unit`);
    await engine.release();
  });

  it('warns on the command line, and the command gives float answers', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    const config = join(dir, 'int8.json');
    writeFileSync(config, JSON.stringify({ models: { dir, encoder: 'dlib', int8: true } }));
    const photo = samplePhoto('sample1.jpg');
    const code = await main(['verify', '--config', config, photo, photo], io);
    expect(code).toBe(0);
    expect(err.join('\n')).toMatch(
      /facegate: warning: encoder self-check: float on cpu runs instead of int8 on cpu: int8 on cpu puts self-check face/,
    );
    expect((JSON.parse(out.join('')) as { distance: number }).distance).toBeLessThan(1e-6);
  });

  it('refuses an encoder when the self-check photos are missing, or it gives no finite answer', async () => {
    const none = await checkEncoder(
      'int8 on cpu',
      () => Promise.reject(new Error('unused')),
      () => Promise.reject(new Error('unused')),
      () => Promise.reject(new Error('models/manifest.json names none')),
    );
    expect(none).toMatchObject({ passed: false, running: 'float on cpu', maxDistance: null, faces: 0 });
    expect(none.reason).toBe('no self-check faces: models/manifest.json names none');
    const one = { data: new Float32Array(4), count: 2 };
    const unit = () => Promise.resolve([Float32Array.of(1, 0), Float32Array.of(0, 1)]);
    const nan = await checkEncoder(
      'float on tensorrt',
      () => Promise.resolve([Float32Array.of(1, 0), Float32Array.of(NaN, 0)]),
      unit,
      () => Promise.resolve(one),
    );
    expect(nan).toMatchObject({ passed: false, maxDistance: null });
    expect(nan.reason).toMatch(/^float on tensorrt puts self-check face 1 infinitely far/);
    const failing = await checkEncoder(
      'float on cuda',
      () => Promise.reject(new Error('CUDA out of memory')),
      unit,
      () => Promise.resolve(one),
    );
    expect(failing.reason).toBe('float on cuda failed on the self-check faces: CUDA out of memory');
    expect(await checkEncoder('int8 on cpu', unit, unit, () => Promise.resolve(one))).toEqual({
      requested: 'int8 on cpu',
      running: 'int8 on cpu',
      passed: true,
      faces: 2,
      maxDistance: 0,
      tolerance: SELF_CHECK_TOLERANCE,
    });
  });

  it('falls back in the daemon: the reason in the log, /readyz and /metrics', async () => {
    const logs: { level: string; message: string }[] = [];
    const daemon = new Daemon(
      loadConfig(undefined, {}, [
        { key: 'stateDir', value: join(dir, 'state') },
        { key: 'models.dir', value: dir },
        { key: 'models.encoder', value: 'dlib' },
        { key: 'models.int8', value: true },
        // A camera that never answers: this test is about the models, not the frames.
        { key: 'cameras', value: [{ name: 'cam', url: 'rtsp://127.0.0.1:1/none' }] },
        { key: 'mqtt.embedded.enabled', value: false },
        { key: 'http.port', value: 0 },
      ]),
      (level, message) => logs.push({ level, message }),
      { drainMs: 200 },
    );
    await daemon.start();
    try {
      expect(logs).toContainEqual({
        level: 'error',
        message: 'encoder self-check failed: float on cpu runs instead of int8 on cpu',
      });
      const http = `http://127.0.0.1:${daemon.httpPort}`;
      const ready = await fetch(`${http}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { ok: boolean; warnings: string[]; encoder: { passed: boolean } };
      expect(body.ok).toBe(true);
      expect(body.encoder.passed).toBe(false);
      expect(body.warnings).toEqual([
        expect.stringMatching(
          /^encoder: float on cpu runs instead of int8 on cpu: int8 on cpu puts self-check face \d+ /,
        ),
      ]);
      const metrics = await (await fetch(`${http}/metrics`)).text();
      expect(metrics).toContain(
        'facegate_encoder_self_check{requested="int8 on cpu",running="float on cpu",self_check="failed"} 1',
      );
      expect(Number(/facegate_encoder_self_check_distance ([\d.]+)/.exec(metrics)?.[1])).toBeGreaterThan(
        SELF_CHECK_TOLERANCE,
      );
    } finally {
      await daemon.stop();
    }
  });
});
