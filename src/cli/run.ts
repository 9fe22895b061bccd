// facegate run: the daemon. Configuration from --config / FACEGATE_* plus the options below, all
// validated together before anything starts (exit 78 naming every problem). SIGTERM or SIGINT
// stops it in order and exits 0; a second signal, or a stop that overruns its bound, forces the
// exit. SIGHUP reads the configuration again and applies what can change live.
import type { ConfigOverride } from '../config/schema.js';
import { Daemon, jsonLogger } from '../daemon.js';
import { consoleSettings } from '../console/backend.js';
import { FacegateError } from '../errors.js';
import { SystemdNotifier } from '../service/notify.js';
import { parseCommand, type CommandContext } from './args.js';

export const RUN_USAGE = `Usage: facegate run [--config FILE] [--camera NAME=URL ...] [--gallery-dir DIR]
                    [--mqtt URL [--mqtt-user USER --mqtt-password-file FILE]] [--set KEY=VALUE ...]

Runs the daemon: reads the cameras, recognises faces against the gallery, publishes events.
Everything is in the configuration (docs/configuration.md); these options go over it:
  --camera NAME=URL          a camera (rtsp://..., rtsps://..., or a video file); repeatable
  --gallery-dir DIR          sync the gallery from a folder of photos (docs/gallery.md)
  --mqtt URL                 broker (mqtt:// or mqtts://); without one, an embedded broker
  --mqtt-user USER           broker user name
  --mqtt-password-file FILE  file holding the broker password (never the password itself)
  --set KEY=VALUE            any configuration key, e.g. --set match.threshold=0.5 (VALUE as JSON
                             when it parses, else a string); repeatable
  -h, --help                 this text
Signals: SIGTERM/SIGINT stop (a second one forces the exit), SIGHUP reloads.`;

/** Seconds a stop may take before the process exits anyway (the unit's TimeoutStopSec is 20). */
const STOP_BOUND_MS = 15_000;

function overridesFrom(values: {
  camera?: string[] | undefined;
  'gallery-dir'?: string | undefined;
  mqtt?: string | undefined;
  'mqtt-user'?: string | undefined;
  'mqtt-password-file'?: string | undefined;
  set?: string[] | undefined;
}): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  const cameras = (values.camera ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new FacegateError('USAGE', `--camera ${spec}: use NAME=URL`);
    return { name: spec.slice(0, eq), url: spec.slice(eq + 1) };
  });
  if (cameras.length) out.push({ key: 'cameras', value: cameras, append: true });
  if (values['gallery-dir']) out.push({ key: 'gallery.source', value: values['gallery-dir'] });
  if (values.mqtt) out.push({ key: 'mqtt.url', value: values.mqtt });
  if (values['mqtt-user']) out.push({ key: 'mqtt.username', value: values['mqtt-user'] });
  if (values['mqtt-password-file'])
    out.push({ key: 'mqtt.passwordFile', value: values['mqtt-password-file'] });
  for (const spec of values.set ?? []) {
    const eq = spec.indexOf('=');
    if (eq < 1) throw new FacegateError('USAGE', `--set ${spec}: use KEY=VALUE`);
    const raw = spec.slice(eq + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: the value is the string itself (a URL, a path, a name).
    }
    out.push({ key: spec.slice(0, eq), value });
  }
  return out;
}

export async function runCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    {
      camera: { type: 'string', multiple: true },
      'gallery-dir': { type: 'string' },
      mqtt: { type: 'string' },
      'mqtt-user': { type: 'string' },
      'mqtt-password-file': { type: 'string' },
      set: { type: 'string', multiple: true },
    },
    RUN_USAGE,
  );
  if (values.help) {
    ctx.io.out(RUN_USAGE);
    return 0;
  }
  if (positionals.length)
    throw new FacegateError('USAGE', `unexpected argument ${positionals[0]}\n\n${RUN_USAGE}`);
  const given = overridesFrom(values);
  // What the console saved (the threshold) goes over the file, at start and at each SIGHUP.
  const stateDir = ctx.loadConfig(given).stateDir;
  const overrides = () => [...given, ...consoleSettings(stateDir)];
  const config = ctx.loadConfig(overrides());

  const jsonLog = jsonLogger(config.log.level as 'info' | 'warn' | 'error');
  const notifier = SystemdNotifier.fromEnv(process.env, jsonLog);
  const daemon = new Daemon(config, jsonLog, notifier ? { notifier } : {});
  let signals = 0;
  let reloading = Promise.resolve();
  const onHangup = () => {
    reloading = reloading.then(async () => {
      notifier?.reloading();
      try {
        await daemon.reload(ctx.loadConfig(overrides()));
      } catch (err) {
        // A bad edit must not take a running door down: keep the old settings, say why.
        jsonLog('error', 'SIGHUP: configuration not reloaded', { error: (err as Error).message });
      }
      notifier?.ready('reloaded');
    });
  };
  const done = new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (++signals > 1) {
        jsonLog('error', `second ${signal}: exiting now`);
        process.exit(1);
      }
      jsonLog('info', `${signal}: stopping`);
      setTimeout(() => {
        jsonLog('error', `stop took longer than ${STOP_BOUND_MS / 1000} s: exiting now`);
        process.exit(1);
      }, STOP_BOUND_MS).unref();
      void daemon.stop().then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    process.on('SIGHUP', onHangup);
  });
  try {
    await daemon.start();
  } catch (err) {
    await daemon.stop();
    throw err;
  }
  await done;
  process.off('SIGHUP', onHangup);
  return 0;
}
