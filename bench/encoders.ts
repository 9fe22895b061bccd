// `make bench` (encoders): dlib's ResNet (float and int8) against MobileFaceNet, in one process on
// the same faces, interleaved run by run so the machine's noise falls on each alike: ms per face at
// batch 1 and 8, and the whole pipeline (detection, landmarks, alignment, one encoder pass per
// face) on a 720p frame with each.
import sharp from 'sharp';
import { FaceEngine } from '../src/inference/faces.js';
import { decodeImage } from '../src/vision/image.js';
import { samplePhoto } from '../test/helpers/fixtures.js';
import { medianMs, Table } from './harness.js';

/** `count` aligned chips for `engine`'s encoder, from the faces of the sample photos. */
export async function faceChips(engine: FaceEngine, count: number): Promise<Float32Array> {
  const per = engine.encoderSize * engine.encoderSize * 3;
  const found: Float32Array[] = [];
  for (const name of ['sample1.jpg', 'sample3.jpg', 'sample4.jpg']) {
    const a = await engine.align(await decodeImage(samplePhoto(name)), { select: 'all' });
    for (let i = 0; i < a.count; i++) found.push(a.chips.subarray(i * per, (i + 1) * per));
  }
  const out = new Float32Array(count * per);
  for (let i = 0; i < count; i++) out.set(found[i % found.length]!, i * per);
  return out;
}

export async function benchEncoders(): Promise<string> {
  const engines = [
    ['dlib ResNet-29, float', await FaceEngine.open({ encoder: 'dlib' })],
    ['dlib ResNet-29, int8', await FaceEngine.open({ encoder: 'dlib', int8: true })],
    ['MobileFaceNet, float', await FaceEngine.open({ encoder: 'mobilefacenet' })],
  ] as const;
  const frame = await decodeImage(
    await sharp(samplePhoto('sample1.jpg')).resize(1280, 720, { fit: 'cover' }).png().toBuffer(),
  );
  const table = new Table([
    'encoder',
    'multiply-adds per face',
    'ms per face, batch 1',
    'batch 8',
    '720p frame, whole pipeline ms (faces)',
  ]);
  const input = await Promise.all(engines.map(([, e]) => faceChips(e, 8)));
  const times = engines.map(() => ({ b1: [] as number[], b8: [] as number[], frame: [] as number[] }));
  // Rounds of each engine in turn; the median of the rounds' medians.
  for (let round = 0; round < 5; round++) {
    for (const [k, [, e]] of engines.entries()) {
      const one = input[k]!.subarray(0, input[k]!.length / 8);
      times[k]!.b1.push(await medianMs(() => e.encodeChips(one, 1), { warmup: 2, runs: 15 }));
      times[k]!.b8.push((await medianMs(() => e.encodeChips(input[k]!, 8), { warmup: 1, runs: 7 })) / 8);
      times[k]!.frame.push(
        await medianMs(() => e.analyze(frame, { select: 'all', mirror: false }), { warmup: 1, runs: 5 }),
      );
    }
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  for (const [k, [name, e]] of engines.entries()) {
    const faces = (await e.analyze(frame, { select: 'all', mirror: false })).length;
    table.add(
      name,
      `${(e.encoder.entry.multiplyAdds / 1e6).toFixed(0)} M`,
      median(times[k]!.b1),
      median(times[k]!.b8),
      `${median(times[k]!.frame).toFixed(1)} (${faces})`,
    );
  }
  await Promise.all(engines.map(([, e]) => e.release()));
  return table.toString();
}

if (process.argv[1] === import.meta.filename) console.log(await benchEncoders());
