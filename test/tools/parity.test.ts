// Parity: each converted ONNX network against the tfjs reference (face-api on the WASM backend)
// on identical input tensors, noise and real faces. Bound: max abs difference 1e-4 (detector
// confidences compared after the sigmoid, as face-api uses them).
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDetector } from '../../src/inference/detector.js';
import { defaultModelsDir, readManifest, type ModelRole } from '../../src/inference/model-manifest.js';
import { openModel, runModel, type ModelSession } from '../../src/inference/session.js';
import { loadFaceApi, type FaceApiModule } from '../helpers/faceapi-reference.js';
import { samplePhoto, sharedFace, sharedFacesAvailable } from '../helpers/fixtures.js';

const TOLERANCE = 1e-4;
const haveShared = sharedFacesAvailable('parity tests on ../shared/faces photos');

let faceapi: FaceApiModule;
const sessions = {} as Record<ModelRole, ModelSession>;

beforeAll(async () => {
  faceapi = await loadFaceApi();
  const dir = defaultModelsDir();
  const manifest = readManifest(dir);
  for (const role of ['encoder', 'detector', 'landmarks'] as const)
    sessions[role] = await openModel(dir, manifest.models[role]);
});

/** A real photo squashed to size x size RGB floats, the same tensor for both implementations. */
async function photoTensor(path: string, size: number): Promise<Float32Array> {
  const raw = await sharp(path).removeAlpha().resize(size, size, { fit: 'fill' }).raw().toBuffer();
  return Float32Array.from(raw);
}

function noise(count: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: count }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 255;
  });
}

async function runOnnx(
  role: 'encoder' | 'landmarks',
  input: Float32Array,
  dims: number[],
): Promise<Float32Array> {
  return (await runModel(sessions[role], input, dims)).data as Float32Array;
}

function maxAbsDiff(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  map: (v: number, i: number) => number = (v) => v,
): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(map(a[i]!, i) - map(b[i]!, i)));
  return m;
}

async function inputs(size: number): Promise<[string, Float32Array][]> {
  const list: [string, Float32Array][] = [
    ['noise', noise(size * size * 3, size)],
    ['sample1.jpg', await photoTensor(samplePhoto('sample1.jpg'), size)],
  ];
  if (haveShared) {
    for (const p of ['deepface/img1.jpg', 'openface/adams.jpg', 'lfw-dev/AJ_Lamas/AJ_Lamas_0001.jpg']) {
      list.push([p, await photoTensor(sharedFace(p), size)]);
    }
  }
  return list;
}

describe('converted networks match face-api (tfjs WASM) within 1e-4', () => {
  it('face_recognition: 128-D descriptors, batch of real faces and noise', async () => {
    const list = await inputs(150);
    const batch = new Float32Array(list.length * 150 * 150 * 3);
    list.forEach(([, t], i) => batch.set(t, i * t.length));
    const onnx = await runOnnx('encoder', batch, [list.length, 150, 150, 3]);
    // face-api takes a batch as a list of 3-D tensors.
    const xs = list.map(([, t]) => faceapi.tf.tensor3d(t, [150, 150, 3]));
    const ref = faceapi.nets.faceRecognitionNet.forwardInput(await faceapi.toNetInput(xs));
    const diff = maxAbsDiff(onnx, ref.dataSync());
    xs.forEach((x) => x.dispose());
    ref.dispose();
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('tiny_face_detector: box regressors and sigmoid confidences at 416 and 320 (the first level)', async () => {
    for (const size of [416, 320]) {
      for (const [name, noisy] of await inputs(size)) {
        const t = noisy.map(Math.floor);
        const image = { width: size, height: size, data: Uint8Array.from(t) };
        const [grid] = await runDetector(sessions.detector, image, 1, true);
        const onnx = grid!.data;
        const x = faceapi.tf.tensor4d(t, [1, size, size, 3]);
        const ref = faceapi.nets.tinyFaceDetector.forwardInput(await faceapi.toNetInput(x), size);
        // Every 5th value is a confidence logit: compare it as a probability, the rest as-is.
        const asUsed = (v: number, i: number): number => (i % 5 === 4 ? 1 / (1 + Math.exp(-v)) : v);
        const diff = maxAbsDiff(onnx, ref.dataSync(), asUsed);
        x.dispose();
        ref.dispose();
        expect(diff, `${name} at ${size}`).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('face_landmark_68_tiny: 136 landmark coordinates', async () => {
    for (const [name, t] of await inputs(112)) {
      const onnx = await runOnnx('landmarks', t, [1, 112, 112, 3]);
      const x = faceapi.tf.tensor4d(t, [1, 112, 112, 3]);
      const ref = faceapi.nets.faceLandmark68TinyNet.runNet(await faceapi.toNetInput(x));
      const diff = maxAbsDiff(onnx, ref.dataSync());
      x.dispose();
      ref.dispose();
      expect(diff, name).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});
