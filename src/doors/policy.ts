// Doors: who may enter where and when, decided once in facegate instead of in every subscriber.
// A door has cameras, the people and groups allowed (groups from each person's gallery metadata,
// `groups: [...]`), optional schedules, and its own rule on top of the match: the track must be
// live (liveness), the decision fresh, the match clear of the runner-up by a margin. Each camera
// decision (match, unknown, spoof) becomes one access decision per door the camera serves:
// granted, or denied with the reason. Refusals in a row lock a door out for a while (a stranger
// trying again and again, or photos of several residents), and a person granted once is not
// granted again at that door within the cooldown.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const CLOCK = '^([01][0-9]|2[0-3]):[0-5][0-9]$';

export const DoorSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'letters, digits, _ or -, 1 to 64' }),
    cameras: Type.Array(Type.String({ minLength: 1 }), {
      minItems: 1,
      description: 'the cameras (cameras[].name) that see this door',
    }),
    allow: Type.Object(
      {
        people: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'person ids' })),
        groups: Type.Optional(
          Type.Array(Type.String({ minLength: 1 }), {
            description: "groups: a person is in those their gallery metadata's groups list names",
          }),
        ),
      },
      { additionalProperties: false, description: 'who may enter: person ids and groups; nobody else' },
    ),
    schedule: Type.Optional(
      Type.Array(
        Type.Object(
          {
            days: Type.Array(
              Type.Union(
                DAYS.map((d) => Type.Literal(d)),
                { description: DAYS.join(', ') },
              ),
              {
                minItems: 1,
                description: `a list of days: ${DAYS.join(', ')}`,
              },
            ),
            from: Type.String({ pattern: CLOCK, description: 'HH:MM, local time' }),
            to: Type.String({ pattern: CLOCK, description: 'HH:MM, local time; before from: past midnight' }),
          },
          { additionalProperties: false },
        ),
        { minItems: 1, description: 'when the door may open (local time); always when left out' },
      ),
    ),
    requireLive: Type.Optional(
      Type.Boolean({ description: 'grant only a live track (docs/liveness.md); default true' }),
    ),
    minVotes: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 100,
        description:
          "frames of the track that must have named the person (the match's votes; a match by the track's fused mean may have fewer); default 1",
      }),
    ),
    minMargin: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'how much nearer the person must be than the runner-up (distance units); default 0',
      }),
    ),
    maxDecisionAgeMs: Type.Optional(
      Type.Integer({
        minimum: 100,
        maximum: 600_000,
        description: 'the newest frame of the decision at most this old; default 5000',
      }),
    ),
    lockout: Type.Optional(
      Type.Object(
        {
          refusals: Type.Integer({ minimum: 1, maximum: 1000 }),
          windowSeconds: Type.Number({ exclusiveMinimum: 0, maximum: 86_400 }),
          seconds: Type.Number({ exclusiveMinimum: 0, maximum: 86_400 }),
        },
        {
          additionalProperties: false,
          description:
            'after `refusals` refusals within `windowSeconds`, every decision is denied for `seconds`; default 5 in 30 s for 60 s',
        },
      ),
    ),
    cooldownSeconds: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'no second grant for a person at this door within it; default 10',
      }),
    ),
  },
  { additionalProperties: false },
);

export type DoorConfig = Static<typeof DoorSchema>;

/**
 * What is wrong with `value` under `schema`, one entry per problem: the key (dotted; `whole` for
 * the value itself), the rule in words (its schema's description, else TypeBox's message), and
 * the value found (undefined when missing). Callers put them in their own sentences.
 */
export function schemaProblems(
  schema: TSchema,
  value: unknown,
  whole: string,
): { key: string; rule: string; value: string | undefined }[] {
  return [...Value.Errors(schema, value)].map((e) => {
    const rule = (e.schema as { description?: string }).description;
    return {
      key: e.path.slice(1).replaceAll('/', '.') || whole,
      rule: rule ? `must be ${rule}` : e.message.toLowerCase(),
      value: e.value === undefined ? undefined : `not ${JSON.stringify(e.value)}`,
    };
  });
}

/** Every problem with the door list, one line each naming the door and the setting; empty when valid. */
export function doorListProblems(list: unknown): string[] {
  if (!Array.isArray(list)) return ['must be a list of doors'];
  const names = new Set<string>();
  return list.flatMap((door: unknown, i) => {
    const name = (door as { name?: unknown } | null)?.name;
    const at = `doors[${i}]${typeof name === 'string' ? ` (${name})` : ''}`;
    const problems = schemaProblems(DoorSchema, door, 'the entry').map(
      (p) => `${at}: ${p.key} ${p.rule}, ${p.value ?? 'missing'}`,
    );
    if (typeof name === 'string') {
      if (names.has(name)) problems.push(`${at}: the name "${name}" is used twice`);
      names.add(name);
    }
    return problems;
  });
}

export const DOOR_DEFAULTS = {
  requireLive: true,
  minVotes: 1,
  minMargin: 0,
  maxDecisionAgeMs: 5000,
  lockout: { refusals: 5, windowSeconds: 30, seconds: 60 },
  cooldownSeconds: 10,
} as const;

/** The doors' documentation for docs/configuration.md. */
export const DOOR_LIST_DOC = `Doors (docs/doors.md): a list of {${Object.keys(DoorSchema.properties).join(', ')}}. Each camera decision becomes a signed access event per door its camera serves: granted, or denied with the reason. Defaults: ${Object.entries(
  DOOR_DEFAULTS,
)
  .map(([k, v]) => `${k} ${JSON.stringify(v)}`)
  .join(', ')}; no schedule: always.`;

export const ACCESS_REASONS = [
  'not_allowed',
  'outside_schedule',
  'unknown',
  'not_live',
  'locked_out',
  'stale',
] as const;
export type AccessReason = (typeof ACCESS_REASONS)[number];

/** What a camera decided about one track, as a door sees it. */
export type CameraDecision = {
  camera: string;
  kind: 'match' | 'unknown' | 'spoof';
  /** The person matched (or, for a spoof, looked like). */
  person?: { id: string; name: string; metadata?: Record<string, unknown> };
  /** The liveness verdict: true, false, or null when liveness is off. */
  live: boolean | null;
  /** Frames of the track that named the person (0 for unknown and spoof). */
  votes: number;
  margin: number | null;
  /** When the newest frame of the decision arrived (ms since the epoch). */
  capturedAt: number;
};

export type AccessDecision = {
  door: string;
  result: 'granted' | 'denied';
  reason: AccessReason | null;
};

/** Minutes since local midnight, and the local weekday. */
function localTime(at: number): { day: (typeof DAYS)[number]; minutes: number } {
  const d = new Date(at);
  return { day: DAYS[d.getDay()]!, minutes: d.getHours() * 60 + d.getMinutes() };
}

const minutesOf = (clock: string) => Number(clock.slice(0, 2)) * 60 + Number(clock.slice(3, 5));

/** Whether `at` (local time) falls in one of the schedule's windows; a window past midnight belongs to the day it starts. */
export function inSchedule(schedule: DoorConfig['schedule'], at: number): boolean {
  if (!schedule) return true;
  const now = localTime(at);
  const yesterday = DAYS[(DAYS.indexOf(now.day) + 6) % 7]!;
  return schedule.some(({ days, from, to }) => {
    const [f, t] = [minutesOf(from), minutesOf(to)];
    if (f <= t) return days.includes(now.day) && now.minutes >= f && now.minutes < t;
    // Past midnight: from `from` to the end of the day, and from midnight to `to` the next day.
    return (days.includes(now.day) && now.minutes >= f) || (days.includes(yesterday) && now.minutes < t);
  });
}

/** Whether the person may use the door: named, or in a named group. */
function allowed(door: DoorConfig, person: NonNullable<CameraDecision['person']>): boolean {
  if (door.allow.people?.includes(person.id)) return true;
  const groups = person.metadata?.groups;
  return Array.isArray(groups) && groups.some((g) => typeof g === 'string' && door.allow.groups?.includes(g));
}

export class DoorPolicy {
  /** Door name -> times of its recent refusals; -> when its lockout ends. */
  private readonly refusals = new Map<string, number[]>();
  private readonly lockedUntil = new Map<string, number>();
  /** door/person -> when the person was last granted there. */
  private readonly granted = new Map<string, number>();

  constructor(private readonly doors: readonly DoorConfig[]) {}

  /** The doors `camera` serves. */
  doorsOf(camera: string): DoorConfig[] {
    return this.doors.filter((d) => d.cameras.includes(camera));
  }

  /**
   * One access decision per door the camera serves (none for a person granted there within the
   * cooldown). `now`: ms since the epoch.
   */
  decide(d: CameraDecision, now = Date.now()): AccessDecision[] {
    return this.doorsOf(d.camera).flatMap((door): AccessDecision[] => {
      const reason = this.refusal(door, d, now);
      if (reason) {
        if (reason !== 'locked_out') this.refused(door, now);
        return [{ door: door.name, result: 'denied', reason }];
      }
      const key = `${door.name}/${d.person!.id}`;
      const last = this.granted.get(key);
      const cooldown = (door.cooldownSeconds ?? DOOR_DEFAULTS.cooldownSeconds) * 1000;
      if (last !== undefined && now - last < cooldown) return [];
      this.granted.set(key, now);
      return [{ door: door.name, result: 'granted', reason: null }];
    });
  }

  /** Why the door stays shut, or undefined to grant. */
  private refusal(door: DoorConfig, d: CameraDecision, now: number): AccessReason | undefined {
    if ((this.lockedUntil.get(door.name) ?? 0) > now) return 'locked_out';
    if (now - d.capturedAt > (door.maxDecisionAgeMs ?? DOOR_DEFAULTS.maxDecisionAgeMs)) return 'stale';
    if (d.kind === 'spoof') return 'not_live';
    if (d.kind === 'unknown' || !d.person) return 'unknown';
    if ((door.requireLive ?? DOOR_DEFAULTS.requireLive) && d.live !== true) return 'not_live';
    // Not clear enough for this door: too few frames named the person, or the runner-up too near.
    if (d.votes < (door.minVotes ?? DOOR_DEFAULTS.minVotes)) return 'unknown';
    if ((d.margin ?? Infinity) < (door.minMargin ?? DOOR_DEFAULTS.minMargin)) return 'unknown';
    if (!allowed(door, d.person)) return 'not_allowed';
    if (!inSchedule(door.schedule, now)) return 'outside_schedule';
    return undefined;
  }

  /** Counts a refusal; enough of them within the window lock the door out. */
  private refused(door: DoorConfig, now: number): void {
    const rule = door.lockout ?? DOOR_DEFAULTS.lockout;
    const recent = (this.refusals.get(door.name) ?? []).filter((t) => now - t < rule.windowSeconds * 1000);
    recent.push(now);
    if (recent.length >= rule.refusals && (this.lockedUntil.get(door.name) ?? 0) <= now) {
      this.lockedUntil.set(door.name, now + rule.seconds * 1000);
      this.refusals.set(door.name, []);
    } else this.refusals.set(door.name, recent);
  }
}
