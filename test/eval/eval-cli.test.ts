// facegate eval and calibrate end to end on small labelled sets: the deepface/faceapi pairs of
// ../shared/faces when present, and a pairs file made here from the sample photos everywhere.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { SHARED_FACES, sharedFacesAvailable } from '../helpers/fixtures.js';
import { faceCrop } from '../helpers/faces.js';

const haveShared = sharedFacesAvailable('facegate eval on ../shared/faces');
let dir: string;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** facegate eval on this test's pairs.tsv, with `args` added. */
const evalPairs = (...args: string[]) =>
  run('eval', '--pairs', join(dir, 'pairs.tsv'), '--root', dir, ...args);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-eval-'));
  // Three people, two photos each (the second resized and mirrored), plus a photo with no face.
  for (const i of [0, 1, 2] as const) {
    const crop = await faceCrop(i);
    writeFileSync(join(dir, `p${i}-a.png`), crop);
    writeFileSync(join(dir, `p${i}-b.png`), await sharp(crop).flop().resize(280).png().toBuffer());
  }
  await sharp({ create: { width: 200, height: 200, channels: 3, background: '#444' } })
    .png()
    .toFile(join(dir, 'empty.png'));
  const rows = ['file1\tfile2\tsame'];
  for (const i of [0, 1, 2]) rows.push(`p${i}-a.png\tp${i}-b.png\t1`);
  rows.push(
    'p0-a.png\tp1-b.png\t0',
    'p1-a.png\tp2-b.png\t0',
    'p2-a.png\tp0-b.png\t0',
    'empty.png\tp0-a.png\t1',
  );
  writeFileSync(join(dir, 'pairs.tsv'), rows.join('\n') + '\n');
  const manifest = [
    'path\tidentity',
    ...[0, 1, 2].flatMap((i) => [`p${i}-a.png\tperson${i}`, `p${i}-b.png\tperson${i}`]),
  ];
  writeFileSync(join(dir, 'manifest.tsv'), manifest.join('\n') + '\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('facegate eval', () => {
  it('reports verification figures and counts images without a face', async () => {
    const r = await evalPairs('--json', '--plot', join(dir, 'roc.png'));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as Record<string, unknown> & {
      withoutFace: Record<string, number>;
      tarAtFar: { far: number }[];
    };
    expect(report).toMatchObject({
      mode: 'pairs',
      pairs: 7,
      samePairs: 4,
      differentPairs: 3,
      images: 7,
      pairsWithoutFace: 1,
      accuracyAtThreshold: 6 / 7,
    });
    expect(report.withoutFace).toEqual({ 'no face': 1, unreadable: 0, gated: 0 });
    expect(report.tarAtFar.map((t) => t.far)).toEqual([0.01, 0.001]);
    expect(existsSync(join(dir, 'roc.png'))).toBe(true);
    const table = await evalPairs();
    expect(table.out).toMatch(/10-fold accuracy\s+\d+\.\d+%/);
    expect(table.out).toMatch(/without a usable face: 1 no face/);
  });

  it('encodes live faces as recognition.mirror says, and mirrors only those near the threshold', async () => {
    type Summary = { mirror: string; eerThreshold: number; liveMirrored: number };
    const evaluate = async (recognition: object, ...args: string[]) => {
      const file = join(dir, 'mirror.json');
      writeFileSync(file, JSON.stringify({ recognition }));
      const r = await evalPairs('--json', '--config', file, ...args);
      expect(r.code).toBe(0);
      return JSON.parse(r.out) as Summary;
    };
    const always = await evaluate({ mirror: 'always' });
    const never = await evaluate({ mirror: 'never' });
    expect(always.mirror).toBe('always');
    expect(always.liveMirrored).toBe(6); // the pair whose photo has no face is not encoded
    expect(never.liveMirrored).toBe(0);
    expect(never.eerThreshold).not.toBeCloseTo(always.eerThreshold, 4);
    // A band that holds every distance mirrors every live face; one that holds none, none.
    const all = await evaluate({ mirror: 'near-threshold', mirrorBand: 1 }, '--threshold', '5');
    const none = await evaluate({ mirror: 'near-threshold', mirrorBand: 0 });
    expect(all.liveMirrored).toBe(6);
    expect(all.eerThreshold).toBeCloseTo(always.eerThreshold, 4);
    expect(none.liveMirrored).toBe(0);
    expect(none.eerThreshold).toBeCloseTo(never.eerThreshold, 6);
  });

  it('refuses the on/off mirror switch of older configs, saying what each is now', async () => {
    const file = join(dir, 'old-mirror.json');
    writeFileSync(file, JSON.stringify({ recognition: { mirror: false } }));
    const r = await evalPairs('--config', file);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/recognition\.mirror.*true is now always, false never/);
  });

  it('reports open-set identification', async () => {
    const openset = (...extra: string[]) =>
      run('eval', '--openset', '--manifest', join(dir, 'manifest.tsv'), '--root', dir, ...extra);
    const r = await openset('--json');
    const report = JSON.parse(r.out) as Record<string, unknown>;
    expect(report).toMatchObject({
      mode: 'openset',
      identitiesEnrolled: 3,
      matedProbes: 3,
      nonMatedProbes: 0,
      rank1: 1,
    });
    // --grow: one probe per resident is their test photo, so the door sees no visit to learn from.
    const grown = await openset('--grow');
    expect(grown.code).toBe(0);
    expect(grown.out).toMatch(/^door captures\s+0 residents' visits and 0 strangers'/m);
    expect(grown.out).toMatch(/^ {2}added\s+0 captures to 0 people; of the wrong person: 0$/m);
    expect(grown.out).toMatch(/^ {2}as grown\s+TPIR 100\.00% at FPIR 0\.01/m);
  });

  it('corrects identities with --relabel, and decides passes of jittered frames as the daemon does', async () => {
    const openset = (...extra: string[]) =>
      run('eval', '--openset', '--manifest', join(dir, 'manifest.tsv'), '--root', dir, '--json', ...extra);
    // p2-b said to be person 0: person 2 can no longer be enrolled and probed (one photo left).
    writeFileSync(join(dir, 'relabel.tsv'), 'path\tidentity\np2-b.png\tperson0\n');
    const relabelled = JSON.parse((await openset('--relabel', join(dir, 'relabel.tsv'))).out) as Record<
      string,
      unknown
    >;
    expect(relabelled).toMatchObject({ identitiesEnrolled: 2, matedProbes: 3, nonMatedProbes: 1 });
    const r = await openset('--passes', 'jitter', '--jitter-frames', '3');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^jittered passes 3\/3 \(100%\)$/m);
    const passes = (
      JSON.parse(r.out) as { passes: Record<string, unknown> & { variants: { variant: string }[] } }
    ).passes;
    // Three residents' passes; the same three with their own person left out are the strangers.
    expect(passes).toMatchObject({ mode: 'jitter', matedPasses: 3, strangerPasses: 3, framesPerPass: 3 });
    expect(passes.variants.map((v) => v.variant)).toEqual(['first frame', 'votes', 'votes + fusion']);
    const bad = await openset('--passes', 'video');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--passes must be photos or jitter, not "video"');
  });

  it('calibrates a threshold for a false-positive identification rate on a gallery (--openset)', async () => {
    const calibrate = (...extra: string[]) =>
      run('calibrate', '--openset', '--manifest', join(dir, 'manifest.tsv'), '--root', dir, ...extra);
    const few = await calibrate('--fpir', '0.01');
    expect(few.code).toBe(1);
    expect(few.out).toMatch(
      /^threshold \d\.\d+ for FPIR <= 0\.01 per face with 3 enrolled: measured FPIR 0\.00000, TPIR 100\.00% \(3 stranger, 3 resident probes\)$/,
    );
    expect(few.err).toContain(
      'facegate calibrate: FPIR 0.01 rests on 0 of 3 stranger probes (about 300 needed): no config line without --force',
    );
    const forced = await calibrate('--fpir', '0.01', '--force', '--json');
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.out)).toMatchObject({ enrolled: 3, strangerProbes: 3, tpir: 1 });
    expect((JSON.parse(forced.out) as { configLine: string }).configLine).toMatch(
      /^\{"match": \{"threshold": \d\.\d+\}\}$/,
    );
    expect((await calibrate('--fpir', '2')).err).toContain('--fpir must be between 0 and 1, got 2');
    // Per pass: three residents' jittered passes, and the same with each left out as strangers.
    const passes = await calibrate('--fpir', '0.01', '--passes', 'jitter', '--jitter-frames', '3');
    expect(passes.code).toBe(1);
    expect(passes.out).toMatch(
      /^threshold \d\.\d+ for FPIR <= 0\.01 per pass with 3 enrolled: measured FPIR 0\.00000, TPIR \d+\.\d+% \(3 stranger, 3 resident passes, decided by votes \+ fusion\)$/,
    );
    expect(passes.err).toContain('FPIR 0.01 rests on 0 of 3 stranger passes (about 300 needed)');
    expect((await calibrate('--fpir', '0.01', '--gallery-size', '1', '--force', '--json')).out).toMatch(
      /"enrolled":1,/,
    );
  });

  it('calibrates a threshold, and prints its config line only from enough different pairs or with --force', async () => {
    const calibrate = (...extra: string[]) =>
      run('calibrate', '--pairs', join(dir, 'pairs.tsv'), '--root', dir, ...extra);
    // The three different pairs a hundred times over: 300, enough for FAR 0.01 (3 / 0.01).
    const lines = readFileSync(join(dir, 'pairs.tsv'), 'utf8').trim().split('\n');
    const different = lines.filter((l) => l.endsWith('\t0'));
    writeFileSync(
      join(dir, 'many.tsv'),
      [...lines, ...Array.from({ length: 99 }, () => different).flat()].join('\n') + '\n',
    );
    const enough = await run('calibrate', '--pairs', join(dir, 'many.tsv'), '--root', dir, '--far', '0.01');
    expect(enough.code).toBe(0);
    expect(enough.out).toMatch(/^threshold \d\.\d+ for FAR <= 0\.01/);
    expect(enough.out).toMatch(/config: +\{"match": \{"threshold": \d\.\d+\}\}/);
    expect(enough.err).not.toMatch(/calibrate:/);
    // Three different pairs measure no FAR below 1.
    const few = await calibrate('--far', '0.01');
    expect(few.code).toBe(1);
    expect(few.out).toMatch(/^threshold \d\.\d+ for FAR <= 0\.01/);
    expect(few.out).not.toMatch(/config:/);
    expect(few.err).toContain(
      'facegate calibrate: FAR 0.01 rests on 0 of 3 different pairs (about 300 needed): no config line without --force',
    );
    const forced = await calibrate('--far', '0.01', '--force');
    expect(forced.code).toBe(0);
    expect(forced.out).toMatch(/config: +\{"match"/);
    // eval says the same of its rates, and reports its progress in lines when stderr is no terminal.
    const report = await evalPairs();
    const progress = report.err.split('\n').filter((l) => l.startsWith('encoding '));
    expect(progress[0]).toMatch(/^encoding 1\/7 \(14%\)$/);
    expect(progress.at(-1)).toBe('encoding 7/7 (100%)');
    expect(report.out).toMatch(
      /TAR at FAR 0\.001 .*; not measurable: 3 different pairs for 0\.001, about 3000 needed/,
    );
  });

  it('adds different-person pairs drawn from the manifest for TAR at FAR 1e-3 and 1e-4 (--impostors)', async () => {
    const r = await evalPairs('--impostors', '20', '--manifest', join(dir, 'manifest.tsv'), '--json');
    expect(r.code).toBe(0);
    const extra = (JSON.parse(r.out) as { extraImpostors: { impostorPairs: number; tarAtFar: unknown[] } })
      .extraImpostors;
    // The pairs file's 3 different pairs and 20 more; the 6 photos of 3 people allow 21 more.
    expect(extra.impostorPairs).toBe(23);
    expect(extra.tarAtFar).toEqual([
      expect.objectContaining({ far: 0.001, measurable: false }),
      expect.objectContaining({ far: 0.0001, measurable: false }),
    ]);
    const missing = await evalPairs('--impostors', '20');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/--impostors needs --manifest FILE/);
  });

  it('encodes grayscale versions of the photos with --grayscale, and says so', async () => {
    const color = JSON.parse((await evalPairs('--json')).out) as {
      grayscale: boolean;
      equalErrorRate: number;
    };
    const gray = JSON.parse((await evalPairs('--json', '--grayscale')).out) as typeof color;
    expect([color.grayscale, gray.grayscale]).toEqual([false, true]);
    // Other pixels, other embeddings: the distances (and so the figures) move.
    const colorRun = JSON.parse((await evalPairs('--json')).out) as typeof color;
    expect(colorRun).toEqual(color);
    expect(JSON.stringify(gray)).not.toBe(JSON.stringify({ ...color, grayscale: true }));
  });

  it('names a malformed pairs file and line', async () => {
    writeFileSync(join(dir, 'bad.tsv'), 'file1\tfile2\tsame\na.png\tb.png\tyes\n');
    const r = await run('eval', '--pairs', join(dir, 'bad.tsv'), '--root', dir);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/bad\.tsv:2: same must be 0 or 1, not "yes"/);
    writeFileSync(join(dir, 'nohead.tsv'), 'a.png\tb.png\t1\n');
    expect((await run('eval', '--pairs', join(dir, 'nohead.tsv'), '--root', dir)).err).toMatch(
      /nohead\.tsv: header must name the columns file1, file2, same/,
    );
  });

  it.runIf(haveShared)('separates the face-api example pairs of ../shared/faces', async () => {
    const r = await run(
      'eval',
      '--pairs',
      join(SHARED_FACES, 'pairs.tsv'),
      '--root',
      SHARED_FACES,
      '--prefix',
      'faceapi/',
      '--json',
    );
    const report = JSON.parse(r.out) as { pairs: number; tenFold: { mean: number } };
    expect(report.pairs).toBe(160);
    expect(report.tenFold.mean).toBeGreaterThan(0.9);
  });
});
