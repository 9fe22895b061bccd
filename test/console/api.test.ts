// The HTTP API against a running daemon (a real RTSP camera, a real broker): every endpoint's
// happy path and its refusals (no auth, bad auth, CSRF missing, wrong types, a photo with no
// face, a 50 MB upload, path traversal in ids), no secret in any response, login rate limiting,
// TLS when bound beyond loopback.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addToken, setPassword } from '../../src/console/auth.js';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import { PROJECT_ROOT } from '../../src/project.js';
import { writeSceneClip, type Scene } from '../../src/demo.js';
import { DEFAULT_ENCODER } from '../../src/inference/model-manifest.js';
import { enrollGallery, writeDoorConfig } from '../helpers/daemon.js';
import { faceCrop } from '../helpers/faces.js';
import { Mosquitto, PASSWORD } from '../helpers/mosquitto.js';
import { playFile, RtspServer } from '../helpers/rtsp.js';
import { makeTestCa } from '../helpers/tls.js';
import { until } from '../helpers/wait.js';

const PASS = 'correct horse battery';
let dir: string;
let broker: Mosquitto;
let server: RtspServer;
let daemon: Daemon;
let base: string;
let token: string;
let stranger: Buffer;

/** A user's HTTP session: its cookie and CSRF token. */
class Client {
  cookie = '';
  csrf = '';
  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{
    status: number;
    json: Record<string, unknown> & { error?: string };
    raw: Buffer;
    type: string;
  }> {
    const raw =
      body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(this.cookie ? { cookie: this.cookie } : {}),
        ...(raw && !Buffer.isBuffer(body) ? { 'content-type': 'application/json' } : {}),
        ...(method !== 'GET' && this.csrf ? { 'x-csrf-token': this.csrf } : {}),
        ...headers,
      },
      ...(raw ? { body: raw } : {}),
    });
    const bytes = Buffer.from(await res.arrayBuffer());
    const type = res.headers.get('content-type') ?? '';
    const cookie = res.headers.get('set-cookie');
    if (cookie) this.cookie = cookie.split(';')[0]!;
    return {
      status: res.status,
      json: type.startsWith('application/json')
        ? (JSON.parse(bytes.toString()) as Record<string, unknown>)
        : {},
      raw: bytes,
      type,
    };
  }
  async login(password = PASS) {
    const r = await this.call('POST', '/api/v1/login', { user: 'admin', password });
    if (r.status === 200) this.csrf = r.json.csrf as string;
    return r;
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-api-'));
  stranger = await faceCrop(1);
  writeFileSync(join(dir, 'stranger.png'), stranger);
  const pass: Scene[] = [
    { photo: join(dir, 'stranger.png'), seconds: 3 },
    { photo: null, seconds: 3 },
  ];
  writeSceneClip(join(dir, 'clip.mp4'), Array.from({ length: 12 }, () => pass).flat());
  broker = await Mosquitto.start();
  server = await RtspServer.start(playFile(join(dir, 'clip.mp4')), '/door');
  const stateDir = join(dir, 'state');
  await enrollGallery(stateDir, DEFAULT_ENCODER, [{ id: 'ann', name: 'Ann', photo: await faceCrop(0) }]);
  setPassword(join(stateDir, 'console-users'), 'admin', PASS);
  token = addToken(join(stateDir, 'console-users'), 'script');
  const config = writeDoorConfig(join(dir, 'config.json'), {
    stateDir,
    encoder: DEFAULT_ENCODER,
    cameraUrl: `rtsp://viewer:cam-secret-42@${server.url.slice('rtsp://'.length)}`,
    broker,
    deviceId: 'api',
  });
  daemon = new Daemon(config, () => undefined);
  await daemon.start();
  base = `http://127.0.0.1:${daemon.httpPort}`;
}, 180_000);

afterAll(async () => {
  await daemon?.stop();
  await server?.stop();
  await broker?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the API', () => {
  it('refuses every route without a login or a token, and a wrong password or token', async () => {
    const anon = new Client();
    for (const [method, path] of [
      ['GET', '/api/v1/cameras'],
      ['GET', '/api/v1/attempts'],
      ['GET', '/api/v1/people'],
      ['DELETE', '/api/v1/people/ann'],
      ['GET', '/api/v1/config'],
      ['POST', '/api/v1/tuning'],
    ] as const)
      expect((await anon.call(method, path)).status, `${method} ${path}`).toBe(401);
    expect((await anon.login('wrong password')).status).toBe(401);
    expect(
      (await anon.call('GET', '/api/v1/people', undefined, { authorization: 'Bearer fgt_nope' })).status,
    ).toBe(401);
    // The OpenAPI document is public: it says how to log in.
    const doc = await anon.call('GET', '/api/v1/openapi.json');
    expect(doc.status).toBe(200);
    expect(Object.keys(doc.json.paths as object)).toEqual(
      expect.arrayContaining(['/api/v1/attempts', '/api/v1/people/{id}', '/api/v1/login']),
    );
    // Health and metrics stay open on 127.0.0.1.
    expect([200, 503]).toContain((await anon.call('GET', '/healthz')).status);
    const metrics = await anon.call('GET', '/metrics');
    expect(metrics.status).toBe(200);
    // The memory section an installer watches (issue 25).
    for (const kind of ['rss', 'heap_used', 'external', 'sharp_cache'])
      expect(metrics.raw.toString()).toMatch(new RegExp(`facegate_memory_bytes\\{kind="${kind}"\\} \\d+`));
  });

  it('serves the console and its toolkit from the package, with a strict CSP', async () => {
    for (const path of [
      '/',
      '/console.js',
      '/console.css',
      '/vendor/preact.js',
      '/vendor/preact-hooks.js',
      '/vendor/htm.js',
    ]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    }
    expect(await (await fetch(`${base}/vendor/preact-hooks.js`)).text()).toContain('from"/vendor/preact.js"');
  });

  it('walks every endpoint with a session: cameras, attempts, people, recognise, events, config, tuning', async () => {
    const c = new Client();
    expect((await c.login()).status).toBe(200);
    expect(c.cookie).toMatch(/^facegate_session=/);
    expect((await c.call('GET', '/api/v1/session')).json).toMatchObject({ user: 'admin', csrf: c.csrf });
    expect((await c.call('GET', '/api/v1/cameras')).json).toEqual([
      expect.objectContaining({ name: 'door' }),
    ]);

    // The stranger walks past: an unknown attempt, with its crop (written a moment after the
    // decision: the JPEG is encoded in the background).
    let attempts: { id: string; kind: string; snapshot: string | null }[] = [];
    await until(
      'an unknown attempt with its crop',
      async () => {
        attempts = (await c.call('GET', '/api/v1/attempts?kind=unknown')).json as unknown as typeof attempts;
        const a = attempts.find((x) => x.snapshot);
        return a !== undefined && (await c.call('GET', `/api/v1/attempts/${a.id}/crop`)).status === 200;
      },
      120_000,
    );
    const unknown = attempts.find((a) => a.snapshot)!;
    expect((await c.call('GET', `/api/v1/attempts/${unknown.id}`)).json).toMatchObject({
      id: unknown.id,
      kind: 'unknown',
      camera: 'door',
    });
    const crop = await c.call('GET', `/api/v1/attempts/${unknown.id}/crop`);
    expect(crop.type).toBe('image/jpeg');
    expect(crop.raw.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const page = (await c.call('GET', '/api/v1/attempts?limit=1')).json as unknown as { id: string }[];
    expect(page).toHaveLength(1);
    const next = (await c.call('GET', `/api/v1/attempts?limit=1&before=${page[0]!.id}`)).json as unknown as {
      id: string;
    }[];
    expect(next[0]?.id).not.toBe(page[0]!.id);

    // People: add from a photo, rename, see the photo, remove.
    const added = await c.call('POST', '/api/v1/people', {
      id: 'bo',
      name: 'Bo',
      photos: [(await faceCrop(2)).toString('base64')],
    });
    expect(added.status, added.json.error).toBe(200);
    expect(
      (await c.call('PATCH', '/api/v1/people/bo', { name: 'Bo B.', metadata: { flat: '2A' } })).json,
    ).toMatchObject({
      name: 'Bo B.',
      metadata: { flat: '2A' },
    });
    const people = (await c.call('GET', '/api/v1/people')).json as unknown as {
      id: string;
      photos: string[];
    }[];
    expect(people.map((p) => p.id)).toEqual(['ann', 'bo']);
    const photo = await c.call('GET', `/api/v1/people/bo/photos/${people[1]!.photos[0]}`);
    expect(photo.type).toBe('image/png');
    expect((await c.call('DELETE', '/api/v1/people/bo')).json).toEqual({ removed: 'bo' });
    expect((await c.call('DELETE', '/api/v1/people/bo')).status).toBe(404);

    // Recognise a photo: Ann is found, with her distance.
    const seen = await c.call('POST', '/api/v1/recognise', await faceCrop(0), {
      'content-type': 'image/png',
    });
    expect(seen.json).toMatchObject({ faces: [{ match: { id: 'ann' }, quality: { usable: true } }] });

    // Enroll the stranger from the attempt; the next pass of that face is a match.
    const enrolled = await c.call('POST', `/api/v1/attempts/${unknown.id}/enroll`, { id: 'cy', name: 'Cy' });
    expect(enrolled.status, enrolled.json.error).toBe(200);
    expect((await c.call('GET', `/api/v1/attempts/${unknown.id}`)).json.enrolledAs).toBe('cy');
    await until(
      'a match for the stranger enrolled from an attempt',
      async () =>
        ((await c.call('GET', '/api/v1/attempts?kind=match&person=cy')).json as unknown as unknown[]).length >
        0,
      120_000,
    );

    // Mark a match wrong: it is kept as a pair.
    const match = (
      (await c.call('GET', '/api/v1/attempts?kind=match&person=cy')).json as unknown as { id: string }[]
    )[0]!;
    const wrong = await c.call('POST', `/api/v1/attempts/${match.id}/wrong`, { truth: null });
    expect(wrong.json).toMatchObject({ wrong: { by: 'api:admin', truth: null } });

    // Events: access decisions from the audit log (none: no door configured); sync: no source.
    expect((await c.call('GET', '/api/v1/events')).json).toEqual([]);
    expect((await c.call('POST', '/api/v1/gallery/sync')).status).toBe(409);
    expect((await c.call('GET', '/api/v1/gallery/sync')).status).toBe(200);

    // Tuning: a threshold of 0.01 would match nobody.
    const low = (await c.call('GET', '/api/v1/tuning?threshold=0.01')).json as {
      attempts: { match: number };
    };
    expect(low.attempts.match).toBe(0);
    const saved = await c.call('POST', '/api/v1/tuning', { threshold: 0.5 });
    expect(saved.json).toMatchObject({ saved: true, threshold: 0.5 });
    expect(JSON.parse(readFileSync(join(dir, 'state/console-settings.json'), 'utf8'))).toEqual({
      'match.threshold': 0.5,
    });
    expect(((await c.call('GET', '/api/v1/tuning')).json as { current: number }).current).toBe(0.5);

    // Who did what, in the audit log.
    const log = (await c.call('GET', '/api/v1/config')).json;
    expect(log).toMatchObject({ match: { threshold: 0.5 } });
    expect((await c.call('POST', '/api/v1/logout')).status).toBe(200);
    expect((await c.call('GET', '/api/v1/people')).status).toBe(401);
  }, 300_000);

  it('takes an API token without a CSRF token; a session needs one for every change', async () => {
    const script = new Client();
    const auth = { authorization: `Bearer ${token}` };
    expect((await script.call('GET', '/api/v1/people', undefined, auth)).status).toBe(200);
    expect((await script.call('POST', '/api/v1/tuning', { threshold: 0.6 }, auth)).status).toBe(200);
    const c = new Client();
    await c.login();
    const csrf = c.csrf;
    c.csrf = '';
    expect((await c.call('POST', '/api/v1/tuning', { threshold: 0.6 })).json.error).toMatch(/X-CSRF-Token/);
    expect((await c.call('DELETE', '/api/v1/people/ann')).status).toBe(403);
    c.csrf = 'forged';
    expect((await c.call('DELETE', '/api/v1/people/ann')).status).toBe(403);
    c.csrf = csrf;
    // A form post (no JSON) is refused even with the token.
    const form = await c.call('POST', '/api/v1/tuning', Buffer.from('threshold=2'), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(form.status).toBe(415);
  });

  it('refuses wrong types, a photo without a face, a 50 MB upload and path traversal, naming what is wrong', async () => {
    const c = new Client();
    await c.login();
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/api/v1/tuning', { threshold: 'low' }, 400, /\/threshold: Expected number/],
      ['POST', '/api/v1/tuning', { threshold: 0.5, extra: 1 }, 400, /does not match the schema/],
      [
        'POST',
        '/api/v1/people',
        { id: '../../etc', name: 'x', photos: ['AA=='] },
        400,
        /\/id: Expected string to match/,
      ],
      ['PATCH', '/api/v1/people/ann', { name: 42 }, 400, /\/name/],
      ['GET', '/api/v1/attempts?limit=5000', undefined, 400, /limit "5000"/],
      ['GET', '/api/v1/attempts?kind=everything', undefined, 400, /kind "everything"/],
      ['GET', '/api/v1/attempts/..%2F..%2Fgallery.sqlite', undefined, 400, /not a valid/],
      ['GET', '/api/v1/attempts/..%2F..%2Fgallery.sqlite/crop', undefined, 400, /not a valid/],
      ['GET', '/api/v1/people/ann/photos/..%2Fkeyring.json', undefined, 400, /not a valid/],
      ['DELETE', '/api/v1/people/ann%2F..%2F..', undefined, 400, /not a valid/],
      ['GET', '/api/v1/attempts/nosuchattempt', undefined, 404, /attempt nosuchattempt not found/],
      ['GET', '/api/v1/cameras/nosuch/live.mjpeg', undefined, 404, /camera nosuch not found/],
    ];
    for (const [method, path, body, status, error] of cases) {
      const r = await c.call(method, path, body);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(r.json.error, `${method} ${path}`).toMatch(error);
    }
    const blank = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const noFace = await c.call('POST', '/api/v1/people', {
      id: 'nobody',
      name: 'Nobody',
      photos: [blank.toString('base64')],
    });
    expect(noFace.status).toBe(422);
    expect(noFace.json).toMatchObject({ reason: 'no_face' });
    expect(
      (await c.call('POST', '/api/v1/recognise', blank, { 'content-type': 'image/png' })).json,
    ).toMatchObject({ faces: [] });
    expect(
      (
        await c.call('POST', '/api/v1/recognise', Buffer.from('not an image'), {
          'content-type': 'image/jpeg',
        })
      ).status,
    ).toBe(422);
    expect((await c.call('POST', '/api/v1/recognise', blank, { 'content-type': 'text/plain' })).status).toBe(
      415,
    );
    // 50 MB: refused by its declared length, and by what arrives when the length is not declared.
    const big = Buffer.alloc(50 << 20, 0x41);
    expect(
      (await c.call('POST', '/api/v1/recognise', big, { 'content-type': 'image/jpeg' })).json.error,
    ).toMatch(/at most 20971520/);
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(`${base}/api/v1/recognise`, {
        method: 'POST',
        headers: {
          cookie: c.cookie,
          'x-csrf-token': c.csrf,
          'content-type': 'image/jpeg',
          'transfer-encoding': 'chunked',
        },
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      for (let i = 0; i < 50; i++) req.write(Buffer.alloc(1 << 20, 0x41));
      req.end();
    }).catch(() => 413);
    expect(chunked).toBe(413);
    // Nothing was stored by any of it.
    expect(
      ((await c.call('GET', '/api/v1/people')).json as unknown as { id: string }[]).map((p) => p.id),
    ).toContain('ann');
  }, 120_000);

  it('shows no secret in any response: camera and broker passwords, the token, the password hash', async () => {
    const c = new Client();
    await c.login();
    const everything = [
      ...(await Promise.all(
        [
          '/api/v1/config',
          '/api/v1/cameras',
          '/api/v1/attempts?limit=200',
          '/api/v1/people',
          '/api/v1/events',
          '/api/v1/tuning',
          '/api/v1/gallery/sync',
          '/api/v1/openapi.json',
        ].map(async (p) => (await c.call('GET', p)).raw.toString()),
      )),
    ].join('\n');
    expect(everything).toContain('viewer:***@'); // the camera URL, its password masked
    for (const secret of ['cam-secret-42', PASSWORD, token, PASS, 'scrypt$'])
      expect(everything.includes(secret), secret).toBe(false);
  });

  it('limits failed logins per address (429 with Retry-After), and a good password then waits too', async () => {
    const c = new Client();
    const codes: number[] = [];
    for (let i = 0; i < 6; i++) codes.push((await c.login(`guess ${i}`)).status);
    expect(codes).toEqual([401, 401, 401, 401, 401, 429]);
    const r = await c.login();
    expect(r.status).toBe(429);
    expect(r.json.error).toMatch(/too many failed logins .* try again in \d+ s/);
  });
});

describe('docs/api.md', () => {
  it('is generated from the route table and schemas (make api-docs)', async () => {
    const { apiReference } = await import('../../tools/api-docs.js');
    expect(readFileSync(join(PROJECT_ROOT, 'docs/api.md'), 'utf8')).toBe(apiReference());
  });
});

describe('binding beyond loopback', () => {
  it('needs TLS: refused (exit 78) without a certificate', () => {
    const file = join(dir, 'open.json');
    writeFileSync(file, JSON.stringify({ http: { host: '0.0.0.0' } }));
    expect(() => loadConfig(file, {})).toThrow(
      /http\.host 0\.0\.0\.0: .* set http\.tls\.certFile and http\.tls\.keyFile/,
    );
  });

  it('with a certificate serves HTTPS only, and the session cookie is Secure', async () => {
    const tls = makeTestCa(dir);
    setPassword(join(dir, 'tls-state', 'console-users'), 'admin', PASS);
    const config = loadConfig(join(dir, 'config.json'), {}, [
      { key: 'stateDir', value: join(dir, 'tls-state') },
      { key: 'http.tls.certFile', value: tls.cert },
      { key: 'http.tls.keyFile', value: tls.key },
    ]);
    const secure = new Daemon(config, () => undefined);
    try {
      await secure.start();
      const call = (path: string, body?: unknown) =>
        new Promise<{ status: number; cookie: string }>((resolve, reject) => {
          const req = httpsRequest(
            `https://127.0.0.1:${secure.httpPort}${path}`,
            {
              method: body ? 'POST' : 'GET',
              ca: readFileSync(tls.ca),
              headers: { 'content-type': 'application/json' },
            },
            (res) => {
              res.resume();
              resolve({ status: res.statusCode ?? 0, cookie: String(res.headers['set-cookie'] ?? '') });
            },
          );
          req.on('error', reject);
          req.end(body ? JSON.stringify(body) : undefined);
        });
      const login = await call('/api/v1/login', { user: 'admin', password: PASS });
      expect(login.status).toBe(200);
      expect(login.cookie).toMatch(/facegate_session=.*; HttpOnly; SameSite=Strict; .*Secure/);
      expect((await call('/metrics')).status).toBe(200);
      // Plain HTTP on the same port gets no answer.
      await expect(fetch(`http://127.0.0.1:${secure.httpPort}/api/v1/cameras`)).rejects.toThrow();
    } finally {
      await secure.stop();
    }
  }, 120_000);
});
