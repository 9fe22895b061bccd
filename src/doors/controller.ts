// `facegate door`: the door controller, installable beside facegate (or on the lock's own box).
// It subscribes to one door's access events and opens the door for a granted one only when the
// event is an object, small, signed with the shared key, fresh, not seen before (the ids it acted
// on are kept in SQLite, so a replay after a restart is refused too) and about its own door.
// Opening is an output: a command (a GPIO tool, a relay board's CLI) or an MQTT message, then,
// after `openSeconds`, its closing counterpart. Every message gets one JSON log line saying what
// was done and why.
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Type, type Static } from '@sinclair/typebox';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { exposure, privateFile, readConfiguredFile, readSecretFile } from '../config/files.js';
import { FacegateError, readFileOrThrow } from '../errors.js';
import { verifyEvent, type SeenIds } from '../events/signing.js';
import { topics } from '../events/topics.js';
import { schemaProblems } from './policy.js';

const NAME = '^[A-Za-z0-9_-]{1,64}$';
const SERVICE = '^[a-z_]+\\.[a-z_]+$';
const Command = Type.Array(Type.String({ minLength: 1 }), {
  minItems: 1,
  description: 'a program and its arguments, run without a shell',
});

export const DoorControllerSchema = Type.Object(
  {
    door: Type.String({ pattern: NAME, description: "the door's name in facegate's doors" }),
    mqtt: Type.Object(
      {
        url: Type.String({ pattern: '^mqtts?://', description: 'the broker, mqtt:// or mqtts://' }),
        prefix: Type.String({ minLength: 1, description: "facegate's topic prefix, facegate/<device_id>" }),
        username: Type.Optional(Type.String()),
        passwordFile: Type.Optional(Type.String({ minLength: 1 })),
        caFile: Type.Optional(Type.String({ minLength: 1 })),
      },
      { additionalProperties: false },
    ),
    signingKeyFile: Type.String({ minLength: 1, description: "facegate's mqtt.signingKeyFile key" }),
    stateDir: Type.String({ minLength: 1, description: 'where the ids of events acted on are kept' }),
    maxAgeSeconds: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        maximum: 300,
        description: 'the oldest event acted on; default 30',
      }),
    ),
    output: Type.Union(
      [
        Type.Object(
          {
            command: Command,
            closeCommand: Type.Optional(Command),
            openSeconds: Type.Optional(Type.Number({ minimum: 0 })),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            topic: Type.String({ minLength: 1 }),
            openPayload: Type.Optional(Type.String()),
            closePayload: Type.Optional(Type.String()),
            openSeconds: Type.Optional(Type.Number({ minimum: 0 })),
          },
          { additionalProperties: false },
        ),
        Type.Object(
          {
            homeAssistant: Type.Object(
              {
                url: Type.String({
                  pattern: '^https?://',
                  description: "Home Assistant's address, http(s)://host:8123",
                }),
                tokenFile: Type.String({
                  minLength: 1,
                  description: 'a file holding a long-lived access token',
                }),
                openService: Type.String({
                  pattern: SERVICE,
                  description: 'the service that opens: lock.unlock, switch.turn_on...',
                }),
                closeService: Type.Optional(
                  Type.String({ pattern: SERVICE, description: 'the service that closes' }),
                ),
                entityId: Type.String({
                  pattern: '^[a-z_]+\\.[a-z0-9_]+$',
                  description: 'the entity, lock.front_door',
                }),
              },
              { additionalProperties: false },
            ),
            openSeconds: Type.Optional(Type.Number({ minimum: 0 })),
          },
          { additionalProperties: false },
        ),
      ],
      {
        description:
          'what opens the door: {command, closeCommand, openSeconds}, {topic, openPayload, closePayload, openSeconds} or {homeAssistant: {url, tokenFile, openService, closeService, entityId}, openSeconds}',
      },
    ),
    announce: Type.Optional(
      Type.Object(
        {
          discoveryPrefix: Type.Optional(Type.String({ minLength: 1 })),
          remoteOpen: Type.Optional(
            Type.Boolean({
              description:
                'also open on UNLOCK from Home Assistant (a lock entity): anyone who may publish on its command topic can open the door, so restrict it with the broker ACL',
            }),
          ),
        },
        {
          additionalProperties: false,
          description: "announce the door's lock to Home Assistant: {discoveryPrefix, remoteOpen}",
        },
      ),
    ),
  },
  { additionalProperties: false },
);

export type DoorControllerConfig = Static<typeof DoorControllerSchema>;

/** The largest payload looked at: an access event is under 1 KB. */
const MAX_PAYLOAD = 16 * 1024;
const DEFAULT_OPEN_SECONDS = 5;

/** Reads and checks a controller's JSON file: every problem on its own line, exit 78. */
export function loadDoorControllerConfig(file: string): DoorControllerConfig {
  let value: unknown;
  try {
    value = JSON.parse(
      readFileOrThrow(file, 'CONFIG_INVALID', (c) => `${file}: cannot read it: ${c}`).toString(),
    );
  } catch (err) {
    if (err instanceof FacegateError) throw err;
    throw new FacegateError('CONFIG_INVALID', `${file}: not valid JSON: ${(err as Error).message}`);
  }
  const problems = schemaProblems(DoorControllerSchema, value, 'the file').map(
    (p) => `${p.key}: ${p.rule}${p.value ? `, ${p.value}` : ''}`,
  );
  if (problems.length)
    throw new FacegateError(
      'CONFIG_INVALID',
      `${file}: invalid door controller configuration:\n  ${problems.join('\n  ')}`,
    );
  return value as DoorControllerConfig;
}

/** Event ids acted on, in SQLite: refused as replays after a restart too; older ones forgotten. */
class SeenStore implements SeenIds {
  private readonly db: Database.Database;

  constructor(
    file: string,
    private readonly keepMs: number,
  ) {
    privateFile(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL'); // written before the door opens: a crash cannot replay it
    this.db.exec('CREATE TABLE IF NOT EXISTS seen (id TEXT PRIMARY KEY, at INTEGER NOT NULL)');
  }

  has(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM seen WHERE id = ?').get(id) !== undefined;
  }

  add(id: string): void {
    const now = Date.now();
    this.db.prepare('INSERT OR IGNORE INTO seen (id, at) VALUES (?, ?)').run(id, now);
    this.db.prepare('DELETE FROM seen WHERE at < ?').run(now - this.keepMs);
  }

  close(): void {
    this.db.close();
  }
}

export type DoorLog = (fields: Record<string, unknown>) => void;

export class DoorController {
  private client: MqttClient | undefined;
  private readonly seen: SeenStore;
  private readonly key: Buffer;
  /** Set while the door is open: when it closes. */
  private closeTimer: NodeJS.Timeout | undefined;
  /** Opens so far (for tests and the log). */
  opened = 0;

  constructor(
    private readonly c: DoorControllerConfig,
    private readonly log: DoorLog,
  ) {
    this.key = readSecretFile(c.signingKeyFile, 'signingKeyFile');
    if ('homeAssistant' in c.output)
      readSecretFile(c.output.homeAssistant.tokenFile, 'output.homeAssistant.tokenFile');
    mkdirSync(c.stateDir, { recursive: true });
    // Kept twice the freshness window: an older replay is refused as stale anyway.
    this.seen = new SeenStore(join(c.stateDir, `door-${c.door}-seen.sqlite`), 2 * this.maxAgeMs);
  }

  private get maxAgeMs(): number {
    return (this.c.maxAgeSeconds ?? 30) * 1000;
  }

  /** Connects and subscribes; resolves once subscribed. */
  async start(): Promise<void> {
    const m = this.c.mqtt;
    const topic = topics(m.prefix).access(this.c.door);
    const exposed = m.passwordFile && exposure(m.passwordFile, 'mqtt.passwordFile');
    if (exposed) this.log({ message: 'warning', door: this.c.door, warning: exposed });
    this.client = await mqtt.connectAsync(m.url, {
      ...(m.username ? { username: m.username } : {}),
      ...(m.passwordFile
        ? { password: readConfiguredFile(m.passwordFile, 'mqtt.passwordFile').toString().trim() }
        : {}),
      ...(m.caFile ? { ca: readConfiguredFile(m.caFile, 'mqtt.caFile') } : {}),
      reconnectPeriod: 2000,
      will: { topic: this.lockTopics.availability, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    const lock = this.lockTopics;
    this.client.on('message', (t, payload) => {
      if (t === lock.command) this.remote(payload.toString());
      else this.handle(payload);
    });
    await this.client.subscribeAsync(topic, { qos: 1 });
    this.client.publish(lock.state, 'LOCKED', { qos: 1, retain: true });
    this.client.publish(lock.availability, 'online', { qos: 1, retain: true });
    if (this.c.announce) await this.announce(this.c.announce);
    this.log({ message: 'ready', door: this.c.door, topic });
  }

  /** This door's lock as other systems see it: its state (retained), a remote command, the controller's availability. */
  private get lockTopics() {
    const base = `${topics(this.c.mqtt.prefix)
      .access(this.c.door)
      .replace(/\/access$/, '')}/lock`;
    return { state: `${base}/state`, command: `${base}/set`, availability: `${base}/availability` };
  }

  /**
   * Home Assistant discovery of the door's lock: a `lock` entity that opens on UNLOCK when
   * remoteOpen is set, else a `binary_sensor` that shows it (ON: unlocked).
   */
  private async announce(a: NonNullable<DoorControllerConfig['announce']>): Promise<void> {
    const lock = this.lockTopics;
    const node = `facegate_door_${this.c.door}`;
    const common = {
      name: `${this.c.door} door`,
      unique_id: `${node}_lock`,
      state_topic: lock.state,
      availability_topic: lock.availability,
      device: {
        identifiers: [node],
        name: `facegate door ${this.c.door}`,
        manufacturer: 'facegate',
        model: 'facegate door',
      },
    };
    const [component, config] = a.remoteOpen
      ? [
          'lock',
          {
            ...common,
            command_topic: lock.command,
            payload_lock: 'LOCK',
            payload_unlock: 'UNLOCK',
            state_locked: 'LOCKED',
            state_unlocked: 'UNLOCKED',
          },
        ]
      : ['binary_sensor', { ...common, device_class: 'lock', payload_on: 'UNLOCKED', payload_off: 'LOCKED' }];
    const prefix = a.discoveryPrefix ?? 'homeassistant';
    for (const other of ['lock', 'binary_sensor'].filter((c) => c !== component))
      this.client!.publish(`${prefix}/${other}/${node}/lock/config`, '', { qos: 1, retain: true }); // the other kind, if announced before
    await this.client!.publishAsync(`${prefix}/${component}/${node}/lock/config`, JSON.stringify(config), {
      qos: 1,
      retain: true,
    });
    if (a.remoteOpen) await this.client!.subscribeAsync(lock.command, { qos: 1 });
  }

  /** UNLOCK or LOCK from Home Assistant (remoteOpen only: otherwise not subscribed). */
  private remote(command: string): void {
    if (command === 'UNLOCK') this.open({ event_id: null, person: null });
    else if (command === 'LOCK') this.close();
    else
      this.log({
        message: 'refused',
        door: this.c.door,
        reason: `remote command ${JSON.stringify(command.slice(0, 32))}`,
      });
  }

  /** One message: refused with the reason, or the door opened. Never throws. */
  handle(payload: Buffer): void {
    const refuse = (reason: string, more: Record<string, unknown> = {}) =>
      this.log({ message: 'refused', door: this.c.door, reason, ...more });
    if (payload.length > MAX_PAYLOAD) return refuse(`payload of ${payload.length} bytes`);
    let event: unknown;
    try {
      event = JSON.parse(payload.toString());
    } catch {
      return refuse('not JSON');
    }
    // The door before the replay check: another door's event does not use up its id here.
    const door = (event as { door?: unknown } | null)?.door;
    if (event && typeof event === 'object' && !Array.isArray(event) && door !== this.c.door)
      return refuse('another door', { event_door: String(door) });
    const verdict = verifyEvent(this.key, event, { maxAgeMs: this.maxAgeMs, seen: this.seen });
    if (!verdict.ok) return refuse(verdict.reason);
    const access = event as {
      event_id: string;
      result?: unknown;
      reason?: unknown;
      person?: { id?: unknown } | null;
    };
    const id = access.person?.id;
    const fields = { event_id: access.event_id, person: typeof id === 'string' ? id : null };
    if (access.result !== 'granted') return refuse(`denied: ${String(access.reason)}`, fields);
    this.open(fields);
  }

  /** Opens the door for openSeconds: `why` is the grant's event id and person, or a remote UNLOCK. */
  private open(fields: { event_id: string | null; person: string | null }): void {
    const o = this.c.output;
    const seconds = o.openSeconds ?? DEFAULT_OPEN_SECONDS;
    this.opened++;
    this.log({ message: 'open', door: this.c.door, seconds, ...fields });
    this.drive('open', fields.person);
    this.client?.publish(this.lockTopics.state, 'UNLOCKED', { qos: 1, retain: true });
    clearTimeout(this.closeTimer); // a second grant while open: open for its full time
    this.closeTimer = setTimeout(() => this.close(), seconds * 1000);
  }

  private close(): void {
    clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
    this.drive('close', null);
    this.client?.publish(this.lockTopics.state, 'LOCKED', { qos: 1, retain: true });
    this.log({ message: 'closed', door: this.c.door });
  }

  /** The output's open or close: a command, an MQTT message, or a Home Assistant service. */
  private drive(what: 'open' | 'close', person: string | null): void {
    const o = this.c.output;
    const failed = (error: string) => this.log({ message: `${what} failed`, door: this.c.door, error });
    if ('command' in o) {
      const argv = what === 'open' ? o.command : o.closeCommand;
      if (!argv) return;
      const env = { ...process.env, FACEGATE_DOOR: this.c.door, FACEGATE_PERSON: person ?? '' };
      execFile(argv[0]!, argv.slice(1), { env, timeout: 10_000 }, (err) => {
        if (err) failed(err.message);
      });
    } else if ('topic' in o) {
      this.client?.publish(
        o.topic,
        what === 'open' ? (o.openPayload ?? 'open') : (o.closePayload ?? 'close'),
        {
          qos: 1,
        },
      );
    } else {
      const ha = o.homeAssistant;
      const service = what === 'open' ? ha.openService : ha.closeService;
      if (!service) return;
      const token = readConfiguredFile(ha.tokenFile, 'output.homeAssistant.tokenFile').toString().trim();
      fetch(`${ha.url.replace(/\/$/, '')}/api/services/${service.replace('.', '/')}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ entity_id: ha.entityId }),
        signal: AbortSignal.timeout(10_000),
      })
        .then((r) => {
          if (!r.ok) failed(`Home Assistant answered ${r.status} to ${service}`);
        })
        .catch((err: Error) => failed(err.message));
    }
  }

  async stop(): Promise<void> {
    if (this.closeTimer) this.close(); // never left open by a stop
    if (this.client?.connected)
      await this.client.publishAsync(this.lockTopics.availability, 'offline', { qos: 1, retain: true });
    await this.client?.endAsync();
    this.seen.close();
  }
}
