// The HTTP API under /api/v1 (JSON; schemas in TypeBox, the OpenAPI document built from the same
// route table) and the console's static files at /. Every route but login and the OpenAPI
// document needs a user (session cookie) or an API token; every state change made with a session
// must carry the session's CSRF token in X-CSRF-Token, and a JSON or image body (a cross-site form
// can send neither without a preflight). Ids in paths are checked against their patterns before
// anything uses them. Every change reaches the audit log with the user who made it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FacegateError } from '../errors.js';
import { EnrollmentRejected } from '../gallery/enroll.js';
import type { Attempt, AttemptFilter } from './attempts.js';
import { AttemptSchema, ATTEMPT_KINDS } from './attempts.js';
import type { ConsoleAuth, Principal } from './auth.js';
import { PROJECT_ROOT } from '../project.js';

/** What the daemon gives the API. */
export interface ConsoleBackend {
  cameras(): { name: string; state: string; reason?: string; since: string }[];
  attempts(filter: AttemptFilter): Attempt[];
  attempt(id: string): Attempt | undefined;
  /** The attempt's face crop (its snapshot), while it is kept. */
  crop(attempt: Attempt): Buffer | undefined;
  people(): Static<typeof PersonSchema>[];
  photo(personId: string, sha256: string): Buffer | undefined;
  enroll(
    person: { id: string; name: string; metadata?: Record<string, unknown> },
    photos: { bytes: Buffer; source: string }[],
    actor: string,
    replace: boolean,
  ): Promise<{ personId: string; images: number; galleryVersion: number }>;
  updatePerson(
    id: string,
    change: { name?: string; metadata?: Record<string, unknown> },
    actor: string,
  ): boolean;
  removePerson(id: string, actor: string): boolean;
  recognise(image: Buffer): Promise<unknown>;
  markWrong(attempt: Attempt, truth: string | null, actor: string): Promise<Attempt>;
  enrolledFromAttempt(attempt: Attempt, personId: string): void;
  syncNow(actor: string): Promise<unknown> | undefined;
  syncStatus(): unknown;
  events(from: string | undefined, to: string | undefined, limit: number): unknown[];
  config(): unknown;
  tuning(threshold: number | undefined): unknown;
  saveThreshold(threshold: number, actor: string): Promise<unknown>;
  live(camera: string, res: ServerResponse): boolean;
}

export const PersonSchema = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    createdAt: Type.String(),
    updatedAt: Type.String(),
    images: Type.Integer(),
    photos: Type.Array(Type.String({ description: 'sha256 of each enrollment photo' })),
    doorCaptures: Type.Array(
      Type.String({
        description:
          'sha256 of each face the door added (enrollment.doorCaptures), oldest first; served as photos; marking its match wrong removes it',
      }),
    ),
  },
  { $id: 'Person' },
);

const PERSON_ID = '^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$';
const ATTEMPT_ID = '^[A-Za-z0-9_-]{1,64}$';
const SHA = '^[0-9a-f]{64}$';
const CAMERA = '^[A-Za-z0-9_-]{1,64}$';

const LoginBody = Type.Object({
  user: Type.String({ maxLength: 64 }),
  password: Type.String({ maxLength: 256 }),
});
const NewPersonBody = Type.Object(
  {
    id: Type.String({ pattern: PERSON_ID }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
    photos: Type.Array(Type.String({ description: 'base64 JPEG, PNG or WebP' }), {
      minItems: 1,
      maxItems: 5,
    }),
    replace: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
const EnrollAttemptBody = Type.Object(
  {
    id: Type.String({ pattern: PERSON_ID }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
const PersonChangeBody = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
const WrongBody = Type.Object(
  {
    truth: Type.Union([Type.String({ pattern: PERSON_ID }), Type.Null()], {
      description: 'Who it really was (an enrolled id), or null: a stranger',
    }),
  },
  { additionalProperties: false },
);
const ThresholdBody = Type.Object(
  { threshold: Type.Number({ exclusiveMinimum: 0, maximum: 4 }) },
  { additionalProperties: false },
);

type Ctx = {
  req: IncomingMessage;
  res: ServerResponse;
  params: string[];
  query: URLSearchParams;
  body: Buffer;
  who: Principal;
};

type Route = {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  summary: string;
  /** Path parameters' patterns, in order. */
  params?: string[];
  body?: TSchema;
  /** An image body instead of JSON. */
  image?: boolean;
  response?: TSchema;
  /** A JPEG or a stream rather than JSON. */
  produces?: string;
  handle: (ctx: Ctx, body: unknown) => unknown;
};

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const notFound = (what: string) => new HttpError(404, `${what} not found`);

/** Largest request body: an enrollment of five photos, base64. */
export const MAX_BODY_BYTES = 20 << 20;

export function routes(backend: ConsoleBackend): Route[] {
  const attempt = (id: string): Attempt => {
    const found = backend.attempt(id);
    if (!found) throw notFound(`attempt ${id}`);
    return found;
  };
  return [
    { method: 'GET', path: '/cameras', summary: 'Cameras and their state', handle: () => backend.cameras() },
    {
      method: 'GET',
      path: '/cameras/{name}/live.mjpeg',
      params: [CAMERA],
      summary: "The camera's analysed frames with face boxes and names, as MJPEG, while watched",
      produces: 'multipart/x-mixed-replace',
      handle: ({ params, res }) => {
        if (!backend.live(params[0]!, res)) throw notFound(`camera ${params[0]}`);
        return STREAMING;
      },
    },
    {
      method: 'GET',
      path: '/attempts',
      summary:
        'Recent recognition attempts, newest first; filters camera, kind, person; paged with limit (max 200) and before (the last id of the previous page)',
      response: Type.Array(AttemptSchema),
      handle: ({ query }) => {
        const kind = query.get('kind');
        if (kind && !(ATTEMPT_KINDS as readonly string[]).includes(kind))
          throw new HttpError(400, `kind "${kind}": one of ${ATTEMPT_KINDS.join(', ')}`);
        const limit = Number(query.get('limit') ?? 50);
        if (!Number.isInteger(limit) || limit < 1 || limit > 200)
          throw new HttpError(400, `limit "${query.get('limit')}": a whole number from 1 to 200`);
        return backend.attempts({
          limit,
          ...(query.get('camera') ? { camera: query.get('camera')! } : {}),
          ...(kind ? { kind: kind as Attempt['kind'] } : {}),
          ...(query.get('person') ? { person: query.get('person')! } : {}),
          ...(query.get('before') ? { before: query.get('before')! } : {}),
        });
      },
    },
    {
      method: 'GET',
      path: '/attempts/{id}',
      params: [ATTEMPT_ID],
      summary: 'One attempt',
      response: AttemptSchema,
      handle: ({ params }) => attempt(params[0]!),
    },
    {
      method: 'GET',
      path: '/attempts/{id}/crop',
      params: [ATTEMPT_ID],
      summary: "The attempt's face crop (JPEG), while its snapshot is kept",
      produces: 'image/jpeg',
      handle: ({ params, res }) => {
        const a = attempt(params[0]!);
        const jpeg = backend.crop(a);
        if (!jpeg) throw notFound(`crop of attempt ${a.id} (no snapshot kept for it)`);
        sendImage(res, jpeg);
        return STREAMING;
      },
    },
    {
      method: 'POST',
      path: '/attempts/{id}/enroll',
      params: [ATTEMPT_ID],
      summary: "Enrolls the attempt's face as a person (the enrollment refusals of facegate enroll apply)",
      body: EnrollAttemptBody,
      handle: async ({ params, who }, body) => {
        const a = attempt(params[0]!);
        const jpeg = backend.crop(a);
        if (!jpeg) throw new HttpError(409, `attempt ${a.id} has no kept crop to enroll from`);
        const person = body as Static<typeof EnrollAttemptBody>;
        const r = await backend.enroll(
          person,
          [{ bytes: jpeg, source: `attempt ${a.id}` }],
          actor(who),
          false,
        );
        backend.enrolledFromAttempt(a, person.id);
        return r;
      },
    },
    {
      method: 'POST',
      path: '/attempts/{id}/wrong',
      params: [ATTEMPT_ID],
      summary: 'Marks the decision wrong; kept as a labelled pair for facegate calibrate --marked',
      body: WrongBody,
      handle: ({ params, who }, body) =>
        backend.markWrong(attempt(params[0]!), (body as Static<typeof WrongBody>).truth, actor(who)),
    },
    {
      method: 'GET',
      path: '/people',
      summary: 'Enrolled people',
      response: Type.Array(PersonSchema),
      handle: () => backend.people(),
    },
    {
      method: 'POST',
      path: '/people',
      summary: 'Enrolls a person from photos (the refusals of facegate enroll apply)',
      body: NewPersonBody,
      handle: ({ who }, body) => {
        const b = body as Static<typeof NewPersonBody>;
        return backend.enroll(
          { id: b.id, name: b.name, ...(b.metadata ? { metadata: b.metadata } : {}) },
          b.photos.map((p, i) => ({ bytes: Buffer.from(p, 'base64'), source: `upload ${i + 1}` })),
          actor(who),
          b.replace ?? false,
        );
      },
    },
    {
      method: 'PATCH',
      path: '/people/{id}',
      params: [PERSON_ID],
      summary: 'Renames a person or replaces their metadata',
      body: PersonChangeBody,
      handle: ({ params, who }, body) => {
        if (!backend.updatePerson(params[0]!, body as Static<typeof PersonChangeBody>, actor(who)))
          throw notFound(`person ${params[0]}`);
        return backend.people().find((p) => p.id === params[0]);
      },
    },
    {
      method: 'DELETE',
      path: '/people/{id}',
      params: [PERSON_ID],
      summary: 'Removes a person with their photos, embeddings and snapshots',
      handle: ({ params, who }) => {
        if (!backend.removePerson(params[0]!, actor(who))) throw notFound(`person ${params[0]}`);
        return { removed: params[0] };
      },
    },
    {
      method: 'GET',
      path: '/people/{id}/photos/{sha256}',
      params: [PERSON_ID, SHA],
      summary: 'An enrollment photo',
      produces: 'image/*',
      handle: ({ params, res }) => {
        const photo = backend.photo(params[0]!, params[1]!);
        if (!photo) throw notFound(`photo ${params[1]} of ${params[0]}`);
        sendImage(res, photo);
        return STREAMING;
      },
    },
    {
      method: 'POST',
      path: '/recognise',
      summary: 'Recognises the faces in a photo (the body: JPEG, PNG or WebP bytes)',
      image: true,
      handle: ({ body }) => backend.recognise(body),
    },
    {
      method: 'GET',
      path: '/gallery/sync',
      summary: 'The gallery sync status',
      handle: () => backend.syncStatus(),
    },
    {
      method: 'POST',
      path: '/gallery/sync',
      summary: 'Syncs the gallery from its source now; the report',
      handle: async ({ who }) => {
        const r = backend.syncNow(actor(who));
        if (!r) throw new HttpError(409, 'no gallery.source is configured');
        return r;
      },
    },
    {
      method: 'GET',
      path: '/events',
      summary: 'Access decisions from the audit log, newest first (from, to: ISO 8601; limit up to 500)',
      handle: ({ query }) => {
        const limit = Number(query.get('limit') ?? 100);
        if (!Number.isInteger(limit) || limit < 1 || limit > 500)
          throw new HttpError(400, `limit "${query.get('limit')}": a whole number from 1 to 500`);
        return backend.events(query.get('from') ?? undefined, query.get('to') ?? undefined, limit);
      },
    },
    {
      method: 'GET',
      path: '/config',
      summary: 'The configuration in effect, every secret redacted',
      handle: () => backend.config(),
    },
    {
      method: 'GET',
      path: '/tuning',
      summary:
        'What a threshold (query threshold; default: the one in effect) would have decided on the recent attempts and the marked pairs',
      handle: ({ query }) => {
        const t = query.get('threshold');
        const threshold = t === null ? undefined : Number(t);
        if (threshold !== undefined && !(threshold > 0 && threshold <= 4))
          throw new HttpError(400, `threshold "${t}": a number above 0, at most 4`);
        return backend.tuning(threshold);
      },
    },
    {
      method: 'POST',
      path: '/tuning',
      summary: 'Saves the threshold (in the state directory, over the config file) and reloads the daemon',
      body: ThresholdBody,
      handle: ({ who }, body) =>
        backend.saveThreshold((body as Static<typeof ThresholdBody>).threshold, actor(who)),
    },
  ];
}

const actor = (who: Principal) => `api:${who.user}`;

/** A handler that wrote the response itself. */
const STREAMING = Symbol('streaming');

function sendImage(res: ServerResponse, bytes: Buffer): void {
  const type = bytes[0] === 0x89 ? 'image/png' : bytes[0] === 0x52 ? 'image/webp' : 'image/jpeg';
  res.writeHead(200, { 'content-type': type, 'cache-control': 'private, max-age=3600' }).end(bytes);
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(value));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES)
    throw new HttpError(413, `the body is ${declared} bytes; at most ${MAX_BODY_BYTES}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function compile(path: string): RegExp {
  const literal = path.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  return new RegExp(`^${literal.replace(/\{[^}]+\}/g, '([^/]+)')}$`);
}

const WEB_DIR = join(PROJECT_ROOT, 'web');
/** The console's files and the toolkit's (from its npm packages: nothing from a CDN). */
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: join(WEB_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/console.js': { file: join(WEB_DIR, 'console.js'), type: 'text/javascript' },
  '/console.css': { file: join(WEB_DIR, 'console.css'), type: 'text/css' },
};
const PACKAGES: Record<string, string> = {
  '/vendor/preact.js': 'preact/dist/preact.module.js',
  '/vendor/preact-hooks.js': 'preact/hooks/dist/hooks.module.js',
  '/vendor/htm.js': 'htm/dist/htm.module.js',
};

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export class ConsoleApi {
  private readonly table: (Route & { re: RegExp })[];

  constructor(
    private readonly backend: ConsoleBackend,
    private readonly auth: ConsoleAuth,
    private readonly onLogin: (user: string, ok: boolean, address: string) => void,
  ) {
    this.table = routes(backend).map((r) => ({ ...r, re: compile(r.path) }));
  }

  get routeTable(): Route[] {
    return this.table;
  }

  /** Handles the request when it is the console's or the API's; false otherwise. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? '/', 'http://console');
    if (req.method === 'GET' && (STATIC[url.pathname] || PACKAGES[url.pathname])) {
      this.serveStatic(url.pathname, res);
      return true;
    }
    if (!url.pathname.startsWith('/api/v1/')) return false;
    try {
      const value = await this.api(url, req, res);
      if (value !== STREAMING) sendJson(res, 200, value, SECURITY_HEADERS);
    } catch (err) {
      const { status, message, headers } = errorResponse(err);
      if (status === 500) console.error(err);
      if (!res.headersSent)
        sendJson(
          res,
          status,
          { error: message, ...(err instanceof EnrollmentRejected ? { reason: err.reason } : {}) },
          headers,
        );
      else res.end();
    }
    return true;
  }

  private serveStatic(path: string, res: ServerResponse): void {
    const entry = STATIC[path];
    const file = entry?.file ?? join(PROJECT_ROOT, 'node_modules', PACKAGES[path]!);
    let body = readFileSync(file);
    // preact/hooks imports "preact" by its bare name, which a browser resolves only through an
    // import map (an inline script the CSP refuses): pointed at the served copy instead.
    if (path === '/vendor/preact-hooks.js')
      body = Buffer.from(body.toString('utf8').replace(/from"preact"/g, 'from"/vendor/preact.js"'));
    res.writeHead(200, {
      'content-type': entry?.type ?? 'text/javascript',
      'cache-control': 'no-cache',
      ...SECURITY_HEADERS,
    });
    res.end(body);
  }

  private async api(url: URL, req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const path = url.pathname.slice('/api/v1'.length);
    const address = req.socket.remoteAddress ?? '?';
    if (path === '/openapi.json' && req.method === 'GET') return openApi(this.table);
    if (path === '/login' && req.method === 'POST') {
      requireJson(req);
      const body = parseJson(await readBody(req), LoginBody) as Static<typeof LoginBody>;
      const r = this.auth.login(body.user, body.password, address);
      if (!r.ok && r.retryAfter)
        throw new HttpError(429, `too many failed logins from ${address}; try again in ${r.retryAfter} s`, {
          'retry-after': String(r.retryAfter),
        });
      this.onLogin(body.user, r.ok, address);
      if (!r.ok) throw new HttpError(401, 'wrong user or password');
      res.setHeader('set-cookie', r.cookie);
      return { user: body.user, csrf: r.csrf };
    }
    const who = this.auth.principal(req);
    if (!who)
      throw new HttpError(
        401,
        this.auth.configured
          ? 'log in first (POST /api/v1/login), or send an API token (Authorization: Bearer)'
          : 'no console user yet: run facegate console passwd (docs/console.md)',
      );
    if (path === '/session' && req.method === 'GET') return { user: who.user, csrf: who.csrf ?? null };
    if (path === '/logout' && req.method === 'POST') {
      res.setHeader('set-cookie', this.auth.logout(req));
      return { loggedOut: true };
    }
    for (const route of this.table) {
      if (route.method !== req.method) continue;
      const m = route.re.exec(path);
      if (!m) continue;
      const params = m.slice(1).map((p, i) => {
        let v: string;
        try {
          v = decodeURIComponent(p);
        } catch {
          throw new HttpError(400, `path parameter "${p}" is not valid`);
        }
        if (!new RegExp(route.params![i]!).test(v))
          throw new HttpError(
            400,
            `"${v}" is not a valid ${route.path.split('/').at(i * 2 + 2) ?? 'id'} (${route.params![i]})`,
          );
        return v;
      });
      if (req.method !== 'GET') {
        if (who.via === 'session' && req.headers['x-csrf-token'] !== who.csrf)
          throw new HttpError(403, 'missing or wrong X-CSRF-Token (GET /api/v1/session gives it)');
        if (route.image) {
          if (!/^image\/(jpeg|png|webp)$/.test(req.headers['content-type'] ?? ''))
            throw new HttpError(415, 'send the photo as image/jpeg, image/png or image/webp');
        } else if (route.body) requireJson(req);
      }
      const raw = req.method === 'GET' ? Buffer.alloc(0) : await readBody(req);
      const body = route.body ? parseJson(raw, route.body) : undefined;
      return route.handle({ req, res, params, query: url.searchParams, body: raw, who }, body);
    }
    throw new HttpError(404, `no ${req.method} ${url.pathname}`);
  }
}

/** The status and words for a failed request: what facegate refused, or 500 for a bug. */
function errorResponse(err: unknown): { status: number; message: string; headers: Record<string, string> } {
  if (err instanceof HttpError) return { status: err.status, message: err.message, headers: err.headers };
  if (!(err instanceof FacegateError))
    return { status: 500, message: 'internal error (logged)', headers: {} };
  const unprocessable: string[] = ['ENROLL_REJECTED', 'NO_FACE', 'IMAGE_UNREADABLE', 'IMAGE_TOO_LARGE'];
  const status = err.code === 'NOT_FOUND' ? 404 : unprocessable.includes(err.code) ? 422 : 400;
  return { status, message: err.message, headers: {} };
}

function requireJson(req: IncomingMessage): void {
  if (!/^application\/json\b/.test(req.headers['content-type'] ?? ''))
    throw new HttpError(415, 'send JSON (Content-Type: application/json)');
}

function parseJson(raw: Buffer, schema: TSchema): unknown {
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, `the body is not JSON (${(err as Error).message})`);
  }
  if (!Value.Check(schema, doc)) {
    const problems = [...Value.Errors(schema, doc)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new HttpError(400, `the body does not match the schema: ${problems.join('; ')}`);
  }
  return doc;
}

/** The OpenAPI 3.1 document of the API, from the route table and its TypeBox schemas. */
export function openApi(table: readonly Route[]): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of table) {
    const names = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    (paths[`/api/v1${r.path}`] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      ...(names.length
        ? {
            parameters: names.map((name, i) => ({
              name,
              in: 'path',
              required: true,
              schema: { type: 'string', pattern: r.params?.[i] },
            })),
          }
        : {}),
      ...(r.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: r.body } } } }
        : r.image
          ? {
              requestBody: {
                required: true,
                content: { 'image/jpeg': {}, 'image/png': {}, 'image/webp': {} },
              },
            }
          : {}),
      responses: {
        '200': {
          description: 'OK',
          content: { [r.produces ?? 'application/json']: r.response ? { schema: r.response } : {} },
        },
        '400': { description: 'A parameter or the body is wrong: { error }' },
        '401': { description: 'Not logged in, or a wrong token' },
        ...(r.method !== 'GET' ? { '403': { description: 'X-CSRF-Token missing or wrong (sessions)' } } : {}),
        '404': { description: 'No such camera, attempt, person or photo' },
      },
      security: [{ session: [] }, { token: [] }],
    };
  }
  paths['/api/v1/login'] = {
    post: {
      summary: 'Logs in: sets the session cookie and returns the CSRF token; 429 after repeated failures',
      requestBody: { required: true, content: { 'application/json': { schema: LoginBody } } },
      responses: {
        '200': { description: '{ user, csrf }' },
        '401': { description: 'wrong' },
        '429': { description: 'too many failures' },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'facegate API', version: '1' },
    components: {
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'facegate_session' },
        token: { type: 'http', scheme: 'bearer' },
      },
    },
    paths,
  };
}
