// `make bench` (training part), and the measurement issue 8 asks for: on ../shared/faces/lfw-dev,
// identities split 70/30 with a fixed seed (the 70% split again 80/20 into train and validation),
// TAR at FAR 1e-3 and 10-fold accuracy on the held-out 30% for the plain distance, the triplet
// head with hard, semi-hard and random negatives, and the binary head; then the same on grayscale
// versions (a head trained on grayscale training identities). Also training time per epoch.
// Embeddings are cached in state/ (a first run encodes 5,526 photos twice: a few minutes).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readManifestTsv } from '../src/eval/datasets.js';
import { FaceEngine } from '../src/inference/faces.js';
import { embedLabelled } from '../src/training/data.js';
import type { Mining } from '../src/training/losses.js';
import {
  defaultsFor,
  evaluateHead,
  measurementPairs,
  splitForTraining,
  trainHead,
  type HeadKind,
  type LabelledEmbeddings,
  type VerificationFigures,
} from '../src/training/train.js';
import { SHARED_FACES } from '../test/helpers/fixtures.js';
import { Table } from './harness.js';

const SEED = 1;
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const figures = (f: VerificationFigures) => [
  pct(f.tar1e3),
  pct(f.tar1e2),
  `${pct(f.tenFold.mean)} +- ${pct(f.tenFold.std)}`,
];

export async function benchTraining(): Promise<string> {
  const images = readManifestTsv(join(SHARED_FACES, 'MANIFEST.tsv'), 'lfw-dev/');
  // dlib's embeddings, as every training figure in bench/RESULTS.md so far.
  const engine = await FaceEngine.open({ encoder: 'dlib' });
  mkdirSync('state', { recursive: true });
  const sets: Record<string, LabelledEmbeddings> = {};
  for (const grayscale of [false, true]) {
    sets[grayscale ? 'grayscale' : 'colour'] = await embedLabelled(engine, SHARED_FACES, images, {
      cacheFile: join('state', `train-embeddings-lfw-dev${grayscale ? '-gray' : ''}.json`),
      grayscale,
    });
  }
  await engine.release();

  const variants: {
    label: string;
    loss?: HeadKind;
    mining?: Mining;
    hidden?: number;
  }[] = [
    { label: '(a) plain distance (unit-length embeddings)' },
    { label: '(b) triplet head, hard negatives', loss: 'triplet', mining: 'hard' },
    { label: '(b2) triplet head, semi-hard negatives', loss: 'triplet', mining: 'semi-hard' },
    { label: '(c) triplet head, random negatives', loss: 'triplet', mining: 'random' },
    {
      label: '(b3) triplet head, MLP 128-256-128 from random weights, hard',
      loss: 'triplet',
      mining: 'hard',
      hidden: 256,
    },
    { label: '(d) binary head', loss: 'binary' },
  ];
  const t = new Table([
    'photos',
    'comparator',
    'held-out TAR @ FAR 1e-3',
    'TAR @ FAR 1e-2',
    '10-fold accuracy',
    'best epoch (val TAR)',
    'val TAR at the last epoch',
    'training s / epoch',
  ]);
  let trainingIdentities = '';
  for (const [name, data] of Object.entries(sets)) {
    // The split of `facegate train --test-fraction 0.3` (default --val-fraction 0.2, --seed 1).
    const { train, val, test } = splitForTraining(data, { testFraction: 0.3, valFraction: 0.2, seed: SEED });
    if (!test) throw new Error('no held-out identities');
    trainingIdentities ||= `${new Set(train.labels).size} (${train.labels.length} photos)`;
    const testPairs = measurementPairs(test.labels, SEED);
    for (const v of variants) {
      if (!v.loss) {
        t.add(name, v.label, ...figures(evaluateHead(undefined, test, SEED, testPairs)), '', '', '');
        continue;
      }
      const options = {
        ...defaultsFor(v.loss, v.hidden),
        ...(v.mining ? { mining: v.mining } : {}),
        seed: SEED,
      };
      const r = trainHead(train, val, options);
      const f = evaluateHead(r.head, test, SEED, testPairs);
      const perEpoch = r.history.reduce((s, h) => s + h.seconds, 0) / r.history.length;
      t.add(
        name,
        v.label,
        ...figures(f),
        `${r.bestEpoch} (${pct(r.valTarBefore)} -> ${pct(r.validation.tar1e3)})`,
        pct(r.history.at(-1)!.valTar),
        perEpoch.toFixed(3),
      );
    }
  }
  return `${t.toString()}\n\nTraining identities: ${trainingIdentities}; an epoch is one pass over those with two photos or more.`;
}

if (process.argv[1] === import.meta.filename) console.log(await benchTraining());
