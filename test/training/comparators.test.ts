// The daemon's comparators: a triplet head inside the face engine (the gallery re-embeds when
// the head changes) and a binary head scoring the probe against every gallery row.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import { DEFAULT_SIMILAR_FACE_RATIO, enrollPerson, reembedGallery } from '../../src/gallery/enroll.js';
import { PairHeadMatcher } from '../../src/gallery/pair-matcher.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { DEFAULT_THRESHOLD, FaceEngine } from '../../src/inference/faces.js';
import { HeadModel } from '../../src/inference/head.js';
import { writeHead } from '../../src/training/export.js';
import { createNetwork } from '../../src/training/network.js';
import { seededRandom } from '../../src/training/random.js';
import { decodeImage } from '../../src/vision/image.js';
import { DEFAULT_QUALITY_GATES } from '../../src/vision/quality.js';
import { faceCrop } from '../helpers/faces.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-comparators-'));
let plain: FaceEngine;

beforeAll(async () => {
  plain = await FaceEngine.open({ encoder: 'dlib' });
});

afterAll(async () => {
  await plain.release();
  rmSync(dir, { recursive: true, force: true });
});

describe('comparators', () => {
  it('needs a head file for a head comparator', () => {
    expect(() => loadConfig(undefined, { FACEGATE_MATCH_COMPARATOR: 'binary-head' })).toThrow(
      /match\.headFile: the binary-head comparator needs the head's file/,
    );
  });

  it('triplet head: embeddings are its unit-length projections, and the gallery re-embeds for it', async () => {
    const file = join(dir, 'triplet.onnx');
    const net = createNetwork([128, 128], { normalize: true, identity: true, random: seededRandom(1) });
    writeHead(
      file,
      { kind: 'triplet', net },
      { encoder: plain.encoderId, threshold: 0.8, thresholdFar: 1e-3, trained: {} },
    );
    const store = new GalleryStore(join(dir, 'gallery.sqlite'));
    const policy = {
      threshold: DEFAULT_THRESHOLD,
      gates: DEFAULT_QUALITY_GATES,
      similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
    };
    await enrollPerson(
      plain,
      store,
      { id: 'ann', name: 'Ann' },
      [{ bytes: await faceCrop(0), source: 'ann.png' }],
      policy,
    );

    const engine = await FaceEngine.open({ encoder: 'dlib', projection: await HeadModel.open(file) });
    try {
      expect(engine.encoderId).toBe(`${plain.encoderId}+${engine.projectionManifest!.sha256}`);
      const [face] = await engine.analyze(await decodeImage(await faceCrop(0)));
      const norm = Math.hypot(...face!.embedding);
      expect(norm).toBeCloseTo(1, 5);
      expect(store.entries(engine.encoderId)).toHaveLength(0);
      expect(await reembedGallery(engine, store)).toEqual({ embedded: 1, failed: [] });
      expect(Math.hypot(...store.entries(engine.encoderId)[0]!.embedding)).toBeCloseTo(1, 5);
    } finally {
      await engine.release();
      store.close();
    }
  });

  it('refuses a head trained on another encoder', async () => {
    const file = join(dir, 'other.onnx');
    const net = createNetwork([128, 128], { normalize: true, identity: true, random: seededRandom(1) });
    writeHead(
      file,
      { kind: 'triplet', net },
      { encoder: 'f'.repeat(64), threshold: 0.8, thresholdFar: 1e-3, trained: {} },
    );
    await expect(
      FaceEngine.open({ encoder: 'dlib', projection: await HeadModel.open(file) }),
    ).rejects.toThrow(/trained on encoder ffffffffffff/);
  });

  it('binary head: the most similar person, the runner-up and the margin, as distances 1 - similarity', async () => {
    // similarity = sigmoid(5 - 10 * L1 distance): the head prefers the closest row in L1.
    const net = createNetwork([3, 1, 1], { normalize: false, random: seededRandom(1) });
    net.layers[0]!.w.fill(1);
    net.layers[1]!.w[0] = -10;
    net.layers[1]!.b[0] = 5;
    const file = join(dir, 'binary.onnx');
    writeHead(
      file,
      { kind: 'binary', net },
      { encoder: 'x', threshold: 0.5, thresholdFar: 1e-3, trained: {} },
    );
    const head = await HeadModel.open(file);
    const row = (v: number[]) => Float32Array.from(v);
    const matcher = PairHeadMatcher.create(
      [
        { personId: 'ann', name: 'Ann', embedding: row([0, 0, 0]) },
        { personId: 'bob', name: 'Bob', embedding: row([1, 1, 1]) },
        { personId: 'bob', name: 'Bob', embedding: row([0.5, 0.5, 0.5]) },
      ],
      'best',
      head,
    );
    expect(matcher.size).toBe(2);
    const near = await matcher.nearest(row([0.1, 0, 0]));
    const s = (l1: number) => 1 / (1 + Math.exp(-(5 - 10 * l1)));
    expect(near!.personId).toBe('ann');
    expect(near!.distance).toBeCloseTo(1 - s(0.1), 5);
    expect(near!.second!.personId).toBe('bob'); // its closer row, at L1 1.4
    expect(near!.margin).toBeCloseTo(s(0.1) - s(1.4), 5);
    expect((await matcher.decide(row([0.1, 0, 0]), 0.5)).known).toBe(true);
    expect((await matcher.decide(row([5, 5, 5]), 0.5)).known).toBe(false);
    await head.release();
  });

  it('the daemon runs the binary head with its calibrated threshold, and refuses a head of the wrong kind', async () => {
    const net = createNetwork([128, 8, 1], { normalize: false, random: seededRandom(2) });
    const file = join(dir, 'daemon-binary.onnx');
    writeHead(
      file,
      { kind: 'binary', net },
      { encoder: plain.encoderId, threshold: 0.37, thresholdFar: 1e-3, trained: {} },
    );
    const base = [
      { key: 'stateDir', value: join(dir, 'daemon-state') },
      { key: 'mqtt.embedded.enabled', value: false },
      { key: 'http.enabled', value: false },
      { key: 'models.encoder', value: 'dlib' },
      { key: 'match.comparator', value: 'binary-head' },
    ];
    const logs: { message: string; fields?: Record<string, unknown> }[] = [];
    const daemon = new Daemon(
      loadConfig(undefined, {}, [...base, { key: 'match.headFile', value: file }]),
      (_level, message, fields) => logs.push({ message, ...(fields ? { fields } : {}) }),
      { drainMs: 200 },
    );
    await daemon.start();
    await daemon.stop();
    expect(logs.find((l) => l.message === 'models loaded')?.fields).toMatchObject({
      comparator: 'binary-head',
      threshold: 0.37,
    });
    const wrong = new Daemon(
      loadConfig(undefined, {}, [...base, { key: 'match.headFile', value: join(dir, 'triplet.onnx') }]),
      () => undefined,
    );
    await expect(wrong.start()).rejects.toThrow(/triplet\.onnx: a triplet head, not a binary one/);
    await wrong.stop();
  });
});
