// Decisions are about what a camera shows now. A frame that waited for the shared inference slot
// while its camera went quiet (here: frozen with SIGSTOP) is older than pipeline.maxFrameAgeMs
// when its turn comes: it is dropped and counted, never analysed. Real RTSP servers and ffmpeg.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import { LIVE_25FPS, LIVE_SMALL, RtspServer } from '../helpers/rtsp.js';
import { sleep, until } from '../helpers/wait.js';

let dir: string;
let servers: RtspServer[];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-live-'));
  servers = [await RtspServer.start(LIVE_SMALL), await RtspServer.start(LIVE_SMALL)];
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

describe('frame age', () => {
  it('drops a frame older than pipeline.maxFrameAgeMs when its turn comes, and analyses only fresh ones', async () => {
    const [a, b] = servers as [RtspServer, RtspServer];
    const daemon = new Daemon(
      loadConfig(undefined, {}, [
        { key: 'stateDir', value: join(dir, 'state') },
        {
          key: 'cameras',
          value: [
            { name: 'a', url: a.url, fps: 5, watchdogMs: 30_000 },
            { name: 'b', url: b.url, fps: 5 },
          ],
        },
        { key: 'pipeline.concurrentFrames', value: 1 },
        { key: 'pipeline.maxFrameAgeMs', value: 1000 },
        { key: 'mqtt.embedded.enabled', value: false },
        { key: 'http.enabled', value: false },
      ]),
      () => undefined,
      { drainMs: 200 },
    );
    await daemon.start();
    try {
      await until('frames analysed', () => daemon.stats.frames >= 4, 60_000);
      // Camera b's next analysis holds the only slot for 4 s. Camera a's frame waits for it, and
      // 1.5 s in, camera a freezes: no newer frame replaces the waiting one.
      type Analyze = (camera: string, ...rest: unknown[]) => Promise<void>;
      const inner = daemon as unknown as { analyzeFrame: Analyze };
      const analyzeFrame = inner.analyzeFrame.bind(daemon);
      let slowed = false;
      inner.analyzeFrame = async (camera, ...rest) => {
        if (camera === 'b' && !slowed) {
          slowed = true;
          setTimeout(() => a.freeze(), 1500);
          await sleep(4000);
        }
        return analyzeFrame(camera, ...rest);
      };
      await until('a stale frame dropped', () => daemon.stats.framesStale > 0, 60_000);
      a.thaw();
      const metrics = await daemon.metrics.registry.metrics();
      expect(metrics).toMatch(/facegate_frames_stale_total\{camera="a"\} [1-9]/);
      // Every frame that was analysed was at most maxFrameAgeMs old when its analysis started.
      expect(Math.max(...daemon.stats.frameAges)).toBeLessThanOrEqual(1000);
    } finally {
      a.thaw();
      await daemon.stop();
    }
  });
});

describe('a frozen camera', () => {
  it('is offline with its reason on MQTT, in the metric and in /healthz within the watchdog time, and back after SIGCONT', async () => {
    const a = await RtspServer.start(LIVE_25FPS);
    servers.push(a);
    const daemon = new Daemon(
      loadConfig(undefined, {}, [
        { key: 'stateDir', value: join(dir, 'state-frozen') },
        { key: 'cameras', value: [{ name: 'gate', url: a.url, fps: 5 }] },
        { key: 'mqtt.deviceId', value: 'live' },
        { key: 'mqtt.embedded.port', value: 0 },
        { key: 'http.port', value: 0 },
      ]),
      () => undefined,
      { drainMs: 200 },
    );
    await daemon.start();
    const watcher = await mqtt.connectAsync(daemon.mqttUrl!);
    const statuses: { state: string; reason?: string }[] = [];
    watcher.on('message', (_t, p) =>
      statuses.push(JSON.parse(p.toString()) as { state: string; reason?: string }),
    );
    await watcher.subscribeAsync('facegate/live/cameras/gate/status', { qos: 1 });
    const http = `http://127.0.0.1:${daemon.httpPort}`;
    const health = async () => {
      const r = await fetch(`${http}/healthz`);
      return {
        status: r.status,
        body: (await r.json()) as { cameras: Record<string, { state: string; reason?: string }> },
      };
    };
    try {
      const state = async () => (await health()).body.cameras.gate?.state;
      await until('camera gate online', async () => (await state()) === 'online', 60_000);
      const before = statuses.length;
      a.freeze();
      const frozenAt = Date.now();
      const offline = () => statuses.slice(before).find((x) => x.state === 'offline');
      await until('offline on MQTT', () => offline() !== undefined, 30_000);
      // The watchdog is 5 s; a busy machine's timers may run late.
      expect(Date.now() - frozenAt).toBeLessThan(9000);
      expect(offline()!.reason).toBe('no frame for 5.0 s');
      expect(await daemon.metrics.registry.metrics()).toMatch(/facegate_camera_online\{camera="gate"\} 0/);
      // /healthz says so too (between retries, which end in a timeout while the server is stopped).
      let h = await health();
      await until(
        'camera gate offline in /healthz',
        async () => (h = await health()).body.cameras.gate?.state === 'offline',
        30_000,
      );
      expect(h.status).toBe(200); // a dead camera is not a broken facegate
      expect(h.body.cameras.gate!.reason).toMatch(/^(no frame for 5\.0 s|timeout)$/);
      a.thaw();
      // Back: a session begun while the server was stopped may still end first, so the camera
      // may go through offline again on its way.
      await until(
        'online again on MQTT',
        () => statuses.slice(before).some((x) => x.state === 'online'),
        60_000,
      );
      await until('camera gate online again', async () => (await state()) === 'online', 60_000);
    } finally {
      a.thaw();
      await watcher.endAsync();
      await daemon.stop();
    }
  });
});
