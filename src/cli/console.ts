// facegate console passwd|token: the console's users and the API's tokens (docs/console.md).
import { join, resolve } from 'node:path';
import { addToken, setPassword } from '../console/auth.js';
import { FacegateError } from '../errors.js';
import { parseCommand, type CommandContext } from './args.js';

export const CONSOLE_USAGE = `Usage: facegate console passwd [--user NAME]
       facegate console token NAME

  passwd              sets a console user's password (default user: admin), read from stdin
                      (at least 10 characters): echo "..." | facegate console passwd
  token NAME          makes an API token for scripts (Authorization: Bearer TOKEN) and prints it
                      once; only its sha256 is kept

Both go to http.console.usersFile (default <stateDir>/console-users, 0600); the daemon reads it
at each request, no restart needed. Run as the service's user (sudo -u facegate) on an
installed unit.
  --state-dir DIR     the state directory (default: stateDir of the config)
  -h, --help          this text`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export async function consoleCommand(
  argv: string[],
  ctx: CommandContext,
  stdin: () => Promise<string> = readStdin,
): Promise<number> {
  const { values, positionals } = parseCommand(
    argv,
    { user: { type: 'string' }, 'state-dir': { type: 'string' } },
    CONSOLE_USAGE,
  );
  const [verb, name] = positionals;
  if (values.help || !verb) {
    ctx.io.out(CONSOLE_USAGE);
    return values.help ? 0 : 2;
  }
  const file =
    ctx.config.http.console.usersFile ||
    join(resolve(values['state-dir'] ?? ctx.config.stateDir), 'console-users');
  if (verb === 'passwd') {
    const user = values.user ?? 'admin';
    setPassword(file, user, await stdin());
    ctx.io.out(JSON.stringify({ user, file }));
    return 0;
  }
  if (verb === 'token') {
    if (!name) throw new FacegateError('USAGE', `console token needs a NAME\n\n${CONSOLE_USAGE}`);
    ctx.io.out(JSON.stringify({ token: addToken(file, name), name, file }));
    return 0;
  }
  throw new FacegateError('USAGE', `unknown console command "${verb}"\n\n${CONSOLE_USAGE}`);
}
