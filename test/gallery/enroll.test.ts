// Enrollment on real photos: each refusal with its reason, duplicates named, model changes
// re-embedded, export and import.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_SIMILAR_FACE_RATIO,
  enrollPerson,
  reembedGallery,
  type EnrollmentPolicy,
} from '../../src/gallery/enroll.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { exportGallery, importGallery, parseExport } from '../../src/gallery/transfer.js';
import { DEFAULT_THRESHOLD, FaceEngine } from '../../src/inference/faces.js';
import { DEFAULT_QUALITY_GATES } from '../../src/vision/quality.js';
import { samplePhoto } from '../helpers/fixtures.js';
import { faceCrop } from '../helpers/faces.js';

let engine: FaceEngine;
let dir: string;
let store: GalleryStore;
const policy: EnrollmentPolicy = {
  threshold: DEFAULT_THRESHOLD,
  gates: DEFAULT_QUALITY_GATES,
  similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
};
const photo = (bytes: Buffer, source: string) => ({ bytes, source });

beforeAll(async () => {
  engine = await FaceEngine.open();
  dir = mkdtempSync(join(tmpdir(), 'fg-enroll-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  store?.close();
  store = new GalleryStore(join(dir, `${Math.random()}.sqlite`));
});

describe('enrollment', () => {
  it('enrolls a good photo and bumps the gallery version', async () => {
    const r = await enrollPerson(
      engine,
      store,
      { id: 'ann', name: 'Ann' },
      [photo(await faceCrop(0), 'ann.png')],
      policy,
    );
    expect(r).toEqual({ personId: 'ann', images: 1, galleryVersion: 1 });
    expect(store.entries(engine.encoderId)).toHaveLength(1);
  });

  it('refuses a photo without a face', async () => {
    const blank = await sharp({ create: { width: 400, height: 300, channels: 3, background: '#777' } })
      .png()
      .toBuffer();
    await expect(
      enrollPerson(engine, store, { id: 'x', name: 'X' }, [photo(blank, 'blank.png')], policy),
    ).rejects.toMatchObject({
      reason: 'no_face',
      message: 'blank.png: no face found',
    });
    expect(store.version).toBe(0);
  });

  it('says a face too small for the detector is too small, with its eye distance, not "no face"', async () => {
    // A 32-pixel face in a 640x480 photo: under the detector's 48 px, and under the gates.
    const tiny = await sharp({ create: { width: 640, height: 480, channels: 3, background: '#777' } })
      .composite([
        {
          input: await sharp(await faceCrop(0))
            .resize(32, 32)
            .toBuffer(),
          left: 300,
          top: 200,
        },
      ])
      .png()
      .toBuffer();
    await expect(
      enrollPerson(engine, store, { id: 'x', name: 'X' }, [photo(tiny, 'far.png')], policy),
    ).rejects.toMatchObject({
      reason: 'low_quality',
      message: expect.stringMatching(/^far\.png: face found, too small \(eye distance \d+ px, minimum 20\)$/),
    });
    expect(store.version).toBe(0);
  });

  it('refuses a photo with several faces of similar size', async () => {
    await expect(
      enrollPerson(
        engine,
        store,
        { id: 'x', name: 'X' },
        [photo(readFileSync(samplePhoto('sample6.jpg')), 'group.jpg')],
        policy,
      ),
    ).rejects.toMatchObject({
      reason: 'multiple_faces',
      message: expect.stringMatching(/group\.jpg: \d faces of similar size/),
    });
  });

  it('refuses a face below the quality gates, saying which', async () => {
    const blurred = await sharp(await faceCrop(1))
      .blur(4)
      .png()
      .toBuffer();
    await expect(
      enrollPerson(engine, store, { id: 'x', name: 'X' }, [photo(blurred, 'blurred.png')], policy),
    ).rejects.toMatchObject({
      reason: 'low_quality',
      message: expect.stringMatching(/blurred\.png: face below the quality gates: sharpness/),
    });
  });

  it('refuses an unreadable photo', async () => {
    await expect(
      enrollPerson(engine, store, { id: 'x', name: 'X' }, [photo(Buffer.from('text'), 'notes.jpg')], policy),
    ).rejects.toMatchObject({
      reason: 'unreadable',
      message: expect.stringMatching(/notes\.jpg: not an image/),
    });
  });

  it('refuses a duplicate of someone enrolled, naming them, unless forced', async () => {
    await enrollPerson(
      engine,
      store,
      { id: 'ann', name: 'Ann' },
      [photo(await faceCrop(0), 'ann.png')],
      policy,
    );
    // A second photo of the same person is not a duplicate of themselves.
    const smaller = await sharp(await faceCrop(0))
      .resize(300)
      .png()
      .toBuffer();
    await enrollPerson(engine, store, { id: 'ann', name: 'Ann' }, [photo(smaller, 'ann-2.png')], policy);
    expect(store.getPerson('ann')!.images).toBe(2);
    const mirrored = await sharp(await faceCrop(0))
      .flop()
      .resize(400)
      .png()
      .toBuffer();
    await expect(
      enrollPerson(engine, store, { id: 'anne', name: 'Anne' }, [photo(mirrored, 'anne.png')], policy),
    ).rejects.toMatchObject({
      reason: 'duplicate',
      details: { personId: 'ann', name: 'Ann' },
      message: expect.stringMatching(
        /anne\.png: looks like ann \(Ann\), distance 0\.\d+ under the threshold 0\.42/,
      ),
    });
    expect(store.listPeople().map((p) => p.id)).toEqual(['ann']);
    await enrollPerson(engine, store, { id: 'anne', name: 'Anne' }, [photo(mirrored, 'anne.png')], {
      ...policy,
      force: true,
    });
    expect(store.listPeople().map((p) => p.id)).toEqual(['ann', 'anne']);
  });

  it('writes nothing when one of several photos is refused', async () => {
    const blank = await sharp({ create: { width: 300, height: 300, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    await expect(
      enrollPerson(
        engine,
        store,
        { id: 'bo', name: 'Bo' },
        [photo(await faceCrop(2), 'ok.png'), photo(blank, 'blank.png')],
        policy,
      ),
    ).rejects.toMatchObject({ reason: 'no_face' });
    expect(store.listPeople()).toEqual([]);
    expect(store.version).toBe(0);
  });

  it('re-embeds stored photos when the encoder changes', async () => {
    // A gallery written by a previous encoder: the photo is stored, its embedding is the old model's.
    const stale = { score: 1, eyeDistance: 1, sharpness: 1, yaw: 0, roll: 0, outside: 0 };
    const bytes = await faceCrop(1);
    store.write(() =>
      store.putPerson(
        { id: 'cy', name: 'Cy' },
        [{ bytes, source: 'cy.png', embedding: new Float32Array(128), quality: stale }],
        'old-model',
      ),
    );
    expect(store.entries(engine.encoderId)).toEqual([]);
    const r = await reembedGallery(engine, store);
    expect(r).toEqual({ embedded: 1, failed: [] });
    expect(store.entries(engine.encoderId)).toHaveLength(1);
    expect(store.entries('old-model')).toEqual([]);
  });

  it('exports and imports a gallery, all or nothing', async () => {
    await enrollPerson(
      engine,
      store,
      { id: 'ann', name: 'Ann', metadata: { unit: 4 } },
      [photo(await faceCrop(0), 'ann.png')],
      policy,
    );
    await enrollPerson(engine, store, { id: 'bo', name: 'Bo' }, [photo(await faceCrop(2), 'bo.png')], policy);
    const text = JSON.stringify(exportGallery(store));
    const target = new GalleryStore(join(dir, 'target.sqlite'));
    const r = await importGallery(engine, target, parseExport(text, 'export.json'), policy);
    expect(r.people).toBe(2);
    expect(target.listPeople().map((p) => [p.id, p.metadata])).toEqual([
      ['ann', { unit: 4 }],
      ['bo', {}],
    ]);
    // A tampered photo is caught by its sha256 before anything is written.
    const doc = JSON.parse(text) as { people: { images: { data: string }[] }[] };
    doc.people[1]!.images[0]!.data = Buffer.from('tampered').toString('base64');
    expect(() => parseExport(JSON.stringify(doc), 'export.json')).toThrow(
      /export\.json: people\[1\]\.images\[0\] \(bo\): sha256 .* does not match/,
    );
    expect(() => parseExport('{"format":"other"}', 'x.json')).toThrow(
      /x\.json: not a facegate gallery export/,
    );
    target.close();
  });
});
