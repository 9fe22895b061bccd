// facegate config: what the configuration is and may be. --check validates (exit 78 naming every
// problem), --print shows the effective configuration after file, environment and --set, and
// --print-schema lists every setting with its meaning, default and environment variable.
// Secrets live in files the configuration names; passwords written into URLs are redacted.
import { redactUrl } from '../camera/url.js';
import { schemaSettings } from '../config/schema.js';
import { FacegateError } from '../errors.js';
import { parseCommand, type CommandContext } from './args.js';

export const CONFIG_USAGE = `Usage: facegate config (--check | --print | --print-schema) [--config FILE]

  --check         validate the configuration (file, FACEGATE_* variables); exit 78 when invalid
  --print         the effective configuration as JSON
  --print-schema  every setting as JSON: key, meaning, default, environment variable, allowed values
  -h, --help      this text`;

export async function configCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { values } = parseCommand(
    argv,
    { check: { type: 'boolean' }, print: { type: 'boolean' }, 'print-schema': { type: 'boolean' } },
    CONFIG_USAGE,
  );
  if (values.help) {
    ctx.io.out(CONFIG_USAGE);
    return 0;
  }
  // main() validated the configuration before calling any command: reaching here means valid.
  if (values['print-schema']) ctx.io.out(JSON.stringify(schemaSettings(), null, 2));
  else if (values.print)
    // Camera and broker URLs may carry a password: printed as rtsp://user:***@host/path.
    ctx.io.out(JSON.stringify(ctx.config, (_, v: unknown) => (typeof v === 'string' ? redactUrl(v) : v), 2));
  else if (values.check) ctx.io.out('configuration valid');
  else throw new FacegateError('USAGE', CONFIG_USAGE);
  return Promise.resolve(0);
}
