// Starts the real GStreamer RTSP server (test/helpers/rtsp_server.py) on 127.0.0.1 and a port
// the kernel picks, and controls it the way cameras fail: killed, frozen, restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './fixtures.js';

/** A GStreamer launch line for a live H.264 test camera, as the RTSP server plays it. */
function liveCamera(o: {
  width: number;
  height: number;
  fps: number;
  keyInt: number;
  pattern?: string;
  bitrate?: number;
}): string {
  const source = `videotestsrc is-live=true${o.pattern ? ` pattern=${o.pattern}` : ''}`;
  const encoder = `x264enc tune=zerolatency speed-preset=ultrafast key-int-max=${o.keyInt}${o.bitrate ? ` bitrate=${o.bitrate}` : ''}`;
  return (
    `${source} ! video/x-raw,width=${o.width},height=${o.height},framerate=${o.fps}/1 ! ${encoder} ! ` +
    'video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1'
  );
}

/** A launch line that plays an H.264 MP4 file once, as a camera would stream it. */
export const playFile = (file: string): string =>
  `filesrc location=${file} ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1`;

export const LIVE_720P = liveCamera({ width: 1280, height: 720, fps: 25, keyInt: 25, bitrate: 2000 });

/**
 * A live camera at a camera's usual 25 fps, cheap to encode (640x360): for tests of frame rates,
 * where a server that cannot keep up on a busy machine would measure the machine, not facegate.
 */
export const LIVE_25FPS = liveCamera({ width: 640, height: 360, fps: 25, keyInt: 25 });

/**
 * A camera whose picture never changes (test bars): what a stalled decoder or a hung encoder
 * sends. Every frame a key frame, so ffmpeg's 32 KB probe fills at once (a still's P-frames are
 * a few bytes). The other streams' default pattern (SMPTE bars) has a corner of moving noise.
 */
export const LIVE_FROZEN_PICTURE = liveCamera({
  width: 640,
  height: 480,
  fps: 25,
  keyInt: 1,
  pattern: 'smpte100',
});

/** A small live camera (320x240, 10 fps): for tests about the daemon rather than the video. */
export const LIVE_SMALL = liveCamera({ width: 320, height: 240, fps: 10, keyInt: 10 });

export const PYTHON = '/usr/bin/python3';

export function rtspServerAvailable(): boolean {
  return existsSync(PYTHON);
}

export class RtspServer {
  private constructor(
    private child: ChildProcess,
    readonly url: string,
    readonly port: number,
    private readonly launch: string,
    private readonly path: string,
  ) {}

  static async start(launch = LIVE_720P, path = '/cam', port = 0): Promise<RtspServer> {
    const child = spawn(
      PYTHON,
      [join(PROJECT_ROOT, 'test/helpers/rtsp_server.py'), launch, path, String(port)],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(new Error(`RTSP server not ready in 30 s: ${err}`)), 30_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /READY (\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => reject(new Error(`RTSP server exited ${code}: ${err}`)));
    });
    return new RtspServer(child, url, Number(new URL(url).port), launch, path);
  }

  /** A camera that dies: the server process is killed outright. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }

  /** A hung camera: the server stops answering but keeps its sockets. */
  freeze(): void {
    this.child.kill('SIGSTOP');
  }

  thaw(): void {
    this.child.kill('SIGCONT');
  }

  /** The camera comes back on the same address. */
  async restart(): Promise<RtspServer> {
    await this.kill();
    return RtspServer.start(this.launch, this.path, this.port);
  }

  async stop(): Promise<void> {
    this.thaw();
    await this.kill();
  }
}
