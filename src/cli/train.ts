// facegate train: learns a comparison head on the frozen encoder's embeddings (triplet loss with
// mining inside mini-batches, or the binary same/different head), exports it as ONNX with its
// manifest, and with --test-fraction measures it on identities it never saw, against the plain
// distance. Progress per epoch on stderr; --report writes curves, ROC and a summary.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifestTsv } from '../eval/datasets.js';
import { measurable } from '../eval/evaluate.js';
import { rocCurve } from '../eval/metrics.js';
import { writeRocComparison, writeTrainingCurves } from '../eval/plot.js';
import { FacegateError } from '../errors.js';
import { embedLabelled, listIdentityFolders } from '../training/data.js';
import { writeHead } from '../training/export.js';
import { MINING, type Mining, type Pair } from '../training/losses.js';
import {
  DEFAULT_TRAIN_OPTIONS,
  defaultsFor,
  evaluateHead,
  measurementPairs,
  pairDistances,
  splitForTraining,
  trainHead,
  type Head,
  type LabelledEmbeddings,
  type TrainOptions,
  type VerificationFigures,
} from '../training/train.js';
import { parseCommand, parseInteger, parseNumber, type CommandContext } from './args.js';

const D = DEFAULT_TRAIN_OPTIONS;

export const TRAIN_USAGE = `Usage: facegate train (--data DIR | --manifest FILE --root DIR) --out FILE.onnx [options]

Learns how to compare faces on top of the frozen encoder: every photo is detected, aligned and
encoded once (cached), then a small head is trained on the embeddings and written as FILE.onnx
with FILE.onnx.json (kind, encoder, threshold for FAR 1e-3 on validation). Use it in the daemon
with match.comparator and match.headFile (docs/recognition.md).

Data:
  --data DIR             one sub-folder of photos per identity
  --manifest FILE        or a TSV with path and identity columns, paths under --root DIR
  --prefix P             only manifest paths starting with P (e.g. lfw-dev/)
  --grayscale            train and evaluate on grayscale versions (monochrome / infrared cameras)
  --cache FILE           embedding cache (default: <stateDir>/train-embeddings[-gray].json)
Head:
  --loss triplet|binary  triplet loss on a projection (default), or a same/different head
  --mining hard|semi-hard|random   negatives for the triplet loss (default ${D.mining})
  --margin A             triplet margin alpha on unit-length projections (default ${D.margin})
  --hidden N             hidden units: 0 = linear projection (triplet default); binary default 64
  --out-dim N            projection width (default: the embedding's, 128 dlib, 192 mobilefacenet)
Training:
  --batch-identities P   identities per mini-batch (default ${D.identitiesPerBatch})
  --batch-images K       photos per identity (default ${D.imagesPerIdentity})
  --epochs N             (default ${D.epochs}); the epoch with the best validation TAR is kept
  --lr R                 Adam learning rate (default ${D.learningRate}; binary ${defaultsFor('binary').learningRate})
  --weight-decay W       L2 pull of the weights toward their start (triplet, default ${D.weightDecay}) or
                         toward zero (binary, default ${defaultsFor('binary').weightDecay})
  --seed S               split, batches and initialisation (default ${D.seed})
  --val-fraction F       identities held for validation (default 0.2)
  --test-fraction F      identities held out before anything, to measure the head (default 0)
Output:
  --out FILE.onnx        the head
  --report DIR           curves.png, roc.png and summary.md
  --json                 the result as JSON on stdout`;

function percent(v: number): string {
  return `${(100 * v).toFixed(2)}%`;
}

function figuresLine(label: string, f: VerificationFigures): string {
  // A rate from fewer than 3/rate impostor pairs is chance's (evaluate.ts: measurable).
  const mark = (rate: number) => (measurable(rate, f.impostors) ? '' : '*');
  return `${label.padEnd(24)} TAR@1e-3 ${percent(f.tar1e3).padStart(7)}${mark(1e-3)}  TAR@1e-2 ${percent(f.tar1e2).padStart(7)}${mark(1e-2)}  10-fold ${percent(f.tenFold.mean)} +- ${percent(f.tenFold.std)}`;
}

/** The footnote for figuresLine's '*', when one was given. */
function unmeasurableNote(figures: VerificationFigures[]): string[] {
  const fewest = Math.min(...figures.map((f) => f.impostors));
  if (measurable(1e-3, fewest)) return [];
  return [`* not measurable: ${fewest} different-person pairs, and a rate R needs about 3/R of them`];
}

export async function trainCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values } = parseCommand(
    argv,
    {
      data: { type: 'string' },
      manifest: { type: 'string' },
      root: { type: 'string' },
      prefix: { type: 'string' },
      grayscale: { type: 'boolean' },
      cache: { type: 'string' },
      loss: { type: 'string' },
      mining: { type: 'string' },
      margin: { type: 'string' },
      hidden: { type: 'string' },
      'out-dim': { type: 'string' },
      'batch-identities': { type: 'string' },
      'batch-images': { type: 'string' },
      epochs: { type: 'string' },
      lr: { type: 'string' },
      'weight-decay': { type: 'string' },
      seed: { type: 'string' },
      'val-fraction': { type: 'string' },
      'test-fraction': { type: 'string' },
      out: { type: 'string' },
      report: { type: 'string' },
      json: { type: 'boolean' },
    },
    TRAIN_USAGE,
  );
  if (values.help) {
    io.out(TRAIN_USAGE);
    return 0;
  }
  if (!values.out) throw new FacegateError('USAGE', `--out FILE.onnx is required\n\n${TRAIN_USAGE}`);
  if (!values.data === !values.manifest)
    throw new FacegateError('USAGE', `give --data DIR or --manifest FILE\n\n${TRAIN_USAGE}`);
  if (values.manifest && !values.root) throw new FacegateError('USAGE', '--manifest needs --root DIR');
  const loss = values.loss ?? 'triplet';
  if (loss !== 'triplet' && loss !== 'binary')
    throw new FacegateError('USAGE', `--loss must be triplet or binary, not "${loss}"`);
  const mining = values.mining ?? D.mining;
  if (!(MINING as readonly string[]).includes(mining))
    throw new FacegateError('USAGE', `--mining must be one of ${MINING.join(', ')}, not "${mining}"`);
  const fraction = (name: string, v: string | undefined, fallback: number) => {
    const n = parseNumber(name, v, fallback);
    if (!(n >= 0 && n < 1)) throw new FacegateError('USAGE', `--${name} must be in [0, 1)`);
    return n;
  };
  const hidden =
    values.hidden === undefined
      ? undefined
      : parseInteger('hidden', values.hidden, 0, loss === 'binary' ? 1 : 0);
  const d = defaultsFor(loss, hidden);
  const options: TrainOptions = {
    loss,
    mining: mining as Mining,
    margin: parseNumber('margin', values.margin, D.margin),
    identitiesPerBatch: parseInteger('batch-identities', values['batch-identities'], D.identitiesPerBatch, 2),
    imagesPerIdentity: parseInteger('batch-images', values['batch-images'], D.imagesPerIdentity, 2),
    epochs: parseInteger('epochs', values.epochs, D.epochs, 1),
    learningRate: parseNumber('lr', values.lr, d.learningRate),
    weightDecay: parseNumber('weight-decay', values['weight-decay'], d.weightDecay),
    hidden: d.hidden,
    outDim: values['out-dim'] === undefined ? D.outDim : parseInteger('out-dim', values['out-dim'], 0, 1),
    seed: parseInteger('seed', values.seed, D.seed, 0),
  };
  const valFraction = fraction('val-fraction', values['val-fraction'], 0.2);
  const testFraction = fraction('test-fraction', values['test-fraction'], 0);
  const grayscale = values.grayscale ?? false;

  const root = values.data ?? values.root!;
  const images = values.manifest
    ? readManifestTsv(values.manifest, values.prefix ?? '')
    : listIdentityFolders(root);
  const engine = await ctx.engine();
  const cacheFile = values.cache ?? join(config.stateDir, `train-embeddings${grayscale ? '-gray' : ''}.json`);
  mkdirSync(join(cacheFile, '..'), { recursive: true });
  let lastShown = 0;
  const data = await embedLabelled(engine, root, images, {
    cacheFile,
    grayscale,
    analyze: { detector: config.detector },
    onProgress: (done, total) => {
      if (done === total || Date.now() - lastShown > 2000) {
        lastShown = Date.now();
        io.err(`encoding ${done}/${total} photos`);
      }
    },
  });
  io.err(
    `${data.embeddings.length} embedded (${data.encoded} encoded now, the rest from ${cacheFile}), ${data.missing.length} without a face or unreadable`,
  );

  const { train, val, test } = splitForTraining(data, { testFraction, valFraction, seed: options.seed });
  const ids = (d: LabelledEmbeddings) => new Set(d.labels).size;
  io.err(
    `identities: ${ids(train)} train, ${ids(val)} validation${test ? `, ${ids(test)} held out` : ''}; ${loss} head${loss === 'triplet' ? `, ${mining} negatives` : ''}`,
  );

  const result = trainHead(train, val, options, (r) =>
    io.err(
      `epoch ${String(r.epoch).padStart(3)}/${options.epochs}  loss ${r.loss.toFixed(4)}  ${loss === 'triplet' ? 'active triplets' : 'misclassified pairs'} ${percent(r.activeFraction).padStart(7)}  val TAR@1e-3 ${percent(r.valTar)}  (${r.seconds.toFixed(1)} s)`,
    ),
  );
  const valFigures = result.validation;
  const manifest = writeHead(values.out, result.head, {
    encoder: engine.encoderId,
    threshold: valFigures.threshold1e3,
    thresholdFar: 1e-3,
    trained: {
      ...options,
      data: values.manifest ?? root,
      grayscale,
      photos: data.embeddings.length,
      identities: { train: ids(train), validation: ids(val), heldOut: test ? ids(test) : 0 },
      bestEpoch: result.bestEpoch,
      validation: { before: result.valTarBefore, after: valFigures.tar1e3 },
    },
  });
  io.err(
    `best epoch ${result.bestEpoch}: validation TAR@1e-3 ${percent(result.valTarBefore)} -> ${percent(valFigures.tar1e3)}; wrote ${values.out} (+ .json)`,
  );

  // Held-out identities if any, else validation: measured on one set of pairs for every curve.
  const evalSet = test ?? val;
  const evalPairs = measurementPairs(evalSet.labels, options.seed);
  const heldOut = test
    ? {
        before: evaluateHead(undefined, test, options.seed, evalPairs),
        after: evaluateHead(result.head, test, options.seed, evalPairs),
      }
    : undefined;
  if (heldOut && !values.json) {
    io.out(figuresLine('held out, plain distance', heldOut.before));
    io.out(figuresLine(`held out, ${loss} head`, heldOut.after));
    for (const note of unmeasurableNote([heldOut.before, heldOut.after])) io.out(note);
  }
  if (values.report)
    await writeReport(values.report, result, evalSet, evalPairs, options, heldOut, data.missing.length);
  if (values.json) io.out(JSON.stringify({ out: values.out, manifest, history: result.history, heldOut }));
  return 0;
}

async function writeReport(
  dir: string,
  result: ReturnType<typeof trainHead>,
  evalSet: LabelledEmbeddings,
  pairs: readonly Pair[],
  options: TrainOptions,
  heldOut: { before: VerificationFigures; after: VerificationFigures } | undefined,
  missing: number,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const h = result.history;
  await writeTrainingCurves(join(dir, 'curves.png'), `${options.loss} head training`, [
    { label: 'loss', values: h.map((r) => r.loss) },
    {
      label: options.loss === 'triplet' ? 'active triplets' : 'misclassified pairs',
      values: h.map((r) => r.activeFraction),
    },
    { label: 'validation TAR @ FAR 1e-3', values: h.map((r) => r.valTar) },
  ]);
  const roc = (head: Head | undefined) => {
    const distances = pairDistances(head, evalSet, pairs);
    return rocCurve(pairs.map((p, i) => ({ distance: distances[i]!, same: p.same })));
  };
  const which = heldOut ? 'held-out identities' : 'validation identities';
  await writeRocComparison(join(dir, 'roc.png'), `ROC on ${which}`, [
    { label: 'plain distance', roc: roc(undefined) },
    { label: `${options.loss} head`, roc: roc(result.head) },
  ]);
  const row = (label: string, f: VerificationFigures) =>
    `| ${label} | ${percent(f.tar1e3)} | ${percent(f.tar1e2)} | ${percent(f.tenFold.mean)} +- ${percent(f.tenFold.std)} |`;
  const lines = [
    `# ${options.loss} head`,
    '',
    `Options: ${JSON.stringify(options)}. Photos without a face: ${missing}.`,
    `Best epoch ${result.bestEpoch} of ${h.length}: validation TAR at FAR 1e-3 ${percent(result.valTarBefore)} (plain distance) -> ${percent(result.validation.tar1e3)}.`,
    '',
    ...(heldOut
      ? [
          `Held-out identities (${heldOut.before.genuine} genuine pairs, ${heldOut.before.impostors} impostor pairs):`,
          '',
          '| comparator | TAR @ FAR 1e-3 | TAR @ FAR 1e-2 | 10-fold accuracy |',
          '| --- | --- | --- | --- |',
          row('plain distance', heldOut.before),
          row(`${options.loss} head`, heldOut.after),
          '',
        ]
      : []),
    '![training curves](curves.png)',
    '',
    `![ROC before and after](roc.png)`,
    '',
  ];
  writeFileSync(join(dir, 'summary.md'), lines.join('\n'));
}
