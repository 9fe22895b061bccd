// The next person at the door: two residents, one stepping up the moment the other steps away, in
// the same place and at the same size (the tracker's boxes overlap all the way). Each is announced.
// Before, the second inherited the first's decided track and got no event while they stood there.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon } from '../../src/daemon.js';
import { writeSceneClip } from '../../src/demo.js';
import { FaceEngine } from '../../src/inference/faces.js';
import { decodeImage } from '../../src/vision/image.js';
import { sharedFace, sharedFacesAvailable } from '../helpers/fixtures.js';
import { watchEvents } from '../helpers/mosquitto.js';
import { doorRig, enrollGallery, writeDoorConfig, type DoorRig } from '../helpers/daemon.js';
import { sleep, until } from '../helpers/wait.js';

const haveShared = sharedFacesAvailable('the next person at the door, with ../shared/faces photos');
const KNN = 'face_recognition/examples/knn_examples/train';
let dir: string;
let rig: DoorRig;

/** `file` cut to a square around its face (twice its width) and scaled to 400 px: faces alike in place and size. */
async function faceSquare(engine: FaceEngine, file: string, out: string): Promise<string> {
  const [face] = await engine.analyze(await decodeImage(file), { select: 'largest' });
  const { x, y, width, height } = face!.box;
  const side = Math.round(2 * Math.max(width, height));
  const meta = await sharp(file).metadata();
  const left = Math.max(0, Math.min(meta.width - side, Math.round(x + width / 2 - side / 2)));
  const top = Math.max(0, Math.min(meta.height - side, Math.round(y + height / 2 - side / 2)));
  await sharp(file)
    .extract({ left, top, width: Math.min(side, meta.width), height: Math.min(side, meta.height) })
    .resize(400, 400)
    .png()
    .toFile(out);
  return out;
}

beforeAll(async () => {
  if (!haveShared) return;
  dir = mkdtempSync(join(tmpdir(), 'fg-next-'));
  const engine = await FaceEngine.open();
  const obama = await faceSquare(engine, sharedFace(`${KNN}/obama/obama2.jpg`), join(dir, 'obama.png'));
  const biden = await faceSquare(engine, sharedFace(`${KNN}/biden/biden2.jpg`), join(dir, 'biden.png'));
  await engine.release();
  writeSceneClip(join(dir, 'clip.mp4'), [
    { photo: obama, seconds: 3 },
    { photo: biden, seconds: 3 }, // no frame between them
    { photo: null, seconds: 4 },
  ]);
  rig = await doorRig(join(dir, 'clip.mp4'));
});

afterAll(async () => {
  if (!haveShared) return;
  await rig.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!haveShared)('the next person at the door', () => {
  it('announces a resident who steps into the place of another the moment they leave', async () => {
    const stateDir = join(dir, 'state');
    await enrollGallery(stateDir, 'mobilefacenet', [
      { id: 'obama', name: 'Obama', photo: readFileSync(sharedFace(`${KNN}/obama/obama.jpg`)) },
      { id: 'biden', name: 'Biden', photo: readFileSync(sharedFace(`${KNN}/biden/biden.jpg`)) },
    ]);
    const config = writeDoorConfig(join(dir, 'config.json'), {
      stateDir,
      encoder: 'mobilefacenet',
      cameraUrl: rig.server.url,
      broker: rig.broker,
      deviceId: 'next-person',
    });
    const { events, end } = await watchEvents(rig.broker, 'facegate/next-person/cameras/+/match');
    const daemon = new Daemon(config, () => {});
    await daemon.start();
    const matched = () => events.map((e) => (e.payload.person as { id: string }).id);
    // The clip is 10 s and loops; the second person has had a whole pass by then.
    await until('both residents announced', () => matched().includes('biden'), 40_000).catch(() => {});
    await sleep(500);
    await daemon.stop();
    await end();
    expect(matched()).toEqual(['obama', 'biden']);
    // One after the other, within the clip's first pass: Biden's came 3 s after Obama's appeared.
    const [first, second] = events.map((e) => Date.parse(e.payload.captured_at as string));
    expect(second! - first!).toBeLessThan(6000);
  }, 90_000);
});
