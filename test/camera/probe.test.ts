// facegate probe against a real RTSP server: a working camera, a wrong path, a hung server,
// a file that is not video; always within the timeout and without leaving ffmpeg behind.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { LIVE_SMALL, RtspServer } from '../helpers/rtsp.js';

let server: RtspServer;
beforeAll(async () => {
  server = await RtspServer.start();
});
afterAll(async () => {
  await server.stop();
});

async function probe(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const t0 = Date.now();
  const code = await main(['probe', ...argv], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return {
    code,
    ms: Date.now() - t0,
    result: JSON.parse(out[0] ?? '{}') as Record<string, unknown>,
    err: err.join('\n'),
  };
}

describe('facegate probe', () => {
  it('reports size, rate and time to first frame of a working camera', async () => {
    const r = await probe(server.url, '--frames', '10');
    expect(r.code).toBe(0);
    expect(r.result).toMatchObject({ url: server.url, width: 1280, height: 720, frames: 10 });
    // The camera's rate (25 fps), from the stream's timestamps: the arrival times are bunched
    // at the start, and read 10 fps as 20.
    expect(r.result.fps).toBeCloseTo(25, 0);
    expect(r.result.first_frame_ms).toBeGreaterThan(0);
  });

  it('reports a 10 fps camera as 10 fps with the default 10 frames', async () => {
    const small = await RtspServer.start(LIVE_SMALL);
    try {
      const r = await probe(small.url);
      expect(r.code).toBe(0);
      expect(r.result).toMatchObject({ width: 320, height: 240, frames: 10 });
      expect(r.result.fps).toBeCloseTo(10, 0);
    } finally {
      await small.stop();
    }
  });

  it('says not found for a wrong path and exits 1', async () => {
    const r = await probe(server.url.replace('/cam', '/missing'), '--timeout', '5');
    expect(r).toMatchObject({ code: 1, result: { error: 'not found' } });
  });

  it('says refused for a closed port, with the password redacted', async () => {
    const r = await probe('rtsp://admin:hunter2@127.0.0.1:1/cam', '--timeout', '5');
    expect(r).toMatchObject({
      code: 1,
      result: { url: 'rtsp://admin:***@127.0.0.1:1/cam', error: 'refused' },
    });
  });

  it('gives up on a hung camera within the timeout', async () => {
    server.freeze();
    try {
      const r = await probe(server.url, '--timeout', '2');
      expect(r).toMatchObject({ code: 1, result: { error: 'timeout' } });
      expect(r.ms).toBeLessThan(10_000); // 2 s, and the time to start ffmpeg on a busy machine
    } finally {
      server.thaw();
    }
  });

  it('says not video for a file that is not video, and refuses unsupported schemes', async () => {
    const file = join(tmpdir(), `not-video-${process.pid}.mp4`);
    writeFileSync(file, 'plain text');
    expect((await probe(file, '--timeout', '5')).result).toMatchObject({ error: 'not video' });
    const http = await probe('http://cam/stream');
    expect(http).toMatchObject({
      code: 1,
      result: { error: expect.stringMatching(/unsupported scheme "http:"/) },
    });
  });
});
