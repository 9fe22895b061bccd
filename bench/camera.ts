// `make bench` (camera part): CPU of one camera (720p H.264 at 2 Mbit/s in, 5 fps analysed at
// 1280x720) split between ffmpeg and facegate's side, and the frame parser's memory over
// 10,000 frames. Needs the GStreamer RTSP server of the tests.
import { CameraSource } from '../src/camera/camera-source.js';
import { FrameParser } from '../src/camera/frame-parser.js';
import { RtspServer } from '../test/helpers/rtsp.js';
import { processCpuSeconds, Table } from './harness.js';

export async function benchCamera(seconds = 10): Promise<string> {
  const server = await RtspServer.start();
  const camera = new CameraSource({ name: 'bench', url: server.url, fps: 5, width: 1280, height: 720 });
  let frames = 0;
  camera.on('frame', () => frames++);
  camera.start();
  while (!frames) await new Promise((r) => setTimeout(r, 50));
  const pid = camera.ffmpegPid!;
  const ff0 = processCpuSeconds(pid);
  const node0 = process.cpuUsage();
  const f0 = frames;
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const wall = (Date.now() - t0) / 1000;
  const ffCpu = processCpuSeconds(pid) - ff0;
  const nodeUsage = process.cpuUsage(node0);
  const nodeCpu = (nodeUsage.user + nodeUsage.system) / 1e6;
  const got = frames - f0;
  await camera.stop();
  await server.stop();

  // The parser alone: 10,000 frames of 640x360 in uneven chunks, RSS before and after.
  const w = 640;
  const h = 360;
  const chunk = new Uint8Array(65536 + 17);
  let parsed = 0;
  const parser = new FrameParser(w, h, () => parsed++);
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const p0 = process.hrtime.bigint();
  while (parsed < 10_000) parser.push(chunk);
  const parseMs = Number(process.hrtime.bigint() - p0) / 1e6;
  globalThis.gc?.();
  const rss1 = process.memoryUsage().rss;

  const t = new Table(['measure', 'value']);
  t.add('frames analysed per second (configured 5)', (got / wall).toFixed(2));
  t.add('ffmpeg CPU, % of one core (decode 25 fps 720p, keep 5)', ((100 * ffCpu) / wall).toFixed(1));
  t.add(
    'facegate side CPU per frame (pipe read, parse, hand-off), ms',
    ((1000 * nodeCpu) / Math.max(1, got)).toFixed(2),
  );
  t.add('parser: 10,000 frames of 640x360, ms per frame', (parseMs / 10_000).toFixed(3));
  t.add('parser: RSS growth over 10,000 frames, MiB', ((rss1 - rss0) / 1048576).toFixed(1));
  return t.toString();
}

if (process.argv[1] === import.meta.filename) console.log(await benchCamera());
