// Child process for emulated-cpu.test.ts, run natively and under qemu-x86_64 with a CPU model:
// encodes the chips in argv[2] (float32 NHWC, 150x150x3 each) with the float encoder argv[3] and
// each int8 encoder after it, and prints, per int8 encoder, each face's distance from its float
// embedding (unit length), as one JSON line.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const [chipsFile, floatFile, ...int8Files] = process.argv.slice(2) as [string, string, ...string[]];
const chips = new Float32Array(new Uint8Array(readFileSync(chipsFile)).buffer);
const count = chips.length / (150 * 150 * 3);

async function encode(file: string): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(file);
  const out = await session.run({ image: new ort.Tensor('float32', chips, [count, 150, 150, 3]) });
  await session.release();
  const data = out.embedding!.data as Float32Array;
  return Array.from({ length: count }, (_, i) => {
    const e = data.slice(i * 128, (i + 1) * 128);
    const n = Math.hypot(...e);
    return e.map((v) => v / n);
  });
}

const float = await encode(floatFile);
const distances: number[][] = [];
for (const file of int8Files) {
  const int8 = await encode(file);
  distances.push(int8.map((e, i) => Math.hypot(...e.map((v, k) => v - float[i]![k]!))));
}
process.stdout.write(`${JSON.stringify(distances)}\n`);
