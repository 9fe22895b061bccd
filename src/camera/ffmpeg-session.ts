// One ffmpeg child process reading a camera and writing raw RGB frames to a pipe. The session
// ends on any ffmpeg exit (ffmpeg exits 0 when an RTSP server dies, so the exit code says
// nothing), on the watchdog (no new picture for `watchdogMs`: a frozen camera otherwise hangs
// ffmpeg for ever, or repeats one picture), or on stop(): 'q' on stdin (RTSP TEARDOWN), then
// SIGTERM, then SIGKILL.
//
// ffmpeg's stdout is one end of a Unix socket pair, not a pipe: Node reads a pipe into a new
// 64 KB Buffer per read, 14 MB/s of garbage per 720p camera at 5 fps that a reader thread
// collected only every 64 MB or so (22 MiB resident per camera, bench/RESULTS.md, issue 25). A
// socket can be read with net's `onread` into memory we choose: the frame being filled.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type OnReadOpts, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameParser, type Frame } from './frame-parser.js';
import { StillPictureDetector } from './still-picture.js';
import { redactText, type CameraInput } from './url.js';

export type Transport = 'tcp' | 'udp';

export type SessionOptions = {
  input: CameraInput;
  transport: Transport;
  /** Frames per second to analyse (ffmpeg drops the rest after decoding). */
  fps: number;
  /**
   * The largest output size: frames are scaled down to fit it, keeping the camera's aspect ratio
   * (never stretched, never enlarged); undefined keeps the stream's own size. Either way the
   * size is read from ffmpeg's output header.
   */
  fit?: { width: number; height: number };
  /** ffmpeg's own socket timeout for RTSP, ms: a server that stops answering ends the session. */
  ioTimeoutMs: number;
  /** No frame within this long (after the first, or from the start) ends the session. */
  watchdogMs: number;
  /** Extra ffmpeg input options, e.g. a hardware decoder: ['-c:v', 'h264_nvv4l2dec']. */
  inputOptions?: readonly string[];
  /** Loop a file source for ever (demo cameras). */
  loop?: boolean;
  ffmpegPath?: string;
  /** Where a camera script is written (default: privateDir()). */
  scriptDir?: string;
  /** Collect each frame's presentation time in the stream (ffmpeg's showinfo), in ptsTimes. */
  timestamps?: boolean;
};

export type SessionEnd = {
  /** Why it ended, in words for events and logs: refused, not found, timeout, ... */
  reason: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  frames: number;
};

const STOP_GRACE_MS = 1500;

/**
 * ffmpeg's arguments. An RTSP URL with credentials is not among them (every local user can read
 * a process's command line in /proc): it goes in an ffconcat script (cameraScript) that the
 * caller writes where only facegate can read it and passes as `scriptPath`, and ffmpeg opens the
 * camera from there, with its RTSP options as the script's options.
 */
export function ffmpegArgs(o: SessionOptions, scriptPath?: string): string[] {
  const args = ['-hide_banner', '-loglevel', 'info', '-nostats'];
  let input: string;
  if (o.input.kind === 'rtsp') {
    const rtsp = rtspOptions(o);
    if (hasCredentials(o.input.url)) {
      if (!scriptPath) throw new Error(`${o.input.redacted}: its credentials need a script file`);
      args.push('-f', 'concat', '-safe', '0', '-protocol_whitelist', SCRIPT_PROTOCOLS);
      args.push('-probesize', rtsp.probesize, '-analyzeduration', rtsp.analyzeduration);
      input = scriptPath;
    } else {
      for (const [k, v] of Object.entries(rtsp)) args.push(`-${k}`, v);
      input = o.input.url;
    }
  } else {
    args.push('-re'); // a file plays at its own rate, as a camera would
    if (o.loop) args.push('-stream_loop', '-1');
    input = o.input.path;
  }
  // One decoding thread: ffmpeg's default (cores + 1 frame threads) holds a frame per thread and
  // as many frames of delay, for speed a 720p or 1080p camera does not need (9 MiB and a frame of
  // latency per thread, bench/RESULTS.md). The camera's own options come after, so
  // ["-threads", "2"] there wins (a 4K H.265 stream on a slow CPU).
  args.push('-threads', '1', ...(o.inputOptions ?? []));
  args.push('-i', input);
  const fit = o.fit
    ? [`scale='min(${o.fit.width},iw)':'min(${o.fit.height},ih)':force_original_aspect_ratio=decrease`]
    : [];
  const filters = [`fps=${o.fps}`, ...fit, ...(o.timestamps ? ['showinfo'] : [])];
  // fps above the camera's own rate would duplicate frames: leave the rate alone then.
  if (o.fps >= 1000) filters.shift();
  if (filters.length) args.push('-vf', filters.join(','));
  args.push('-an', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  return args;
}

/** What a camera script may open: the script itself, and RTSP over its transports. */
const SCRIPT_PROTOCOLS = 'file,rtsp,rtsps,rtp,srtp,udp,tcp,tls,crypto';

function rtspOptions(o: SessionOptions) {
  return {
    rtsp_transport: o.transport,
    timeout: String(Math.round(o.ioTimeoutMs * 1000)),
    probesize: '32768',
    analyzeduration: '0',
  };
}

const hasCredentials = (url: string): boolean => /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*@/i.test(url);

/** The ffconcat script that opens an RTSP camera with credentials (see ffmpegArgs). */
export function cameraScript(o: SessionOptions): string | undefined {
  if (o.input.kind !== 'rtsp' || !hasCredentials(o.input.url)) return undefined;
  // ffconcat quotes with '...'; a quote inside is closed, escaped and reopened.
  const quoted = `'${o.input.url.replaceAll("'", "'\\''")}'`;
  const options = Object.entries(rtspOptions(o)).map(([k, v]) => `option ${k} ${v}`);
  return ['ffconcat version 1.0', `file ${quoted}`, ...options, ''].join('\n');
}

/** ffmpeg's words for why it could not read the camera, as a short reason. */
export function classifyFailure(stderr: string): string | undefined {
  const checks: [RegExp, string][] = [
    [/connection refused/i, 'refused'],
    [/404 not found|no such file or directory|server returned 404/i, 'not found'],
    [/401 unauthorized|server returned 401/i, 'unauthorized'],
    [/connection timed out|timed out|timeout/i, 'timeout'],
    [
      /does not contain any stream|matches no streams|no video stream|invalid data found when processing input/i,
      'not video',
    ],
    [/name or service not known|could not resolve|temporary failure in name resolution/i, 'host not found'],
  ];
  return checks.find(([re]) => re.test(stderr))?.[1];
}

export class FfmpegSession {
  private child: ChildProcess | undefined;
  private parser: FrameParser | undefined;
  /** Bytes that came before ffmpeg said the frame size, and where the reader puts them. */
  private headerBytes: Buffer[] = [];
  private readonly headerScratch = Buffer.alloc(64 * 1024);
  private stderrTail = '';
  private stderrLine = '';
  /** With `timestamps`: each frame's presentation time in the stream, seconds, in order. */
  readonly ptsTimes: number[] = [];
  private scriptPath: string | undefined;
  /** Keeps the last frame and a run's first (two frames of memory per camera). */
  private readonly still = new StillPictureDetector();
  /** The last frame repeated the picture before it: what the watchdog will say when it fires. */
  private repeating = false;
  private frames = 0;
  private watchdog: NodeJS.Timeout | undefined;
  private endReason: string | undefined;
  private stopping: Promise<void> | undefined;
  readonly ended: Promise<SessionEnd>;
  private resolveEnded!: (end: SessionEnd) => void;

  constructor(
    private readonly options: SessionOptions,
    private readonly handlers: {
      frame: (frame: Frame) => void;
      /** The watchdog fired: the camera is as good as offline while ffmpeg is being ended. */
      stall?: (reason: string) => void;
    },
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts ffmpeg; resolves once it runs (pid set) or could not start (ended says why). */
  async start(): Promise<void> {
    this.armWatchdog();
    const dir = this.options.scriptDir ?? privateDir();
    let stdout: { reader: Socket; writer: Socket };
    try {
      stdout = await socketPair(dir, {
        buffer: () => this.parser?.space() ?? this.headerScratch,
        callback: (n) => {
          this.data(n);
          return true;
        },
      });
    } catch (err) {
      return this.finish(`cannot start ffmpeg (${(err as Error).message})`, null, null);
    }
    const { reader, writer } = stdout;
    reader.on('error', () => undefined); // ends in 'close' all the same
    const drained = once(reader, 'close');
    if (this.endReason) {
      // stop() came first.
      writer.destroy();
      reader.destroy();
      return this.finish(this.endReason, null, null);
    }
    const script = cameraScript(this.options);
    if (script) {
      this.scriptPath = join(dir, `${randomUUID()}.ffconcat`);
      writeFileSync(this.scriptPath, script, { mode: 0o600 });
    }
    const child = spawn(this.options.ffmpegPath ?? 'ffmpeg', ffmpegArgs(this.options, this.scriptPath), {
      stdio: ['pipe', writer, 'pipe'],
    });
    writer.destroy(); // ffmpeg has its own copy: the reader ends when ffmpeg does
    this.child = child;
    LIVE.add(child);
    child.stderr.on('data', (chunk: Buffer) => this.stderr(chunk));
    child.stdin.on('error', () => undefined); // ffmpeg may be gone before 'q' arrives
    child.on('error', (err) => {
      this.endReason ??= `cannot start ffmpeg (${err.message})`;
    });
    child.on('close', (code, signal) => {
      LIVE.delete(child);
      // Its last frames may still be in the socket: ended comes after them.
      void drained.then(() => this.finish(this.endReason, code, signal));
    });
  }

  private finish(endReason: string | undefined, code: number | null, signal: NodeJS.Signals | null): void {
    this.removeScript();
    clearTimeout(this.watchdog);
    const reason =
      endReason ??
      (this.frames === 0
        ? (classifyFailure(this.stderrTail) ?? 'ended before the first frame')
        : (classifyFailure(this.stderrTail) ?? 'stream ended'));
    this.resolveEnded({ reason, code, signal, frames: this.frames });
  }

  /**
   * Ends the session; resolves when ffmpeg has exited. Safe to call more than once. Polite
   * first ('q', so ffmpeg tears the RTSP session down) unless the camera is hung, where a
   * TEARDOWN would hang too.
   */
  stop(reason = 'stopped', polite = true): Promise<void> {
    this.stopping ??= (async () => {
      this.endReason ??= reason;
      const child = this.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = this.ended.then(() => true);
      const within = (ms: number) =>
        Promise.race([exited, new Promise<false>((r) => setTimeout(() => r(false), ms).unref())]);
      if (polite) {
        child.stdin!.end('q');
        if (await within(STOP_GRACE_MS)) return;
      }
      child.kill('SIGTERM');
      if (await within(STOP_GRACE_MS)) return;
      child.kill('SIGKILL');
      await exited;
    })();
    return this.stopping;
  }

  /** `n` bytes were read into the parser's frame, or into the header scratch before there was one. */
  private data(n: number): void {
    if (this.parser) return this.parser.wrote(n);
    // Until ffmpeg has printed the output stream's size, keep the bytes.
    this.headerBytes.push(Buffer.from(this.headerScratch.subarray(0, n)));
  }

  /** The camera script holds a password: gone once ffmpeg has opened the camera, or has ended. */
  private removeScript(): void {
    if (this.scriptPath) rmSync(this.scriptPath, { force: true });
    this.scriptPath = undefined;
  }

  private stderr(chunk: Buffer): void {
    const text = chunk.toString('utf8');
    this.stderrTail = (this.stderrTail + text).slice(-4000);
    if (this.options.timestamps) {
      const lines = (this.stderrLine + text).split('\n');
      this.stderrLine = lines.pop()!;
      for (const line of lines) {
        const pts = /Parsed_showinfo.* n: *\d+ .*pts_time:(-?[\d.]+)/.exec(line);
        if (pts) this.ptsTimes.push(Number(pts[1]));
      }
    }
    if (this.scriptPath && /Input #0, concat/.test(this.stderrTail)) this.removeScript();
    if (!this.parser) {
      const m = /Output #0[\s\S]*?Stream #0:0[^\n]*?rawvideo[^\n]*?, (\d{2,5})x(\d{2,5})/.exec(
        this.stderrTail,
      );
      if (m) {
        this.parser = new FrameParser(Number(m[1]), Number(m[2]), (f) => this.frame(f));
        for (const b of this.headerBytes) this.parser.push(b);
        this.headerBytes = [];
      }
    }
  }

  private frame(f: Frame): void {
    this.frames++;
    // A network camera repeating one picture is frozen (still-picture.ts): its repeats are not
    // handed on, so the watchdog ends the session after watchdogMs, saying why. A file (the
    // demo) may show a still.
    this.repeating = this.options.input.kind === 'rtsp' && this.still.isStill(f.data);
    if (this.repeating) return this.recycle(f.data);
    this.armWatchdog();
    this.handlers.frame(f);
  }

  /** Gives a handed-on frame's buffer back for a later frame (frame-parser.ts: recycle). */
  recycle(data: Uint8Array): void {
    this.parser?.recycle(data);
  }

  private armWatchdog(): void {
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(() => {
      const seconds = (this.options.watchdogMs / 1000).toFixed(1);
      const reason = this.repeating ? `same picture for ${seconds} s` : `no frame for ${seconds} s`;
      this.handlers.stall?.(reason);
      void this.stop(reason, false);
    }, this.options.watchdogMs);
    this.watchdog.unref();
  }

  /** The last of ffmpeg's messages, credentials redacted, for diagnostics. */
  get lastMessages(): string {
    return redactText(this.stderrTail.split('\n').slice(-6).join('\n'));
  }
}

/**
 * A connected pair of Unix sockets, made through a listening socket in `dir` (mode 0700) that is
 * gone again once they are connected: ffmpeg gets `writer` as its stdout, and `reader` reads
 * with `onread`.
 */
async function socketPair(dir: string, onread: OnReadOpts): Promise<{ reader: Socket; writer: Socket }> {
  const path = join(dir, `${randomUUID()}.sock`);
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, resolve);
    });
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    const reader = connect({ path, onread });
    const [writer] = await accepted;
    return { reader, writer };
  } finally {
    server.close();
    rmSync(path, { force: true });
  }
}

let scriptDir: string | undefined;
/**
 * A folder of this thread's own (mode 0700) for camera scripts, made on first use and removed at
 * exit. Reader threads are given their parent's: a thread's exit handlers may not run.
 */
export function privateDir(): string {
  return (scriptDir ??= mkdtempSync(join(tmpdir(), 'facegate-cameras-')));
}

// Every ffmpeg this process started and that is still running: killed when the process exits,
// so no camera reader outlives the daemon (or a test run). A SIGKILLed daemon cannot run this;
// its ffmpeg children then die of a broken pipe on their next frame.
const LIVE = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
  if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
});
