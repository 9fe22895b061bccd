// `make bench` (privacy part): what encryption at rest costs. A gallery of N people (one 2 KB
// "photo" and one 192-float embedding each, MobileFaceNet's size) written in one transaction,
// then read back as the daemon does at start (every embedding, opened when sealed) and turned
// into the matcher, and one face matched against it; with and without encryption, in the same
// process. Photos are random bytes: the store never decodes them on this path, and their size only
// sets how much is written and sealed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matcher } from '../src/gallery/matcher.js';
import type { FaceQuality } from '../src/vision/quality.js';
import { PrivateState } from '../src/privacy/state.js';
import { medianMs, Table } from './harness.js';

const DIM = 192;
const PHOTO_BYTES = 2048;
const quality = { score: 1 } as unknown as FaceQuality;

function unit(seed: number): Float32Array {
  const v = new Float32Array(DIM);
  let s = (seed + 1) >>> 0;
  for (let i = 0; i < DIM; i++) {
    // xorshift32: a distinct, repeatable direction per person
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    v[i] = (s >>> 0) / 2 ** 32 - 0.5;
  }
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

async function one(people: number, sealed: boolean, dir: string) {
  const stateDir = join(dir, `${people}-${sealed ? 'sealed' : 'plain'}`);
  let keyFile = '';
  if (sealed) {
    keyFile = join(dir, 'key');
    writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  const config = {
    encryption: { keyFile, credential: '' },
    snapshots: { keepSeconds: { match: 60, unknown: 60, spoof: 60 } },
  };
  let state = new PrivateState(config, stateDir);
  let store = state.gallery('bench');
  const photo = randomBytes(PHOTO_BYTES);
  const t0 = performance.now();
  store.write(() => {
    for (let i = 0; i < people; i++) {
      photo.writeUInt32LE(i, 0); // each photo its own
      store.putPerson(
        { id: `p${i}`, name: `Person ${i}` },
        [{ bytes: photo, source: `${i}.jpg`, embedding: unit(i), quality }],
        'bench',
      );
    }
  });
  const writeMs = performance.now() - t0;
  store.close();
  state.close();
  // As the daemon starts: open the state (the keyring unsealed), read every embedding, build.
  const t1 = performance.now();
  state = new PrivateState(config, stateDir);
  store = state.gallery('bench');
  const entries = store.entries('bench');
  const loadMs = performance.now() - t1;
  const t2 = performance.now();
  const matcher = await Matcher.create(entries);
  const buildMs = performance.now() - t2;
  const probe = unit(people >> 1);
  const matchMs = await medianMs(() => matcher.nearest(probe), { warmup: 3, runs: 20 });
  const found = (await matcher.nearest(probe))?.personId;
  await matcher.release();
  const fileMiB = statSync(join(stateDir, 'gallery.sqlite')).size / 1048576;
  store.close();
  state.close();
  rmSync(stateDir, { recursive: true, force: true });
  if (found !== `p${people >> 1}`) throw new Error(`bench: the probe matched ${found}`);
  return { writeMs, loadMs, buildMs, matchMs, fileMiB };
}

export async function benchPrivacy(sizes = [10_000, 100_000]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-privacy-'));
  const t = new Table([
    'people',
    'encryption',
    'enroll all, s',
    'load embeddings, ms',
    'build matcher, ms',
    'match one face, ms',
    'gallery file, MiB',
  ]);
  try {
    for (const people of sizes) {
      const rows = [];
      for (const sealed of [false, true]) rows.push({ sealed, ...(await one(people, sealed, dir)) });
      for (const r of rows)
        t.add(
          people,
          r.sealed ? 'AES-256-GCM' : 'off',
          (r.writeMs / 1000).toFixed(1),
          r.loadMs.toFixed(0),
          r.buildMs.toFixed(0),
          r.matchMs.toFixed(2),
          r.fileMiB.toFixed(0),
        );
      const [plain, sealed] = rows as [(typeof rows)[0], (typeof rows)[0]];
      t.add(
        people,
        'ratio sealed / plain',
        (sealed.writeMs / plain.writeMs).toFixed(2),
        (sealed.loadMs / plain.loadMs).toFixed(2),
        (sealed.buildMs / plain.buildMs).toFixed(2),
        (sealed.matchMs / plain.matchMs).toFixed(2),
        (sealed.fileMiB / plain.fileMiB).toFixed(2),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return t.toString();
}

if (process.argv[1] === import.meta.filename)
  console.log(
    await benchPrivacy(
      process.argv.slice(2).map(Number).filter(Boolean).length
        ? process.argv.slice(2).map(Number)
        : undefined,
    ),
  );
