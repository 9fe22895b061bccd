// The recognition stage alone, driven with frames as a camera would deliver them: the enrolled
// person's face moving as a head does gives one match with its liveness verdict, the same
// person's photo held still a spoof, a stranger an unknown, and frames no face is in nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { livenessPolicy, loadConfig } from '../../src/config/schema.js';
import { presentationClip, type ClipKind } from '../../src/eval/presentation-clips.js';
import { enrollPerson } from '../../src/gallery/enroll.js';
import { Matcher } from '../../src/gallery/matcher.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { DOOR_THRESHOLDS, ENCODER_THRESHOLDS, FaceEngine } from '../../src/inference/faces.js';
import { DEFAULT_ENCODER } from '../../src/inference/model-manifest.js';
import { CameraRecognition, type Decision } from '../../src/recognition/stage.js';
import { sameFaceSpread, trackerOptionsFrom } from '../../src/recognition/tracker.js';
import { decodeImage } from '../../src/vision/image.js';
import { enrollPolicy } from '../helpers/daemon.js';
import { doorPeople } from '../helpers/faces.js';
import { sharedFacesAvailable } from '../helpers/fixtures.js';

const haveShared = sharedFacesAvailable('recognition stage test with ../shared/faces photos');
const dir = mkdtempSync(join(tmpdir(), 'fg-stage-'));
let engine: FaceEngine;
let matcher: Matcher;
let people: Awaited<ReturnType<typeof doorPeople>>;

beforeAll(async () => {
  engine = await FaceEngine.open();
  people = await doorPeople(haveShared);
  const store = new GalleryStore(join(dir, 'gallery.sqlite'));
  await enrollPerson(
    engine,
    store,
    { id: 'person-a', name: 'Person A' },
    [{ bytes: people.enrollA, source: 'a.jpg' }],
    enrollPolicy(DEFAULT_ENCODER),
  );
  matcher = await Matcher.create(store.entries(engine.encoderId), 'mean');
  store.close();
}, 60_000);

afterAll(async () => {
  await matcher.release();
  await engine.release();
  rmSync(dir, { recursive: true, force: true });
});

/** Every decision the stage makes on `kind` drawn from `photo` (20 frames at 5 fps), one frame a 200 ms. */
async function decisions(photo: Buffer, kind: ClipKind): Promise<{ decided: Decision[]; faces: number }> {
  const config = loadConfig(undefined, {});
  const stage = new CameraRecognition({
    engine,
    gallery: () => Promise.resolve(matcher),
    settings: () => config,
    threshold: () => DOOR_THRESHOLDS[DEFAULT_ENCODER],
    tracker: trackerOptionsFrom(
      config.recognition,
      sameFaceSpread(DOOR_THRESHOLDS[DEFAULT_ENCODER], ENCODER_THRESHOLDS[DEFAULT_ENCODER]),
      livenessPolicy(config),
    ),
  });
  const image = await decodeImage(photo);
  const [face] = await engine.analyze(image, { select: 'largest', mirror: false });
  const clip = await presentationClip(image, face!.landmarks, kind, { frames: 20, fps: 5, seed: 4 });
  const decided: Decision[] = [];
  let faces = 0;
  for (const [i, f] of clip.frames.entries()) {
    const result = await stage.analyze({ ...f, capturedAt: 1_000_000 + 200 * i, sequence: i + 1 });
    faces += result.faces.length;
    decided.push(...result.decisions);
  }
  // Then nobody: nothing more is decided, and no track waits.
  const empty = { width: 480, height: 360, data: new Uint8Array(480 * 360 * 3).fill(90) };
  for (let i = 20; i < 25; i++)
    decided.push(
      ...(await stage.analyze({ ...empty, capturedAt: 1_000_000 + 200 * i, sequence: i + 1 })).decisions,
    );
  expect(stage.pendingTracks).toBe(0);
  return { decided, faces };
}

describe('the recognition stage', () => {
  it('decides a head, a photo of it and a stranger from frames alone', async () => {
    const head = await decisions(people.shownA, 'genuine');
    expect(head.faces).toBe(20);
    expect(head.decided).toMatchObject([
      {
        kind: 'match',
        personId: 'person-a',
        liveness: { live: true },
        evidence: { distance: expect.any(Number) },
      },
    ]);
    const photo = await decisions(people.shownA, 'A1');
    expect(photo.decided).toMatchObject([
      { kind: 'spoof', personId: 'person-a', liveness: { live: false, reason: 'still' } },
    ]);
    const stranger = await decisions(people.shownB, 'genuine');
    expect(stranger.decided).toMatchObject([{ kind: 'unknown' }]);
    const unknown = stranger.decided[0] as Extract<Decision, { kind: 'unknown' }>;
    expect(unknown.evidence!.distance).toBeGreaterThanOrEqual(DOOR_THRESHOLDS[DEFAULT_ENCODER]);
  }, 120_000);
});
