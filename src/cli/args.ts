// Command-line parsing shared by every command: node's parseArgs in strict mode (an unknown
// option is an error, not silently ignored) and a uniform --help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config, ConfigOverride } from '../config/schema.js';
import { FacegateError } from '../errors.js';
import type { FaceEngine } from '../inference/faces.js';

export type Io = {
  out: (line: string) => void;
  err: (line: string) => void;
};

/** What every command gets: output, the validated configuration, and the models on demand. */
export type CommandContext = {
  io: Io;
  config: Config;
  /** The same configuration read again (file, environment) with `overrides` on top; throws CONFIG_INVALID. */
  loadConfig: (overrides?: readonly ConfigOverride[]) => Config;
  engine: () => Promise<FaceEngine>;
};

export const processIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Progress of a long command on stderr: on a terminal one line kept up to date; otherwise (a log,
 * a pipe, a systemd unit) a line at the start, one every `everyMs`, and one at the end.
 */
export function progressReporter(
  what: string,
  io: Io,
  opts: { tty?: boolean; everyMs?: number; now?: () => number } = {},
): (done: number, total: number) => void {
  const tty = opts.tty ?? (io === processIo && process.stderr.isTTY);
  const everyMs = opts.everyMs ?? 5000;
  const now = opts.now ?? Date.now;
  let last = -Infinity;
  return (done, total) => {
    const line = `${what} ${done}/${total}`;
    if (tty) {
      if (done % 50 === 0 || done === total) process.stderr.write(`\r${line}${done === total ? '\n' : ''}`);
      return;
    }
    if (done === 1 || done === total || now() - last >= everyMs) {
      last = now();
      io.err(`${line} (${Math.floor((100 * done) / total)}%)`);
    }
  };
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses argv for one command; --help is added to every command's options. */
export function parseCommand<O extends Options>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new FacegateError('USAGE', `${(err as Error).message}\n\n${usage}`);
  }
}

export function parseNumber(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new FacegateError('USAGE', `--${name}: "${value}" is not a number`);
  return n;
}

/** An integer option of at least `min`. */
export function parseInteger(name: string, value: string | undefined, fallback: number, min = 1): number {
  const n = parseNumber(name, value, fallback);
  if (!Number.isInteger(n) || n < min)
    throw new FacegateError('USAGE', `--${name} must be an integer >= ${min}`);
  return n;
}

/** Rounds for JSON output: enough digits for distances, no float noise in logs. */
export const round = (v: number, digits = 6): number => Number(v.toFixed(digits));
