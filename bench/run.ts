// `make bench`: facegate's models and pipeline against @vladmandic/face-api on the tfjs WASM
// backend, in the same process on the same images, plus the machine's fp32 matrix rate so the
// encoder can be compared with its floor (multiply-adds per face / achievable FLOP rate).
import * as ort from 'onnxruntime-node';
import { FaceEngine } from '../src/inference/faces.js';
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

/** Aligned 150x150 chips of the faces in the sample photos, repeated to `count`. */
async function faceChips(engine: FaceEngine, count: number): Promise<Float32Array> {
  const per = 150 * 150 * 3;
  const chips: Float32Array[] = [];
  for (const name of ['sample1.jpg', 'sample3.jpg', 'sample4.jpg']) {
    const image = await decodeImage(samplePhoto(name));
    for (const f of await engine.analyze(image, { select: 'all' })) {
      const chip = new Float32Array(per);
      warpAffine(image, alignmentTransform(f.landmarks, 150), 150, 150, chip);
      chips.push(chip);
    }
  }
  const out = new Float32Array(count * per);
  for (let i = 0; i < count; i++) out.set(chips[i % chips.length]!, i * per);
  return out;
}

const engine = await FaceEngine.open();
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

const chips8 = await faceChips(engine, 8);
const per = 150 * 150 * 3;
const table = new Table([
  'encoder',
  'batch',
  'ms per batch',
  'ms per face',
  'x floor',
  'face-api ms per face',
  'speed-up',
]);
const tf = faceapi.tf;
for (const batch of [1, 8]) {
  const input = chips8.subarray(0, batch * per);
  const ours = (await medianMs(() => engine.encodeChips(input, batch))) / batch;
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
  table.add(
    'facegate ONNX',
    String(batch),
    ours * batch,
    ours,
    ours / floorMs,
    theirs,
    `${(theirs / ours).toFixed(1)}x`,
  );
}
console.log(table.toString());
await engine.release();
