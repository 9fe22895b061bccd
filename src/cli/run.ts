// facegate run: the daemon. Configuration from --config / FACEGATE_* (validated before anything
// starts), plus shortcuts for first tries: --camera NAME=URL, --gallery-dir DIR, --mqtt URL.
// SIGTERM or SIGINT stops it in order and exits 0; a second signal forces the exit.
import { Daemon, jsonLog } from '../daemon.js';
import { FacegateError } from '../errors.js';
import { parseCommand, type CommandContext } from './args.js';

export const RUN_USAGE = `Usage: facegate run [--config FILE] [--camera NAME=URL ...] [--gallery-dir DIR] [--mqtt URL]

Runs the daemon: reads the cameras, recognises faces against the gallery, publishes events.
Everything is in the configuration (docs/configuration.md); these options override it:
  --camera NAME=URL   a camera (rtsp://..., rtsps://..., or a video file); repeatable
  --gallery-dir DIR   sync the gallery from a folder of photos (docs/gallery.md)
  --mqtt URL          broker (mqtt:// or mqtts://); the password comes from FACEGATE_MQTT_PASSWORD
                      or mqtt.passwordFile, never from the command line
  -h, --help          this text`;

export async function runCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseCommand(
    argv,
    {
      camera: { type: 'string', multiple: true },
      'gallery-dir': { type: 'string' },
      mqtt: { type: 'string' },
    },
    RUN_USAGE,
  );
  if (values.help) {
    ctx.io.out(RUN_USAGE);
    return 0;
  }
  const config = structuredClone(ctx.config);
  for (const spec of values.camera ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new FacegateError('USAGE', `--camera ${spec}: use NAME=URL`);
    config.cameras.push({ name: spec.slice(0, eq), url: spec.slice(eq + 1) });
  }
  if (values['gallery-dir']) config.gallery.source = values['gallery-dir'];
  if (values.mqtt) config.mqtt.url = values.mqtt;

  const daemon = new Daemon(config, jsonLog);
  let signals = 0;
  const done = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        jsonLog('error', `second ${signal}: exiting now`);
        process.exit(1);
      }
      jsonLog('info', `${signal}: stopping`);
      const force = setTimeout(() => {
        jsonLog('error', 'stop took longer than 20 s: exiting now');
        process.exit(1);
      }, 20_000);
      force.unref();
      void daemon.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await daemon.start();
  await done;
  return 0;
}
