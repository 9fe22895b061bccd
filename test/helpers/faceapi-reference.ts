// The reference implementation: @vladmandic/face-api's own networks on the tfjs WASM backend,
// loaded from the same package the converter reads. Used by the parity tests and the bench.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type * as FaceApi from '@vladmandic/face-api/dist/face-api.node-wasm.js';
import { FACE_API_DIR } from './fixtures.js';

export type FaceApiModule = typeof FaceApi;

let loaded: Promise<FaceApiModule> | undefined;

/** face-api with the tfjs WASM backend and the recognition, tiny detector and landmark nets loaded. */
export async function loadFaceApi(
  extraNets: ('ssdMobilenetv1' | 'faceLandmark68Net')[] = [],
): Promise<FaceApiModule> {
  loaded ??= (async () => {
    const require = createRequire(import.meta.url);
    const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
    // face-api's bundled type declarations omit the backend functions of the tfjs it re-exports.
    const tf = faceapi.tf as unknown as {
      setBackend(name: string): Promise<boolean>;
      ready(): Promise<void>;
    };
    await tf.setBackend('wasm');
    await tf.ready();
    const dir = join(FACE_API_DIR, 'model');
    await faceapi.nets.faceRecognitionNet.loadFromDisk(dir);
    await faceapi.nets.tinyFaceDetector.loadFromDisk(dir);
    await faceapi.nets.faceLandmark68TinyNet.loadFromDisk(dir);
    return faceapi;
  })();
  const faceapi = await loaded;
  for (const net of extraNets)
    if (!faceapi.nets[net].isLoaded) await faceapi.nets[net].loadFromDisk(join(FACE_API_DIR, 'model'));
  return faceapi;
}
