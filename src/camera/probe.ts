// For installers checking a camera: connect, read N frames at the stream's own size, and report
// size, rate and time to first frame, or the reason it failed; never longer than the timeout,
// and no ffmpeg left behind.
import { FfmpegSession, type Transport } from './ffmpeg-session.js';
import { parseCameraInput } from './url.js';

export type ProbeResult =
  | { url: string; width: number; height: number; fps: number; first_frame_ms: number; frames: number }
  | { url: string; error: string };

export async function probeCamera(
  raw: string,
  opts: { frames: number; transport: Transport; timeoutMs: number },
): Promise<ProbeResult> {
  const input = parseCameraInput(raw);
  const started = Date.now();
  const times: number[] = [];
  let size: { width: number; height: number } | undefined;
  const session = new FfmpegSession(
    // 1000 fps is "every frame the camera sends": probe measures the camera's own rate.
    {
      input,
      transport: opts.transport,
      fps: 1000,
      ioTimeoutMs: opts.timeoutMs,
      watchdogMs: opts.timeoutMs + 1000,
      loop: false,
      timestamps: true,
    },
    {
      frame: (f) => {
        if (times.length >= opts.frames) return; // frames still arriving while ffmpeg stops
        size = { width: f.width, height: f.height };
        times.push(Date.now());
        if (times.length >= opts.frames) void session.stop('done');
      },
    },
  );
  void session.start();
  const deadline = setTimeout(() => void session.stop('timeout', false), opts.timeoutMs);
  const end = await session.ended;
  clearTimeout(deadline);
  if (times.length < opts.frames || !size) {
    const reason = times.length ? `${end.reason} after ${times.length} of ${opts.frames} frames` : end.reason;
    return { url: input.redacted, error: reason };
  }
  // The rate from the stream's own timestamps: arrival times are bunched at the start (the
  // frames buffered before the first was decoded), which made 10 fps read as 20.
  const pts = session.ptsTimes.slice(0, times.length);
  const span = pts.length === times.length ? pts.at(-1)! - pts[0]! : (times.at(-1)! - times[0]!) / 1000;
  return {
    url: input.redacted,
    width: size.width,
    height: size.height,
    fps: span > 0 ? Number(((times.length - 1) / span).toFixed(2)) : 0,
    first_frame_ms: times[0]! - started,
    frames: times.length,
  };
}
