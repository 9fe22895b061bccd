// `make bench`: facegate's models and pipeline against @vladmandic/face-api on the tfjs WASM
// backend, in the same process on the same images, plus the machine's fp32 matrix rate so the
// encoder can be compared with its floor (multiply-adds per face / achievable FLOP rate).
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Matcher } from '../src/gallery/matcher.js';
import { benchTraining } from './training.js';
import { benchGallerySync } from './gallery-sync.js';
import { benchEncoders, faceChips } from './encoders.js';
import { benchLiveness } from './liveness.js';
import { benchMqtt } from './mqtt.js';
import { benchPrivacy } from './privacy.js';
import { benchConsole } from './console.js';
import { benchEmbedMemory } from './embed-memory.js';
import { DEFAULT_DETECTOR_OPTIONS, detectFaces } from '../src/inference/detector.js';
import { FaceEngine, type StageTimings } from '../src/inference/faces.js';
import { GraphBuilder } from '../src/inference/onnx-writer.js';
import { decodeImage } from '../src/vision/image.js';
import { alignmentTransform } from '../src/vision/alignment.js';
import { warpAffine } from '../src/vision/warp.js';
import { loadFaceApi } from '../test/helpers/faceapi-reference.js';
import { samplePhoto } from '../test/helpers/fixtures.js';
import { machine, medianMs, Table } from './harness.js';

/** Achievable fp32 rate: ONNX Runtime's own GEMM on a square MatMul, GFLOP/s. */
async function measureMatmulGflops(n = 1024): Promise<number> {
  const g = new GraphBuilder('gemm');
  const a = g.input('a', [n, n]);
  g.node('MatMul', [a, g.floats('b', [n, n], new Float32Array(n * n).fill(0.001))], {}, 'c');
  g.output('c', [n, n]);
  const s = await ort.InferenceSession.create(g.toModel({ producer: 'bench', version: '1', doc: '' }));
  const input = new ort.Tensor('float32', new Float32Array(n * n).fill(1), [n, n]);
  const ms = await medianMs(() => s.run({ a: input }), { warmup: 3, runs: 10 });
  await s.release();
  return (2 * n * n * n) / (ms / 1000) / 1e9;
}

// dlib's network, the one face-api runs: this part compares the same network in both runtimes,
// float and int8 (bench/encoders.ts compares the encoders).
const engine = await FaceEngine.open({ encoder: 'dlib' });
const faceapi = await loadFaceApi();
console.log(
  `# facegate bench\n\nMachine: ${machine()}; ONNX Runtime CPU provider; face-api ${engine.encoder.entry.source.version} on tfjs WASM.\n`,
);

const gflops = await measureMatmulGflops();
const encoderGflop = (2 * engine.encoder.entry.multiplyAdds) / 1e9;
const floorMs = (encoderGflop / gflops) * 1000;
console.log(`fp32 matrix rate (ONNX Runtime MatMul 1024^3): ${gflops.toFixed(1)} GFLOP/s`);
console.log(
  `encoder cost: ${encoderGflop.toFixed(3)} GFLOP per face -> floor ${floorMs.toFixed(2)} ms per face\n`,
);

const int8 = await FaceEngine.open({ encoder: 'dlib', int8: true });
const chips8 = await faceChips(engine, 8);
const per = 150 * 150 * 3;
const table = new Table([
  'encoder',
  'batch',
  'ms per batch',
  'ms per face',
  'x fp32 floor',
  'face-api ms per face',
  'speed-up',
]);
const tf = faceapi.tf;
for (const batch of [1, 8]) {
  const input = chips8.subarray(0, batch * per);
  const tensors = Array.from({ length: batch }, (_, i) =>
    tf.tensor3d(chips8.subarray(i * per, (i + 1) * per), [150, 150, 3]),
  );
  const netInput = await faceapi.toNetInput(batch === 1 ? tensors[0]! : tensors);
  const theirs =
    (await medianMs(
      async () => {
        const out = faceapi.nets.faceRecognitionNet.forwardInput(netInput);
        await out.data();
        out.dispose();
      },
      { warmup: 2, runs: 7 },
    )) / batch;
  tensors.forEach((t) => t.dispose());
  for (const [name, e] of [
    ['facegate ONNX', engine],
    ['facegate ONNX int8', int8],
  ] as const) {
    const ours = (await medianMs(() => e.encodeChips(input, batch))) / batch;
    table.add(
      name,
      String(batch),
      ours * batch,
      ours,
      ours / floorMs,
      theirs,
      `${(theirs / ours).toFixed(1)}x`,
    );
  }
}
console.log(table.toString());
console.log(
  "\nThe daemon encodes a live face once, and a second time (its mirror image) when its decision lies near the threshold (recognition.mirror 'near-threshold'); enrollment always encodes both.\n",
);

// The whole pipeline on a 720p frame (sample1.jpg scaled and cropped to 1280x720, 3 faces).
const frameBytes = await sharp(samplePhoto('sample1.jpg'))
  .resize(1280, 720, { fit: 'cover' })
  .png()
  .toBuffer();
const frame = await decodeImage(frameBytes);
const faces = await engine.analyze(frame, { select: 'all' });
const detectMs = await medianMs(() => detectFaces(engine.detector, frame, DEFAULT_DETECTOR_OPTIONS), {
  runs: 9,
});
const landmarkMs = await medianMs(
  () =>
    engine.landmarks(
      frame,
      faces.map((f) => f.box),
    ),
  { runs: 9 },
);
const chip = new Float32Array(150 * 150 * 3);
const alignMs = await medianMs(
  () => warpAffine(frame, alignmentTransform(faces[0]!.landmarks, 150), 150, 150, chip),
  { runs: 50 },
);

const frameTensor = tf.tensor3d(frame.data, [frame.height, frame.width, 3], 'int32');
await loadFaceApi(['ssdMobilenetv1', 'faceLandmark68Net']);
const faceApiDefault = async () =>
  faceapi
    .detectAllFaces(frameTensor, new faceapi.SsdMobilenetv1Options())
    .withFaceLandmarks()
    .withFaceDescriptors();
const faceApiTiny = async () =>
  faceapi
    .detectAllFaces(frameTensor, new faceapi.TinyFaceDetectorOptions())
    .withFaceLandmarks(true)
    .withFaceDescriptors();
const defaultFaces = (await faceApiDefault()).length;
const tinyFaces = (await faceApiTiny()).length;
const defaultMs = await medianMs(faceApiDefault, { warmup: 1, runs: 5 });
const tinyMs = await medianMs(faceApiTiny, { warmup: 1, runs: 5 });
frameTensor.dispose();

const stages = new Table([
  '720p frame (1280x720)',
  'faces',
  'ms',
  'face-api default (SSD) / this',
  'face-api tiny / this',
]);
stages.add('facegate detection (pyramid)', faces.length, detectMs, '', '');
stages.add('facegate landmarks (all faces)', faces.length, landmarkMs, '', '');
stages.add('facegate alignment (one face)', 1, alignMs, '', '');
// "Comparable": faces from 80 px, one encoder pass per face. In a 720p frame face-api's default
// SSD, which sees it at 512x512, finds 72% of 64 px faces and 86% of 80 px ones; this finds 62%
// and 97%, and as many as face-api over 56-128 px (bench/RESULTS.md, 2026-11-29, fourth look).
const comparable = { select: 'all', detector: { minFaceSize: 80 } } as const;
// The default recognition.mirror, 'near-threshold', encodes a face a second time (its mirror
// image) only when its decision is close: the frame's cost lies between these two bounds, and
// where depends on the gallery (on lfw-dev about one live face in five is near; RESULTS).
const noneNear = { mirror: () => false };
const allNear = { mirror: () => true };
const PIPELINE_RUNS = 21;
const breakdown = new Table([
  `whole pipeline, median of ${PIPELINE_RUNS}`,
  'detect',
  'landmarks',
  'align + quality',
  'encode',
]);
for (const [name, e, opts] of [
  ['defaults: faces from 48 px, no face near the threshold', engine, { select: 'all', ...noneNear }],
  ['defaults, every face near the threshold (mirrored)', engine, { select: 'all', ...allNear }],
  ['defaults, int8 encoder, none near', int8, { select: 'all', ...noneNear }],
  [
    'comparable: faces from 80 px like face-api, none near (one pass)',
    engine,
    { ...comparable, ...noneNear },
  ],
  ['comparable, every face near (mirrored)', engine, { ...comparable, ...allNear }],
  ['comparable, int8 encoder, none near', int8, { ...comparable, ...noneNear }],
] as const) {
  const found = (await e.analyze(frame, opts)).length;
  const timings: Required<StageTimings>[] = []; // the warm-up runs' too: only the measured are used
  const ms = await medianMs(
    async () => {
      const t: StageTimings = {};
      await e.analyze(frame, { ...opts, timings: t });
      timings.push(t as Required<StageTimings>);
    },
    { warmup: 5, runs: PIPELINE_RUNS },
  );
  stages.add(
    `facegate whole pipeline (${name})`,
    found,
    ms,
    `${(defaultMs / ms).toFixed(1)}x`,
    `${(tinyMs / ms).toFixed(1)}x`,
  );
  const measured = timings.slice(-PIPELINE_RUNS);
  const median = (k: keyof StageTimings) =>
    measured.map((t) => t[k]).sort((a, b) => a - b)[measured.length >> 1]!;
  breakdown.add(name, median('detect'), median('landmarks'), median('align'), median('encode'));
}
stages.add('face-api default: SSD MobileNet + 68 landmarks + descriptors', defaultFaces, defaultMs, '', '');
stages.add('face-api tiny: tiny detector + tiny landmarks + descriptors', tinyFaces, tinyMs, '', '');
console.log(stages.toString());
console.log(`\n${breakdown.toString()}`);
await int8.release();

// The matcher over galleries of random embeddings.
const matcherTable = new Table(['gallery people', 'ms per query', 'build ms']);
for (const people of [1_000, 10_000, 100_000]) {
  const entries = Array.from({ length: people }, (_, i) => ({
    personId: `p${i}`,
    name: `P ${i}`,
    embedding: Float32Array.from({ length: 128 }, () => Math.random() - 0.5),
  }));
  const t0 = performance.now();
  const matcher = await Matcher.create(entries);
  const buildMs = performance.now() - t0;
  const query = Float32Array.from({ length: 128 }, () => Math.random() - 0.5);
  matcherTable.add(
    people.toLocaleString('en'),
    await medianMs(() => matcher.nearest(query), { runs: 21 }),
    buildMs,
  );
  await matcher.release();
}
console.log(`\n${matcherTable.toString()}`);
console.log(
  `\npeak RSS: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (this process: facegate models, face-api on WASM, a 100,000-person gallery)`,
);
await engine.release();

console.log('\n## The two encoders (bench/encoders.ts)\n');
console.log(await benchEncoders());

console.log('\n## Liveness per attack type (bench/liveness.ts)\n');
console.log(await benchLiveness());
if (process.argv.includes('--models-only')) process.exit(0);

console.log('\n## Gallery sync\n');
console.log(await benchGallerySync(1000));
console.log('\n## Gallery sync, encrypted at rest\n');
console.log(await benchGallerySync(1000, undefined, true));

console.log('\n## Encryption at rest: gallery load and match (bench/privacy.ts)\n');
console.log(await benchPrivacy());

console.log('\n## The console: live view cost per viewer (bench/console.ts)\n');
console.log(await benchConsole());

console.log('\n## MQTT events through the outbox\n');
try {
  console.log(await benchMqtt());
} catch (err) {
  console.log(`skipped: ${(err as Error).message} (the MQTT bench needs Mosquitto: make deps)`);
}

// In a process of its own: CPU per frame and the parser's RSS must not carry this process's heap.
console.log('\n## Camera ingestion\n');
try {
  const camera = join(dirname(fileURLToPath(import.meta.url)), 'camera.ts');
  console.log(
    execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', camera], { encoding: 'utf8' }).trim(),
  );
} catch (err) {
  console.log(
    `skipped: ${(err as Error).message} (the camera bench needs the GStreamer RTSP server: make deps)`,
  );
}

// Peak memory of `facegate embed` per photo size, each a process of its own (bench/embed-memory.ts).
console.log('\n## Memory: facegate embed, by photo size\n');
try {
  console.log(await benchEmbedMemory());
} catch (err) {
  console.log(`skipped: ${(err as Error).message}`);
}

// The whole daemon, one and four cameras, each run in a process of its own (bench/daemon.ts).
console.log('\n## Daemon: one and four cameras, by scene, with where its memory is\n');
try {
  const daemon = join(dirname(fileURLToPath(import.meta.url)), 'daemon.ts');
  console.log(execFileSync(process.execPath, ['--import', 'tsx', daemon], { encoding: 'utf8' }).trim());
} catch (err) {
  console.log(`skipped: ${(err as Error).message}`);
}

// Learning the similarity (issue 8): heads on lfw-dev embeddings, colour and grayscale.
console.log('\n## Training heads on lfw-dev embeddings\n');
try {
  console.log(await benchTraining());
} catch (err) {
  console.log(`skipped: ${(err as Error).message} (needs ../shared/faces)`);
}
