// facegate calibrate: the threshold for a chosen false-accept rate on labelled pairs, printed
// with the config line that applies it. A threshold is an operating point, not a constant.
import { readPairs } from '../eval/datasets.js';
import { measurable, scorePairs } from '../eval/evaluate.js';
import { farAt, tarAt, thresholdAtFar } from '../eval/metrics.js';
import { FacegateError } from '../errors.js';
import { parseCommand, parseNumber, round, type CommandContext } from './args.js';
import { matchThreshold } from '../inference/faces.js';
import { embedForEval, EVAL_SETUP_OPTIONS, evalSetup } from './eval.js';

export const CALIBRATE_USAGE = `Usage: facegate calibrate --pairs FILE --root DIR --far F [options]

Encodes the labelled pairs and prints the largest threshold whose false-accept rate on the
different-person pairs is at most F, the true-accept rate there, and the config line to use it.
A rate rests on F x N of N different pairs: with fewer than 3/F of them chance decides the
threshold, so it is printed without a config line (exit status 1) unless --force.

Options:
  --far F             target false-accept rate, e.g. 1e-3 (required)
  --force             print the config line even from fewer than 3/F different pairs
  --root DIR, --prefix P, --select MODE, --crop MODE, --gate, --json   as for facegate eval
  -h, --help          this text`;

export async function calibrateCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values } = parseCommand(
    argv,
    { ...EVAL_SETUP_OPTIONS, pairs: { type: 'string' }, far: { type: 'string' }, force: { type: 'boolean' } },
    CALIBRATE_USAGE,
  );
  if (values.help) {
    io.out(CALIBRATE_USAGE);
    return 0;
  }
  if (!values.pairs) throw new FacegateError('USAGE', `--pairs FILE is required\n\n${CALIBRATE_USAGE}`);
  if (values.far === undefined) throw new FacegateError('USAGE', `--far F is required\n\n${CALIBRATE_USAGE}`);
  const far = parseNumber('far', values.far, 0);
  if (!(far > 0 && far < 1)) throw new FacegateError('USAGE', `--far must be between 0 and 1, got ${far}`);
  const setup = evalSetup(values);
  const pairs = readPairs(values.pairs, setup.prefix);
  const engine = await ctx.engine();
  const scored = scorePairs(
    pairs,
    await embedForEval(
      engine,
      setup,
      pairs.flatMap((p) => [p.file1, p.file2]),
      config,
      matchThreshold(config),
      io,
    ),
  );
  const threshold = round(thresholdAtFar(scored, far), 4);
  const different = scored.filter((p) => !p.same).length;
  const usable = measurable(far, different) || (values.force ?? false);
  const result = {
    far,
    threshold,
    measuredFar: farAt(scored, threshold),
    tar: tarAt(scored, threshold),
    differentPairs: different,
    samePairs: scored.length - different,
    measurable: measurable(far, different),
    configLine: usable ? `{"match": {"threshold": ${threshold}}}` : null,
    environment: usable ? `FACEGATE_MATCH_THRESHOLD=${threshold}` : null,
  };
  if (setup.json) {
    io.out(JSON.stringify(result));
  } else {
    io.out(
      `threshold ${threshold} for FAR <= ${far}: measured FAR ${result.measuredFar.toFixed(5)}, TAR ${(100 * result.tar).toFixed(2)}% (${different} different, ${result.samePairs} same pairs)`,
    );
    if (result.configLine) {
      io.out(`config:      ${result.configLine}`);
      io.out(`environment: ${result.environment}`);
    }
  }
  if (!result.measurable)
    io.err(
      `facegate calibrate: FAR ${far} rests on ${Math.floor(far * different)} of ${different} different pairs (about ${Math.ceil(3 / far)} needed)${usable ? '' : ': no config line without --force'}`,
    );
  return usable ? 0 : 1;
}
