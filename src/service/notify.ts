// sd_notify for Type=notify services: READY=1 when the daemon can decide, WATCHDOG=1 while its
// pipeline makes progress, RELOADING=1 / STOPPING=1 around SIGHUP and SIGTERM, STATUS= for
// `systemctl status`. The protocol is a datagram per message on the AF_UNIX socket named by
// NOTIFY_SOCKET; node:dgram has no unix datagrams, hence unix-dgram. Outside systemd
// (NOTIFY_SOCKET unset) nothing is sent.
import { createSocket, type UnixDgramSocket } from 'unix-dgram';

export type NotifyLog = (level: 'warn', message: string, fields?: Record<string, unknown>) => void;

export class SystemdNotifier {
  private readonly socket: UnixDgramSocket;

  private constructor(
    private readonly path: string,
    /** Half of WatchdogSec= in ms, as sd_watchdog_enabled(3) advises; undefined: no watchdog. */
    readonly watchdogIntervalMs: number | undefined,
    private readonly log: NotifyLog,
  ) {
    this.socket = createSocket('unix_dgram');
    // A failed send must not take the daemon down: systemd may be restarting, or gone.
    this.socket.on('error', (err: Error) => this.log('warn', 'sd_notify failed', { error: err.message }));
  }

  /** The notifier systemd asked for through the environment, or undefined outside systemd. */
  static fromEnv(env: NodeJS.ProcessEnv, log: NotifyLog, pid = process.pid): SystemdNotifier | undefined {
    const path = env.NOTIFY_SOCKET;
    if (!path) return undefined;
    if (path.startsWith('@')) {
      // systemd gives services a path (/run/systemd/notify); abstract names are not supported.
      log('warn', `NOTIFY_SOCKET ${path} is an abstract socket, which facegate cannot use: no sd_notify`);
      return undefined;
    }
    const usec = Number(env.WATCHDOG_USEC);
    // WATCHDOG_PID names the process the watchdog is meant for (not a child we started).
    const forUs = !env.WATCHDOG_PID || Number(env.WATCHDOG_PID) === pid;
    const interval = forUs && usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : undefined;
    return new SystemdNotifier(path, interval, log);
  }

  send(fields: Record<string, string | number>): void {
    const msg = Buffer.from(
      Object.entries(fields)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    );
    this.socket.send(msg, 0, msg.length, this.path, (err) => {
      if (err) this.log('warn', 'sd_notify failed', { error: err.message, socket: this.path });
    });
  }

  ready(status: string): void {
    this.send({ READY: 1, STATUS: status });
  }

  /** systemd (253+) expects the monotonic time with RELOADING=1; older versions ignore both. */
  reloading(): void {
    this.send({ RELOADING: 1, MONOTONIC_USEC: (process.hrtime.bigint() / 1000n).toString() });
  }

  stopping(): void {
    this.send({ STOPPING: 1, STATUS: 'stopping' });
  }

  watchdog(): void {
    this.send({ WATCHDOG: 1 });
  }

  close(): void {
    this.socket.close();
  }
}
