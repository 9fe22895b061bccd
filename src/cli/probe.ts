// facegate probe URL: is this camera usable? One JSON line either way.
import { probeCamera } from '../camera/probe.js';
import { redactUrl } from '../camera/url.js';
import { FacegateError } from '../errors.js';
import { parseCommand, parseInteger, parseNumber, type CommandContext } from './args.js';

export const PROBE_USAGE = `Usage: facegate probe URL [--frames N] [--transport tcp|udp] [--timeout SECONDS]

Connects to a camera (rtsp://, rtsps://, or a video file), reads N frames and prints
  {"url", "width", "height", "fps", "first_frame_ms", "frames"}
with the password in the URL replaced by ***. On failure prints {"url", "error"} with the reason
(refused, not found, unauthorized, timeout, not video, ...) and exits 1, within the timeout.

Options:
  --frames N          frames to read (default 10)
  --transport MODE    tcp (default) or udp
  --timeout SECONDS   give up after this long (default 10)
  -h, --help          this text`;

export async function probeCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io } = ctx;
  const { values, positionals } = parseCommand(
    argv,
    { frames: { type: 'string' }, transport: { type: 'string' }, timeout: { type: 'string' } },
    PROBE_USAGE,
  );
  if (values.help) {
    io.out(PROBE_USAGE);
    return 0;
  }
  if (positionals.length !== 1) throw new FacegateError('USAGE', `probe takes one URL\n\n${PROBE_USAGE}`);
  const frames = parseInteger('frames', values.frames, 10);
  const timeout = parseNumber('timeout', values.timeout, 10);
  const transport = values.transport ?? 'tcp';
  if (transport !== 'tcp' && transport !== 'udp')
    throw new FacegateError('USAGE', `--transport must be tcp or udp, not "${transport}"`);
  if (!(timeout > 0)) throw new FacegateError('USAGE', '--timeout must be positive');
  let result;
  try {
    result = await probeCamera(positionals[0]!, { frames, transport, timeoutMs: timeout * 1000 });
  } catch (err) {
    if (!(err instanceof FacegateError) || err.code !== 'CAMERA_URL') throw err;
    io.out(JSON.stringify({ url: redactUrl(positionals[0]!), error: err.message }));
    return 1;
  }
  io.out(JSON.stringify(result));
  return 'error' in result ? 1 : 0;
}
