// The attack that was tried, end to end: a still photo of an enrolled person played as an RTSP
// camera, then the same person's face moving as a head does (drawn from the photo with a depth per
// landmark: eval/presentation-clips.ts). On the default configuration the photo gives a signed
// spoof event and no match, and the example door controller does not unlock; the head gives a
// live match, and it unlocks. With liveness 'report', the photo's match says it is not live, and
// the controller refuses it. A real RTSP server, a real Mosquitto, the real daemon.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { Daemon } from '../../src/daemon.js';
import { headFrames, writeSceneClip } from '../../src/demo.js';
import { verifyEvent } from '../../src/events/signing.js';
import { FaceEngine } from '../../src/inference/faces.js';
import { DEFAULT_ENCODER } from '../../src/inference/model-manifest.js';
import { doorController, enrollGallery, writeDoorConfig } from '../helpers/daemon.js';
import { sharedFacesAvailable } from '../helpers/fixtures.js';
import { doorPeople } from '../helpers/faces.js';
import { Mosquitto, PASSWORD, USER, watchEvents } from '../helpers/mosquitto.js';
import { playFile, RtspServer } from '../helpers/rtsp.js';
import { sleep, until } from '../helpers/wait.js';

const haveShared = sharedFacesAvailable('liveness end-to-end test with ../shared/faces photos');
const key = Buffer.from('liveness-test-key-0123456789abcdef');
let dir: string;
let broker: Mosquitto;
let server: RtspServer;
let enrollPhoto: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-liveness-'));
  const { enrollA, shownA: shown } = await doorPeople(haveShared);
  enrollPhoto = enrollA;
  writeFileSync(join(dir, 'photo.png'), await sharp(shown).png().toBuffer());
  // The same photo as a head turning a few degrees, 8 s at 10 fps.
  const engine = await FaceEngine.open();
  const head = await headFrames(engine, shown, join(dir, 'head'), 21);
  await engine.release();
  writeSceneClip(join(dir, 'clip.mp4'), [
    { photo: join(dir, 'photo.png'), seconds: 10 },
    { photo: null, seconds: 3 },
    head,
    { photo: null, seconds: 3 },
  ]);
  broker = await Mosquitto.start();
  server = await RtspServer.start(playFile(join(dir, 'clip.mp4')), '/door');
  writeFileSync(join(dir, 'key'), key, { mode: 0o600 });
}, 120_000);

afterAll(async () => {
  await server.stop();
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Plays the clip once to a daemon with `liveness` settings; returns its events and what the door controller said. */
async function playClip(
  name: string,
  liveness: { section: Record<string, unknown>; camera?: Record<string, unknown> },
) {
  const stateDir = join(dir, `state-${name}`);
  await enrollGallery(stateDir, DEFAULT_ENCODER, [{ id: 'person-a', name: 'Person A', photo: enrollPhoto }]);
  const config = writeDoorConfig(join(dir, `config-${name}.json`), {
    stateDir,
    encoder: DEFAULT_ENCODER,
    cameraUrl: server.url,
    broker,
    deviceId: name,
    signingKeyFile: join(dir, 'key'),
    more: { liveness: liveness.section },
    ...(liveness.camera ? { camera: { liveness: liveness.camera } } : {}),
  });
  const controller = doorController(broker, `facegate/${name}`, join(dir, 'key'));
  await controller.waitFor(1);
  const { events, end } = await watchEvents(broker, `facegate/${name}/cameras/+/+`);
  // Snapshots are JPEG bytes, not JSON: a client of their own.
  const snapshots = new Map<string, Buffer>();
  const jpegs = await mqtt.connectAsync(broker.url, { username: USER, password: PASSWORD });
  jpegs.on('message', (topic, payload) => snapshots.set(topic.split('/').at(-1)!, payload));
  await jpegs.subscribeAsync(`facegate/${name}/cameras/+/snapshot/+`, { qos: 1 });
  const daemon = new Daemon(config, () => undefined);
  try {
    await daemon.start();
    const decisions = () => events.filter((e) => /\/(match|spoof|unknown)$/.test(e.topic));
    // The head comes last: its match ends the clip's decisions.
    await until(
      'the head matched',
      () => decisions().filter((e) => e.topic.endsWith('/match')).length >= (name === 'report' ? 2 : 1),
      90_000,
    );
    await sleep(1500); // anything else that was coming, and the controller's answer
    return { config, decisions: decisions(), said: controller.lines.slice(1), snapshots, stateDir };
  } finally {
    await daemon.stop();
    await end();
    await jpegs.endAsync();
    controller.stop();
  }
}

describe('liveness end to end', () => {
  it('on the default configuration: the photo gives a signed spoof and no unlock, the head a live match that unlocks', async () => {
    const { config, decisions, said, snapshots, stateDir } = await playClip('default', {
      section: loadConfig(undefined, {}).liveness,
    });
    expect(config.liveness).toEqual(loadConfig(undefined, {}).liveness);
    expect(config.liveness.mode).toBe('require');
    expect(decisions.map((e) => e.topic.split('/').at(-1))).toEqual(['spoof', 'match']);
    const [spoof, match] = decisions;
    for (const e of [spoof!, match!])
      expect(verifyEvent(key, e.payload, { maxAgeMs: 120_000, seen: new Set() })).toEqual({ ok: true });
    expect(spoof!.payload).toMatchObject({
      person: { id: 'person-a' },
      liveness: { mode: 'require', live: false, reason: 'still', frames: config.liveness.maxFrames },
    });
    expect(match!.payload).toMatchObject({
      person: { id: 'person-a' },
      liveness: { mode: 'require', live: true, reason: 'turned' },
    });
    // The door opened once, for the head, never for the photo.
    expect(said).toEqual(['unlock person-a (Person A) at door']);
    // Each event names its face crop: published as a JPEG, and kept 0600 in the state directory.
    for (const e of [spoof!, match!]) {
      const id = e.payload.snapshot as string;
      const kind = e.topic.split('/').at(-1)!;
      expect(snapshots.get(id)?.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      // In the matched person's folder, so removing them takes their snapshots with them.
      const file = join(stateDir, 'snapshots', kind, 'person-a', `${id}.jpg`);
      expect(readFileSync(file)).toEqual(snapshots.get(id));
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }
  }, 240_000);

  it("with 'report' on the camera: the photo's match says it is not live, and the controller refuses it", async () => {
    // The section says 'require' (the default); the camera's own setting wins.
    const { config, decisions, said } = await playClip('report', { section: {}, camera: { mode: 'report' } });
    expect(config.liveness.mode).toBe('require');
    expect(decisions.map((e) => e.topic.split('/').at(-1))).toEqual(['match', 'match']);
    expect(decisions.map((e) => (e.payload.liveness as { live: boolean }).live)).toEqual([false, true]);
    expect(said).toEqual(['refuse not live (still)', 'unlock person-a (Person A) at door']);
  }, 240_000);
});
