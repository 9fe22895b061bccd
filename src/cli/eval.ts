// facegate eval: how well detection, alignment and the encoder separate people, on labelled
// pairs (verification) or a labelled manifest (open-set identification, as a door sees it).
import {
  readManifestTsv,
  readPairs,
  relabelled,
  type LabelledImage,
  type LabelledPair,
} from '../eval/datasets.js';
import { embedFiles, embedJittered, onePassOf } from '../eval/embed-files.js';
import { passReport, type Pass, type PassReport, type PassRule } from '../eval/passes.js';
import { growthReport, type GrowthReport } from '../eval/growth.js';
import type { GalleryEntry } from '../gallery/matcher.js';
import { trackerOptionsFrom } from '../recognition/tracker.js';
import {
  extraImpostorPairs,
  extraImpostorReport,
  opensetReport,
  opensetSplit,
  verificationReport,
  type OpensetOptions,
  type EvalEncodings,
  type OpensetReport,
  type VerificationReport,
} from '../eval/evaluate.js';
import { writeEvaluationPlot } from '../eval/plot.js';
import { FacegateError } from '../errors.js';
import { nearDecision } from '../gallery/matcher.js';
import {
  DOOR_THRESHOLDS,
  doorThreshold,
  ENCODER_THRESHOLDS,
  matchThreshold,
  type Face,
  type FaceEngine,
  type FaceSelection,
} from '../inference/faces.js';
import type { Config } from '../config/schema.js';
import {
  parseCommand,
  parseInteger,
  parseNumber,
  progressReporter,
  round,
  type CommandContext,
  type Io,
} from './args.js';

export const EVAL_USAGE = `Usage: facegate eval --pairs FILE --root DIR [options]
       facegate eval --openset --manifest FILE --root DIR [options]

Verification (--pairs, a TSV with columns file1, file2, same): accuracy at the threshold, the
LFW 10-fold protocol (threshold chosen on 9 folds, tested on the 10th), equal error rate, TAR at
FAR 1e-2 and 1e-3, and how many images had no usable face (such pairs count as rejected).

Open set (--openset, a TSV with columns path, identity): identities with two or more images are
enrolled from one photo and probed with the others; single-image identities probe as strangers.
Reports rank-1 accuracy and TPIR at FPIR 1e-2 and 1e-3.

Faces are found and encoded as the daemon would (detector.*, recognition.mirror): the first
photo of a pair, and the open set's gallery, as enrolled (with the mirror image); the second
photo, and the probes, as live faces (recognition.mirror: always, never, or near-threshold, which
mirrors only faces within recognition.mirrorBand of the threshold given here). A setting that
encodes live faces once gives other distances, and needs its own threshold.

Options:
  --root DIR          folder the paths in FILE are relative to
  --prefix P          only rows whose paths start with P (e.g. lfw-dev/)
  --select MODE       central (default: the face nearest the image centre, as datasets are cut)
                      or largest
  --crop MODE         aligned (default) or box (plain box crop, for comparison)
  --threshold T       decision threshold to report at (default: match.threshold, or the encoder's own:
                      pairs dlib ${ENCODER_THRESHOLDS.dlib}, mobilefacenet ${ENCODER_THRESHOLDS.mobilefacenet}; open set, the door's, dlib
                      ${DOOR_THRESHOLDS.dlib}, mobilefacenet ${DOOR_THRESHOLDS.mobilefacenet})
  --gate              drop faces that fail the quality gates (counted as without a usable face)
  --grayscale         encode grayscale versions of the photos (a monochrome or infrared camera)
  --plot OUT.png      ROC curve and distance histograms (verification)
  --enroll-images K   open set: enroll K photos per identity (default 1, one-shot)
  --aggregate MODE    open set with K > 1: mean (mean embedding, default) or best (nearest photo)
  --gallery-size N    open set: enroll only the first N identities (by name); the rest are strangers
  --relabel FILE      open set: corrected identities (path, identity), e.g. a dataset's known label
                      errors; the open set's strangers must be strangers
  --passes MODE       open set: also decide passes in front of the door as the daemon does (votes,
                      and fusion when recognition.fusion is on), per pass: photos (a resident's
                      other photos as the frames of one pass: the optimistic bound) or jitter (each
                      probe photo as --jitter-frames frames shifted, scaled, turned, blurred, noisy
                      and JPEG-compressed: the pessimistic bound)
  --jitter-frames N   frames per jittered pass (default recognition.window)
  --grow              open set: also grow the gallery from door visits as
                      enrollment.doorCaptures would (each resident's photos but the last, and half
                      of the strangers, in a random order), then search the residents' last photos
                      and the other strangers in the gallery as enrolled and as grown; reports the
                      captures, those of the wrong person (drift), and TPIR before and after
  --impostors N       pairs: also TAR at FAR 1e-3 and 1e-4 with N more different-person pairs drawn
                      from the pairs' photos, identities from --manifest FILE (path, identity)
  --json              one JSON object instead of a table
  -h, --help          this text`;

export type EvalSetup = {
  root: string;
  prefix: string;
  select: FaceSelection;
  crop: 'aligned' | 'box';
  gate: boolean;
  /** Encode grayscale versions of the photos, as a monochrome or infrared camera sees faces. */
  grayscale: boolean;
  json: boolean;
};

export function evalSetup(values: Record<string, string | boolean | undefined>): EvalSetup {
  const root = values.root;
  if (typeof root !== 'string') throw new FacegateError('USAGE', '--root DIR is required');
  const select = (values.select as string | undefined) ?? 'central';
  if (select !== 'central' && select !== 'largest')
    throw new FacegateError('USAGE', `--select must be central or largest, not "${select}"`);
  const crop = (values.crop as string | undefined) ?? 'aligned';
  if (crop !== 'aligned' && crop !== 'box')
    throw new FacegateError('USAGE', `--crop must be aligned or box, not "${crop}"`);
  return {
    root,
    prefix: (values.prefix as string | undefined) ?? '',
    select,
    crop,
    gate: values.gate === true,
    grayscale: values.grayscale === true,
    json: values.json === true,
  };
}

export const EVAL_SETUP_OPTIONS = {
  root: { type: 'string' },
  prefix: { type: 'string' },
  select: { type: 'string' },
  crop: { type: 'string' },
  gate: { type: 'boolean' },
  grayscale: { type: 'boolean' },
  json: { type: 'boolean' },
} as const;

/** The open set's options that facegate calibrate --openset shares. */
export const OPENSET_OPTIONS = {
  openset: { type: 'boolean' },
  manifest: { type: 'string' },
  'gallery-size': { type: 'string' },
  relabel: { type: 'string' },
  passes: { type: 'string' },
  'jitter-frames': { type: 'string' },
} as const;

/** What OPENSET_OPTIONS say: the labelled photos (relabelled), the gallery size, and the pass mode. */
export function opensetInputs(
  values: { manifest?: string; relabel?: string; 'gallery-size'?: string; passes?: string },
  setup: EvalSetup,
): { images: LabelledImage[]; gallerySize: number; passMode: PassMode | undefined } {
  if (!values.manifest) throw new FacegateError('USAGE', '--openset needs --manifest FILE');
  return {
    images: relabelled(readManifestTsv(values.manifest, setup.prefix), values.relabel),
    gallerySize: parseNumber('gallery-size', values['gallery-size'], Infinity),
    passMode: passModeOf(values.passes),
  };
}

/**
 * The photos encoded as enrolled and as live faces, as recognition.mirror says (EvalEncodings);
 * `threshold` is the one whose neighbourhood 'near-threshold' mirrors.
 */
export async function embedForEval(
  engine: FaceEngine,
  setup: EvalSetup,
  paths: string[],
  config: Config,
  threshold: number,
  io: Io,
): Promise<EvalEncodings> {
  if (!paths.length)
    throw new FacegateError('USAGE', `no images under ${setup.root} match prefix "${setup.prefix}"`);
  const { mirror, mirrorBand } = config.recognition;
  const enrolled = await embedFiles(engine, setup.root, paths, {
    select: setup.select,
    crop: setup.crop,
    detector: config.detector,
    keepOnePass: mirror !== 'always',
    grayscale: setup.grayscale,
    ...(setup.gate ? { gates: config.quality } : {}),
    onProgress: progressReporter('encoding', io),
  });
  if (mirror === 'always') return { enrolled, live: enrolled };
  const live = onePassOf(enrolled);
  if (mirror === 'never') return { enrolled, live };
  return {
    enrolled,
    live,
    mirrorNear: (nearest) => nearDecision(nearest, threshold, 0, mirrorBand),
  };
}

export async function evalCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values } = parseCommand(
    argv,
    {
      ...EVAL_SETUP_OPTIONS,
      ...OPENSET_OPTIONS,
      pairs: { type: 'string' },
      threshold: { type: 'string' },
      plot: { type: 'string' },
      'enroll-images': { type: 'string' },
      aggregate: { type: 'string' },
      impostors: { type: 'string' },
      grow: { type: 'boolean' },
    },
    EVAL_USAGE,
  );
  if (values.help) {
    io.out(EVAL_USAGE);
    return 0;
  }
  const setup = evalSetup(values);
  // A door's threshold for the open set, one comparison's for pairs (faces.ts).
  const threshold = parseNumber(
    'threshold',
    values.threshold,
    (values.openset ? doorThreshold : matchThreshold)(config),
  );
  const engine = await ctx.engine();
  const settings = {
    select: setup.select,
    crop: setup.crop,
    gate: setup.gate,
    grayscale: setup.grayscale,
    prefix: setup.prefix,
    mirror: config.recognition.mirror,
    ...(config.recognition.mirror === 'near-threshold' ? { mirrorBand: config.recognition.mirrorBand } : {}),
  };

  if (values.openset) {
    const { images, gallerySize, passMode } = opensetInputs(values, setup);
    const files = await embedForEval(
      engine,
      setup,
      images.map((i) => i.path),
      config,
      threshold,
      io,
    );
    const enrollImages = parseInteger('enroll-images', values['enroll-images'], 1);
    const aggregation = values.aggregate ?? 'mean';
    if (aggregation !== 'best' && aggregation !== 'mean')
      throw new FacegateError('USAGE', `--aggregate must be best or mean, not "${aggregation}"`);
    const split = { enrollImages, aggregation, gallerySize } as const;
    const report = await opensetReport(images, files, threshold, split);
    const built =
      passMode &&
      (await openSetPasses(
        passMode,
        { engine, setup, images, files, split, config, io },
        values['jitter-frames'],
      ));
    const passes = built && passReport(built.gallery, built.passes, built.rule, threshold);
    const withPasses = passes ? { passes: { mode: passMode, ...passes } } : {};
    const growth = values.grow ? openSetGrowth({ images, files, split, config }, threshold) : undefined;
    io.out(
      setup.json
        ? JSON.stringify({
            mode: 'openset',
            ...settings,
            ...report,
            ...withPasses,
            ...(growth ? { growth } : {}),
          })
        : [
            opensetTable(report),
            ...(passes ? [passTable(passMode, passes)] : []),
            ...(growth ? [growthTable(growth)] : []),
          ].join('\n'),
    );
    return 0;
  }
  if (!values.pairs)
    throw new FacegateError('USAGE', `--pairs FILE or --openset is required\n\n${EVAL_USAGE}`);
  const pairs = readPairs(values.pairs, setup.prefix);
  const extra = values.impostors === undefined ? undefined : extraImpostors(values, pairs, setup.prefix);
  const files = await embedForEval(
    engine,
    setup,
    pairs.flatMap((p) => [p.file1, p.file2]),
    config,
    threshold,
    io,
  );
  const report = verificationReport(pairs, files, threshold);
  const withExtra = extra && extraImpostorReport(pairs, extra, files);
  if (values.plot) {
    await writeEvaluationPlot(values.plot, {
      roc: report.roc,
      scored: report.scored,
      threshold,
      title: `${values.pairs} ${setup.prefix} (${setup.crop}, ${setup.select}): 10-fold ${(100 * report.tenFold.mean).toFixed(2)}%`,
    });
  }
  const { scored: _scored, roc: _roc, ...summary } = report;
  io.out(
    setup.json
      ? JSON.stringify({
          mode: 'pairs',
          ...settings,
          ...summary,
          ...(withExtra ? { extraImpostors: withExtra } : {}),
        })
      : [verificationTable(report), ...(withExtra ? [extraImpostorTable(withExtra)] : [])].join('\n'),
  );
  return 0;
}

/** --impostors N: N more different-person pairs from the pairs' photos, by --manifest's identities. */
function extraImpostors(
  values: { impostors?: string; manifest?: string },
  pairs: readonly LabelledPair[],
  prefix: string,
): LabelledPair[] {
  const count = parseInteger('impostors', values.impostors, 0, 1);
  if (!values.manifest)
    throw new FacegateError('USAGE', '--impostors needs --manifest FILE for the identities');
  const identities = new Map(readManifestTsv(values.manifest, prefix).map((i) => [i.path, i.identity]));
  return extraImpostorPairs(pairs, identities, count);
}

export type PassMode = 'photos' | 'jitter';

export function passModeOf(value: string | undefined): PassMode | undefined {
  if (value !== undefined && value !== 'photos' && value !== 'jitter')
    throw new FacegateError('USAGE', `--passes must be photos or jitter, not "${value}"`);
  return value;
}

/** What an open-set evaluation has encoded, for its passes. */
export type OpensetContext = {
  engine: FaceEngine;
  setup: EvalSetup;
  images: readonly LabelledImage[];
  files: EvalEncodings;
  split: OpensetOptions;
  config: Config;
  io: Io;
};

/** The passes of --passes MODE, the gallery they face, and the daemon's rule for them (eval/passes.ts). */
export async function openSetPasses(
  mode: PassMode,
  c: OpensetContext,
  jitterFrames?: string,
): Promise<{ gallery: GalleryEntry[]; passes: Pass[]; rule: PassRule }> {
  const { enrolled, mated, nonMated } = opensetSplit(c.images, c.files, c.split);
  const probes = [...mated, ...nonMated];
  const passes =
    mode === 'photos'
      ? photoPasses(probes, c.files, c.config.recognition.minVotes)
      : await jitterPasses(c, probes, jitterFrames);
  const rule = {
    tracker: trackerOptionsFrom(c.config.recognition, ENCODER_THRESHOLDS[c.config.models.encoder]),
    minMargin: c.config.match.minMargin,
  };
  return { gallery: enrolled, passes, rule };
}

/** --grow: the gallery grown from door visits by the configured capture rule (eval/growth.ts). */
function openSetGrowth(
  c: Pick<OpensetContext, 'images' | 'files' | 'split' | 'config'>,
  threshold: number,
): GrowthReport {
  const { enrolled, mated, nonMated } = opensetSplit(c.images, c.files, c.split);
  return growthReport(enrolled, mated, nonMated, c.files.live, {
    threshold,
    minMargin: c.config.match.minMargin,
    aggregation: c.split.aggregation ?? 'mean',
    policy: { ...c.config.enrollment.doorCaptures, enabled: true },
  });
}

function growthTable(r: GrowthReport): string {
  const p = r.policy;
  const searched = (name: string, g: GrowthReport['grown']) =>
    `  ${name}`.padEnd(22) +
    [
      ...g.tpirAtFpir.map(
        (t) => `TPIR ${pct(t.tpir)} at FPIR ${t.fpir}${t.measurable ? '' : ' (not measurable)'}`,
      ),
      `at threshold ${round(r.threshold, 4)}: TPIR ${pct(g.tpirAtThreshold)}, FPIR ${pct(g.fpirAtThreshold)}`,
    ].join('; ');
  return [
    'door captures'.padEnd(22) +
      `${r.visits.residents} residents' visits and ${r.visits.strangers} strangers', in a random order; under ${p.maxDistance} x threshold, margin ${p.minMargin} x threshold, at most ${p.maxPerPerson} per person`,
    '  added'.padEnd(22) +
      `${r.captures.added} captures to ${r.captures.people} people; of the wrong person: ${r.captures.wrongPerson}`,
    '  then searched'.padEnd(22) +
      `${r.test.residents} residents' last photos; ${r.test.strangers} strangers (held out, and leave-one-out)`,
    searched('as enrolled', r.enrolled),
    searched('as grown', r.grown),
  ].join('\n');
}

/** The open set's probe photos: residents' and strangers'. */
type Probes = readonly { identity: string; path: string }[];

const asFrame = (face: Face) => ({ embedding: face.embedding, weight: face.quality.score });

/**
 * --passes photos: each person's probe photos (live encodings) as the frames of one pass, for
 * people with at least `minFrames` of them (fewer could never gather the votes).
 */
function photoPasses(probes: Probes, files: EvalEncodings, minFrames: number): Pass[] {
  const byIdentity = new Map<string, Face[]>();
  for (const { identity, path } of probes) {
    const f = files.live.get(path);
    if (f?.ok) byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), f.face]);
  }
  return [...byIdentity]
    .filter(([, faces]) => faces.length >= minFrames)
    .map(([identity, faces]) => ({ identity, frames: faces.map(asFrame) }));
}

/** --passes jitter: every probe photo as one pass of jittered frames. */
async function jitterPasses(
  { engine, setup, config, io }: OpensetContext,
  probes: Probes,
  framesOption: string | undefined,
): Promise<Pass[]> {
  const count = parseInteger('jitter-frames', framesOption, config.recognition.window, 1);
  const faces = await embedJittered(
    engine,
    setup.root,
    probes.map((p) => p.path),
    count,
    {
      select: setup.select,
      crop: setup.crop,
      detector: config.detector,
      mirror: config.recognition.mirror === 'always',
      grayscale: setup.grayscale,
      onProgress: progressReporter('jittered passes', io),
    },
  );
  return probes.map(({ identity, path }) => ({ identity, frames: (faces.get(path) ?? []).map(asFrame) }));
}

function passTable(mode: string, r: PassReport): string {
  return [
    `passes (${mode})`.padEnd(22) +
      `${r.matedPasses} residents, ${r.strangerPasses} strangers (leave-one-out included); ${round(r.framesPerPass, 1)} frames per pass`,
    ...r.variants.map(
      (v) =>
        `  ${v.variant}`.padEnd(22) +
        [
          ...v.tpirAtFpir.map(
            (t) => `TPIR ${pct(t.tpir)} at FPIR ${t.fpir}${t.measurable ? '' : ' (not measurable)'}`,
          ),
          `at threshold ${round(r.threshold, 4)}: TPIR ${pct(v.tpirAtThreshold)}, FPIR ${pct(v.fpirAtThreshold)}`,
        ].join('; '),
    ),
  ].join('\n');
}

function extraImpostorTable(r: ReturnType<typeof extraImpostorReport>): string {
  return r.tarAtFar
    .map(
      (t) =>
        `TAR at FAR ${t.far}`.padEnd(22) +
        `${pct(t.tar)} (threshold ${round(t.threshold, 4)}; ${r.impostorPairs} different pairs)${t.measurable ? '' : unmeasurable(t.far, r.impostorPairs, 'different pairs')}`,
    )
    .join('\n');
}

const pct = (v: number): string => `${(100 * v).toFixed(2)}%`;

/** What a rate measured from too few impostor comparisons rests on (evaluate.ts: measurable). */
export const unmeasurable = (rate: number, comparisons: number, what: string): string =>
  `; not measurable: ${comparisons} ${what} for ${rate}, about ${Math.ceil(3 / rate)} needed`;

function verificationTable(r: VerificationReport): string {
  const wf = r.withoutFace;
  return [
    `pairs                 ${r.pairs} (${r.samePairs} same, ${r.differentPairs} different)`,
    `images                ${r.images}; without a usable face: ${wf['no face']} no face, ${wf.unreadable} unreadable, ${wf.gated} gated (${r.pairsWithoutFace} pairs)`,
    `mirror pass           on the live face of ${r.liveMirrored} of ${r.pairs} pairs`,
    `at threshold ${round(r.threshold, 4)}`.padEnd(22) +
      `accuracy ${pct(r.accuracyAtThreshold)}, TAR ${pct(r.tarAtThreshold)}, FAR ${pct(r.farAtThreshold)}`,
    `10-fold accuracy      ${pct(r.tenFold.mean)} +- ${pct(r.tenFold.std)}`,
    `equal error rate      ${pct(r.equalErrorRate)} at ${round(r.eerThreshold, 4)}`,
    ...r.tarAtFar.map(
      (t) =>
        `TAR at FAR ${t.far}`.padEnd(22) +
        `${pct(t.tar)} (threshold ${round(t.threshold, 4)})${t.measurable ? '' : unmeasurable(t.far, r.differentPairs, 'different pairs')}`,
    ),
  ].join('\n');
}

function opensetTable(r: OpensetReport): string {
  return [
    `enrolled              ${r.identitiesEnrolled} identities, ${r.enrollImages === 1 ? 'one photo each' : `${r.enrollImages} photos each (${r.aggregation})`} (${r.enrollmentWithoutFace} had no usable face)`,
    `probes                ${r.matedProbes} mated, ${r.nonMatedProbes} strangers; ${r.probesWithoutFace} without a usable face`,
    `mirror pass           on ${r.liveMirrored} of ${r.matedProbes + r.nonMatedProbes} probes`,
    `rank-1 accuracy       ${pct(r.rank1)}`,
    `at threshold ${round(r.threshold, 4)}`.padEnd(22) +
      `TPIR ${pct(r.tpirAtThreshold)}, FPIR ${pct(r.fpirAtThreshold)}`,
    ...r.tpirAtFpir.map(
      (t) =>
        `TPIR at FPIR ${t.fpir}`.padEnd(22) +
        `${pct(t.tpir)} (threshold ${round(t.threshold, 4)})${t.measurable ? '' : unmeasurable(t.fpir, r.nonMatedProbes, 'stranger probes')}`,
    ),
    `leave-one-out         ${r.leaveOneOut.strangerProbes} strangers: each resident's probe too, that resident left out`,
    ...r.leaveOneOut.tpirAtFpir.map(
      (t) =>
        `  TPIR at FPIR ${t.fpir}`.padEnd(22) +
        `${pct(t.tpir)} (threshold ${round(t.threshold, 4)})${t.measurable ? '' : unmeasurable(t.fpir, r.leaveOneOut.strangerProbes, 'stranger probes')}`,
    ),
  ].join('\n');
}
