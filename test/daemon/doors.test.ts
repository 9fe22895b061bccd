// Doors end to end: a real RTSP camera that three doors share, a real Mosquitto with a password,
// the daemon on the default liveness. Person A (enrolled) comes as a head turning a little: granted
// at the front door, denied not_allowed at the office, denied outside_schedule at a door whose
// hours are not now. Then a stranger comes five times: denied unknown each time, and the front
// door locks out, so person A coming back is denied locked_out. Every access event is signed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/privacy/audit.js';
import { Daemon } from '../../src/daemon.js';
import { headFrames, writeSceneClip, type Scene } from '../../src/demo.js';
import { verifyEvent } from '../../src/events/signing.js';
import { FaceEngine } from '../../src/inference/faces.js';
import { DEFAULT_ENCODER } from '../../src/inference/model-manifest.js';
import { enrollGallery, writeDoorConfig } from '../helpers/daemon.js';
import { doorPeople } from '../helpers/faces.js';
import { sharedFacesAvailable } from '../helpers/fixtures.js';
import { Mosquitto, watchEvents } from '../helpers/mosquitto.js';
import { playFile, RtspServer } from '../helpers/rtsp.js';
import { sleep, until } from '../helpers/wait.js';

const haveShared = sharedFacesAvailable('doors end-to-end test with ../shared/faces photos');
const key = Buffer.from('doors-test-key-0123456789abcdef');
let dir: string;
let broker: Mosquitto;
let server: RtspServer;
let enrollPhoto: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fg-doors-'));
  const { enrollA, shownA, shownB } = await doorPeople(haveShared);
  enrollPhoto = enrollA;
  writeFileSync(join(dir, 'stranger.png'), await sharp(shownB).png().toBuffer());
  const engine = await FaceEngine.open();
  const head = await headFrames(engine, shownA, join(dir, 'head'), 21);
  await engine.release();
  const stranger: Scene[] = [
    { photo: join(dir, 'stranger.png'), seconds: 3 },
    { photo: null, seconds: 3 }, // the track ends (2.5 s unseen): the next pass is a new one
  ];
  writeSceneClip(join(dir, 'clip.mp4'), [
    head,
    { photo: null, seconds: 3 },
    ...stranger,
    ...stranger,
    ...stranger,
    ...stranger,
    ...stranger,
    head,
    { photo: null, seconds: 2 },
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

/** HH:MM, local time, `hours` from now. */
const clock = (hours: number) => {
  const d = new Date(Date.now() + hours * 3_600_000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
};

describe('doors end to end', () => {
  it('grants, denies with the reason, and locks out after five strangers', async () => {
    const stateDir = join(dir, 'state');
    await enrollGallery(stateDir, DEFAULT_ENCODER, [
      { id: 'person-a', name: 'Person A', metadata: { groups: ['residents'] }, photo: enrollPhoto },
    ]);
    const config = writeDoorConfig(join(dir, 'config.json'), {
      stateDir,
      encoder: DEFAULT_ENCODER,
      cameraUrl: server.url,
      broker,
      deviceId: 'doors',
      signingKeyFile: join(dir, 'key'),
      more: {
        liveness: {}, // the defaults: the head must turn
        // Person A comes back within a minute: each pass is a match.
        recognition: { cooldownSeconds: 0 },
        doors: [
          {
            name: 'front',
            cameras: ['door'],
            allow: { groups: ['residents'] },
            // Wide enough that five strangers on a busy machine still fall within it.
            lockout: { refusals: 5, windowSeconds: 120, seconds: 120 },
          },
          { name: 'office', cameras: ['door'], allow: { people: ['someone-else'] } },
          {
            name: 'night',
            cameras: ['door'],
            allow: { people: ['person-a'] },
            schedule: [
              { days: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'], from: clock(2), to: clock(3) },
            ],
          },
        ],
      },
    });
    expect(config.liveness.mode).toBe('require');
    const { events, end } = await watchEvents(broker, 'facegate/doors/doors/+/access');
    const daemon = new Daemon(config, () => undefined);
    try {
      await daemon.start();
      const at = (door: string) => events.filter((e) => e.topic === `facegate/doors/doors/${door}/access`);
      // Person A, five strangers, person A again: seven decisions at the front door.
      await until('seven decisions at the front door', () => at('front').length >= 7, 150_000);
      await sleep(1000);
      for (const e of events)
        expect(verifyEvent(key, e.payload, { maxAgeMs: 300_000, seen: new Set() })).toEqual({ ok: true });
      const outcome = (door: string) =>
        at(door).map((e) => `${e.payload.result as string} ${String(e.payload.reason)}`);
      expect(outcome('front')).toEqual([
        'granted null',
        'denied unknown',
        'denied unknown',
        'denied unknown',
        'denied unknown',
        'denied unknown',
        'denied locked_out',
      ]);
      expect(at('front')[0]!.payload).toMatchObject({
        door: 'front',
        camera: 'door',
        person: { id: 'person-a', name: 'Person A' },
        decision: { kind: 'match' },
      });
      expect(at('front')[0]!.payload.snapshot).toEqual(expect.any(String)); // the face the door decided on
      expect(at('front')[1]!.payload).toMatchObject({ person: null, decision: { kind: 'unknown' } });
      expect(outcome('office')[0]).toBe('denied not_allowed');
      expect(outcome('night')[0]).toBe('denied outside_schedule');
    } finally {
      await daemon.stop();
      await end();
    }
    // Every access decision is on the audit log's chain, with the event that announced it.
    const audit = new AuditLog(join(stateDir, 'audit.sqlite'));
    const access = audit.range().filter((e) => e.kind === 'access');
    expect(audit.verify()).toMatchObject({ ok: true });
    audit.close();
    const published = events.map((e) => e.payload.event_id);
    expect(access.map((e) => e.details.event_id)).toEqual(published);
    expect(access[0]).toMatchObject({
      actor: 'daemon',
      subject: 'front',
      details: { result: 'granted', camera: 'door', person: 'person-a', decision: { kind: 'match' } },
    });
  }, 240_000);
});
