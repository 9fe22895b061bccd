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
  splitIdentities,
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
  const engine = await FaceEngine.open();
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
  for (const [name, data] of Object.entries(sets)) {
    const [pool, test] = splitIdentities(data, 0.3, SEED);
    const [train, val] = splitIdentities(pool, 0.2, SEED + 1);
    for (const v of variants) {
      if (!v.loss) {
        t.add(name, v.label, ...figures(evaluateHead(undefined, test, SEED)), '', '', '');
        continue;
      }
      const options = {
        ...defaultsFor(v.loss, v.hidden),
        ...(v.mining ? { mining: v.mining } : {}),
        seed: SEED,
      };
      const r = trainHead(train, val, options);
      const f = evaluateHead(r.head, test, SEED);
      const perEpoch = r.history.reduce((s, h) => s + h.seconds, 0) / r.history.length;
      t.add(
        name,
        v.label,
        ...figures(f),
        `${r.bestEpoch} (${pct(r.valTarBefore)} -> ${pct(r.history[r.bestEpoch - 1]!.valTar)})`,
        pct(r.history.at(-1)!.valTar),
        perEpoch.toFixed(3),
      );
    }
  }
  const [pool] = splitIdentities(sets.colour!, 0.3, SEED);
  const [train] = splitIdentities(pool, 0.2, SEED + 1);
  return `${t.toString()}\n\nTraining identities: ${new Set(train.labels).size} (${train.labels.length} photos); an epoch is one pass over those with two photos or more.`;
}

if (process.argv[1] === import.meta.filename) console.log(await benchTraining());
