// The daemon's memory holds still however long it runs: two cameras at 60 fps (320x180, a face
// swaying into view 4 s of every 6 s, so frames are analysed, judged unchanged, dropped and matched)
// through the whole pipeline for 10,000 frames. Resident memory is sampled as frames go by; the
// median of the last fifth of the run may not exceed the median of the second fifth (after the
// arenas and caches have grown to their working size) by more than GROWTH_BOUND_MIB. A leak of
// one 320x180 frame per 100 frames would add 18 MiB; the /metrics memory section is checked too.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import { enrollGallery } from '../helpers/daemon.js';
import { faceCrop } from '../helpers/faces.js';
import { sleep, until } from '../helpers/wait.js';

const FRAMES = 10_000;
const GROWTH_BOUND_MIB = 24;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fg-memory-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

describe('the daemon over 10,000 frames', () => {
  it('keeps its resident memory within a bound, and reports it in /metrics', async () => {
    const face = await faceCrop(0);
    writeFileSync(join(dir, 'face.png'), face);
    const clip = join(dir, 'clip.mp4');
    execFileSync('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y'],
      ...['-f', 'lavfi', '-i', 'color=c=gray:size=320x180:rate=60:duration=12'],
      ...['-loop', '1', '-framerate', '60', '-t', '12', '-i', join(dir, 'face.png')],
      ...[
        '-filter_complex',
        "[1]scale=-2:120[f];[0][f]overlay=x='110+30*sin(PI*t)':y=30:enable='lt(mod(t,6),4)',noise=alls=8:allf=t,format=yuv420p",
      ],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-g', '60', clip],
    ]);
    const stateDir = join(dir, 'state');
    await enrollGallery(stateDir, 'mobilefacenet', [{ id: 'a', name: 'A', photo: face }]);
    const camera = (name: string) => ({
      name,
      url: clip,
      fps: 60,
      width: 320,
      height: 180,
      watchdogMs: 20_000,
    });
    const daemon = new Daemon(
      loadConfig(undefined, {}, [
        { key: 'stateDir', value: stateDir },
        { key: 'cameras', value: [camera('a'), camera('b')] },
        { key: 'liveness.mode', value: 'off' },
        { key: 'mqtt.embedded.port', value: 0 },
        { key: 'mqtt.outboxFsync', value: false },
        { key: 'http.port', value: 0 },
      ]),
      () => undefined,
    );
    await daemon.start();
    const samples: { frames: number; rssMiB: number }[] = [];
    try {
      await until(
        '10,000 frames',
        async () => {
          samples.push({ frames: daemon.framesReceived, rssMiB: process.memoryUsage().rss / 2 ** 20 });
          await sleep(250);
          return daemon.framesReceived >= FRAMES;
        },
        240_000,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${daemon.httpPort}/metrics`)).text();
      for (const kind of ['rss', 'heap_used', 'heap_total', 'external', 'array_buffers', 'sharp_cache'])
        expect(metrics).toMatch(new RegExp(`^facegate_memory_bytes\\{kind="${kind}"\\} \\d`, 'm'));
    } finally {
      await daemon.stop();
    }
    expect(daemon.stats.frames).toBeGreaterThan(500); // analysed, not only judged unchanged
    expect(daemon.stats.matches).toBeGreaterThan(0);
    const fifth = (k: number) =>
      samples
        .filter((s) => s.frames >= (k * FRAMES) / 5 && s.frames < ((k + 1) * FRAMES) / 5)
        .map((s) => s.rssMiB);
    const [early, late] = [median(fifth(1)), median(fifth(4))];
    console.log(
      `RSS over ${FRAMES} frames (${daemon.stats.frames} analysed): ${early.toFixed(0)} MiB at 2,000-4,000, ` +
        `${late.toFixed(0)} MiB at 8,000-10,000, peak ${Math.max(...samples.map((s) => s.rssMiB)).toFixed(0)} MiB`,
    );
    expect(late - early).toBeLessThan(GROWTH_BOUND_MIB);
  }, 300_000);
});
