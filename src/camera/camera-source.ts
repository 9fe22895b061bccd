// A camera as the rest of facegate sees it: a supervisor that keeps an ffmpeg session running on a
// reader thread of its own (respawning after any exit with capped exponential backoff and
// jitter), reports its state (connecting, online, offline with a reason), and hands the consumer
// only the newest frame: frames the consumer did not look at in time are dropped and counted,
// never queued, and the reader keeps draining the camera whatever the consumer is doing. The
// consumer looks at each arrival's grey copy first (nextArrival) and takes the pixels (take) only
// of frames it analyses, so a still scene copies no pixels between threads.
import { EventEmitter } from 'node:events';
import { CAMERA_ENTRY_DEFAULTS, type CameraEntry } from './camera-config.js';
import type { SessionOptions } from './ffmpeg-session.js';
import { FrameReader, type FrameInfo, type TakenFrame } from './frame-reader.js';
import { parseCameraInput, redactText } from './url.js';

/** A camera's settings (camera-config.ts, all given) and how its supervisor retries. */
export type CameraConfig = Required<CameraEntry> & {
  backoff: { initialMs: number; maxMs: number; factor: number; jitter: number };
  /** Online this long resets the backoff. */
  stableAfterMs: number;
};

export const CAMERA_DEFAULTS: Omit<CameraConfig, 'name' | 'url'> = {
  ...CAMERA_ENTRY_DEFAULTS,
  backoff: { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.2 },
  stableAfterMs: 10_000,
};

export type CameraState = {
  camera: string;
  state: 'connecting' | 'online' | 'offline';
  at: string;
  /** Why it is offline. */
  reason?: string;
  /** Connection attempts since the camera was last stably online. */
  attempt: number;
  /** When offline: the wait before the next attempt. */
  retryInMs?: number;
};

export type CameraStats = { framesReceived: number; framesDropped: number; sessions: number };

/** 'frame': a frame arrived (announced without its pixels; take them with take). */
type Events = { state: [CameraState]; frame: [FrameInfo] };

export class CameraSource extends EventEmitter<Events> {
  readonly config: CameraConfig;
  private readonly sessionOptions: SessionOptions;
  private session: FrameReader | undefined;
  private running = false;
  private retry: NodeJS.Timeout | undefined;
  private attempt = 0;
  private onlineSince: number | undefined;
  /** The newest arrival the consumer has not looked at (the reader holds its pixels). */
  private pending: FrameInfo | undefined;
  /** The arrival nextArrival gave last, until a take: dropped if a newer frame is analysed instead. */
  private seen: number | undefined;
  private waiter: (() => void) | undefined;
  private current: CameraState;
  private readonly counters: CameraStats = { framesReceived: 0, framesDropped: 0, sessions: 0 };

  /** Throws FacegateError (CAMERA_URL) for a malformed URL or an unsupported scheme. */
  constructor(
    config: Partial<CameraConfig> & Pick<CameraConfig, 'name' | 'url'>,
    private readonly random: () => number = Math.random,
  ) {
    super();
    this.config = {
      ...CAMERA_DEFAULTS,
      ...config,
      backoff: { ...CAMERA_DEFAULTS.backoff, ...config.backoff },
    };
    const input = parseCameraInput(this.config.url);
    this.sessionOptions = {
      input,
      transport: this.config.transport,
      fps: this.config.fps,
      fit: { width: this.config.width, height: this.config.height },
      ioTimeoutMs: this.config.ioTimeoutMs,
      watchdogMs: this.config.watchdogMs,
      inputOptions: this.config.inputOptions,
      loop: input.kind === 'file',
    };
    this.current = {
      camera: this.config.name,
      state: 'offline',
      at: new Date().toISOString(),
      reason: 'not started',
      attempt: 0,
    };
  }

  /** The URL as it may appear anywhere: credentials redacted. */
  get redactedUrl(): string {
    return this.sessionOptions.input.redacted;
  }

  get state(): CameraState {
    return this.current;
  }

  /** The running ffmpeg's pid, for diagnostics. */
  get ffmpegPid(): number | undefined {
    return this.session?.pid;
  }

  get stats(): CameraStats {
    return { ...this.counters };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    this.pending = undefined;
    this.wake();
    await this.session?.stop();
    this.setState({ state: 'offline', reason: 'stopped' });
  }

  /**
   * The newest arrival not yet looked at, without its pixels, waiting for one if needed;
   * undefined once the source is stopped.
   */
  async nextArrival(): Promise<FrameInfo | undefined> {
    while (this.running) {
      const info = this.pending;
      if (info) {
        this.pending = undefined;
        this.seen = info.sequence;
        return info;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    return undefined;
  }

  /**
   * The pixels of the newest frame: the one nextArrival gave last, or one that arrived since (the
   * one looked at is then dropped, and counted). Undefined when the reader holds none: taken
   * already, or its session has ended.
   */
  async take(): Promise<TakenFrame | undefined> {
    const session = this.session;
    if (!session || !this.running) return undefined;
    const frame = await session.take();
    if (frame) {
      if (this.pending?.sequence === frame.sequence) this.pending = undefined;
      if (this.seen !== undefined && this.seen !== frame.sequence) this.counters.framesDropped++;
      this.seen = undefined;
    }
    return frame;
  }

  /** The next arrival's pixels, waiting for one if needed; undefined once the source is stopped. */
  async nextFrame(): Promise<TakenFrame | undefined> {
    while (this.running) {
      if (!(await this.nextArrival())) return undefined;
      const frame = await this.take();
      if (frame) return frame;
    }
    return undefined;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private connect(): void {
    if (!this.running) return;
    this.attempt++;
    this.counters.sessions++;
    this.setState({ state: 'connecting' });
    const session = new FrameReader(this.sessionOptions, this.counters.framesReceived, {
      arrived: (f) => this.arrived(session, f),
      stall: (reason) => this.setState({ state: 'offline', reason }),
    });
    this.session = session;
    session.start();
    void session.ended.then((end) => {
      if (this.session !== session) return;
      this.session = undefined;
      if (this.onlineSince !== undefined && Date.now() - this.onlineSince >= this.config.stableAfterMs)
        this.attempt = 0;
      this.onlineSince = undefined;
      if (!this.running) return;
      const delay = this.backoffMs();
      this.setState({ state: 'offline', reason: redactText(end.reason), retryInMs: delay });
      this.retry = setTimeout(() => this.connect(), delay);
    });
  }

  /** initial * factor^(attempt-1), capped, with +-jitter so many cameras do not retry in step. */
  private backoffMs(): number {
    const { initialMs, maxMs, factor, jitter } = this.config.backoff;
    const base = Math.min(maxMs, initialMs * factor ** Math.max(0, this.attempt - 1));
    return Math.round(base * (1 + jitter * (2 * this.random() - 1)));
  }

  private arrived(session: FrameReader, f: FrameInfo): void {
    if (!this.running || session !== this.session) return; // the pipe's last chunks after stop()
    this.counters.framesReceived++;
    // The one before was never looked at: gone for this one.
    if (this.pending) this.counters.framesDropped++;
    this.pending = f;
    if (this.current.state !== 'online') {
      this.onlineSince = Date.now();
      this.setState({ state: 'online' });
    }
    this.emit('frame', f);
    this.wake();
  }

  private setState(s: Omit<CameraState, 'camera' | 'at' | 'attempt'>): void {
    this.current = { camera: this.config.name, at: new Date().toISOString(), attempt: this.attempt, ...s };
    this.emit('state', this.current);
  }
}
