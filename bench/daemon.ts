// `make bench` (daemon part): the whole daemon with one and with four cameras, with motion gating
// on and off, 720p H.264 at 25 fps in, 5 fps analysed, one face in view (an enrolled person for
// 4 s, then 2 s of nobody, looping, so every pass gives a match) on a grey wall with a sensor's
// grain, the face swaying as a head does. Each run is a process of its own, so CPU and peak RSS are the daemon's: frames analysed
// and skipped as unchanged per second, frames dropped, frame age at analysis, frame-to-event
// latency, the time from the face's appearance to its event, passes without a match (a face
// gating missed), CPU of the daemon and of its ffmpeg decoders, peak RSS.
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

/** The clip's loop: the face is in view for the first FACE_S of every CYCLE_S. */
const CYCLE_S = 6;
const FACE_S = 4;

type RunResult = {
  cameras: number;
  motion: boolean;
  seconds: number;
  frames: number;
  unchanged: number;
  dropped: number;
  events: number[];
  /** Per match event: ms from the face's appearance (its pass's start) to the event. */
  sinceAppearance: number[];
  /** Passes that began in the measured time and ended before it, and how many got no match. */
  passes: number;
  missed: number;
  frameAges: number[];
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
      { photo: join(dir, 'face.png'), seconds: FACE_S, height: 360, sway: 20 },
      { photo: null, seconds: CYCLE_S - FACE_S },
    ],
    { pad: 'gray', bitrate: '2M', noise: 6 },
  );
}

async function child(cameras: number, motion: boolean, seconds: number, dir: string): Promise<RunResult> {
  const stateDir = join(dir, `state-${cameras}-${motion}`);
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
    // The passes are a photo swaying, which liveness would call a spoof; its cost is in bench/liveness.ts.
    { key: 'liveness.mode', value: 'off' },
    { key: 'pipeline.motion.enabled', value: motion },
    { key: 'mqtt.embedded.port', value: 0 },
    { key: 'mqtt.outboxFsync', value: false },
    { key: 'http.enabled', value: false },
  ]);
  const matches: { camera: string; at: number }[] = [];
  const daemon = new Daemon(config, (_level, message) => {
    const m = /^match \S+ at (\S+)$/.exec(message);
    if (m) matches.push({ camera: m[1]!, at: Date.now() });
  });
  await daemon.start();
  await new Promise((r) => setTimeout(r, WARMUP_S * 1000));
  // Each camera's file starts playing at its first frame: its passes start CYCLE_S apart from there.
  const clipStart = new Map(
    Object.entries(daemon.progress().cameras).map(([name, c]) => [name, Date.parse(c.since)]),
  );
  const pids = ffmpegChildren();
  const ff0 = pids.reduce((a, p) => a + processCpuSeconds(p), 0);
  const cpu0 = process.cpuUsage();
  const frames0 = daemon.stats.frames;
  const unchanged0 = daemon.stats.framesUnchanged;
  const dropped0 = daemon.framesDropped;
  daemon.stats.frameAges.length = 0;
  daemon.stats.latencies.length = 0;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const t1 = Date.now();
  const wall = (t1 - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // A pass's match comes while its face is in view, or just after (the last votes' analysis).
  const sinceAppearance: number[] = [];
  let passes = 0;
  let missed = 0;
  for (const [camera, start] of clipStart) {
    const cycle = CYCLE_S * 1000;
    for (let pass = start + Math.ceil((t0 - start) / cycle) * cycle; pass + cycle <= t1; pass += cycle) {
      passes++;
      const match = matches.find((m) => m.camera === camera && m.at >= pass && m.at < pass + cycle);
      if (match) sinceAppearance.push(match.at - pass);
      else missed++;
    }
  }
  const result: RunResult = {
    cameras,
    motion,
    seconds: wall,
    frames: daemon.stats.frames - frames0,
    unchanged: daemon.stats.framesUnchanged - unchanged0,
    dropped: daemon.framesDropped - dropped0,
    events: [...daemon.stats.latencies],
    sinceAppearance,
    passes,
    missed,
    frameAges: [...daemon.stats.frameAges],
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
      'motion gating',
      'frames analysed /s (asked)',
      'unchanged /s',
      'dropped /s',
      'frame age at analysis p50 / p99 ms',
      'frame-to-event p50 / p99 ms',
      'appearance-to-event p50 / p99 ms',
      'passes without a match',
      'CPU: daemon + ffmpeg, % of one core',
      'peak RSS daemon / ffmpeg MiB',
    ]);
    for (const cameras of [1, 4]) {
      for (const motion of [false, true]) {
        const out = execFileSync(
          process.execPath,
          [
            '--import',
            'tsx',
            import.meta.filename,
            'child',
            String(cameras),
            String(motion),
            String(seconds),
            dir,
          ],
          { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
        );
        const r = JSON.parse(out.trim().split('\n').at(-1)!) as RunResult;
        t.add(
          String(cameras),
          motion ? 'on' : 'off',
          `${(r.frames / r.seconds).toFixed(2)} (${5 * cameras})`,
          (r.unchanged / r.seconds).toFixed(2),
          (r.dropped / r.seconds).toFixed(2),
          `${percentile(r.frameAges, 50)} / ${percentile(r.frameAges, 99)}`,
          `${percentile(r.events, 50)} / ${percentile(r.events, 99)}`,
          `${percentile(r.sinceAppearance, 50)} / ${percentile(r.sinceAppearance, 99)}`,
          `${r.missed} of ${r.passes}`,
          `${((100 * r.daemonCpuS) / r.seconds).toFixed(0)} + ${((100 * r.ffmpegCpuS) / r.seconds).toFixed(0)}`,
          `${r.peakRssMiB.toFixed(0)} / ${r.ffmpegRssMiB.toFixed(0)}`,
        );
      }
    }
    return t.toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  if (process.argv[2] === 'child') {
    const [cameras, motion, seconds, dir] = process.argv.slice(3);
    console.log(JSON.stringify(await child(Number(cameras), motion === 'true', Number(seconds), dir!)));
    process.exit(0);
  } else {
    console.log(await benchDaemon(Number(process.argv[2] ?? 30)));
  }
}
