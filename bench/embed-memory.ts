// `make bench` (memory part): peak resident memory of `facegate embed` (the compiled CLI, a
// process of its own per photo) on a normal photo, a 36-megapixel JPEG and the largest PNG the
// pixel limit lets in, each with one face, beside `facegate --version` (the CLI's modules and
// nothing else): what enrolling a photo can cost a gateway.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_MAX_PIXELS } from '../src/vision/image.js';
import { faceCrop, faceOnGrey } from '../test/helpers/faces.js';
import { samplePhoto } from '../test/helpers/fixtures.js';
import { Table } from './harness.js';

const BIN = fileURLToPath(new URL('../dist/src/cli/bin.js', import.meta.url));
/** Loaded before the CLI: writes the process's peak RSS (KiB) to stderr as it exits. */
const PEAK_RSS =
  "data:text/javascript,process.on('exit',()=>process.stderr.write('peak-rss-kib '+process.resourceUsage().maxRSS+'\\n'))";

type Photo = { what: string; file: string };

/** The photos: sample6.jpg as it is, and one of its faces (with a margin) on a large grey canvas. */
async function makePhotos(dir: string): Promise<Photo[]> {
  const sample = samplePhoto('sample6.jpg');
  const face = await faceCrop(0);
  const canvas = (side: [number, number], faceWidth: number) =>
    faceOnGrey(face, { width: side[0], height: side[1] }, faceWidth, {
      left: Math.round(side[0] / 2 - faceWidth / 2),
      top: Math.round(side[1] / 2 - faceWidth / 2),
    });
  const jpeg = join(dir, '36mp.jpg');
  await (await canvas([7200, 5000], 1400)).jpeg({ quality: 90 }).toFile(jpeg);
  // The largest square under the pixel limit.
  const side = Math.floor(Math.sqrt(DEFAULT_MAX_PIXELS) / 100) * 100;
  const png = join(dir, 'largest.png');
  await (await canvas([side, side], 1600)).png().toFile(png);
  return [
    { what: 'a normal photo (face-api sample6.jpg, 2.0 MP)', file: sample },
    { what: 'a 36 MP JPEG (7200x5000)', file: jpeg },
    {
      what: `the largest PNG the limit allows (${side}x${side}, ${((side * side) / 1e6).toFixed(0)} MP)`,
      file: png,
    },
  ];
}

function peakOf(args: string[]): { peakMiB: number; seconds: number; faces: number | undefined } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', PEAK_RSS, BIN, ...args], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  const peak = /peak-rss-kib (\d+)/.exec(r.stderr)?.[1];
  if (!peak) throw new Error(`facegate ${args.join(' ')}: no peak reported (${r.stderr.trim()})`);
  let faces: number | undefined;
  if (args[0] === 'embed') {
    const line = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { faces?: unknown[]; error?: string };
    if (!line.faces) throw new Error(`facegate embed: ${line.error}`);
    faces = line.faces.length;
  }
  return { peakMiB: Number(peak) / 1024, seconds, faces };
}

export async function benchEmbedMemory(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fg-bench-embed-'));
  try {
    const photos = await makePhotos(dir);
    const t = new Table(['facegate', 'file, MB', 'faces', 'peak RSS, MiB', 'wall, s']);
    const version = peakOf(['--version']);
    t.add('--version (the CLI, no model)', '-', '-', version.peakMiB.toFixed(0), version.seconds.toFixed(1));
    for (const p of photos) {
      const r = peakOf(['embed', p.file]);
      t.add(
        `embed ${p.what}`,
        (statSync(p.file).size / 1e6).toFixed(1),
        String(r.faces),
        r.peakMiB.toFixed(0),
        r.seconds.toFixed(1),
      );
    }
    return t.toString();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) console.log(await benchEmbedMemory());
