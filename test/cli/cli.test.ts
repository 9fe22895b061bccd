// The facegate command as a user runs it: JSON output, exit codes, errors that name the input.
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { ENCODER_THRESHOLDS } from '../../src/inference/faces.js';
import { Metrics } from '../../src/http/server.js';
import { faceCrop, faceOnGrey } from '../helpers/faces.js';
import { PROJECT_ROOT, samplePhoto, sharedFace, sharedFacesAvailable } from '../helpers/fixtures.js';

const haveShared = sharedFacesAvailable('facegate verify on ../shared/faces/deepface');
const dir = mkdtempSync(join(tmpdir(), 'fg-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const textJpg = join(dir, 'notes.jpg');
writeFileSync(textJpg, 'not an image');

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err: err.join('\n') };
}

type EmbedLine = {
  file: string;
  error?: string;
  faces?: { box: number[]; score: number; landmarks: number[][]; embedding: number[] }[];
};

describe('facegate verify', () => {
  it.runIf(haveShared)('says same for two photos of one person and different for two people', async () => {
    const same = await run('verify', sharedFace('deepface/img1.jpg'), sharedFace('deepface/img2.jpg'));
    expect(same.code).toBe(0);
    const s = JSON.parse(same.out[0]!) as { distance: number; threshold: number; same: boolean };
    expect(s).toMatchObject({ threshold: ENCODER_THRESHOLDS.mobilefacenet, same: true });
    const diff = await run('verify', sharedFace('deepface/img1.jpg'), sharedFace('deepface/img3.jpg'));
    const d = JSON.parse(diff.out[0]!) as { distance: number; same: boolean };
    expect(d.same).toBe(false);
    expect(d.distance).toBeGreaterThan(s.distance);
  });

  it('honours --threshold', async () => {
    const r = await run(
      'verify',
      samplePhoto('sample2.jpg'),
      samplePhoto('sample2.jpg'),
      '--threshold',
      '0.01',
    );
    expect(JSON.parse(r.out[0]!)).toEqual({ distance: 0, threshold: 0.01, same: true });
  });

  it('exits 2 naming the file when an image is unreadable or has no face', async () => {
    const unreadable = await run('verify', samplePhoto('sample2.jpg'), textJpg);
    expect(unreadable.code).toBe(2);
    expect(unreadable.err).toMatch(/notes\.jpg: not an image/);
    const blank = join(dir, 'blank.png');
    const sharp = (await import('sharp')).default;
    await sharp({ create: { width: 320, height: 240, channels: 3, background: '#808080' } })
      .png()
      .toFile(blank);
    const noFace = await run('verify', blank, samplePhoto('sample2.jpg'));
    expect(noFace.code).toBe(2);
    expect(noFace.err).toMatch(/blank\.png: no face found/);
  });

  it('rejects wrong arguments', async () => {
    expect((await run('verify', samplePhoto('sample2.jpg'))).err).toMatch(/exactly two images/);
    expect((await run('verify', 'a', 'b', '--threshold', 'x')).err).toMatch(
      /--threshold: "x" is not a number/,
    );
    const unknown = await run('verify', 'a', 'b', '--bogus');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/Unknown option '--bogus'/);
  });
});

describe('facegate embed', () => {
  it('prints one line per image with box, score, 68 landmarks and a 128-D embedding with --encoder dlib', async () => {
    const r = await run('embed', '--encoder', 'dlib', samplePhoto('sample2.jpg'), samplePhoto('sample1.jpg'));
    expect(r.code).toBe(0);
    const lines = r.out.map((l) => JSON.parse(l) as EmbedLine);
    expect(lines.map((l) => l.file)).toEqual([samplePhoto('sample2.jpg'), samplePhoto('sample1.jpg')]);
    for (const line of lines) {
      expect(line.faces).toHaveLength(1); // largest face only
      const f = line.faces![0]!;
      expect(f.box).toHaveLength(4);
      expect(f.score).toBeGreaterThan(0.5);
      expect(f.landmarks).toHaveLength(68);
      expect(f.embedding).toHaveLength(128);
    }
  });

  it('--encoder mobilefacenet gives unit 192-D embeddings, and an unknown encoder exits 78 naming the setting', async () => {
    for (const argv of [
      ['--encoder', 'mobilefacenet', 'embed'],
      ['embed', '--encoder=mobilefacenet'],
    ]) {
      const r = await run(...argv, samplePhoto('sample2.jpg'));
      expect(r.code).toBe(0);
      const e = (JSON.parse(r.out[0]!) as EmbedLine).faces![0]!.embedding;
      expect(e).toHaveLength(192);
      expect(Math.hypot(...e)).toBeCloseTo(1, 4);
    }
    // A face's quality is measured on the same chip whichever encoder runs: the gates mean the same.
    const quality = async (encoder: string) =>
      (
        JSON.parse(
          (await run('embed', '--encoder', encoder, samplePhoto('sample2.jpg'))).out[0]!,
        ) as EmbedLine
      ).faces![0]!;
    const [dlib, mobile] = [await quality('dlib'), await quality('mobilefacenet')];
    expect(JSON.stringify((mobile as unknown as { quality: unknown }).quality)).toBe(
      JSON.stringify((dlib as unknown as { quality: unknown }).quality),
    );
    const bad = await run('embed', '--encoder', 'arcface', samplePhoto('sample2.jpg'));
    expect(bad.code).toBe(78);
    expect(bad.err).toMatch(
      /models\.encoder: must be one of the possible values: \["dlib","mobilefacenet"\]/,
    );
    expect((await run('embed', '--encoder')).err).toMatch(/--encoder needs a NAME/);
  });

  it("reads a photo larger than it decodes (shrunk to 4096 px) with the box in the file's pixels and the same person", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-embed-large-'));
    try {
      const face = await faceCrop(0);
      const small = join(dir, 'face.png');
      writeFileSync(small, face);
      // The face 1400 px wide at (2900, 1800) of a 7200x5000 photo: decoded at 4096x2844.
      const large = join(dir, 'large.jpg');
      await (
        await faceOnGrey(face, { width: 7200, height: 5000 }, 1400, { left: 2900, top: 1800 })
      )
        .jpeg({ quality: 90 })
        .toFile(large);
      const r = await run('embed', small, large);
      expect(r.code).toBe(0);
      const [a, b] = r.out.map((l) => (JSON.parse(l) as EmbedLine).faces![0]!);
      const [x, y, w] = b!.box;
      // The crop is the face with a 25% margin: the face's box lies inside the 1400 px it was drawn in.
      expect(x).toBeGreaterThan(2900);
      expect(x! + w!).toBeLessThan(2900 + 1400);
      expect(y).toBeGreaterThan(1800);
      expect(w).toBeGreaterThan(400);
      const distance = 1 - a!.embedding.reduce((sum, v, i) => sum + v * b!.embedding[i]!, 0);
      expect(distance).toBeLessThan(ENCODER_THRESHOLDS.mobilefacenet);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--all-faces lists every face, largest first', async () => {
    const r = await run('embed', '--all-faces', samplePhoto('sample1.jpg'));
    const faces = (JSON.parse(r.out[0]!) as EmbedLine).faces!;
    expect(faces.length).toBe(3);
    const areas = faces.map((f) => f.box[2]! * f.box[3]!);
    expect([...areas].sort((a, b) => b - a)).toEqual(areas);
  });

  it('reports an unreadable image on its own line, runs the rest, and exits 1', async () => {
    const r = await run('embed', textJpg, join(dir, 'missing.png'), samplePhoto('sample2.jpg'));
    expect(r.code).toBe(1);
    const lines = r.out.map((l) => JSON.parse(l) as EmbedLine);
    expect(lines[0]).toEqual({ file: textJpg, error: expect.stringMatching(/not an image/) as string });
    expect(lines[1]!.error).toMatch(/missing\.png: no such file/);
    expect(lines[2]!.faces).toHaveLength(1);
  });

  it('prints --help for every command and refuses unknown options and commands', async () => {
    for (const cmd of ['embed', 'verify']) {
      const h = await run(cmd, '--help');
      expect(h.code).toBe(0);
      expect(h.out.join('\n')).toMatch(new RegExp(`Usage: facegate ${cmd}`));
    }
    expect((await run('--help')).out.join('\n')).toMatch(/Commands:/);
    expect((await run('embed', '--nope', 'x.jpg')).code).toBe(2);
    const unknown = await run('enrol');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown command "enrol"/);
  });
});

describe('facegate gallery export and import', () => {
  it('names the file and what is wrong, without a stack trace, and exits 2', async () => {
    const config = join(dir, 'gallery-config.json');
    writeFileSync(config, JSON.stringify({ stateDir: join(dir, 'gallery-state') }));
    const exported = await run('--config', config, 'gallery', 'export', join(dir, 'no/such/dir/x.json'));
    expect(exported.code).toBe(2);
    expect(exported.err).toBe(
      `facegate gallery: ${join(dir, 'no/such/dir/x.json')}: cannot write it: no such file or folder (ENOENT)`,
    );
    const imported = await run('--config', config, 'gallery', 'import', join(dir, 'missing.json'));
    expect(imported.code).toBe(2);
    expect(imported.err).toBe(
      `facegate gallery: ${join(dir, 'missing.json')}: cannot read it: no such file or folder (ENOENT)`,
    );
  });
});

describe('facegate enroll', () => {
  it('says when a photo is added to a person already enrolled, and --replace replaces their photos', async () => {
    const config = join(dir, 'enroll-config.json');
    writeFileSync(config, JSON.stringify({ stateDir: join(dir, 'enroll-state') }));
    const [first, second] = [join(dir, 'al-1.png'), join(dir, 'al-2.png')];
    writeFileSync(first, await faceCrop(0));
    writeFileSync(
      second,
      await sharp(await faceCrop(0))
        .flop()
        .png()
        .toBuffer(),
    );
    const enroll = async (...extra: string[]) => {
      const r = await run('--config', config, 'enroll', '--id', 'al', '--name', 'Al', ...extra);
      expect(r.code).toBe(0);
      return { ...r, result: JSON.parse(r.out.at(-1)!) as Record<string, unknown> };
    };
    const a = await enroll(first);
    expect(a.result).toMatchObject({ enrolled: 'al', images: 1, photos: 1 });
    expect(a.result.existingPhotos).toBeUndefined();
    const b = await enroll(second);
    expect(b.result).toMatchObject({ images: 1, photos: 2, existingPhotos: 'added' });
    expect(b.err).toBe(
      'facegate enroll: al was already enrolled: photo added (2 photos now); --replace replaces them',
    );
    const c = await enroll('--replace', first);
    expect(c.result).toMatchObject({ images: 1, photos: 1, existingPhotos: 'replaced' });
    expect(c.err).toBe('');
  });
});

describe('facegate gallery sync --once', () => {
  it('reports its progress in lines when stderr is no terminal, then the report', async () => {
    const people = join(dir, 'people');
    mkdirSync(people, { recursive: true });
    for (const i of [0, 1, 2] as const) writeFileSync(join(people, `p${i}.png`), await faceCrop(i));
    const config = join(dir, 'sync-config.json');
    writeFileSync(config, JSON.stringify({ stateDir: join(dir, 'sync-state'), gallery: { source: people } }));
    const r = await run('--config', config, 'gallery', 'sync', '--once');
    expect(r.code).toBe(0);
    const lines = r.err.split('\n').filter((l) => l.startsWith('people checked'));
    expect(lines[0]).toBe('people checked 1/3 (33%)');
    expect(lines.at(-1)).toBe('people checked 3/3 (100%)');
    expect(JSON.parse(r.out.at(-1)!)).toMatchObject({ status: 'applied', added: ['p0', 'p1', 'p2'] });
  });
});

describe('facegate --version', () => {
  it("prints package.json's version, which /metrics carries too", async () => {
    const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V'])
      expect(await run(flag)).toMatchObject({ code: 0, out: [`facegate ${version}`] });
    expect(await new Metrics().registry.metrics()).toContain(`facegate_build_info{version="${version}"} 1`);
  });
});

describe('the facegate executable', () => {
  it('stops quietly when its reader closes the pipe (facegate gallery list | head -1)', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(PROJECT_ROOT, 'src/cli/bin.ts'), 'config', '--print-schema'],
      {
        cwd: PROJECT_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.destroy(); // the reader is gone before facegate writes
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise((r) => child.on('close', r));
    expect(stderr).not.toMatch(/EPIPE|internal error|at /);
    expect(code).toBe(0);
  });

  it('exits with the command status', async () => {
    const exec = promisify(execFile);
    const bin = [join(PROJECT_ROOT, 'node_modules/.bin/tsx'), join(PROJECT_ROOT, 'src/cli/bin.ts')] as const;
    const help = await exec(bin[0], [bin[1], 'verify', '--help']);
    expect(help.stdout).toMatch(/Usage: facegate verify/);
    await expect(exec(bin[0], [bin[1], 'verify', textJpg, textJpg])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/facegate verify: .*notes\.jpg: not an image/) as string,
    });
  });
});
