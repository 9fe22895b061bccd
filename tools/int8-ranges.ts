// `make int8-ranges`: measures the range of every activation the int8 encoder quantizes, on the
// faces of the sample photos inside @vladmandic/face-api (there on every machine; none of the
// evaluation faces), in colour and in grayscale, each as the float pipeline aligns it and mirrored, and writes
// tools/int8-ranges.json, from which `make models` builds the int8 graph. The ranges are the
// minimum and maximum seen: on held-out faces a percentile clip (99.99%) moved embeddings twice
// as far from the float ones as min/max (bench/RESULTS.md, 2026-11-29).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { FaceEngine, withMirrors } from '../src/inference/faces.js';
import { decodeImage, toGrayscale } from '../src/vision/image.js';
import { INT8_RANGES_FILE, sourcePackage, sourceWeights, type Int8Ranges } from './converter.js';
import { buildFaceRecognition } from './nets.js';
import type { ActivationRanges } from './quantize.js';

export const RANGE_PHOTOS = [1, 2, 3, 4, 5, 6].map((i) => `demo/sample${i}.jpg`);

/** Significant digits kept: the file stays readable and the same on any CPU. */
const DIGITS = 6;

export async function measureEncoderRanges(packageDir: string, modelsDir?: string): Promise<Int8Ranges> {
  const engine = await FaceEngine.open({ ...(modelsDir ? { modelsDir } : {}), encoder: 'dlib', int8: false });
  const observed = await ort.InferenceSession.create(
    buildFaceRecognition(sourceWeights('encoder'), 'observe').toModel({
      producer: 'int8-ranges',
      version: '1',
      doc: '',
    }),
  );
  const ranges: ActivationRanges = {};
  let faces = 0;
  try {
    const photos = await Promise.all(RANGE_PHOTOS.map((p) => decodeImage(join(packageDir, p))));
    // In colour and as a monochrome (infrared) camera sees them: night frames must fit the ranges too.
    for (const photo of [...photos, ...photos.map(toGrayscale)]) {
      const { chips, count } = await engine.align(photo, { select: 'all' });
      if (!count) continue;
      faces += count;
      const size = engine.encoderSize;
      const image = new ort.Tensor('float32', withMirrors(chips, count, size), [2 * count, size, size, 3]);
      for (const [name, tensor] of Object.entries(await observed.run({ image }))) {
        if (name === 'embedding') continue;
        let [lo, hi] = ranges[name] ?? [Infinity, -Infinity];
        for (const v of tensor.data as Float32Array) {
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        ranges[name] = [lo, hi];
      }
    }
  } finally {
    await Promise.all([engine.release(), observed.release()]);
  }
  const round = (v: number): number => Number(v.toPrecision(DIGITS));
  for (const r of Object.values(ranges)) r.splice(0, 2, round(r[0]), round(r[1]));
  return { photos: RANGE_PHOTOS, faces, ranges: { encoder: ranges } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const measured = await measureEncoderRanges(sourcePackage().dir);
  // Each [min, max] on one line, as prettier writes it.
  const text = JSON.stringify(measured, null, 2).replace(/\[\s+([^,\s]+),\s+([^\s\]]+)\s+\]/g, '[$1, $2]');
  writeFileSync(INT8_RANGES_FILE, `${text}\n`);
  console.log(
    `${INT8_RANGES_FILE}: ${Object.keys(measured.ranges.encoder!).length} ranges from ${measured.faces} faces`,
  );
}
