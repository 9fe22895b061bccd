// systemd integration against a real AF_UNIX datagram socket as NOTIFY_SOCKET: READY=1 once the
// daemon is up, WATCHDOG=1 while frames flow from a real RTSP camera, no WATCHDOG=1 once the
// pipeline stalls (inference made to hang), STOPPING=1 on stop. Also SIGHUP reload, and the
// `facegate run` process on its embedded defaults: demo camera, embedded broker, signals.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { createSocket, type UnixDgramSocket } from 'unix-dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import { EmbeddedBroker } from '../../src/events/embedded-broker.js';
import type { FaceEngine } from '../../src/inference/faces.js';
import { SystemdNotifier } from '../../src/service/notify.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';
import { LIVE_SMALL, RtspServer } from '../helpers/rtsp.js';
import { sleep, until } from '../helpers/wait.js';

let dir: string;
let camera: RtspServer;

/** A bound unix datagram socket that records every message with its arrival time. */
function listen(path: string): { socket: UnixDgramSocket; messages: { at: number; text: string }[] } {
  const messages: { at: number; text: string }[] = [];
  const socket = createSocket('unix_dgram', (msg) => messages.push({ at: Date.now(), text: msg.toString() }));
  socket.bind(path);
  return { socket, messages };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-notify-'));
  camera = await RtspServer.start(LIVE_SMALL, '/cam');
});

afterAll(async () => {
  await camera.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('sd_notify', () => {
  it('sends READY=1, WATCHDOG=1 while frames flow, none once the pipeline stalls, then STOPPING=1', async () => {
    const sock = join(dir, 'notify.sock');
    const { socket, messages } = listen(sock);
    const logs: string[] = [];
    const log = (level: string, message: string) => logs.push(`${level} ${message}`);
    const notifier = SystemdNotifier.fromEnv({ NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' }, log)!;
    expect(notifier.watchdogIntervalMs).toBe(200);
    const config = loadConfig(undefined, {}, [
      { key: 'stateDir', value: join(dir, 'state-1') },
      { key: 'cameras', value: [{ name: 'cam', url: camera.url, fps: 5 }] },
      { key: 'mqtt.embedded.enabled', value: false },
      { key: 'http.enabled', value: false },
      { key: 'pipeline.stallSeconds', value: 2 },
    ]);
    const daemon = new Daemon(config, log, { notifier, drainMs: 200 });
    await daemon.start();
    // Deadlines are generous and nothing is counted per second of wall time: a busy machine
    // delays frames, analysis and timers, but must not change what is sent.
    await until('READY=1', () => messages.some((m) => m.text.includes('READY=1')), 30_000);
    await until('five frames analysed', () => daemon.stats.frames >= 5, 60_000);
    const flowing = messages.length;
    const pings = () => messages.slice(flowing).filter((m) => m.text === 'WATCHDOG=1');
    await until('three WATCHDOG=1 while frames flow', () => pings().length >= 3, 30_000);

    // The pipeline stalls: inference never returns, frames keep arriving.
    const engine = (daemon as unknown as { engine: FaceEngine }).engine;
    engine.analyze = () => new Promise(() => undefined);
    const stalledAt = Date.now();
    await until('a stall detected', () => !daemon.progress().ok, 30_000);
    expect(daemon.progress().stalled).toEqual(['cam']);
    const afterStall = Date.now();
    await sleep(2500);
    const late = messages.filter((m) => m.at > afterStall + 50 && m.text === 'WATCHDOG=1');
    expect(late).toEqual([]);
    expect(logs.some((l) => l.includes('pipeline stalled'))).toBe(true);
    // Declared a stall only after stallSeconds (2 s) without an analysed frame, not at once (the
    // last analysis may have finished a frame interval or a slow analysis before the hang began).
    expect(afterStall - stalledAt).toBeGreaterThanOrEqual(1000);

    await daemon.stop();
    await until('STOPPING=1', () => messages.some((m) => m.text.startsWith('STOPPING=1')), 10_000);
    socket.close();
  }, 180_000);

  it('reloads thresholds live on SIGHUP and names the settings that need a restart', async () => {
    const base = [
      { key: 'stateDir', value: join(dir, 'state-2') },
      { key: 'cameras', value: [{ name: 'cam', url: camera.url, fps: 5 }] },
      { key: 'mqtt.embedded.enabled', value: false },
      { key: 'http.enabled', value: false },
    ];
    const daemon = new Daemon(loadConfig(undefined, {}, base), () => undefined, { drainMs: 200 });
    await daemon.start();
    const next = loadConfig(undefined, {}, [
      ...base,
      { key: 'match.threshold', value: 0.5 },
      { key: 'quality.minSharpness', value: 20 },
      { key: 'cameras', value: [{ name: 'cam', url: camera.url, fps: 2 }] },
    ]);
    const r = await daemon.reload(next);
    expect(r.applied.sort()).toEqual(['match.threshold', 'quality.minSharpness']);
    expect(r.needRestart).toEqual(['cameras']);
    expect((daemon as unknown as { config: { match: { threshold: number } } }).config.match.threshold).toBe(
      0.5,
    );
    await daemon.stop();
  });

  it('publishes to the broker already on the embedded port instead of failing', async () => {
    const other = await EmbeddedBroker.start('127.0.0.1', 0);
    const port = Number(new URL(other.url).port);
    const watcher = await mqtt.connectAsync(other.url);
    const seen: string[] = [];
    watcher.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await watcher.subscribeAsync('facegate/#');
    const logs: string[] = [];
    const daemon = new Daemon(
      loadConfig(undefined, {}, [
        { key: 'stateDir', value: join(dir, 'state-3') },
        { key: 'cameras', value: [{ name: 'cam', url: camera.url, fps: 5 }] },
        { key: 'mqtt.deviceId', value: 'taken' },
        { key: 'mqtt.embedded.port', value: port },
        { key: 'http.enabled', value: false },
      ]),
      (level, message) => logs.push(`${level} ${message}`),
      { drainMs: 200 },
    );
    await daemon.start();
    expect(daemon.mqttUrl).toBe(other.url);
    expect(logs.join('\n')).toMatch(/is taken: publishing to the broker there/);
    await until('online on the other broker', () => seen.includes('facegate/taken/status online'), 30_000);
    await daemon.stop();
    await watcher.endAsync();
    await other.stop();
  });
});

describe('facegate run on its embedded defaults', () => {
  it('plays the demo camera, publishes matches on the embedded broker, reloads on SIGHUP, exits 0 on SIGTERM', async () => {
    const sock = join(dir, 'run.sock');
    const { socket, messages } = listen(sock);
    const configFile = join(dir, 'run.json');
    const settings = (threshold: number) =>
      JSON.stringify({
        stateDir: join(dir, 'state-run'),
        match: { threshold },
        // Every pass of the looping demo clip gives a match (the subscriber may miss the first).
        recognition: { cooldownSeconds: 0 },
        mqtt: { deviceId: 'demo-box', embedded: { port: 0 } },
        http: { port: 0 },
      });
    writeFileSync(configFile, settings(0.6));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'src/cli/bin.ts'), 'run', '--config', configFile],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, NOTIFY_SOCKET: sock },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const broker = /embedded MQTT broker on (mqtt:\/\/[\d.]+:\d+)/;
      await until('the embedded broker', () => broker.test(stderr), 60_000);
      const watcher = await mqtt.connectAsync(broker.exec(stderr)![1]!);
      type Decision = { person: { id: string }; liveness: { live: boolean } };
      const matches: Decision[] = [];
      const spoofs: Decision[] = [];
      watcher.on('message', (topic, p) => {
        const list = topic.endsWith('/match') ? matches : topic.endsWith('/spoof') ? spoofs : undefined;
        list?.push(JSON.parse(p.toString()) as Decision);
      });
      await watcher.subscribeAsync('facegate/demo-box/cameras/demo/+', { qos: 1 });
      await until(
        'READY=1 from facegate run',
        () => messages.some((m) => m.text.startsWith('READY=1')),
        30_000,
      );
      // The demo clip loops every 26 s: within one loop, a match for the enrolled demo person's head,
      // live, and a spoof for their photo held still (liveness.mode 'require', the default).
      await until('a demo match and a spoof', () => matches.length > 0 && spoofs.length > 0, 120_000);
      expect(matches[0]).toMatchObject({ person: { id: 'demo-person' }, liveness: { live: true } });
      expect(spoofs[0]).toMatchObject({ person: { id: 'demo-person' }, liveness: { live: false } });
      await watcher.endAsync();

      writeFileSync(configFile, settings(0.55));
      const before = messages.length;
      child.kill('SIGHUP');
      await until('the reload log', () => /configuration reloaded.*match\.threshold/.test(stderr), 30_000);
      await until(
        'READY=1 after the reload',
        () => messages.slice(before).some((m) => m.text.startsWith('READY=1')),
        30_000,
      );
      // RELOADING=1 comes before READY=1; a WATCHDOG=1 or STATUS= may come between or before.
      const reload = messages
        .slice(before)
        .map((m) => m.text)
        .filter((t) => /^(RELOADING|READY)=/.test(t));
      expect(reload[0]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);
      expect(reload[1]).toMatch(/^READY=1/);

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(messages.some((m) => m.text.startsWith('STOPPING=1'))).toBe(true);
      expect(stderr).toMatch(/facegate stopped/);
    } catch (err) {
      console.log(stderr);
      throw err;
    } finally {
      child.kill('SIGKILL');
      socket.close();
    }
  }, 240_000);
});
