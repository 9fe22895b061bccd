// `make run` until the daemon exists: one-shot identification on the sample photos that
// @vladmandic/face-api ships. Every face in sample1.jpg is enrolled from that one photo; then a
// mirrored, half-size copy of the same photo (the same people, other pixels) and the other
// samples (other people) are probed, each face against its nearest enrolled face.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_THRESHOLD, euclidean, FaceEngine } from '../src/inference/faces.js';
import { decodeImage } from '../src/vision/image.js';

const require = createRequire(import.meta.url);
const demoDir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'demo');
const engine = await FaceEngine.open();
console.log(`facegate demo: models on ${JSON.stringify(engine.providers)}, threshold ${DEFAULT_THRESHOLD}`);

const enrollPath = join(demoDir, 'sample1.jpg');
const gallery = (await engine.analyze(await decodeImage(enrollPath), { select: 'all' })).map((f, i) => ({
  name: `person${i + 1}`,
  embedding: f.embedding,
}));
console.log(`enrolled ${gallery.length} people from sample1.jpg`);

const mirrored = await sharp(enrollPath)
  .flop()
  .resize({ width: Math.round(((await sharp(enrollPath).metadata()).width ?? 1000) / 2) })
  .jpeg()
  .toBuffer();
const probes: [string, Buffer | string][] = [
  ['sample1.jpg mirrored, half size', mirrored],
  ...[2, 3, 4, 5, 6].map((i): [string, string] => [`sample${i}.jpg`, join(demoDir, `sample${i}.jpg`)]),
];
for (const [label, input] of probes) {
  for (const face of await engine.analyze(await decodeImage(input), { select: 'all' })) {
    const scored = gallery.map((g) => ({ name: g.name, d: euclidean(g.embedding, face.embedding) }));
    const best = scored.reduce((a, b) => (b.d < a.d ? b : a));
    const at = `${face.box.x.toFixed(0)},${face.box.y.toFixed(0)}`.padEnd(9);
    const verdict = best.d < DEFAULT_THRESHOLD ? `MATCH ${best.name}` : 'unknown';
    console.log(`${label.padEnd(32)} face at ${at} nearest ${best.name} d=${best.d.toFixed(3)}  ${verdict}`);
  }
}
await engine.release();
