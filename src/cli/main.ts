// The facegate command: dispatches to one module per subcommand. Errors that facegate reports
// on purpose (FacegateError) print their message and exit 2; anything else is a bug and prints
// its stack.
import { FacegateError } from '../errors.js';
import { FaceEngine } from '../inference/faces.js';
import { processIo, type Io } from './args.js';
import { calibrateCommand } from './calibrate.js';
import { embedCommand } from './embed.js';
import { evalCommand } from './eval.js';
import { enrollCommand, galleryCommand } from './gallery.js';
import { verifyCommand } from './verify.js';

type Command = (argv: string[], io: Io, openEngine: () => Promise<FaceEngine>) => Promise<number>;

const COMMANDS: Record<string, { run: Command; summary: string }> = {
  embed: { run: embedCommand, summary: 'print the faces and 128-D embeddings found in images' },
  verify: { run: verifyCommand, summary: 'decide whether two photos show the same person' },
  eval: { run: evalCommand, summary: 'measure verification or open-set accuracy on labelled photos' },
  enroll: { run: enrollCommand, summary: 'add a person to the gallery from one photo' },
  gallery: { run: galleryCommand, summary: 'list, remove, export or import gallery people' },
  calibrate: { run: calibrateCommand, summary: 'choose the threshold for a false-accept rate' },
};

const USAGE = `Usage: facegate COMMAND [OPTIONS]

facegate recognises faces from cameras against a one-shot gallery and publishes matches over MQTT.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`)
  .join('\n')}

Run "facegate COMMAND --help" for a command's options.`;

export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.out(USAGE);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`facegate: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  let engine: FaceEngine | undefined;
  try {
    return await command.run(rest, io, async () => (engine ??= await FaceEngine.open()));
  } catch (err) {
    if (err instanceof FacegateError) {
      io.err(`facegate ${name}: ${err.message}`);
      return 2;
    }
    throw err;
  } finally {
    await engine?.release();
  }
}
