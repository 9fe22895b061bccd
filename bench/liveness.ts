// Liveness (src/recognition/liveness.ts) measured per attack type, ISO/IEC 30107-3 style, on
// clips built from photos by eval/presentation-clips.ts (seeded): genuine heads turning and
// blinking, and photos held still (A1), moved (A2), on a phone screen (A3) and printed (A4).
// Each clip is 20 frames at 5 fps (4 s, the default liveness.maxFrames at a camera's 5 fps);
// each frame goes through our detector and landmark network as the daemon's would, and only
// faces that pass the default quality gates count, as in the daemon.
//   - failure to acquire: clips with fewer usable faces than liveness.minFrames (no verdict; an
//     attack that is never a usable face cannot match either);
//   - each cue alone and the score: its threshold at BPCER 1% and 5% of the acquired genuine
//     clips, and the APCER of each attack type there (the whole clip);
//   - the default verdict as the daemon makes it: live as soon as a prefix from minFrames frames
//     on reaches the threshold; BPCER, APCER, and the frames a live verdict took;
//   - the cost of a verdict (the daemon computes one per frame of a held track).
// The photos: 40 lfw-dev identities (others than the ones the levels were set on), else the
// face-api sample photos.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readManifestTsv } from '../src/eval/datasets.js';
import {
  CLIP_DESCRIPTIONS,
  CLIP_KINDS,
  presentationClip,
  type ClipKind,
} from '../src/eval/presentation-clips.js';
import { FaceEngine } from '../src/inference/faces.js';
import { DEFAULT_LIVENESS, livenessVerdict, type LivenessCues } from '../src/recognition/liveness.js';
import type { Point } from '../src/vision/alignment.js';
import { decodeImage } from '../src/vision/image.js';
import { checkGates, DEFAULT_QUALITY_GATES } from '../src/vision/quality.js';
import { samplePhoto, SHARED_FACES, sharedFacesAvailable } from '../test/helpers/fixtures.js';
import { fmt, medianMs, Table } from './harness.js';

const FPS = 5;
const FRAMES = DEFAULT_LIVENESS.maxFrames;
const PHOTOS = 40;

function photos(): { name: string; bytes: Buffer }[] {
  if (!sharedFacesAvailable('bench/liveness.ts')) {
    return ['sample1.jpg', 'sample2.jpg', 'sample3.jpg', 'sample4.jpg', 'sample5.jpg', 'sample6.jpg'].map(
      (name) => ({ name, bytes: readFileSync(samplePhoto(name)) }),
    );
  }
  const seen = new Set<string>();
  const files: string[] = [];
  for (const { path, identity } of readManifestTsv(join(SHARED_FACES, 'MANIFEST.tsv'), 'lfw-dev/')) {
    if (seen.has(identity)) continue;
    seen.add(identity);
    // Every 7th identity from the 5th: the levels were set on every 7th from the 3rd.
    if (seen.size % 7 === 5 && files.length < PHOTOS) files.push(path);
  }
  return files.map((f) => ({ name: f, bytes: readFileSync(join(SHARED_FACES, f)) }));
}

type Track = { kind: ClipKind; frames: Point[][] };

/** Each clip's usable faces' landmarks, as the daemon's tracker would collect them. */
async function tracks(engine: FaceEngine): Promise<Track[]> {
  const out: Track[] = [];
  for (const [i, { bytes }] of photos().entries()) {
    const photo = await decodeImage(bytes);
    const [face] = await engine.analyze(photo, { select: 'largest', mirror: false });
    if (!face) continue;
    for (const [k, kind] of CLIP_KINDS.entries()) {
      const clip = await presentationClip(photo, face.landmarks, kind, {
        frames: FRAMES,
        fps: FPS,
        seed: 100 * i + k,
      });
      const frames: Point[][] = [];
      for (const frame of clip.frames) {
        const [f] = await engine.analyze(frame, { select: 'largest', mirror: false });
        if (f && !checkGates(f.quality, DEFAULT_QUALITY_GATES).length) frames.push(f.landmarks);
      }
      out.push({ kind, frames });
    }
  }
  return out;
}

const CUES = ['motion', 'parallax', 'blinks', 'turn', 'steadiness'] as const;
type Measure = (typeof CUES)[number] | 'score';

const pct = (n: number, of: number) => (of ? `${((100 * n) / of).toFixed(0)}%` : '-');

export async function benchLiveness(): Promise<string> {
  const engine = await FaceEngine.open();
  let all: Track[];
  try {
    all = await tracks(engine);
  } finally {
    await engine.release();
  }
  const opts = DEFAULT_LIVENESS;
  const acquired = all.filter((t) => t.frames.length >= opts.minFrames);
  const verdicts = new Map(acquired.map((t) => [t, livenessVerdict(t.frames, opts)]));
  const value = (t: Track, m: Measure) => {
    const v = verdicts.get(t)!;
    return m === 'score' ? v.score : v.cues[m as keyof LivenessCues];
  };
  const genuine = acquired.filter((t) => t.kind === 'genuine');
  const attacks = CLIP_KINDS.filter((k) => k !== 'genuine');
  const sections: string[] = [];

  const acquisition = new Table(['clips', 'count', 'usable faces in >= minFrames frames']);
  for (const kind of CLIP_KINDS) {
    const n = all.filter((t) => t.kind === kind).length;
    acquisition.add(
      CLIP_DESCRIPTIONS[kind],
      String(n),
      pct(acquired.filter((t) => t.kind === kind).length, n),
    );
  }
  sections.push(acquisition.toString());

  const perCue = new Table([
    'cue',
    'BPCER aimed at',
    'threshold',
    'BPCER',
    ...attacks.map((k) => `APCER ${k}`),
  ]);
  for (const m of [...CUES, 'score'] as Measure[]) {
    const g = genuine.map((t) => value(t, m)).sort((a, b) => a - b);
    for (const bpcer of [0.01, 0.05]) {
      // The threshold the lowest `bpcer` of genuine clips fall under.
      const threshold = g[Math.floor(bpcer * g.length)] ?? Infinity;
      const ap = attacks.map((k) => {
        const a = acquired.filter((t) => t.kind === k);
        return pct(a.filter((t) => value(t, m) >= threshold).length, a.length);
      });
      perCue.add(
        m,
        pct(bpcer * g.length, g.length),
        fmt(threshold),
        pct(g.filter((v) => v < threshold).length, g.length),
        ...ap,
      );
    }
  }
  sections.push(perCue.toString());

  // The daemon's rule: from minFrames frames on, live at the first frame the score reaches the threshold.
  const liveAt = (t: Track) => {
    for (let n = opts.minFrames; n <= t.frames.length; n++)
      if (livenessVerdict(t.frames.slice(0, n), opts).live) return n;
    return undefined;
  };
  const daemon = new Table([
    'clips',
    'acquired',
    'live (APCER for attacks)',
    'frames to live: median',
    'max',
  ]);
  for (const kind of CLIP_KINDS) {
    const a = acquired.filter((t) => t.kind === kind);
    const at = a
      .map(liveAt)
      .filter((n): n is number => n !== undefined)
      .sort((x, y) => x - y);
    daemon.add(
      CLIP_DESCRIPTIONS[kind],
      String(a.length),
      pct(at.length, a.length),
      at.length ? String(at[Math.floor(at.length / 2)]) : '-',
      at.length ? String(at.at(-1)) : '-',
    );
  }
  sections.push(
    `The default verdict (threshold ${opts.threshold}, minFrames ${opts.minFrames}, maxFrames ${opts.maxFrames}), as the daemon makes it, at ${FPS} fps (a frame is ${1000 / FPS} ms):\n\n${daemon.toString()}`,
  );

  const longest = acquired.reduce((a, t) => (t.frames.length > a.frames.length ? t : a), acquired[0]!);
  const ms = await medianMs(() => livenessVerdict(longest.frames, opts), { runs: 200 });
  sections.push(
    `A verdict on ${longest.frames.length} frames: ${(ms * 1000).toFixed(0)} us (computed once per analysed frame of a track that waits for it).`,
  );
  return sections.join('\n\n');
}

if (process.argv[1] === import.meta.filename) console.log(await benchLiveness());
