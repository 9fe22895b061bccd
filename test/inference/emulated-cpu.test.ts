// The int8 encoder on a CPU without VNNI, emulated: qemu-x86_64 with a Haswell CPU model (AVX2,
// no AVX-512, no VNNI) runs Node and ONNX Runtime, whose kernels then take the AVX2 path with
// vpmaddubsw, as on older Xeon and Core CPUs and AMD before Zen 4. With 8-bit weights its int16
// pair sums saturate and faces move far from their float embeddings; with the 7-bit weights
// facegate builds, the emulated CPU computes what this machine computes natively.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { FaceEngine } from '../../src/inference/faces.js';
import { defaultModelsDir, readManifest } from '../../src/inference/model-manifest.js';
import { SELF_CHECK_TOLERANCE, selfCheckPhotos } from '../../src/inference/self-check.js';
import { int8Encoder } from '../helpers/models.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const QEMU = '/usr/bin/qemu-x86_64';
/** Haswell without the features qemu's emulator lacks (it warns about each otherwise). */
const AVX2_CPU = 'Haswell-noTSX,-pcid,-x2apic,-tsc-deadline,-invpcid';

const runnable = process.arch === 'x64' && existsSync(QEMU);
if (!runnable) {
  const msg = `emulated-CPU test: skipped, ${QEMU} (Debian's qemu-user, installed by make deps) is missing or this is not x86-64`;
  if (process.env.CI === 'true' && process.arch === 'x64') throw new Error(msg);
  console.warn(msg);
}

const dir = mkdtempSync(join(tmpdir(), 'fg-emulated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = promisify(execFile);
async function distances(emulate: boolean, files: string[]): Promise<number[][]> {
  const node = [process.execPath, '--import', 'tsx', join(PROJECT_ROOT, 'test/inference/encoders-child.ts')];
  const [cmd, ...args] = emulate ? [QEMU, '-cpu', AVX2_CPU, ...node] : node;
  const { stdout } = await run(cmd!, [...args, ...files], {
    cwd: PROJECT_ROOT,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as number[][];
}

describe.skipIf(!runnable)('int8 encoder on an emulated AVX2 CPU (no VNNI)', () => {
  it('gives the float answers with 7-bit weights, and saturates with 8-bit ones', async () => {
    // The self-check faces, aligned natively, as the chips both runs encode.
    const models = defaultModelsDir();
    const engine = await FaceEngine.open({ encoder: 'dlib' });
    const photos = await selfCheckPhotos(models, readManifest(models));
    const aligned = await Promise.all(photos.map((p) => engine.align(p, { select: 'all' })));
    await engine.release();
    const chips = join(dir, 'chips.f32');
    writeFileSync(
      chips,
      Buffer.concat(aligned.map((a) => Buffer.from(a.chips.buffer, a.chips.byteOffset, a.chips.byteLength))),
    );
    const manifest = readManifest(models);
    const eightBit = join(dir, 'int8-8bit.onnx');
    writeFileSync(eightBit, int8Encoder('int8 encoder with 8-bit weights', { weightLevels: 127 }));
    const files = [
      chips,
      join(models, manifest.models.encoder.file),
      join(models, manifest.models.encoder.int8!.file),
      eightBit,
    ];

    const [native, emulated] = [await distances(false, files), await distances(true, files)];
    const [built, eight] = emulated as [number[], number[]];
    console.log(
      `emulated AVX2, distance from float per self-check face: 7-bit ${built.map((d) => d.toFixed(3)).join(' ')}; 8-bit ${eight.map((d) => d.toFixed(3)).join(' ')}`,
    );
    expect(built.length).toBeGreaterThanOrEqual(8);
    // The integers are exact on both CPUs: only the float parts of the graph may differ.
    built.forEach((d, i) => expect(d, `face ${i}`).toBeCloseTo(native[0]![i]!, 4));
    expect(Math.max(...built)).toBeLessThan(SELF_CHECK_TOLERANCE);
    // The same check fails the 8-bit graph here: the emulation takes the saturating path.
    expect(Math.max(...eight)).toBeGreaterThan(SELF_CHECK_TOLERANCE);
  }, 900_000);
});
