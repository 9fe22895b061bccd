// Child process for sync.test.ts: runs one sync against the test server, to be SIGKILLed in
// the middle of it.
import { readFileSync } from 'node:fs';
import { DEFAULT_SIMILAR_FACE_RATIO } from '../../src/gallery/enroll.js';
import { HttpSource } from '../../src/gallery/sources.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { syncGallery } from '../../src/gallery/sync.js';
import { DEFAULT_THRESHOLD, FaceEngine } from '../../src/inference/faces.js';
import { DEFAULT_QUALITY_GATES } from '../../src/vision/quality.js';

const [path, manifestUrl, publicKey, caFile] = process.argv.slice(2) as [string, string, string, string];
const engine = await FaceEngine.open();
const store = new GalleryStore(path);
const source = new HttpSource({
  manifestUrl,
  publicKey,
  allowUnsigned: false,
  ca: readFileSync(caFile),
  timeoutMs: 120_000,
  stallMs: 120_000,
  maxManifestBytes: 1 << 20,
  maxImageBytes: 40 << 20,
});
await syncGallery(engine, store, source, {
  partial: 'keep-last-good',
  enrollment: {
    threshold: DEFAULT_THRESHOLD,
    gates: DEFAULT_QUALITY_GATES,
    similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
  },
});
