// MobileFaceNet converted from the packaged TFLite file by our own reader: the ONNX graph gives
// TensorFlow Lite's own embeddings (test/fixtures/mobilefacenet-reference.json, made by
// tools/mobilefacenet-reference.py with the TFLite interpreter) within 1e-4, for any batch size;
// a truncated or foreign file is refused with its name and what is wrong.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildMobileFaceNet, mobileFaceNetTflite, MOBILEFACENET } from '../../tools/converter.js';
import { readTflite } from '../../tools/tflite.js';
import { PROJECT_ROOT, samplePhoto } from '../helpers/fixtures.js';

type Reference = {
  source: { sha256: string };
  inputs: { name: string; nhwcRgbUint8Base64: string }[];
  embeddings: number[][];
};
const reference = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'test/fixtures/mobilefacenet-reference.json'), 'utf8'),
) as Reference;

describe('MobileFaceNet from the packaged TFLite file', () => {
  const tflite = mobileFaceNetTflite();

  it('is the file the reference was made from', () => {
    expect(createHash('sha256').update(tflite).digest('hex')).toBe(reference.source.sha256);
  });

  it("gives TensorFlow Lite's embeddings within 1e-4, one face at a time and in a batch", async () => {
    const session = await ort.InferenceSession.create(
      buildMobileFaceNet(tflite).toModel({ producer: 'test', version: '1', doc: '' }),
    );
    const size = MOBILEFACENET.size * MOBILEFACENET.size * 3;
    const pixels = reference.inputs.map((i) =>
      Float32Array.from(Buffer.from(i.nhwcRgbUint8Base64, 'base64')),
    );
    const run = async (images: Float32Array[]) => {
      const batch = new Float32Array(images.length * size);
      images.forEach((p, k) => batch.set(p, k * size));
      const out = await session.run({
        image: new ort.Tensor('float32', batch, [images.length, MOBILEFACENET.size, MOBILEFACENET.size, 3]),
      });
      const data = out.embedding!.data as Float32Array;
      expect(out.embedding!.dims).toEqual([images.length, MOBILEFACENET.embedding]);
      return images.map((_, k) =>
        data.subarray(k * MOBILEFACENET.embedding, (k + 1) * MOBILEFACENET.embedding),
      );
    };
    const alone = [...(await run([pixels[0]!])), ...(await run([pixels[1]!]))];
    const together = await run([...pixels, pixels[0]!]);
    for (const got of [alone, together])
      reference.embeddings.forEach((expected, k) => {
        const diff = Math.max(...expected.map((v, i) => Math.abs(v - got[k]![i]!)));
        expect(diff, reference.inputs[k]!.name).toBeLessThan(1e-4);
      });
    await session.release();
  });

  it("rewrites each PReLU the exporter decomposed into ONNX Runtime's blocked-layout ops", () => {
    const model = readTflite(tflite, 'MobileFaceNet.tflite');
    const text = Buffer.from(
      buildMobileFaceNet(tflite).toModel({ producer: 'test', version: '1', doc: '' }),
    ).toString('latin1');
    // Each node carries its type and its name: two mentions per node.
    const nodes = (op: string) => (text.split(op).length - 1) / 2;
    const prelus = model.operators.filter((o) => o.op === 'RELU').length;
    expect(prelus).toBe(33);
    expect(nodes('BatchNormalization')).toBe(prelus);
    expect(nodes('Abs')).toBe(0);
    expect(nodes('PRelu')).toBe(0);
  });

  it('refuses a truncated file, a foreign file and an empty one, naming the file', () => {
    expect(() => readTflite(tflite.subarray(0, 100_000), 'cut.tflite')).toThrow(
      /^cut\.tflite: truncated or damaged TFLite file \(.* beyond its 100000 bytes\)$/,
    );
    expect(() => readTflite(readFileSync(samplePhoto('sample1.jpg')), 'photo.tflite')).toThrow(
      'photo.tflite: not a TFLite model (no "TFL3" identifier at byte 4)',
    );
    expect(() => readTflite(new Uint8Array(0), 'empty.tflite')).toThrow(/^empty\.tflite: not a TFLite model/);
  });
});
