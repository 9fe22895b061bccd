// Training end to end on synthetic embeddings (where the answer is known), reproducibility, the
// exported ONNX head against the training code, and `facegate train` on real photos.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { photosBySubfolder } from '../../src/gallery/sources.js';
import { HeadModel } from '../../src/inference/head.js';
import { writeHead } from '../../src/training/export.js';
import { absDifferences, sigmoid } from '../../src/training/losses.js';
import { createNetwork, forward } from '../../src/training/network.js';
import { gaussian, seededRandom } from '../../src/training/random.js';
import {
  DEFAULT_TRAIN_OPTIONS,
  evaluateHead,
  splitIdentities,
  trainHead,
  type LabelledEmbeddings,
} from '../../src/training/train.js';
import { faceCrop } from '../helpers/faces.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * 16-D embeddings: 8 dimensions carry identity, 8 carry a strong nuisance (lighting, pose) shared
 * by nobody. The plain distance is dominated by the nuisance; a learned projection can drop it.
 */
function synthetic(identities: number, perIdentity: number, seed: number): LabelledEmbeddings {
  const r = seededRandom(seed);
  const data: LabelledEmbeddings = { embeddings: [], labels: [] };
  for (let id = 0; id < identities; id++) {
    const centre = Array.from({ length: 8 }, () => gaussian(r));
    for (let k = 0; k < perIdentity; k++) {
      const e = new Float32Array(16);
      for (let d = 0; d < 8; d++) e[d] = centre[d]! + 0.15 * gaussian(r);
      for (let d = 8; d < 16; d++) e[d] = 1.5 * gaussian(r);
      data.embeddings.push(e);
      data.labels.push(`id${id}`);
    }
  }
  return data;
}

const quick = {
  ...DEFAULT_TRAIN_OPTIONS,
  outDim: 16,
  epochs: 15,
  identitiesPerBatch: 16,
  learningRate: 5e-3,
  weightDecay: 0,
};

describe('training data folders', () => {
  it('follows identity folders that are symbolic links', () => {
    const data = join(dir, 'linked-data');
    mkdirSync(join(data, 'alice'), { recursive: true });
    mkdirSync(join(dir, 'elsewhere', 'bob'), { recursive: true });
    for (const f of ['alice/1.jpg', 'alice/2.jpg']) writeFileSync(join(data, f), '');
    writeFileSync(join(dir, 'elsewhere', 'bob', '1.png'), '');
    symlinkSync(join(dir, 'elsewhere', 'bob'), join(data, 'bob'));
    symlinkSync(join(dir, 'nowhere'), join(data, 'dangling'));
    expect(Object.fromEntries(photosBySubfolder(data))).toEqual({
      alice: ['alice/1.jpg', 'alice/2.jpg'],
      bob: ['bob/1.png'],
    });
  });
});

describe('training a head', () => {
  const data = synthetic(160, 4, 1);
  const [pool, test] = splitIdentities(data, 0.3, 1);
  const [train, val] = splitIdentities(pool, 0.2, 2);

  it('splits identities, never images', () => {
    const inTest = new Set(test.labels);
    expect(pool.labels.some((l) => inTest.has(l))).toBe(false);
    expect(new Set(test.labels).size).toBe(48);
  });

  it('learns to ignore the nuisance: held-out TAR at FAR 1e-3 rises for the triplet and binary heads', () => {
    const before = evaluateHead(undefined, test, 1);
    for (const options of [
      { ...quick, loss: 'triplet' as const, mining: 'hard' as const },
      { ...quick, loss: 'binary' as const, hidden: 32 },
    ]) {
      const r = trainHead(train, val, options);
      const after = evaluateHead(r.head, test, 1);
      expect(after.tar1e3, options.loss).toBeGreaterThan(before.tar1e3 + 0.2);
      expect(r.history).toHaveLength(options.epochs);
      expect(r.history.at(-1)!.loss).toBeLessThan(r.history[0]!.loss);
    }
  });

  it("gives a one-layer triplet head the embedding's own width by default, starting as the identity", () => {
    // 16-D here; 128 for dlib, 192 for MobileFaceNet.
    const r = trainHead(train, val, {
      ...quick,
      outDim: DEFAULT_TRAIN_OPTIONS.outDim,
      epochs: 1,
      learningRate: 0,
    });
    const layer = r.head.net.layers[0]!;
    expect([layer.inDim, layer.outDim]).toEqual([16, 16]);
    for (let o = 0; o < 16; o++)
      for (let i = 0; i < 16; i++) expect(layer.w[o * 16 + i]).toBe(o === i ? 1 : 0);
  });

  it('reports fewer violating triplets as training goes, and is reproducible with a seed', () => {
    const a = trainHead(train, val, { ...quick, epochs: 8 });
    const b = trainHead(train, val, { ...quick, epochs: 8 });
    expect(a.history.at(-1)!.activeFraction).toBeLessThan(a.history[0]!.activeFraction);
    expect([...a.head.net.layers[0]!.w]).toEqual([...b.head.net.layers[0]!.w]);
    expect(a.history.map((h) => h.loss)).toEqual(b.history.map((h) => h.loss));
  });
});

describe('the exported ONNX head', () => {
  const random = seededRandom(5);
  const rows = 7;
  const x = Float32Array.from({ length: rows * 12 }, () => gaussian(random));
  const x64 = Float64Array.from(x);

  for (const hidden of [0, 6]) {
    it(`triplet head (${hidden ? 'two layers' : 'linear'}) gives the training code's projections`, async () => {
      const net = createNetwork(hidden ? [12, hidden, 5] : [12, 5], { normalize: true, random });
      const file = join(dir, `triplet-${hidden}.onnx`);
      writeHead(
        file,
        { kind: 'triplet', net },
        { encoder: 'x', threshold: 0.9, thresholdFar: 1e-3, trained: {} },
      );
      const model = await HeadModel.open(file);
      const got = await model.project(Array.from({ length: rows }, (_, i) => x.slice(i * 12, (i + 1) * 12)));
      const want = forward(net, x64, rows).output;
      got.forEach((v, i) => v.forEach((g, k) => expect(Math.abs(g - want[i * 5 + k]!)).toBeLessThan(1e-5)));
      expect(model.manifest).toMatchObject({ kind: 'triplet', inputDim: 12, threshold: 0.9 });
      await model.release();
    });
  }

  it('binary head gives the training code similarities', async () => {
    const net = createNetwork([12, 6, 1], { normalize: false, random });
    const file = join(dir, 'binary.onnx');
    writeHead(
      file,
      { kind: 'binary', net },
      { encoder: 'x', threshold: 0.5, thresholdFar: 1e-3, trained: {} },
    );
    const model = await HeadModel.open(file);
    const b = x.map((v) => v * 0.5 + 0.1);
    const got = await model.similarity(x, b, rows);
    const both = new Float64Array(2 * rows * 12);
    both.set(x64);
    both.set(Float64Array.from(b), rows * 12);
    const pairs = Array.from({ length: rows }, (_, i) => ({ a: i, b: rows + i, same: false }));
    const logits = forward(net, absDifferences(both, 12, pairs), rows).output;
    logits.forEach((z, i) => expect(Math.abs(got[i]! - sigmoid(z))).toBeLessThan(1e-5));
    await model.release();
  });

  it('is refused when the file does not match its manifest', async () => {
    const file = join(dir, 'triplet-0.onnx');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(join(dir, 'altered.onnx'), bytes);
    writeFileSync(join(dir, 'altered.onnx.json'), readFileSync(`${file}.json`));
    await expect(HeadModel.open(join(dir, 'altered.onnx'))).rejects.toThrow(
      /altered\.onnx: sha256 .* differs/,
    );
    await expect(HeadModel.open(join(dir, 'none.onnx'))).rejects.toThrow(/none\.onnx: cannot read/);
  });
});

describe('facegate train', () => {
  it('trains on a folder of identities and writes the head, its manifest and the report', async () => {
    const data = join(dir, 'people');
    for (const i of [0, 1, 2] as const) {
      mkdirSync(join(data, `person${i}`), { recursive: true });
      const face = await faceCrop(i);
      await sharp(face).toFile(join(data, `person${i}`, 'a.png'));
      await sharp(face)
        .flop()
        .toFile(join(data, `person${i}`, 'b.png'));
      await sharp(face)
        .modulate({ brightness: 0.8 })
        .toFile(join(data, `person${i}`, 'c.png'));
    }
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const args = [
      'train',
      '--data',
      data,
      '--out',
      join(dir, 'head.onnx'),
      '--epochs',
      '3',
      '--batch-identities',
      '2',
    ];
    const code = await main(
      [
        ...args,
        '--val-fraction',
        '0.34',
        '--report',
        join(dir, 'report'),
        '--cache',
        join(dir, 'cache.json'),
      ],
      io,
    );
    expect(code, err.join('\n')).toBe(0);
    expect(err.join('\n')).toMatch(/9 embedded \(9 encoded now.*\), 0 without a face/);
    expect(err.join('\n')).toMatch(/epoch +3\/3 +loss [\d.]+ +active triplets/);
    for (const f of [
      'head.onnx',
      'head.onnx.json',
      'report/curves.png',
      'report/roc.png',
      'report/summary.md',
    ])
      expect(existsSync(join(dir, f)), f).toBe(true);
    const manifest = JSON.parse(readFileSync(join(dir, 'head.onnx.json'), 'utf8')) as {
      kind: string;
      encoder: string;
    };
    expect(manifest.kind).toBe('triplet');
    expect(manifest.encoder).toMatch(/^[0-9a-f]{64}\/unit$/);
    // The cache makes the second run skip encoding.
    err.length = 0;
    expect(await main([...args, '--loss', 'binary', '--cache', join(dir, 'cache.json')], io)).toBe(0);
    expect(err.join('\n')).toMatch(/9 embedded \(0 encoded now/);
    expect(
      await main(['train', '--data', data, '--out', join(dir, 'x.onnx'), '--mining', 'hardest'], io),
    ).toBe(2);
    expect(err.join('\n')).toMatch(/--mining must be one of hard, semi-hard, random/);
    const hidden = async (...more: string[]) => {
      err.length = 0;
      expect(await main(['train', '--data', data, '--out', join(dir, 'x.onnx'), ...more], io)).toBe(2);
      return err.join('\n');
    };
    expect(await hidden('--loss', 'binary', '--hidden', '0')).toMatch(/--hidden must be an integer >= 1/);
    expect(await hidden('--hidden', 'many')).toMatch(/--hidden: "many" is not a number/);
  });
});
