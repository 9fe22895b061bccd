// One ffmpeg session run on a thread of its own (reader-worker.ts). Read on the main thread, a
// camera's pipe was drained only between the analysis's own tasks, 64 KB a turn: at 5 fps of
// 720p (14 MB/s) the backlog grew in the pipe, in ffmpeg and in the camera's TCP queue, and the
// "newest" frame was minutes old. The thread reads every byte as it comes and keeps the newest
// frame; this side hears of each arrival and takes the newest frame when it wants one.
import { Worker } from 'node:worker_threads';
import { privateDir, type SessionEnd, type SessionOptions } from './ffmpeg-session.js';
import type { Frame } from './frame-parser.js';
import type { Thumbnail } from './motion.js';

/** A frame as announced on arrival: everything but its pixels, with its grey copy. */
export type FrameInfo = Omit<Frame, 'data' | 'thumbnail'> & { thumbnail: Thumbnail };
/** A frame as taken: with its pixels and its grey copy. */
export type TakenFrame = FrameInfo & Pick<Frame, 'data'>;

/** What a reader thread starts with: its session, and how many frames the camera had before. */
export type ReaderData = { session: SessionOptions; framesBefore: number };

export type ToReader = { kind: 'take'; id: number } | { kind: 'stop'; reason: string; polite: boolean };
export type FromReader =
  | { kind: 'started'; pid: number | undefined }
  | { kind: 'arrived'; frame: FrameInfo }
  | { kind: 'frame'; id: number; frame: TakenFrame | null }
  | { kind: 'stall'; reason: string }
  | { kind: 'ended'; end: SessionEnd };

export class FrameReader {
  private worker: Worker | undefined;
  private pidValue: number | undefined;
  private nextId = 1;
  private readonly takes = new Map<number, (f: TakenFrame | undefined) => void>();
  private stopping: Promise<void> | undefined;
  readonly ended: Promise<SessionEnd>;
  private resolveEnded!: (end: SessionEnd) => void;
  private done = false;

  constructor(
    private readonly options: SessionOptions,
    /** Frames the camera delivered before this session: this one's are numbered on from there. */
    private readonly framesBefore: number,
    private readonly handlers: {
      arrived: (frame: FrameInfo) => void;
      /** The watchdog fired: the camera is as good as offline while ffmpeg is being ended. */
      stall?: (reason: string) => void;
    },
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  get pid(): number | undefined {
    return this.pidValue;
  }

  start(): void {
    const worker = startWorker({
      session: { ...this.options, scriptDir: this.options.scriptDir ?? privateDir() },
      framesBefore: this.framesBefore,
    });
    this.worker = worker;
    worker.on('message', (m: FromReader) => this.message(m));
    // A thread that fails, or exits without saying why, ends the session like any ffmpeg exit.
    worker.on('error', (err) => this.end(`frame reader failed (${err.message})`));
    worker.on('exit', () => this.end('frame reader ended'));
  }

  /**
   * The newest frame not yet taken, or undefined if none arrived since the last take. Its
   * arrival was announced before it: messages from the thread come in order.
   */
  take(): Promise<TakenFrame | undefined> {
    if (this.done || !this.worker) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.takes.set(id, resolve);
      this.worker!.postMessage({ kind: 'take', id } satisfies ToReader);
    });
  }

  /** Ends the session (see FfmpegSession.stop); resolves when ffmpeg and the thread are gone. */
  stop(reason = 'stopped', polite = true): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.done) this.worker?.postMessage({ kind: 'stop', reason, polite } satisfies ToReader);
      await this.ended;
    })();
    return this.stopping;
  }

  private message(m: FromReader): void {
    switch (m.kind) {
      case 'started':
        this.pidValue = m.pid;
        if (m.pid) LIVE.add(m.pid);
        return;
      case 'arrived':
        return this.handlers.arrived(m.frame);
      case 'frame':
        this.takes.get(m.id)?.(m.frame ?? undefined);
        this.takes.delete(m.id);
        return;
      case 'stall':
        return this.handlers.stall?.(m.reason);
      case 'ended':
        return this.end(m.end);
    }
  }

  private end(end: SessionEnd | string): void {
    if (this.done) return;
    this.done = true;
    if (this.pidValue) LIVE.delete(this.pidValue);
    for (const take of this.takes.values()) take(undefined);
    this.takes.clear();
    if (typeof end === 'string') {
      // The thread died, maybe with ffmpeg still running: end ffmpeg too.
      if (this.pidValue) killQuietly(this.pidValue);
      this.resolveEnded({ reason: end, code: null, signal: null, frames: 0 });
    } else this.resolveEnded(end);
  }
}

/**
 * The reader thread. Under tsx or vitest this module is TypeScript, and a thread starts without
 * the parent's module hooks: it registers tsx's before loading the TypeScript worker.
 */
function startWorker(data: ReaderData): Worker {
  const typescript = import.meta.url.endsWith('.ts');
  const script = new URL(`./reader-worker.${typescript ? 'ts' : 'js'}`, import.meta.url);
  if (!typescript) return new Worker(script, { workerData: data });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((api) => { api.register(); return import(${JSON.stringify(script.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// Every ffmpeg a reader thread started that still runs: killed when the process exits (threads
// do not get to clean up then), so no camera reader outlives the daemon or a test run.
const LIVE = new Set<number>();
process.on('exit', () => {
  for (const pid of LIVE) killQuietly(pid);
});
