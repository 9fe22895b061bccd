// The daemon lets go of every frame it is done with. Each camera loop used to race the camera's
// next frame against a stop promise that stayed pending until shutdown; every race left a
// reaction on that promise holding its frame, so a 720p camera leaked 2.7 MB a frame (the
// daemon bench's RSS grew by about 45 MB/s with four cameras). Real RTSP camera, real daemon.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Frame } from '../../src/camera/frame-parser.js';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import type { FaceEngine } from '../../src/inference/faces.js';
import { LIVE_SMALL, RtspServer } from '../helpers/rtsp.js';
import { sleep, until } from '../helpers/wait.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let dir: string;
let camera: RtspServer;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-frames-'));
  camera = await RtspServer.start(LIVE_SMALL, '/cam');
});
afterAll(async () => {
  await camera.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('daemon memory', () => {
  it('keeps no frame it has analysed', async () => {
    const daemon = new Daemon(
      loadConfig(undefined, {}, [
        { key: 'stateDir', value: join(dir, 'state') },
        { key: 'cameras', value: [{ name: 'cam', url: camera.url, fps: 10 }] },
        { key: 'mqtt.embedded.enabled', value: false },
        { key: 'http.enabled', value: false },
      ]),
      () => undefined,
      { drainMs: 200 },
    );
    await daemon.start();
    const engine = (daemon as unknown as { engine: FaceEngine }).engine;
    const analyze = engine.analyze.bind(engine);
    const seen: WeakRef<Frame>[] = [];
    engine.analyze = (image, opts) => {
      seen.push(new WeakRef(image as Frame));
      return analyze(image, opts);
    };
    // A generous deadline: a busy machine analyses slower, which is not what this test is about.
    await until('30 frames analysed', () => seen.length >= 30, 90_000);
    await sleep(50);
    gc();
    // The frame in analysis and one waiting may still be held; none of the others.
    const alive = seen.filter((r) => r.deref() !== undefined).length;
    expect(alive).toBeLessThanOrEqual(2);
    await daemon.stop();
  }, 150_000);
});
