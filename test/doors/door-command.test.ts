// `facegate door` as installed: a real Mosquitto with a password, the command as its own process,
// a test relay (a command that writes a line). It opens exactly once for a signed, fresh,
// granted access event for its door, and not for a replay (also after a restart), `null`, `[]`,
// a 1 MB payload, another door's event, a stale one or a denial; a bad file exits 78.
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { eventId } from '../../src/events/ids.js';
import { signPayload } from '../../src/events/signing.js';
import type { AccessEvent } from '../../src/events/topics.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { HOME_ASSISTANT_SCHEMAS } from '../helpers/home-assistant-schemas.js';
import { Mosquitto, PASSWORD, USER } from '../helpers/mosquitto.js';
import { sleep, until } from '../helpers/wait.js';

const key = Buffer.from('door-command-test-key-0123456789');
let broker: Mosquitto;
let dir: string;

beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = mkdtempSync(join(tmpdir(), 'fg-door-'));
  writeFileSync(join(dir, 'key'), key, { mode: 0o600 });
  writeFileSync(join(dir, 'password'), PASSWORD);
});

afterAll(async () => {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

const access = (o: Partial<AccessEvent> = {}): Omit<AccessEvent, 'signature'> => ({
  event_id: eventId(),
  time: new Date().toISOString(),
  device: 'gw1',
  door: 'front',
  camera: 'porch',
  result: 'granted',
  reason: null,
  person: { id: 'ann', name: 'Ann' },
  decision: { kind: 'match', event_id: eventId() },
  captured_at: new Date().toISOString(),
  snapshot: null,
  ...o,
});

function startDoor(file: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(PROJECT_ROOT, 'src/cli/bin.ts'), 'door', file],
    {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  child.stderr.on('data', (d: Buffer) => {
    buffer += d.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop()!;
    for (const p of parts) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, lines, exited };
}

describe('facegate door', () => {
  it('opens once per fresh signed grant for its door, and for nothing else, across a restart', async () => {
    const relay = join(dir, 'relay.log');
    const file = join(dir, 'door.json');
    writeFileSync(
      file,
      JSON.stringify({
        door: 'front',
        mqtt: {
          url: broker.url,
          prefix: 'facegate/gw1',
          username: USER,
          passwordFile: join(dir, 'password'),
        },
        signingKeyFile: join(dir, 'key'),
        stateDir: join(dir, 'state'),
        output: {
          command: ['/bin/sh', '-c', `echo "open $FACEGATE_DOOR $FACEGATE_PERSON" >> ${relay}`],
          closeCommand: ['/bin/sh', '-c', `echo close >> ${relay}`],
          openSeconds: 0.5,
        },
      }),
    );
    const raw = await mqtt.connectAsync(broker.url, { username: USER, password: PASSWORD });
    const topic = 'facegate/gw1/doors/front/access';
    const send = (payload: string | Buffer) => raw.publishAsync(topic, payload, { qos: 1 });
    let door = startDoor(file);
    try {
      await until('ready', () => door.lines.some((l) => l.message === 'ready'), 30_000);
      const granted = JSON.stringify(signPayload(key, access()));
      await send(granted);
      await send(granted); // replayed
      for (const junk of ['null', '[]', '42', 'not json', Buffer.alloc(1024 * 1024, 0x7b)]) await send(junk);
      await send(JSON.stringify(signPayload(key, access({ door: 'back' }))));
      await send(
        JSON.stringify(signPayload(key, access({ time: new Date(Date.now() - 120_000).toISOString() }))),
      );
      await send(JSON.stringify(signPayload(key, access({ result: 'denied', reason: 'not_allowed' }))));
      await send(JSON.stringify({ ...signPayload(key, access()), person: { id: 'mallory', name: 'M' } }));
      await until(
        'every message answered',
        () => door.lines.filter((l) => l.message !== 'ready').length >= 11,
        30_000,
      );
      await until('closed', () => door.lines.some((l) => l.message === 'closed'), 10_000);
      expect(door.lines.filter((l) => l.message === 'refused').map((l) => l.reason)).toEqual([
        'replayed',
        'not an event object',
        'not an event object',
        'not an event object',
        'not JSON',
        'payload of 1048576 bytes',
        'another door',
        'stale',
        'denied: not_allowed',
        'bad signature',
      ]);
      // Restarted, it still knows the event it acted on.
      door.child.kill('SIGTERM');
      expect(await door.exited).toBe(0);
      door = startDoor(file);
      await until('ready again', () => door.lines.some((l) => l.message === 'ready'), 30_000);
      await send(granted);
      await until('the replay refused', () => door.lines.some((l) => l.message === 'refused'), 10_000);
      expect(door.lines.find((l) => l.message === 'refused')).toMatchObject({ reason: 'replayed' });
      await sleep(800);
      expect(readFileSync(relay, 'utf8')).toBe('open front ann\nclose\n');
    } finally {
      door.child.kill('SIGTERM');
      await raw.endAsync();
    }
  }, 90_000);

  it("drives a Home Assistant service, announces the door's lock, and opens on a remote UNLOCK", async () => {
    // Home Assistant's REST API as the documentation gives it: POST /api/services/<domain>/<service>
    // with a bearer token and {"entity_id"}. (Home Assistant itself cannot be installed here.)
    const calls: { path: string; auth: string | undefined; body: unknown }[] = [];
    const ha = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        calls.push({ path: req.url!, auth: req.headers.authorization, body: JSON.parse(body) as unknown });
        res.writeHead(req.headers.authorization === 'Bearer ha-token' ? 200 : 401).end('[]');
      });
    });
    await new Promise<void>((r) => ha.listen(0, '127.0.0.1', () => r()));
    writeFileSync(join(dir, 'ha-token'), 'ha-token\n', { mode: 0o600 });
    const file = join(dir, 'door-ha.json');
    writeFileSync(
      file,
      JSON.stringify({
        door: 'gate',
        mqtt: {
          url: broker.url,
          prefix: 'facegate/gw1',
          username: USER,
          passwordFile: join(dir, 'password'),
        },
        signingKeyFile: join(dir, 'key'),
        stateDir: join(dir, 'state-ha'),
        output: {
          homeAssistant: {
            url: `http://127.0.0.1:${(ha.address() as AddressInfo).port}`,
            tokenFile: join(dir, 'ha-token'),
            openService: 'lock.unlock',
            closeService: 'lock.lock',
            entityId: 'lock.garden_gate',
          },
          openSeconds: 0.3,
        },
        announce: { remoteOpen: true },
      }),
    );
    const watcher = await mqtt.connectAsync(broker.url, { username: USER, password: PASSWORD });
    const seen: { topic: string; payload: string }[] = [];
    watcher.on('message', (topic, p) => seen.push({ topic, payload: p.toString() }));
    await watcher.subscribeAsync([
      'homeassistant/+/facegate_door_gate/lock/config',
      'facegate/gw1/doors/gate/lock/+',
    ]);
    const door = startDoor(file);
    try {
      await until('ready', () => door.lines.some((l) => l.message === 'ready'), 30_000);
      await until(
        'announced',
        () => seen.some((m) => m.topic === 'homeassistant/lock/facegate_door_gate/lock/config'),
        10_000,
      );
      const config = JSON.parse(
        seen.find((m) => m.topic.startsWith('homeassistant/lock/'))!.payload,
      ) as Record<string, unknown>;
      expect(
        [...Value.Errors(HOME_ASSISTANT_SCHEMAS.lock!, config)].map((e) => `${e.path} ${e.message}`),
      ).toEqual([]);
      expect(config).toMatchObject({
        command_topic: 'facegate/gw1/doors/gate/lock/set',
        state_topic: 'facegate/gw1/doors/gate/lock/state',
        availability_topic: 'facegate/gw1/doors/gate/lock/availability',
      });
      await watcher.publishAsync(
        'facegate/gw1/doors/gate/access',
        JSON.stringify(signPayload(key, access({ door: 'gate', person: { id: 'bob', name: 'Bob' } }))),
        { qos: 1 },
      );
      await until('unlocked, then locked', () => calls.length >= 2, 10_000);
      // From Home Assistant: UNLOCK opens (remoteOpen), and the door locks again on its own.
      await watcher.publishAsync('facegate/gw1/doors/gate/lock/set', 'UNLOCK', { qos: 1 });
      await until('remote unlock, then locked', () => calls.length >= 4, 10_000);
      expect(calls.map((c) => c.path)).toEqual([
        '/api/services/lock/unlock',
        '/api/services/lock/lock',
        '/api/services/lock/unlock',
        '/api/services/lock/lock',
      ]);
      for (const c of calls)
        expect(c).toMatchObject({ auth: 'Bearer ha-token', body: { entity_id: 'lock.garden_gate' } });
      const states = () => seen.filter((m) => m.topic.endsWith('/lock/state')).map((m) => m.payload);
      await until('the lock state published', () => states().length >= 5, 10_000);
      expect(states()).toEqual(['LOCKED', 'UNLOCKED', 'LOCKED', 'UNLOCKED', 'LOCKED']);
      expect(door.lines.filter((l) => l.message === 'open').map((l) => l.person)).toEqual(['bob', null]);
    } finally {
      door.child.kill('SIGTERM');
      await door.exited;
      await watcher.endAsync();
      await new Promise((r) => ha.close(r));
    }
  }, 60_000);

  it('exits 78 naming each problem of its file', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({ door: 'front door', mqtt: { url: 'http://x', prefix: '' }, output: {} }),
    );
    const err: string[] = [];
    expect(await main(['door', file], { out: () => undefined, err: (l) => err.push(l) })).toBe(78);
    const said = err.join('\n');
    expect(said).toMatch(/bad\.json: invalid door controller configuration/);
    expect(said).toMatch(/door: must be the door's name in facegate's doors, not "front door"/);
    expect(said).toMatch(/mqtt\.url: must be the broker, mqtt:\/\/ or mqtts:\/\/, not "http:\/\/x"/);
    expect(said).toMatch(/signingKeyFile/);
    expect(existsSync(join(dir, 'state-bad'))).toBe(false);
  });
});
