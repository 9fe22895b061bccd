// `make bench` (daemon part): the whole daemon at a door, one and four cameras, 720p H.264 at
// 25 fps in, 5 fps asked, motion gating on (the default), on a grey wall with a sensor's grain.
// Scenes: "door" (an enrolled person in view 4 s of every 6 s, the face swaying as a head does,
// so every pass gives a match), "empty" (nobody), "passing" (one person for 4 s a minute) and
// "busy" (a new face every 5 s, in view 3 s of them, two of the three enrolled; 1 s apart, the
// tracker took the next person for the last one, whose track had decided). Each run is a
// process of its own, so CPU and memory are the daemon's: frames analysed and skipped as
// unchanged per second, frame age at analysis, frame-to-event latency, the time from a face's
// appearance to its event, passes without a match, CPU of the daemon and of its ffmpeg decoders,
// peak RSS and steady RSS (the median of once-a-second samples over the measured time) and where
// the steady RSS is (memoryBreakdown). Cameras are looping files read at their own rate by the
// same ffmpeg sessions RTSP uses; an RTSP server on the same two cores would take CPU from what
// is measured.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadConfig } from '../src/config/schema.js';
import { enrollmentPolicy, enrollPerson } from '../src/gallery/enroll.js';
import { GalleryStore } from '../src/gallery/store.js';
import { FaceEngine } from '../src/inference/faces.js';
import { writeSceneClip } from '../src/demo.js';
import { faceCrop } from '../test/helpers/faces.js';
import { memoryBreakdown, pssMiB, rssMiB, type MemoryBreakdown } from './memory.js';
import { processCpuSeconds, Table } from './harness.js';

const WARMUP_S = 8;
/** A pass's match may come this long after its face left the view (the last votes' analysis). */
const PASS_GRACE_S = 2;

type SceneName = 'door' | 'empty' | 'passing' | 'busy';

/** Each scene's loop: which face (index of faceCrop) is in view from when, and the loop's length. */
const SCENES: Record<
  SceneName,
  { cycleS: number; faces: { face: 0 | 1 | 2; fromS: number; toS: number }[] }
> = {
  door: { cycleS: 6, faces: [{ face: 0, fromS: 0, toS: 4 }] },
  empty: { cycleS: 6, faces: [] },
  passing: { cycleS: 60, faces: [{ face: 0, fromS: 0, toS: 4 }] },
  busy: {
    cycleS: 15,
    faces: [
      { face: 0, fromS: 0, toS: 3 },
      { face: 1, fromS: 5, toS: 8 },
      { face: 2, fromS: 10, toS: 13 },
    ],
  },
};

/** The runs `make bench` makes: cameras and scene. */
const RUNS: [number, SceneName][] = [
  [1, 'empty'],
  [1, 'passing'],
  [1, 'door'],
  [1, 'busy'],
  [4, 'empty'],
  [4, 'door'],
];

type RunResult = {
  cameras: number;
  scene: SceneName;
  seconds: number;
  frames: number;
  unchanged: number;
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
  steadyRssMiB: number;
  /** Proportional: the ffmpeg processes share their libraries' pages, counted once. */
  ffmpegPssMiB: number;
  breakdown: MemoryBreakdown;
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

/** The scenes' clips and a gallery of two of the faces, made once for every run. */
async function prepare(dir: string): Promise<void> {
  for (const i of [0, 1, 2] as const) await sharp(await faceCrop(i)).toFile(join(dir, `face${i}.png`));
  for (const [name, scene] of Object.entries(SCENES)) {
    const parts: { photo: string | null; seconds: number; height?: number; sway?: number }[] = [];
    let at = 0;
    for (const f of scene.faces) {
      if (f.fromS > at) parts.push({ photo: null, seconds: f.fromS - at });
      parts.push({ photo: join(dir, `face${f.face}.png`), seconds: f.toS - f.fromS, height: 360, sway: 20 });
      at = f.toS;
    }
    if (at < scene.cycleS) parts.push({ photo: null, seconds: scene.cycleS - at });
    writeSceneClip(join(dir, `${name}.mp4`), parts, { pad: 'gray', bitrate: '2M', noise: 6 });
  }
  const engine = await FaceEngine.open();
  const store = new GalleryStore(join(dir, 'gallery', 'gallery.sqlite'));
  try {
    // person2 is a stranger: a busy entrance has both.
    for (const i of [0, 1])
      await enrollPerson(
        engine,
        store,
        { id: `person${i}`, name: `Person ${i}` },
        [{ bytes: readFileSync(join(dir, `face${i}.png`)), source: `face${i}.png` }],
        enrollmentPolicy(loadConfig(undefined, {}), { force: true }),
      );
  } finally {
    store.close();
    await engine.release();
  }
}

type Size = { width: number; height: number };
const HD: Size = { width: 1280, height: 720 };

async function child(
  cameras: number,
  scene: SceneName,
  seconds: number,
  dir: string,
  size: Size = HD,
): Promise<RunResult> {
  // The daemon as it is installed: compiled (`make build`), so its camera threads run JavaScript
  // and not tsx's TypeScript loader (tens of MiB per thread that a gateway never has).
  const compiled = new URL('../dist/src/daemon.js', import.meta.url).href;
  const { Daemon } = (await import(compiled)) as typeof import('../src/daemon.js');
  const stateDir = join(dir, `state-${cameras}-${scene}`);
  cpSync(join(dir, 'gallery'), stateDir, { recursive: true });
  const config = loadConfig(undefined, {}, [
    { key: 'stateDir', value: stateDir },
    {
      key: 'cameras',
      value: Array.from({ length: cameras }, (_, i) => ({
        name: `cam${i + 1}`,
        url: join(dir, `${scene}.mp4`),
        fps: 5,
        ...size,
      })),
    },
    { key: 'recognition.cooldownSeconds', value: 0 },
    // The passes are a photo swaying, which liveness would call a spoof; its cost is in bench/liveness.ts.
    { key: 'liveness.mode', value: 'off' },
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
  // Each camera's file starts playing at its first frame: its passes start a cycle apart from there.
  const clipStart = new Map(
    Object.entries(daemon.progress().cameras).map(([name, c]) => [name, Date.parse(c.since)]),
  );
  const pids = ffmpegChildren();
  const ff0 = pids.reduce((a, p) => a + processCpuSeconds(p), 0);
  const cpu0 = process.cpuUsage();
  const frames0 = daemon.stats.frames;
  const unchanged0 = daemon.stats.framesUnchanged;
  daemon.stats.frameAges.length = 0;
  daemon.stats.latencies.length = 0;
  const samples: number[] = [];
  const sampler = setInterval(() => samples.push(rssMiB(process.pid)), 1000);
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const t1 = Date.now();
  clearInterval(sampler);
  const wall = (t1 - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // A pass's match comes while its face is in view, or just after (the last votes' analysis).
  const sinceAppearance: number[] = [];
  let passes = 0;
  let missed = 0;
  const { cycleS, faces } = SCENES[scene];
  // Person0's passes are counted (in "busy" person1's are alike, person2 is a stranger).
  const enrolled = faces.find((f) => f.face === 0);
  for (const [camera, start] of clipStart) {
    if (!enrolled) break;
    const cycle = cycleS * 1000;
    const first = start + Math.ceil((t0 - start) / cycle) * cycle;
    const window = (enrolled.toS - enrolled.fromS + PASS_GRACE_S) * 1000;
    for (let pass = first + enrolled.fromS * 1000; pass + window <= t1; pass += cycle) {
      passes++;
      const match = matches.find((m) => m.camera === camera && m.at >= pass && m.at < pass + window);
      if (match) sinceAppearance.push(match.at - pass);
      else missed++;
    }
  }
  const result: RunResult = {
    cameras,
    scene,
    seconds: wall,
    frames: daemon.stats.frames - frames0,
    unchanged: daemon.stats.framesUnchanged - unchanged0,
    events: [...daemon.stats.latencies],
    sinceAppearance,
    passes,
    missed,
    frameAges: [...daemon.stats.frameAges],
    daemonCpuS: (cpu.user + cpu.system) / 1e6,
    ffmpegCpuS: pids.reduce((a, p) => a + processCpuSeconds(p), 0) - ff0,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    steadyRssMiB: percentile(samples, 50),
    ffmpegPssMiB: pids.reduce((a, p) => a + pssMiB(p), 0),
    breakdown: memoryBreakdown(),
  };
  await daemon.stop();
  return result;
}

/** The malloc settings systemd/facegate.service gives the daemon, so the runs measure what it runs. */
function unitEnvironment(): Record<string, string> {
  const unit = readFileSync(new URL('../systemd/facegate.service', import.meta.url), 'utf8');
  return Object.fromEntries(
    [...unit.matchAll(/^Environment=(MALLOC_\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]),
  );
}

/** One run in a process of its own (its CPU and memory are the daemon's), parsed. */
function runChild(cameras: number, scene: SceneName, seconds: number, dir: string, size: Size): RunResult {
  const out = execFileSync(
    process.execPath,
    [
      ...['--import', 'tsx', import.meta.filename, 'child'],
      ...[String(cameras), scene, String(seconds), dir, `${size.width}x${size.height}`],
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: { ...process.env, ...unitEnvironment() } },
  );
  return JSON.parse(out.trim().split('\n').at(-1)!) as RunResult;
}

export async function benchDaemon(seconds = 60, runs = RUNS, size = HD): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-daemon-'));
  try {
    mkdirSync(join(dir, 'gallery'));
    await prepare(dir);
    const t = new Table([
      'cameras',
      'scene',
      'frames analysed /s (asked)',
      'unchanged /s',
      'frame age at analysis p50 / p99 ms',
      'frame-to-event p50 / p99 ms',
      'appearance-to-event p50 / p99 ms',
      'passes without a match',
      'CPU: daemon + ffmpeg, % of one core',
      'RSS daemon: peak / steady MiB',
      'steady RSS: code / JS heap / external / native MiB',
      'ffmpeg PSS MiB',
    ]);
    for (const [cameras, scene] of runs) {
      const r = runChild(cameras, scene, seconds, dir, size);
      const b = r.breakdown;
      t.add(
        String(cameras),
        scene,
        `${(r.frames / r.seconds).toFixed(2)} (${5 * cameras})`,
        (r.unchanged / r.seconds).toFixed(2),
        `${percentile(r.frameAges, 50)} / ${percentile(r.frameAges, 99)}`,
        `${percentile(r.events, 50)} / ${percentile(r.events, 99)}`,
        `${percentile(r.sinceAppearance, 50)} / ${percentile(r.sinceAppearance, 99)}`,
        r.passes ? `${r.missed} of ${r.passes}` : '-',
        `${((100 * r.daemonCpuS) / r.seconds).toFixed(0)} + ${((100 * r.ffmpegCpuS) / r.seconds).toFixed(0)}`,
        `${r.peakRssMiB.toFixed(0)} / ${r.steadyRssMiB.toFixed(0)}`,
        [b.code, b.jsHeap, b.external, b.native].map((v) => v.toFixed(0)).join(' / '),
        r.ffmpegPssMiB.toFixed(0),
      );
    }
    return t.toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sizeOf = (text = '1280x720'): Size => {
  const [width, height] = text.split('x').map(Number);
  return { width: width!, height: height! };
};

// npx tsx bench/daemon.ts [SECONDS [CAMERAS SCENE [WIDTHxHEIGHT]]]: every run of `make bench`, or one.
if (process.argv[1] === import.meta.filename) {
  const [mode, ...rest] = process.argv.slice(2);
  if (mode === 'child') {
    const [cameras, scene, seconds, dir, size] = rest;
    const r = await child(Number(cameras), scene as SceneName, Number(seconds), dir!, sizeOf(size));
    console.log(JSON.stringify(r));
    process.exit(0);
  } else {
    const [cameras, scene, size] = rest;
    const runs: [number, SceneName][] = cameras ? [[Number(cameras), scene as SceneName]] : RUNS;
    console.log(await benchDaemon(Number(mode ?? 60), runs, sizeOf(size)));
  }
}
