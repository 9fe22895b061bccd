// Gallery sync against a real HTTPS server (node:https, a test CA) serving signed manifests and
// photos: first sync, ETag, changes, every kind of bad manifest and bad image, a SIGKILL in the
// middle of a sync, and a directory source.
import { spawn } from 'node:child_process';
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_SIMILAR_FACE_RATIO } from '../../src/gallery/enroll.js';
import {
  DirectorySource,
  HttpSource,
  type GallerySource,
  type HttpSourceOptions,
} from '../../src/gallery/sources.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { syncGallery, type PartialPolicy } from '../../src/gallery/sync.js';
import { DEFAULT_THRESHOLD, FaceEngine } from '../../src/inference/faces.js';
import { DEFAULT_QUALITY_GATES } from '../../src/vision/quality.js';
import { PROJECT_ROOT, sharedFace, sharedFacesAvailable } from '../helpers/fixtures.js';
import { faceCrop } from '../helpers/faces.js';
import { makeTestCa } from '../helpers/tls.js';

type Route = { body: Buffer; etag?: string; stallAfter?: number };
const routes = new Map<string, Route>();
const requests: { path: string; ifNoneMatch?: string }[] = [];
let server: Server;
let base: string;
let dir: string;
let ca: Buffer;
let engine: FaceEngine;
let photos: Buffer[];
const keys = generateKeyPairSync('ed25519');
const otherKeys = generateKeyPairSync('ed25519');
const haveShared = sharedFacesAvailable('gallery sync with photos from ../shared/faces');

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-sync-'));
  const tls = makeTestCa(dir);
  ca = readFileSync(tls.ca);
  server = createServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, (req, res) => {
    const path = req.url ?? '';
    requests.push({
      path,
      ...(typeof req.headers['if-none-match'] === 'string'
        ? { ifNoneMatch: req.headers['if-none-match'] }
        : {}),
    });
    const route = routes.get(path);
    if (!route) {
      res.writeHead(404).end('not found');
      return;
    }
    if (route.etag && req.headers['if-none-match'] === route.etag) {
      res.writeHead(304).end();
      return;
    }
    res.writeHead(200, { 'content-length': route.body.length, ...(route.etag ? { etag: route.etag } : {}) });
    if (route.stallAfter !== undefined)
      res.write(route.body.subarray(0, route.stallAfter)); // then nothing, ever
    else res.end(route.body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  engine = await FaceEngine.open();
  photos = [await faceCrop(0), await faceCrop(1), await faceCrop(2)];
  if (haveShared) {
    for (const p of [
      'face_recognition/examples/knn_examples/train/obama/obama.jpg',
      'face_recognition/examples/knn_examples/train/biden/biden.jpg',
    ]) {
      photos.push(readFileSync(sharedFace(p)));
    }
  }
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

let store: GalleryStore;
beforeEach(() => {
  routes.clear();
  requests.length = 0;
  store = new GalleryStore(join(dir, `${Math.random()}.sqlite`));
});

/** Serves a manifest for `people` (id -> photo indexes) with its signature; photos at /img/<sha>. */
function serve(
  version: number,
  people: Record<string, number[]>,
  opts: { key?: KeyObject; mutate?: (m: Record<string, unknown>) => void } = {},
) {
  const manifest = {
    version,
    people: Object.entries(people).map(([id, idx]) => ({
      id,
      name: `Person ${id}`,
      images: idx.map((i) => {
        const body = photos[i]!;
        routes.set(`/gallery/img/${sha(body)}.png`, { body });
        return { url: `img/${sha(body)}.png`, sha256: sha(body) };
      }),
    })),
  };
  opts.mutate?.(manifest);
  const body = Buffer.from(JSON.stringify(manifest));
  routes.set('/gallery/manifest.json', { body, etag: `"${sha(body).slice(0, 16)}"` });
  routes.set('/gallery/manifest.json.sig', {
    body: Buffer.from(sign(null, body, opts.key ?? keys.privateKey).toString('base64')),
  });
  return manifest;
}

function source(extra: Partial<HttpSourceOptions> = {}) {
  return new HttpSource({
    manifestUrl: `${base}/gallery/manifest.json`,
    publicKey: pem(keys.publicKey),
    allowUnsigned: false,
    ca,
    timeoutMs: 10_000,
    stallMs: 1000,
    maxManifestBytes: 1 << 20,
    maxImageBytes: 40 << 20,
    ...extra,
  });
}

const sync = (s: GallerySource = source(), partial: PartialPolicy = 'keep-last-good') =>
  syncGallery(engine, store, s, {
    partial,
    enrollment: {
      threshold: DEFAULT_THRESHOLD,
      gates: DEFAULT_QUALITY_GATES,
      similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
    },
  });

const people = () => store.listPeople().map((p) => p.id);

describe('gallery sync over HTTPS', () => {
  it('enrolls everyone, does no work on an unchanged ETag, then applies exactly the changes', async () => {
    // Photos from ../shared/faces too (Obama, Biden) when it is there.
    const shared: Record<string, number[]> = haveShared ? { obama: [3], biden: [4] } : {};
    serve(1, { a: [0], b: [1], c: [2], ...shared });
    const first = await sync();
    expect(first).toMatchObject({
      status: 'applied',
      version: 1,
      added: ['a', 'b', 'c', ...Object.keys(shared)],
      refused: [],
    });
    expect(people()).toEqual(['a', 'b', 'c', ...Object.keys(shared)].sort());
    // The photos went through the store's staging area, stored whole, and the area is empty again.
    expect(store.images('b')[0]!.bytes.equals(photos[1]!)).toBe(true);
    expect(store.stagedCount).toBe(0);
    const galleryVersion = store.version;

    requests.length = 0;
    expect(await sync()).toMatchObject({ status: 'unchanged', galleryVersion });
    expect(requests).toEqual([
      { path: '/gallery/manifest.json', ifNoneMatch: expect.stringMatching(/^"/) as string },
    ]);

    serve(
      2,
      { a: [0], b: [2], d: [1], ...shared },
      { mutate: (m) => ((m.people as { id: string; name: string }[])[0]!.name = 'Ann Renamed') },
    );
    const changed = await sync();
    expect(changed).toMatchObject({
      status: 'applied',
      version: 2,
      added: ['d'],
      changed: ['a', 'b'],
      removed: ['c'],
    });
    expect(store.getPerson('a')!.name).toBe('Ann Renamed');
    expect(people()).toEqual(['a', 'b', 'd', ...Object.keys(shared)].sort());
  });

  it("keeps a person's door captures while their photos are unchanged, and drops them with a new photo", async () => {
    serve(1, { a: [0], b: [1] });
    expect((await sync()).status).toBe('applied');
    const [enrolled] = store.entries(engine.encoderId);
    const capture = {
      bytes: Buffer.from('capture'),
      source: 'door:front:e1',
      embedding: enrolled!.embedding,
    };
    const quality = { score: 0.9, eyeDistance: 40, sharpness: 80, yaw: 1, roll: 2, outside: 0 };
    store.write(() => store.addDoorCapture('a', { ...capture, quality }, engine.encoderId, 3));
    serve(2, { a: [0], b: [1] }, { mutate: (m) => ((m.people as { name: string }[])[0]!.name = 'Ann') });
    expect(await sync()).toMatchObject({ status: 'applied', changed: ['a'] });
    expect(store.images('a').map((i) => i.source)).toEqual([expect.any(String), 'door:front:e1']);
    serve(3, { a: [2], b: [1] });
    expect(await sync()).toMatchObject({ status: 'applied', changed: ['a'] });
    expect(store.doorCaptures('a')).toEqual([]);
    expect(store.getPerson('a')!.images).toBe(1);
  });

  it.each<[string, () => void, RegExp]>([
    [
      'a bad signature',
      () => (
        serve(5, { a: [0], x: [1] }),
        routes.set('/gallery/manifest.json.sig', { body: Buffer.from('AAAA') })
      ),
      /signature does not verify/,
    ],
    [
      'a signature by another key',
      () => serve(5, { a: [0], x: [1] }, { key: otherKeys.privateKey }),
      /signature does not verify/,
    ],
    [
      'no signature',
      () => (serve(5, { a: [0], x: [1] }), routes.delete('/gallery/manifest.json.sig')),
      /HTTP 404/,
    ],
    ['a truncated manifest', () => resign((b) => b.subarray(0, b.length - 20)), /not valid JSON/],
    ['a manifest that is not JSON', () => resign(() => Buffer.from('<html>oops</html>')), /not valid JSON/],
    [
      'duplicate person ids',
      () => serve(5, { a: [0] }, { mutate: (m) => (m.people as unknown[]).push((m.people as unknown[])[0]) }),
      /"a" appears twice/,
    ],
    ['a lower version', () => serve(0, { a: [0], x: [1] }), /version 0 is older than the gallery's 1/],
    [
      'a wrong image sha256',
      () =>
        serve(
          5,
          { a: [0], x: [1] },
          {
            mutate: (m) =>
              ((m.people as { images: { sha256: string }[] }[])[1]!.images[0]!.sha256 = 'f'.repeat(64)),
          },
        ),
      /sha256 .* does not match/,
    ],
  ])('keeps the last good gallery on %s, with the reason', async (_, spoil, reason) => {
    serve(1, { a: [0] });
    expect((await sync()).status).toBe('applied');
    const before = store.version;
    spoil();
    const r = await sync();
    expect(r.status).toBe('rejected');
    expect([r.error, ...r.refused.map((x) => x.reason)].join(' ')).toMatch(reason);
    expect(store.version).toBe(before);
    expect(people()).toEqual(['a']);
  });

  it('refuses bad photos by person and reason; applies the rest only when asked to', async () => {
    const html = Buffer.from('<html><body>502 Bad Gateway</body></html>');
    const empty = Buffer.alloc(0);
    serve(1, { a: [0], b: [1] });
    const m = JSON.parse(routes.get('/gallery/manifest.json')!.body.toString()) as {
      people: { id: string; name: string; images: { url: string; sha256: string }[] }[];
    };
    m.people.push({ id: 'html', name: 'H', images: [{ url: 'img/html.jpg', sha256: sha(html) }] });
    m.people.push({ id: 'empty', name: 'E', images: [{ url: 'img/empty.jpg', sha256: sha(empty) }] });
    m.people.push({ id: 'stall', name: 'S', images: [{ url: 'img/stall.jpg', sha256: sha(photos[2]!) }] });
    routes.set('/gallery/img/html.jpg', { body: html });
    routes.set('/gallery/img/empty.jpg', { body: empty });
    routes.set('/gallery/img/stall.jpg', { body: photos[2]!, stallAfter: 1000 });
    resign(() => Buffer.from(JSON.stringify(m)));

    const t0 = Date.now();
    const kept = await sync();
    expect(Date.now() - t0).toBeLessThan(60_000); // the stalled photo does not hang the sync
    expect(kept.status).toBe('rejected');
    // The message points at the setting that would apply everyone else.
    expect(kept.error).toBe(
      "3 people refused; the last good gallery is kept (gallery.partial: keep-last-good; 'apply-valid' would apply everyone else)",
    );
    const reasons = Object.fromEntries(kept.refused.map((r) => [r.id, r.reason]));
    expect(reasons.html).toMatch(/unreadable: .*not an image/);
    expect(reasons.empty).toMatch(/unreadable: .*not an image/);
    expect(reasons.stall).toMatch(/no data for 1000 ms/);
    expect(people()).toEqual([]);
    expect(store.stagedCount).toBe(0);

    const applied = await sync(source(), 'apply-valid');
    expect(applied).toMatchObject({ status: 'applied', added: ['a', 'b'] });
    expect(people()).toEqual(['a', 'b']);
  });

  it('refuses a photo over the pixel limit before decoding it', async () => {
    const big = await sharp(photos[1]).resize(4000, 3000, { fit: 'fill' }).jpeg({ quality: 70 }).toBuffer();
    photos.push(big);
    serve(1, { big: [photos.length - 1] });
    const r = await syncGallery(engine, store, source(), {
      partial: 'keep-last-good',
      enrollment: {
        threshold: DEFAULT_THRESHOLD,
        gates: DEFAULT_QUALITY_GATES,
        similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
        maxPixels: 10_000_000,
      },
    });
    photos.pop();
    expect(r.refused[0]!.reason).toMatch(/unreadable: .*exceeds the pixel limit/);
  });

  it('takes a 36-megapixel photo without trouble', async () => {
    const huge = await sharp(photos[1]).resize(7200, 5000, { fit: 'fill' }).jpeg({ quality: 80 }).toBuffer();
    photos.push(huge);
    serve(1, { big: [photos.length - 1] });
    const r = await sync();
    photos.pop();
    expect(r.status).toBe('applied');
    expect(people()).toEqual(['big']);
  });

  it('after a SIGKILL in the middle of a sync holds the old gallery, and the next sync completes', async () => {
    const path = join(dir, 'killed.sqlite');
    store.close();
    store = new GalleryStore(path);
    serve(1, { a: [0] });
    await sync();
    store.close();
    serve(2, { a: [0], b: [1], c: [2] });
    routes.set(`/gallery/img/${sha(photos[2]!)}.png`, { body: photos[2]!, stallAfter: 100 }); // the sync hangs on c
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(PROJECT_ROOT, 'test/gallery/sync-child.ts'),
        path,
        `${base}/gallery/manifest.json`,
        pem(keys.publicKey),
        join(dir, 'ca.crt'),
      ],
      {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    // Wait until the child is fetching c's photo, i.e. a and b are done and nothing is written.
    const t0 = Date.now();
    while (!requests.some((r) => r.path.includes(sha(photos[2]!)))) {
      if (Date.now() - t0 > 30_000) throw new Error('child never reached the last photo');
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const reopened = new GalleryStore(path);
    expect(reopened.listPeople().map((p) => p.id)).toEqual(['a']);
    routes.set(`/gallery/img/${sha(photos[2]!)}.png`, { body: photos[2]! });
    store = reopened;
    expect(await sync()).toMatchObject({ status: 'applied', added: ['b', 'c'] });
    expect(people()).toEqual(['a', 'b', 'c']);
  });

  it('keeps one version floor per gallery: an older manifest at another URL is refused', async () => {
    const old = serve(3, { a: [0] });
    const oldRoutes = new Map(routes);
    serve(4, { a: [0], x: [1] });
    expect((await sync()).status).toBe('applied');
    // The version-3 manifest, correctly signed, served from a mirror the config now points at.
    for (const [path, route] of oldRoutes) routes.set(path.replace('/gallery/', '/mirror/'), route);
    const mirror = source({ manifestUrl: `${base}/mirror/manifest.json` });
    const r = await sync(mirror);
    expect(old.version).toBe(3);
    expect(r.status).toBe('rejected');
    expect(r.error).toMatch(/mirror\/manifest\.json: manifest version 3 is older than the gallery's 4/);
    expect(people()).toEqual(['a', 'x']);
  });

  it('refuses a manifest with the applied version but other content; takes the same content again', async () => {
    serve(4, { a: [0], x: [1] });
    expect((await sync()).status).toBe('applied');
    serve(4, { a: [0] }); // x dropped without a new version
    const r = await sync();
    expect(r.status).toBe('rejected');
    expect(r.error).toMatch(/version 4 is the gallery's, but its content differs/);
    expect(people()).toEqual(['a', 'x']);
    // The same content, served with other whitespace and key order, is the same manifest.
    const same = serve(4, { a: [0], x: [1] });
    resign(() => Buffer.from(JSON.stringify({ people: same.people, version: 4 }, null, 2)));
    expect((await sync()).status).toBe('applied');
    serve(5, { a: [0] });
    expect((await sync()).removed).toEqual(['x']);
  });

  it('stores consent, and wipes a person past retainUntil without enrolling them again', async () => {
    const consent = { basis: 'explicit-consent', recordedAt: '2026-01-02', reference: 'form 17' };
    serve(
      1,
      { a: [0], x: [1] },
      {
        mutate: (m) => {
          const [a, x] = m.people as Record<string, unknown>[];
          a!.consent = consent;
          x!.retainUntil = '2999-01-01T00:00:00Z';
        },
      },
    );
    expect((await sync()).added).toEqual(['a', 'x']);
    expect(store.getPerson('a')?.consent).toEqual(consent);
    expect(store.getPerson('x')?.retainUntil).toBe('2999-01-01T00:00:00Z');
    serve(
      2,
      { a: [0], x: [1] },
      {
        mutate: (m) => ((m.people as Record<string, unknown>[])[1]!.retainUntil = '2020-01-01'),
      },
    );
    const r = await sync();
    expect(r).toMatchObject({ status: 'applied', expired: ['x'], removed: ['x'], refused: [] });
    expect(people()).toEqual(['a']);
    serve(
      3,
      { a: [0] },
      {
        mutate: (m) => ((m.people as Record<string, unknown>[])[0]!.consent = { basis: '', recordedAt: 'x' }),
      },
    );
    expect((await sync()).error).toMatch(/manifest does not match the schema \(\/people\/0\/consent\/basis/);
  });

  it('refuses an unsigned source unless allowed explicitly', async () => {
    expect(() => source({ publicKey: undefined })).toThrow(/no public key to verify the manifest/);
    serve(1, { a: [0] });
    routes.delete('/gallery/manifest.json.sig');
    expect(await sync(source({ publicKey: undefined, allowUnsigned: true }))).toMatchObject({
      status: 'applied',
    });
  });
});

function resign(change: (body: Buffer) => Buffer): void {
  const body = change(routes.get('/gallery/manifest.json')!.body);
  routes.set('/gallery/manifest.json', { body, etag: `"${sha(body).slice(0, 16)}"` });
  routes.set('/gallery/manifest.json.sig', {
    body: Buffer.from(sign(null, body, keys.privateKey).toString('base64')),
  });
}

describe('gallery sync from a directory', () => {
  it('picks up an added and a removed person, and names from people.json', async () => {
    const folder = join(dir, 'people');
    mkdirSync(join(folder, 'ann'), { recursive: true });
    writeFileSync(join(folder, 'ann', 'photo.png'), photos[0]!);
    writeFileSync(join(folder, 'bob.png'), photos[1]!);
    writeFileSync(join(folder, 'people.json'), JSON.stringify({ ann: { name: 'Ann A.' } }));
    const src = new DirectorySource(folder);
    expect(await sync(src)).toMatchObject({ status: 'applied', added: ['ann', 'bob'] });
    expect(store.getPerson('ann')!.name).toBe('Ann A.');
    expect((await sync(src)).status).toBe('unchanged');
    rmSync(join(folder, 'bob.png'));
    writeFileSync(join(folder, 'cy.png'), photos[2]!);
    expect(await sync(src)).toMatchObject({ status: 'applied', added: ['cy'], removed: ['bob'] });
    expect(people()).toEqual(['ann', 'cy']);
  });
});

describe('facegate gallery sync --once', () => {
  it('syncs from the configured directory and reports', async () => {
    const { main } = await import('../../src/cli/main.js');
    const folder = join(dir, 'cli-people');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'dee.png'), photos[2]!);
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => undefined };
    const env = { ...process.env };
    process.env.FACEGATE_GALLERY_SOURCE = folder;
    try {
      expect(await main(['gallery', 'sync', '--once', '--state-dir', join(dir, 'cli-state')], io)).toBe(0);
      expect(JSON.parse(out[0]!)).toMatchObject({ status: 'applied', added: ['dee'] });
      expect(await main(['gallery', 'sync', '--state-dir', join(dir, 'cli-state')], io)).toBe(2);
    } finally {
      process.env = env;
    }
  });
});

describe('GallerySyncer', () => {
  it('syncs on start and again when the watched directory changes', async () => {
    const { GallerySyncer } = await import('../../src/gallery/syncer.js');
    const { loadConfig } = await import('../../src/config/schema.js');
    const { readFileSync: read } = await import('node:fs');
    const { galleryReference } = await import('../../tools/gallery-docs.js');
    const folder = join(dir, 'watched');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'eve.png'), photos[0]!);
    const config = loadConfig(undefined, { FACEGATE_GALLERY_SOURCE: folder });
    const reports: string[] = [];
    const syncer = new GallerySyncer(engine, store, new DirectorySource(folder), config);
    syncer.on('report', (r) => reports.push(r.status));
    syncer.start();
    const until = async (cond: () => boolean) => {
      const t0 = Date.now();
      while (!cond()) {
        if (Date.now() - t0 > 15_000) throw new Error(`reports: ${reports.join(',')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(() => people().includes('eve'));
    writeFileSync(join(folder, 'fay.png'), photos[1]!);
    await until(() => people().includes('fay'));
    expect(syncer.galleryStatus).toMatchObject({ people: 2, lastError: null, refused: [] });
    await syncer.stop();
    // docs/gallery.md is generated from the manifest schema (make gallery-docs).
    expect(read(join(PROJECT_ROOT, 'docs/gallery.md'), 'utf8')).toBe(galleryReference());
  });
});
