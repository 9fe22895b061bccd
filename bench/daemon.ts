// `make bench` (daemon part): the whole daemon with one and with four cameras, 720p H.264 at
// 25 fps in, 5 fps analysed, one face in view (an enrolled person for 4 s, then 2 s of nobody,
// looping, so every pass gives a match). Each run is a process of its own, so CPU and peak RSS
// are the daemon's: frames analysed per second, frames dropped, frame-to-event and
// frame-to-analysis latency p50/p99, CPU of the daemon and of its ffmpeg decoders, peak RSS.
// Cameras are looping files read at their own rate by the same ffmpeg sessions RTSP uses; an
// RTSP server on the same two cores would take CPU from what is measured.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../src/config/schema.js';
import { Daemon } from '../src/daemon.js';
import { enrollmentPolicy, enrollPerson } from '../src/gallery/enroll.js';
import { GalleryStore } from '../src/gallery/store.js';
import { FaceEngine } from '../src/inference/faces.js';
import { writeSceneClip } from '../src/demo.js';
import { faceCrop } from '../test/helpers/faces.js';
import { processCpuSeconds, Table } from './harness.js';

const WARMUP_S = 8;

type RunResult = {
  cameras: number;
  seconds: number;
  frames: number;
  dropped: number;
  events: number[];
  frameLatencies: number[];
  daemonCpuS: number;
  ffmpegCpuS: number;
  peakRssMiB: number;
  ffmpegRssMiB: number;
};

const percentile = (v: number[], p: number) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
};

/** ffmpeg processes started by this process. */
function ffmpegChildren(): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        return stat.includes('(ffmpeg)') && Number(stat.split(') ')[1]!.split(' ')[1]) === process.pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function makeClip(dir: string): Promise<void> {
  await sharp(await faceCrop(0)).toFile(join(dir, 'face.png'));
  writeSceneClip(
    join(dir, 'clip.mp4'),
    [
      { photo: join(dir, 'face.png'), seconds: 4, height: 360 },
      { photo: null, seconds: 2 },
    ],
    { pad: 'gray', bitrate: '2M' },
  );
}

async function child(cameras: number, seconds: number, dir: string): Promise<RunResult> {
  const stateDir = join(dir, `state-${cameras}`);
  mkdirSync(stateDir, { recursive: true });
  const clip = join(dir, 'clip.mp4');
  const engine = await FaceEngine.open();
  const store = new GalleryStore(join(stateDir, 'gallery.sqlite'));
  await enrollPerson(
    engine,
    store,
    { id: 'person', name: 'Person' },
    [{ bytes: readFileSync(join(dir, 'face.png')), source: 'face.png' }],
    enrollmentPolicy(loadConfig(undefined, {}), { force: true }),
  );
  store.close();
  await engine.release();
  const config = loadConfig(undefined, {}, [
    { key: 'stateDir', value: stateDir },
    {
      key: 'cameras',
      value: Array.from({ length: cameras }, (_, i) => ({
        name: `cam${i + 1}`,
        url: clip,
        fps: 5,
        width: 1280,
        height: 720,
      })),
    },
    { key: 'recognition.cooldownSeconds', value: 0 },
    { key: 'mqtt.embedded.port', value: 0 },
    { key: 'mqtt.outboxFsync', value: false },
    { key: 'http.enabled', value: false },
  ]);
  const daemon = new Daemon(config, () => undefined);
  await daemon.start();
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  const pids = ffmpegChildren();
  const ff0 = pids.reduce((a, p) => a + processCpuSeconds(p), 0);
  const cpu0 = process.cpuUsage();
  const frames0 = daemon.stats.frames;
  const dropped0 = daemon.framesDropped;
  daemon.stats.frameLatencies.length = 0;
  daemon.stats.latencies.length = 0;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result: RunResult = {
    cameras,
    seconds: wall,
    frames: daemon.stats.frames - frames0,
    dropped: daemon.framesDropped - dropped0,
    events: [...daemon.stats.latencies],
    frameLatencies: [...daemon.stats.frameLatencies],
    daemonCpuS: (cpu.user + cpu.system) / 1e6,
    ffmpegCpuS: pids.reduce((a, p) => a + processCpuSeconds(p), 0) - ff0,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    ffmpegRssMiB: pids.reduce((a, p) => a + rssMiB(p), 0),
  };
  await daemon.stop();
  return result;
}

export async function benchDaemon(seconds = 30): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-daemon-'));
  try {
    await makeClip(dir);
    const t = new Table([
      'cameras',
      'frames analysed /s (asked)',
      'frames dropped /s',
      'events',
      'frame-to-event p50 / p99 ms',
      'frame-to-analysis p50 / p99 ms',
      'CPU: daemon + ffmpeg, % of one core',
      'peak RSS daemon / ffmpeg MiB',
    ]);
    for (const cameras of [1, 4]) {
      const out = execFileSync(
        process.execPath,
        ['--import', 'tsx', import.meta.filename, 'child', String(cameras), String(seconds), dir],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      );
      const r = JSON.parse(out.trim().split('\n').at(-1)!) as RunResult;
      t.add(
        String(cameras),
        `${(r.frames / r.seconds).toFixed(2)} (${5 * cameras})`,
        (r.dropped / r.seconds).toFixed(2),
        String(r.events.length),
        `${percentile(r.events, 50)} / ${percentile(r.events, 99)}`,
        `${percentile(r.frameLatencies, 50)} / ${percentile(r.frameLatencies, 99)}`,
        `${((100 * r.daemonCpuS) / r.seconds).toFixed(0)} + ${((100 * r.ffmpegCpuS) / r.seconds).toFixed(0)}`,
        `${r.peakRssMiB.toFixed(0)} / ${r.ffmpegRssMiB.toFixed(0)}`,
      );
    }
    return t.toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  if (process.argv[2] === 'child') {
    const [cameras, seconds, dir] = process.argv.slice(3);
    console.log(JSON.stringify(await child(Number(cameras), Number(seconds), dir!)));
    process.exit(0);
  } else {
    console.log(await benchDaemon(Number(process.argv[2] ?? 30)));
  }
}
