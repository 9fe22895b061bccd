// The facegate command: dispatches to one module per subcommand. Errors that facegate reports
// on purpose (FacegateError) print their message and exit 2; anything else is a bug and prints
// its stack.
import { FacegateError } from '../errors.js';
import { FaceEngine } from '../inference/faces.js';
import { fallbackOf } from '../inference/self-check.js';
import { loadConfig, modelOptions, type Config, type ConfigOverride } from '../config/schema.js';
import { processIo, type CommandContext, type Io } from './args.js';
import { calibrateCommand } from './calibrate.js';
import { configCommand } from './config.js';
import { consoleCommand } from './console.js';
import { doorCommand } from './door.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { enrollCommand, galleryCommand } from './gallery.js';
import { probeCommand } from './probe.js';
import { auditCommand, keyCommand } from './privacy.js';
import { runCommand } from './run.js';
import { trainCommand } from './train.js';
import { verifyCommand } from './verify.js';
import { VERSION } from '../project.js';

type Command = (argv: string[], ctx: CommandContext) => Promise<number>;

/**
 * `optionsInConfig`: the command's options go into the configuration (ctx.loadConfig), so a
 * configuration error is reported by the command together with its options' own problems.
 */
const COMMANDS: Record<string, { run: Command; summary: string; optionsInConfig?: boolean }> = {
  run: { run: runCommand, summary: 'run the daemon: cameras in, events out', optionsInConfig: true },
  embed: { run: embedCommand, summary: 'print the faces and embeddings found in images' },
  verify: { run: verifyCommand, summary: 'decide whether two photos show the same person' },
  eval: { run: evalCommand, summary: 'measure verification or open-set accuracy on labelled photos' },
  enroll: { run: enrollCommand, summary: 'add a person to the gallery from one photo' },
  gallery: { run: galleryCommand, summary: 'list, remove, export or import gallery people' },
  probe: { run: probeCommand, summary: 'check that a camera URL delivers video' },
  calibrate: { run: calibrateCommand, summary: 'choose the threshold for a false-accept rate' },
  train: { run: trainCommand, summary: 'learn a comparison head (triplet or binary) on labelled photos' },
  config: { run: configCommand, summary: 'check or print the configuration, or its schema' },
  audit: { run: auditCommand, summary: 'verify or export the hash-chained audit log' },
  console: { run: consoleCommand, summary: "set the web console's passwords and API tokens" },
  key: { run: keyCommand, summary: 'rotate the key that seals the encrypted state' },
  door: {
    run: doorCommand,
    summary: "open one door for facegate's signed access events (a relay command or MQTT)",
  },
};

const USAGE = `Usage: facegate COMMAND [OPTIONS]

facegate recognises faces from cameras against a one-shot gallery and publishes matches over MQTT.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Global options: --config FILE (a JSON config file; also $FACEGATE_CONFIG). FACEGATE_*
environment variables override it; see docs/configuration.md. --encoder dlib|mobilefacenet
(models.encoder) picks the face encoder for any command that encodes faces. --version prints
facegate's version.
Run "facegate COMMAND --help" for a command's options.`;

/**
 * Takes the global options out of argv, wherever they stand: --config FILE and --encoder NAME
 * (either also as --option=VALUE). --encoder sets models.encoder for any command that encodes.
 */
function extractGlobalOptions(argv: string[]): {
  file: string | undefined;
  overrides: ConfigOverride[];
  rest: string[];
} {
  const rest: string[] = [];
  let file = process.env.FACEGATE_CONFIG || undefined;
  const overrides: ConfigOverride[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    if (flag !== '--config' && flag !== '--encoder') {
      rest.push(a);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined)
      throw new FacegateError('USAGE', `${flag} needs a ${flag === '--config' ? 'FILE' : 'NAME'}`);
    if (flag === '--config') file = value;
    else overrides.push({ key: 'models.encoder', value });
  }
  return { file, overrides, rest };
}

const exitCode = (err: FacegateError) => (err.code === 'CONFIG_INVALID' ? 78 : 2); // 78: EX_CONFIG

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let extracted: ReturnType<typeof extractGlobalOptions>;
  try {
    extracted = extractGlobalOptions(argv);
  } catch (err) {
    if (!(err instanceof FacegateError)) throw err;
    io.err(`facegate: ${err.message}`);
    return exitCode(err);
  }
  const { file, overrides: global, rest: args } = extracted;
  const [name, ...rest] = args;
  if (name === '--version' || name === '-V') {
    io.out(`facegate ${VERSION}`);
    return 0;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`facegate: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  let config: Config | undefined;
  try {
    config = loadConfig(file, process.env, global);
  } catch (err) {
    if (!(err instanceof FacegateError)) throw err;
    // A command whose options go into the configuration (run: --set, --camera ...) reports
    // this error together with theirs, so that one run names every problem.
    if (!command.optionsInConfig) {
      io.err(`facegate: ${err.message}`);
      return exitCode(err);
    }
  }
  const loaded = () => config ?? loadConfig(file, process.env, global);
  let engine: FaceEngine | undefined;
  const openEngine = async (): Promise<FaceEngine> => {
    if (engine) return engine;
    engine = await FaceEngine.open(modelOptions(loaded().models));
    const check = engine.selfCheck;
    if (check && !check.passed)
      io.err(`facegate: warning: encoder self-check: ${fallbackOf(check)}: ${check.reason}`);
    return engine;
  };
  try {
    return await command.run(rest, {
      io,
      get config() {
        return loaded();
      },
      loadConfig: (overrides) => loadConfig(file, process.env, [...global, ...(overrides ?? [])]),
      engine: openEngine,
    });
  } catch (err) {
    if (err instanceof FacegateError) {
      io.err(`facegate ${name}: ${err.message}`);
      return exitCode(err);
    }
    throw err;
  } finally {
    await engine?.release();
  }
}
