// `make bench` (gallery part): one sync of N people (default 1,000) from a local HTTP server,
// unsigned, each with one 240 px photo, and the process's peak RSS during it.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { DEFAULT_SIMILAR_FACE_RATIO } from '../src/gallery/enroll.js';
import { HttpSource } from '../src/gallery/sources.js';
import { GalleryStore } from '../src/gallery/store.js';
import { openDataKey } from '../src/privacy/sealing.js';
import { syncGallery } from '../src/gallery/sync.js';
import { DEFAULT_THRESHOLD, FaceEngine } from '../src/inference/faces.js';
import { DEFAULT_QUALITY_GATES } from '../src/vision/quality.js';
import { faceCrop } from '../test/helpers/faces.js';
import { Table } from './harness.js';

function keyFile(dir: string): string {
  const file = join(dir, 'key');
  writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return file;
}

export async function benchGallerySync(people = 1000, engine?: FaceEngine, sealed = false): Promise<string> {
  const own = !engine;
  const e = engine ?? (await FaceEngine.open());
  // Distinct photos: three faces, each with its own small brightness change per person.
  const crops = await Promise.all([0, 1, 2].map((i) => faceCrop(i as 0 | 1 | 2)));
  const files = new Map<string, Buffer>();
  const manifest = {
    version: 1,
    people: [] as { id: string; name: string; images: { url: string; sha256: string }[] }[],
  };
  for (let i = 0; i < people; i++) {
    const body = await sharp(crops[i % 3])
      .resize(240)
      .modulate({ brightness: 0.9 + (i % 97) / 485 })
      .jpeg({ quality: 85 })
      .toBuffer();
    const sha = createHash('sha256').update(body).digest('hex');
    files.set(`/img/${i}.jpg`, body);
    manifest.people.push({
      id: `p${i}`,
      name: `Person ${i}`,
      images: [{ url: `img/${i}.jpg`, sha256: sha }],
    });
  }
  files.set('/manifest.json', Buffer.from(JSON.stringify(manifest)));
  const server = createServer((req, res) => {
    const body = files.get(req.url ?? '');
    if (body) res.writeHead(200, { 'content-length': body.length }).end(body);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-sync-'));
  // Encrypted at rest (AES-256-GCM, privacy/sealing.ts): photos staged and stored sealed.
  const sealer = sealed ? openDataKey(dir, { file: keyFile(dir), key: 'bench key' }).data : undefined;
  const store = new GalleryStore(join(dir, 'gallery.sqlite'), sealer ? { sealer } : {});
  try {
    const source = new HttpSource({
      manifestUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/manifest.json`,
      allowUnsigned: true,
      timeoutMs: 30_000,
      stallMs: 10_000,
      maxManifestBytes: 50 << 20,
      maxImageBytes: 10 << 20,
    });
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const report = await syncGallery(e, store, source, {
      partial: 'apply-valid',
      enrollment: {
        threshold: DEFAULT_THRESHOLD,
        gates: DEFAULT_QUALITY_GATES,
        similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    const t = new Table(['measure', 'value']);
    t.add('people in the manifest', people);
    t.add('encryption at rest', sealed ? 'AES-256-GCM' : 'off');
    t.add('enrolled / refused', `${report.added.length} / ${report.refused.length}`);
    t.add('sync time, s', seconds.toFixed(1));
    t.add('per person, ms', ((1000 * seconds) / people).toFixed(1));
    t.add('RSS before the sync, MiB', (rss0 / 1048576).toFixed(0));
    t.add('peak RSS of the process so far, MiB', (process.resourceUsage().maxRSS / 1024).toFixed(0));
    return t.toString();
  } finally {
    store.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
    if (own) await e.release();
  }
}

if (process.argv[1] === import.meta.filename)
  console.log(
    await benchGallerySync(Number(process.argv[2] ?? 1000), undefined, process.argv[3] === 'sealed'),
  );
