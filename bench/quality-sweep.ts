// How verification accuracy falls as faces get smaller or blurrier: the measurement behind the
// default quality gates (src/vision/quality.ts). Degrades both photos of each lfw-dev pair,
// then reports detection, median eye distance / sharpness, accuracy at the encoder's threshold
// and 10-fold accuracy. Usage: tsx bench/quality-sweep.ts [PAIRS] (default 600 pairs);
// FACEGATE_MODELS_ENCODER=mobilefacenet sweeps the second encoder.
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import { readPairs } from '../src/eval/datasets.js';
import { accuracyAt, kFold } from '../src/eval/metrics.js';
import { ENCODER_THRESHOLDS, euclidean, FaceEngine, type Face } from '../src/inference/faces.js';
import type { EncoderName } from '../src/inference/model-manifest.js';
import { decodeImage } from '../src/vision/image.js';
import { SHARED_FACES, sharedFacesAvailable } from '../test/helpers/fixtures.js';
import { Table } from './harness.js';

if (!sharedFacesAvailable('quality sweep')) process.exit(0);
const count = Number(process.argv[2] ?? 600);
const all = readPairs(join(SHARED_FACES, 'pairs.tsv'), 'lfw-dev/');
const pairs = [
  ...all.filter((p) => p.same).slice(0, count / 2),
  ...all.filter((p) => !p.same).slice(0, count / 2),
];
const files = [...new Set(pairs.flatMap((p) => [p.file1, p.file2]))];
const encoder = (process.env.FACEGATE_MODELS_ENCODER ?? 'dlib') as EncoderName;
const threshold = ENCODER_THRESHOLDS[encoder];
const engine = await FaceEngine.open({ encoder });

type Degrade = { label: string; apply: (s: Sharp, width: number) => Sharp };
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)] ?? NaN;

async function run(d: Degrade) {
  const faces = new Map<string, Face | undefined>();
  for (const f of files) {
    const path = join(SHARED_FACES, f);
    const width = (await sharp(path).metadata()).width ?? 250;
    const buf = await d.apply(sharp(path), width).png().toBuffer();
    faces.set(f, (await engine.analyze(await decodeImage(buf), { select: 'central' }))[0]);
  }
  const scored = pairs.map((p) => {
    const a = faces.get(p.file1);
    const b = faces.get(p.file2);
    return { same: p.same, distance: a && b ? euclidean(a.embedding, b.embedding) : Infinity };
  });
  const found = [...faces.values()].filter((f): f is Face => f !== undefined);
  return {
    detected: found.length / files.length,
    eyes: median(found.map((f) => f.quality.eyeDistance)),
    sharpness: median(found.map((f) => f.quality.sharpness)),
    accuracy: accuracyAt(scored, threshold),
    tenFold: kFold(scored).mean,
  };
}

console.log(`quality sweep (${encoder}): ${pairs.length} lfw-dev pairs, ${files.length} photos\n`);
const table = new Table([
  'degradation',
  'faces found',
  'median eye distance px',
  'median sharpness',
  `accuracy at ${threshold}`,
  '10-fold',
]);
const sweeps: Degrade[] = [
  ...[1, 0.5, 0.35, 0.25, 0.2, 0.15].map((s): Degrade => ({
    label: `scale ${s}`,
    apply: (img, w) => img.resize(Math.round(w * s)),
  })),
  ...[1, 2, 3, 4].map((sigma): Degrade => ({
    label: `blur sigma ${sigma}`,
    apply: (img) => img.blur(sigma),
  })),
];
for (const d of sweeps) {
  const r = await run(d);
  table.add(
    d.label,
    `${(100 * r.detected).toFixed(1)}%`,
    r.eyes,
    r.sharpness,
    `${(100 * r.accuracy).toFixed(2)}%`,
    `${(100 * r.tenFold).toFixed(2)}%`,
  );
  console.log(`${d.label}: done`);
}
console.log(`\n${table.toString()}`);
await engine.release();
