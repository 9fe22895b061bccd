// `make bench` (console part): what the live view costs. One camera (720p H.264 at 25 fps, 5 fps
// analysed, a face swaying in view 4 s of every 6 s, as bench/daemon.ts), the console on, and
// 0, 1 and 4 browsers watching (curl processes reading the MJPEG stream, so their own CPU is not
// the daemon's): the daemon's CPU, the frames each viewer got, the age of a frame when it was sent.
// Beside it, the alternative the design named (node-rtsp-stream: one ffmpeg per stream decoding
// the camera and encoding MPEG-1 for jsmpeg): that ffmpeg's CPU on the same clip, and where the
// camera URL (with its password) ends up.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { setPassword } from '../src/console/auth.js';
import { loadConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon.js';
import { writeSceneClip } from '../src/demo.js';
import { faceCrop } from '../test/helpers/faces.js';
import { processCpuSeconds, Table } from './harness.js';

const SECONDS = 20;
const PASS = 'bench password 123';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const percentile = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

async function login(base: string): Promise<string> {
  const res = await fetch(`${base}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user: 'admin', password: PASS }),
  });
  return res.headers.get('set-cookie')!.split(';')[0]!;
}

/** `n` curl processes reading the live stream; resolves with the bytes each read. */
function viewers(n: number, url: string, cookie: string): { stop: () => Promise<number[]> } {
  const procs: { p: ChildProcess; bytes: number }[] = [];
  for (let i = 0; i < n; i++) {
    const p = spawn('curl', ['-sN', '-b', cookie, url], { stdio: ['ignore', 'pipe', 'ignore'] });
    const entry = { p, bytes: 0 };
    p.stdout.on('data', (b: Buffer) => (entry.bytes += b.length));
    procs.push(entry);
  }
  return {
    stop: async () => {
      for (const { p } of procs) p.kill();
      await sleep(300);
      return procs.map((x) => x.bytes);
    },
  };
}

export async function benchConsole(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-console-'));
  try {
    await sharp(await faceCrop(0)).toFile(join(dir, 'face.png'));
    const clip = join(dir, 'clip.mp4');
    writeSceneClip(
      clip,
      [
        { photo: join(dir, 'face.png'), seconds: 4, height: 360, sway: 20 },
        { photo: null, seconds: 2 },
      ],
      { pad: 'gray', bitrate: '2M', noise: 6 },
    );
    const t = new Table([
      'console',
      'viewers',
      'daemon CPU, % of one core',
      'frames analysed /s',
      'live frames sent /s per viewer',
      'KiB/s per viewer',
      'frame age when sent p50 / p99 ms',
    ]);
    // Without the console (as before it existed), then with it, idle and watched, then without
    // again: a second daemon in one process runs a few points hotter than the first, so the two
    // rows without the console bound what the order alone does.
    for (const [run, [enabled, counts]] of (
      [
        [false, [0]],
        [true, [0, 1, 4]],
        [false, [0]],
      ] as const
    ).entries()) {
      const stateDir = join(dir, `state-${run}`);
      mkdirSync(stateDir, { recursive: true });
      setPassword(join(stateDir, 'console-users'), 'admin', PASS);
      const config = loadConfig(undefined, {}, [
        { key: 'stateDir', value: stateDir },
        { key: 'cameras', value: [{ name: 'door', url: clip, fps: 5, width: 1280, height: 720 }] },
        { key: 'liveness.mode', value: 'off' },
        { key: 'mqtt.embedded.enabled', value: false },
        { key: 'http.port', value: 0 },
        { key: 'http.console.enabled', value: enabled },
      ]);
      const daemon = new Daemon(config, () => undefined);
      await daemon.start();
      const base = `http://127.0.0.1:${daemon.httpPort}`;
      const cookie = enabled ? await login(base) : '';
      await sleep(8000);
      for (const n of counts) {
        const v = viewers(n, `${base}/api/v1/cameras/door/live.mjpeg`, cookie);
        await sleep(1000);
        daemon.live.ages.length = 0;
        const sent0 = daemon.live.framesSent;
        const frames0 = daemon.stats.frames;
        const cpu0 = process.cpuUsage();
        await sleep(SECONDS * 1000);
        const cpu = process.cpuUsage(cpu0);
        const sent = daemon.live.framesSent - sent0;
        const ages = [...daemon.live.ages];
        const bytes = await v.stop();
        t.add(
          enabled ? 'on' : 'off',
          String(n),
          ((100 * (cpu.user + cpu.system)) / 1e6 / SECONDS).toFixed(0),
          ((daemon.stats.frames - frames0) / SECONDS).toFixed(1),
          n ? (sent / n / SECONDS).toFixed(1) : '-',
          n ? (bytes.reduce((a, b) => a + b, 0) / n / 1024 / (SECONDS + 1)).toFixed(0) : '-',
          n ? `${percentile(ages, 50).toFixed(0)} / ${percentile(ages, 99).toFixed(0)}` : '-',
        );
      }
      await daemon.stop();
    }

    // The alternative: node-rtsp-stream's ffmpeg for one stream, on the same clip at its own rate.
    const ff = spawn(
      'ffmpeg',
      [
        '-loglevel',
        'quiet',
        '-re',
        '-stream_loop',
        '-1',
        '-i',
        clip,
        '-f',
        'mpegts',
        '-codec:v',
        'mpeg1video',
        '-b:v',
        '1000k',
        '-r',
        '25',
        '-s',
        '1280x720',
        '-',
      ],
      { stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let ffBytes = 0;
    ff.stdout.on('data', (b: Buffer) => (ffBytes += b.length));
    await sleep(3000);
    const ff0 = processCpuSeconds(ff.pid!);
    const b0 = ffBytes;
    await sleep(SECONDS * 1000);
    const ffCpu = processCpuSeconds(ff.pid!) - ff0;
    const ffRate = (ffBytes - b0) / 1024 / SECONDS;
    const cmdline = readFileSync(`/proc/${ff.pid}/cmdline`, 'utf8').split('\0');
    ff.kill();
    const exposed = cmdline.includes(clip); // the input as given: a camera URL would be there whole
    return `${t.toString()}

node-rtsp-stream's way, measured as the ffmpeg it runs per stream (\`-f mpegts -codec:v mpeg1video -b:v 1000k\`, 720p, 25 fps) on the same clip: ${((100 * ffCpu) / SECONDS).toFixed(0)}% of one core and ${ffRate.toFixed(0)} KiB/s, on top of the daemon's own decoder of the same camera, whether or not its picture shows what the daemon decided. ${exposed ? 'Its command line holds the input as given (checked in /proc/<pid>/cmdline, which every user of the box can read): a camera URL, with its password, would be there.' : ''}`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) console.log(await benchConsole());
