// facegate calibrate: the threshold for a chosen false-accept rate on labelled pairs, printed
// with the config line that applies it. A threshold is an operating point, not a constant.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrivateState } from '../privacy/state.js';
import { readPairs } from '../eval/datasets.js';
import { measurable, opensetCalibration, opensetScores, scorePairs } from '../eval/evaluate.js';
import type { PersonAggregation } from '../gallery/matcher.js';
import { farAt, tarAt, thresholdAtFar } from '../eval/metrics.js';
import { FacegateError } from '../errors.js';
import { parseCommand, parseNumber, round, type CommandContext } from './args.js';
import { doorThreshold, matchThreshold } from '../inference/faces.js';
import { passReport, type PassReport } from '../eval/passes.js';
import {
  embedForEval,
  EVAL_SETUP_OPTIONS,
  evalSetup,
  OPENSET_OPTIONS,
  opensetInputs,
  openSetPasses,
} from './eval.js';

export const CALIBRATE_USAGE = `Usage: facegate calibrate --pairs FILE --root DIR --far F [options]
       facegate calibrate --openset --manifest FILE --root DIR --fpir F [options]

Encodes the labelled pairs and prints the largest threshold whose false-accept rate on the
different-person pairs is at most F, the true-accept rate there, and the config line to use it.
A rate rests on F x N of N different pairs: with fewer than 3/F of them chance decides the
threshold, so it is printed without a config line (exit status 1) unless --force.

With --openset, a door's question instead: of the faces of people not enrolled, at most F may
be taken for somebody enrolled (false-positive identification rate), on a gallery of this size.
The manifest is enrolled and probed as facegate eval --openset does (one photo per identity with
two or more; the others, and every resident's probe with that resident left out, are the
strangers). FPIR grows with the gallery: calibrate on a gallery as large as the door's.

Options:
  --far F             target false-accept rate, e.g. 1e-3 (pairs)
  --fpir F            target false-positive identification rate, e.g. 1e-3 (--openset)
  --gallery-size N    --openset: enroll only the first N identities, as facegate eval
  --relabel FILE      --openset: corrected identities (path, identity), as facegate eval
  --passes MODE       --openset: FPIR per pass in front of the door, decided as the daemon does
                      (votes, and the track's mean with recognition.fusion on), on passes made as
                      facegate eval --passes makes them: photos or jitter (--jitter-frames N)
  --marked            the pairs marked wrong in the console (<stateDir>/marked), instead of
                      --pairs and --root: a threshold from your own door's mistakes
  --force             print the config line even from fewer than 3/F different pairs or strangers
  --root DIR, --prefix P, --select MODE, --crop MODE, --gate, --json   as for facegate eval
  -h, --help          this text`;

const CALIBRATE_OPTIONS = {
  ...EVAL_SETUP_OPTIONS,
  ...OPENSET_OPTIONS,
  pairs: { type: 'string' },
  far: { type: 'string' },
  force: { type: 'boolean' },
  fpir: { type: 'string' },
  marked: { type: 'boolean' },
  'state-dir': { type: 'string' },
} as const;

export async function calibrateCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values } = parseCommand(argv, CALIBRATE_OPTIONS, CALIBRATE_USAGE);
  if (values.help) {
    io.out(CALIBRATE_USAGE);
    return 0;
  }
  if (values.openset) return calibrateOpenset(values, ctx);
  if (values.marked) return calibrateMarked(values, ctx);
  if (!values.pairs) throw new FacegateError('USAGE', `--pairs FILE is required\n\n${CALIBRATE_USAGE}`);
  if (values.far === undefined) throw new FacegateError('USAGE', `--far F is required\n\n${CALIBRATE_USAGE}`);
  const far = rate('far', values.far);
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

/** --marked: the pairs marked wrong in the console, as a pairs file in a private temporary folder. */
async function calibrateMarked(
  values: ReturnType<typeof parseCommand<typeof CALIBRATE_OPTIONS>>['values'],
  ctx: CommandContext,
): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-marked-'));
  const state = new PrivateState(ctx.config, values['state-dir'] ?? ctx.config.stateDir);
  try {
    const n = state.marked.exportTo(dir);
    if (!n)
      throw new FacegateError(
        'NOT_FOUND',
        "no pairs marked wrong yet (the console's Attempts page, or POST /api/v1/attempts/{id}/wrong)",
      );
    ctx.io.err(`facegate calibrate: ${n} pairs marked in the console`);
    const argv = [
      '--pairs',
      join(dir, 'pairs.tsv'),
      '--root',
      dir,
      '--select',
      'largest',
      '--far',
      values.far ?? '0.1',
    ];
    if (values.force) argv.push('--force');
    if (values.json) argv.push('--json');
    return await calibrateCommand(argv, ctx);
  } finally {
    state.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function rate(name: string, value: string): number {
  const r = parseNumber(name, value, 0);
  if (!(r > 0 && r < 1)) throw new FacegateError('USAGE', `--${name} must be between 0 and 1, got ${r}`);
  return r;
}

async function calibrateOpenset(
  values: ReturnType<typeof parseCommand<typeof CALIBRATE_OPTIONS>>['values'],
  { io, config, engine }: CommandContext,
): Promise<number> {
  if (values.manifest === undefined)
    throw new FacegateError('USAGE', `--openset needs --manifest FILE\n\n${CALIBRATE_USAGE}`);
  if (values.fpir === undefined)
    throw new FacegateError('USAGE', `--fpir F is required with --openset\n\n${CALIBRATE_USAGE}`);
  const fpir = rate('fpir', values.fpir);
  const setup = evalSetup(values);
  const { images, gallerySize, passMode } = opensetInputs(values, setup);
  const faces = await engine();
  const files = await embedForEval(
    faces,
    setup,
    images.map((i) => i.path),
    config,
    doorThreshold(config),
    io,
  );
  const split = { gallerySize, aggregation: config.match.aggregation as PersonAggregation };
  // Written to 4 decimals for the config line, rounded down so that it lets in no stranger the
  // threshold found keeps out; the rates are measured at the written value.
  const written = (t: number) => Math.floor(t * 1e4) / 1e4;
  let enrolled: readonly { personId: string }[];
  let found;
  if (passMode) {
    const built = await openSetPasses(
      passMode,
      { engine: faces, setup, images, files, split, config, io },
      values['jitter-frames'],
    );
    enrolled = built.gallery;
    found = perPass(built, fpir, written, config.recognition.fusion.enabled);
  } else {
    const scores = await opensetScores(images, files, split);
    enrolled = scores.enrolled;
    found = { per: 'face', ...opensetCalibration(scores, fpir, written) };
  }
  const { threshold } = found;
  // No stranger at all: nothing bounds the threshold, and no config line can say Infinity (nor
  // 0, which means the encoder's own).
  const usable = Number.isFinite(threshold) && threshold > 0 && (found.measurable || values.force === true);
  const strangerProbes = 'strangerPasses' in found ? found.strangerPasses : found.strangerProbes;
  const result = {
    ...found,
    enrolled: new Set(enrolled.map((e) => e.personId)).size,
    configLine: usable ? `{"match": {"threshold": ${threshold}}}` : null,
    environment: usable ? `FACEGATE_MATCH_THRESHOLD=${threshold}` : null,
  };
  if (setup.json) io.out(JSON.stringify(result));
  else {
    const counts =
      'strangerPasses' in result
        ? `${result.strangerPasses} stranger, ${result.matedPasses} resident passes, decided by ${result.variant}`
        : `${result.strangerProbes} stranger, ${result.matedProbes} resident probes`;
    io.out(
      `threshold ${threshold} for FPIR <= ${fpir} per ${result.per} with ${result.enrolled} enrolled: measured FPIR ${result.measuredFpir.toFixed(5)}, TPIR ${(100 * result.tpir).toFixed(2)}% (${counts})`,
    );
    if (result.configLine) {
      io.out(`config:      ${result.configLine}`);
      io.out(`environment: ${result.environment}`);
    }
  }
  if (!result.measurable)
    io.err(
      `facegate calibrate: FPIR ${fpir} rests on ${Math.floor(fpir * strangerProbes)} of ${strangerProbes} stranger ${passMode ? 'passes' : 'probes'} (about ${Math.ceil(3 / fpir)} needed)${usable ? '' : ': no config line without --force'}`,
    );
  return usable ? 0 : 1;
}

/** The threshold for an FPIR per pass, with the rates per pass at its written value. */
function perPass(
  { gallery, passes, rule }: Awaited<ReturnType<typeof openSetPasses>>,
  fpir: number,
  written: (t: number) => number,
  fusion: boolean,
) {
  const variant = fusion ? 'votes + fusion' : 'votes';
  const pick = (r: PassReport) => r.variants.find((v) => v.variant === variant)!;
  const found = pick(passReport(gallery, passes, rule, 0, [fpir])).tpirAtFpir[0]!;
  const threshold = written(found.threshold);
  const report = passReport(gallery, passes, rule, threshold, []);
  const at = pick(report);
  return {
    per: 'pass',
    variant,
    fpir,
    threshold,
    measuredFpir: at.fpirAtThreshold,
    tpir: at.tpirAtThreshold,
    strangerPasses: report.strangerPasses,
    matedPasses: report.matedPasses,
    measurable: found.measurable,
  };
}
