// Open-set scoring on constructed galleries whose rates are known by construction: the
// leave-one-out strangers, the FPIR calibration, and pass decisions with and without fusion.
import { describe, expect, it } from 'vitest';
import type { EmbeddedFile } from '../../src/eval/embed-files.js';
import {
  opensetCalibration,
  opensetReport,
  opensetScores,
  type EvalEncodings,
} from '../../src/eval/evaluate.js';
import { passReport } from '../../src/eval/passes.js';
import type { Face } from '../../src/inference/faces.js';
import { DEFAULT_TRACKER_OPTIONS } from '../../src/recognition/tracker.js';

const DIM = 16;
const basis = (i: number, scale = 1) => {
  const v = new Float32Array(DIM);
  v[i] = scale;
  return v;
};
const face = (embedding: Float32Array): EmbeddedFile => ({ ok: true, face: { embedding } as Face });

/**
 * Ten residents (person i enrolled as basis vector i, probed at distance 0.1 from it) and 90
 * strangers at distances 0.505, 0.515, ... 1.395 from resident 0, farther from the others. Left out
 * of the gallery, each resident's probe is about 1.41 from everyone: ten more strangers, none
 * nearer than 1.3.
 */
function constructed(): { images: { path: string; identity: string }[]; enc: EvalEncodings } {
  const files = new Map<string, EmbeddedFile>();
  const images: { path: string; identity: string }[] = [];
  for (let i = 0; i < 10; i++) {
    images.push({ path: `r${i}-a`, identity: `r${i}` }, { path: `r${i}-b`, identity: `r${i}` });
    files.set(`r${i}-a`, face(basis(i)));
    const probe = basis(i);
    probe[15] = 0.1;
    files.set(`r${i}-b`, face(probe));
  }
  for (let k = 0; k < 90; k++) {
    const d = 0.505 + 0.01 * k;
    const stranger = basis(0);
    stranger[14] = d; // |stranger - basis(0)| = d
    images.push({ path: `s${k}`, identity: `s${k}` });
    files.set(`s${k}`, face(stranger));
  }
  return { images, enc: { enrolled: files, live: files } };
}

describe('open-set calibration', () => {
  it('finds the threshold of a constructed gallery whose FPIR is known', async () => {
    const { images, enc } = constructed();
    const scores = await opensetScores(images, enc);
    expect(scores.mat).toHaveLength(10);
    expect(scores.non).toHaveLength(90);
    // 100 strangers: at FPIR 0.05 five may pass: those at 0.505 ... 0.545; the threshold is the sixth.
    const c = opensetCalibration(scores, 0.05);
    expect(c.strangerProbes).toBe(100);
    expect(c.threshold).toBeCloseTo(0.555, 5);
    expect(c.measuredFpir).toBe(0.05);
    expect(c.tpir).toBe(1);
    expect(c.measurable).toBe(true); // 3 / 0.05 = 60 strangers needed
    // At FPIR 0.01 one may pass (threshold 0.515); written to one digit, 0.5, which lets none in.
    const one = opensetCalibration(scores, 0.01, (t) => Math.round(t * 10) / 10);
    expect(one.threshold).toBe(0.5);
    expect(one.measuredFpir).toBe(0);
    expect(opensetCalibration(scores, 0.001).measurable).toBe(false);
    // The report gives the same leave-one-out figures.
    const report = await opensetReport(images, enc, 0.555);
    expect(report.leaveOneOut.strangerProbes).toBe(100);
    expect(report.leaveOneOut.tpirAtFpir[0]).toMatchObject({ fpir: 0.01, tpir: 1 });
    expect(report.fpirAtThreshold).toBeCloseTo(5 / 90, 6);
  });
});

describe('pass decisions', () => {
  // Ann turns between two poses, each 0.53 from her enrollment photo; their mean is her photo.
  const pose = (z: number) => {
    const v = basis(0);
    v[2] = z;
    const n = Math.hypot(1, z);
    return v.map((x) => x / n);
  };
  const gallery = [
    { personId: 'ann', embedding: basis(0) },
    { personId: 'bob', embedding: basis(1) },
  ];
  const frames = (vs: Float32Array[]) => vs.map((embedding) => ({ embedding, weight: 1 }));
  const annPass = {
    identity: 'ann',
    frames: frames([pose(0.6), pose(-0.6), pose(0.6), pose(-0.6), pose(0.6)]),
  };
  const strangerPass = {
    identity: 'eve',
    frames: frames([basis(5), basis(5), basis(5), basis(5), basis(5)]),
  };
  const tracker = { ...DEFAULT_TRACKER_OPTIONS, fusion: { minFrames: 3, maxFrames: 10, maxSpread: 1.2 } };

  it('accepts, with fusion only, a resident whose every frame is refused; never a stranger', () => {
    const r = passReport(gallery, [annPass, strangerPass], { tracker, minMargin: 0 }, 0.5);
    // Ann's pass; Eve's and Ann's with Ann left out of the gallery are the strangers.
    expect(r.matedPasses).toBe(1);
    expect(r.strangerPasses).toBe(2);
    const at = Object.fromEntries(r.variants.map((v) => [v.variant, [v.tpirAtThreshold, v.fpirAtThreshold]]));
    expect(at).toEqual({ 'first frame': [0, 0], votes: [0, 0], 'votes + fusion': [1, 0] });
    // The threshold found for an FPIR never lets more strangers' passes through than it allows.
    for (const v of r.variants) for (const t of v.tpirAtFpir) expect(t.measured).toBeLessThanOrEqual(t.fpir);
    const fused = r.variants.find((v) => v.variant === 'votes + fusion')!.tpirAtFpir[0]!;
    expect(fused).toMatchObject({ fpir: 0.01, tpir: 1, measured: 0 });
  });

  it('without maxSpread room for her turn, the mean starts again at every pose and refuses her', () => {
    const strict = { ...tracker, fusion: { ...tracker.fusion, maxSpread: 0.1 } };
    const r = passReport(gallery, [annPass], { tracker: strict, minMargin: 0 }, 0.5);
    expect(r.variants.find((v) => v.variant === 'votes + fusion')?.tpirAtThreshold).toBe(0);
  });
});
