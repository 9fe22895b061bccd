// A camera's settings as the configuration gives them: one TypeBox schema for the checks, the
// TypeScript type and the documentation, plus the rules that span fields. `config --check` and
// `run` both validate through here, so each refuses exactly what the other does, with the same
// words, and nothing the schema refuses can reach ffmpeg or the frame parser.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FacegateError } from '../errors.js';
import { LIVENESS_MODES } from '../recognition/liveness.js';
import { parseCameraInput } from './url.js';

/** What each setting must be, in words: the schema below checks it, errors quote it. */
const RULES = {
  name: 'letters, digits, _ or -, 1 to 64 of them (it names MQTT topics and metrics)',
  url: 'an rtsp:// or rtsps:// URL, a file:// URL or the path of a video file',
  transport: '"tcp" or "udp"',
  fps: 'frames per second to analyse: a number above 0 and at most 60',
  width: 'a whole number of pixels from 32 to 4096 (the frame is scaled to fit width x height)',
  height: 'a whole number of pixels from 32 to 4096 (the frame is scaled to fit width x height)',
  ioTimeoutMs: "ffmpeg's socket timeout: whole milliseconds from 500 to 600000",
  watchdogMs: 'whole milliseconds from 1000 to 600000 without a frame before the camera is reported offline',
  inputOptions: 'a list of at most 32 ffmpeg input options (strings), without -i',
  liveness: `this camera's own liveness settings over the liveness section: an object with any of mode (${LIVENESS_MODES.map((m) => `"${m}"`).join(', ')}), threshold (a number above 0), minFrames and maxFrames (whole numbers from 2 to 300)`,
} as const;

export const CameraEntrySchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: RULES.name }),
    url: Type.String({ minLength: 1, description: RULES.url }),
    transport: Type.Optional(
      Type.Union([Type.Literal('tcp'), Type.Literal('udp')], { description: RULES.transport }),
    ),
    fps: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 60, description: RULES.fps })),
    width: Type.Optional(Type.Integer({ minimum: 32, maximum: 4096, description: RULES.width })),
    height: Type.Optional(Type.Integer({ minimum: 32, maximum: 4096, description: RULES.height })),
    ioTimeoutMs: Type.Optional(
      Type.Integer({ minimum: 500, maximum: 600_000, description: RULES.ioTimeoutMs }),
    ),
    watchdogMs: Type.Optional(
      Type.Integer({ minimum: 1000, maximum: 600_000, description: RULES.watchdogMs }),
    ),
    inputOptions: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        maxItems: 32,
        description: RULES.inputOptions,
      }),
    ),
    liveness: Type.Optional(
      Type.Object(
        {
          mode: Type.Optional(Type.Union(LIVENESS_MODES.map((m) => Type.Literal(m)))),
          threshold: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
          minFrames: Type.Optional(Type.Integer({ minimum: 2, maximum: 300 })),
          maxFrames: Type.Optional(Type.Integer({ minimum: 2, maximum: 300 })),
        },
        { additionalProperties: false, description: RULES.liveness },
      ),
    ),
  },
  { additionalProperties: false },
);

export type CameraEntry = Static<typeof CameraEntrySchema>;

/** What a setting left out is (docs/configuration.md lists them). */
export const CAMERA_ENTRY_DEFAULTS = {
  transport: 'tcp',
  fps: 5,
  width: 1280,
  height: 720,
  ioTimeoutMs: 3000,
  watchdogMs: 5000,
  inputOptions: [] as string[],
  liveness: {}, // the liveness section's settings
} satisfies Required<Omit<CameraEntry, 'name' | 'url'>>;

/** The camera list's documentation: every setting, what it must be, and its default. */
export const CAMERA_LIST_DOC = `Cameras: a list of {${Object.keys(RULES).join(', ')}}. ${Object.entries(RULES)
  .map(([key, rule]) => {
    const fallback = (CAMERA_ENTRY_DEFAULTS as Record<string, unknown>)[key];
    return `${key}: ${rule}${fallback === undefined ? ', required' : `; default ${JSON.stringify(fallback)}`}`;
  })
  .join('. ')}.`;

/**
 * Every problem with the camera list, one line each naming the entry and the setting; empty when
 * valid. URLs are checked as the camera will open them (scheme, host, port, file present).
 */
export function cameraListProblems(list: unknown): string[] {
  if (!Array.isArray(list)) return ['must be a list of cameras'];
  const problems: string[] = [];
  const names = new Set<string>();
  list.forEach((entry: unknown, i) => {
    const named =
      entry && typeof entry === 'object' && typeof (entry as { name?: unknown }).name === 'string'
        ? ` (${(entry as { name: string }).name})`
        : '';
    const at = `cameras[${i}]${named}`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`${at}: must be an object with a name and a url`);
      return;
    }
    const c = entry as Record<string, unknown>;
    // Each setting checked against the schema once; the rules across settings read the valid ones.
    const valid: Partial<CameraEntry> = {};
    for (const key of ['name', 'url'] as const) if (!c[key]) problems.push(`${at}: needs a ${key}`);
    for (const [key, value] of Object.entries(c)) {
      if ((key === 'name' || key === 'url') && !value) continue;
      if (!(key in RULES)) {
        problems.push(`${at}: unknown key "${key}" (known: ${Object.keys(RULES).join(', ')})`);
        continue;
      }
      const rule = key as keyof typeof RULES;
      if (Value.Check(CameraEntrySchema.properties[rule], value)) Object.assign(valid, { [rule]: value });
      else problems.push(`${at}: ${key} must be ${RULES[rule]}, not ${JSON.stringify(value)}`);
    }
    if (Array.isArray(c.inputOptions) && c.inputOptions.includes('-i'))
      problems.push(`${at}: inputOptions must not add an input (-i): the camera's url is the input`);
    if (typeof c.name === 'string') {
      if (names.has(c.name)) problems.push(`${at}: the name "${c.name}" is used twice`);
      names.add(c.name);
    }
    if (valid.url !== undefined) {
      try {
        parseCameraInput(valid.url);
      } catch (err) {
        if (!(err instanceof FacegateError)) throw err;
        problems.push(`${at}: url ${err.message}`);
      }
    }
    const fps = valid.fps ?? CAMERA_ENTRY_DEFAULTS.fps;
    const interval = 1000 / fps;
    if ((valid.watchdogMs ?? CAMERA_ENTRY_DEFAULTS.watchdogMs) < 2 * interval)
      problems.push(
        `${at}: watchdogMs (${valid.watchdogMs ?? `${CAMERA_ENTRY_DEFAULTS.watchdogMs}, the default`}) must be at least two frame intervals (${Math.ceil(2 * interval)} ms at ${fps} fps)`,
      );
  });
  return problems;
}
