// The end-to-end tests' daemon: one RTSP camera called "door", a password-protected broker, and
// a gallery enrolled as `facegate gallery enroll` would with the encoder's own threshold.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/schema.js';
import { DEFAULT_SIMILAR_FACE_RATIO, enrollPerson } from '../../src/gallery/enroll.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { ENCODER_THRESHOLDS, FaceEngine } from '../../src/inference/faces.js';
import type { EncoderName } from '../../src/inference/model-manifest.js';
import { DEFAULT_QUALITY_GATES } from '../../src/vision/quality.js';
import { PROJECT_ROOT } from './fixtures.js';
import { Mosquitto, PASSWORD, USER } from './mosquitto.js';
import { playFile, RtspServer } from './rtsp.js';

/** enrollPerson's policy with the encoder's pairs threshold. */
export const enrollPolicy = (encoder: EncoderName) => ({
  threshold: ENCODER_THRESHOLDS[encoder],
  gates: DEFAULT_QUALITY_GATES,
  similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
});

/** A gallery in `stateDir` with these people enrolled from one photo each, as the CLI would. */
export async function enrollGallery(
  stateDir: string,
  encoder: EncoderName,
  people: { id: string; name: string; metadata?: Record<string, unknown>; photo: Buffer }[],
): Promise<void> {
  const engine = await FaceEngine.open({ encoder });
  const store = new GalleryStore(join(stateDir, 'gallery.sqlite'));
  try {
    for (const { photo, ...person } of people)
      await enrollPerson(
        engine,
        store,
        person,
        [{ bytes: photo, source: `${person.id}.jpg` }],
        enrollPolicy(encoder),
      );
  } finally {
    store.close();
    await engine.release();
  }
}

/**
 * Writes `file` (and the broker's password beside it) for a daemon on camera `cameraUrl` that
 * publishes as `deviceId`, liveness off; `more` adds top-level settings (match, recognition,
 * liveness, ...). Returns the configuration as the daemon loads it.
 */
export function writeDoorConfig(
  file: string,
  o: {
    stateDir: string;
    encoder: EncoderName;
    cameraUrl: string;
    broker: Mosquitto;
    deviceId: string;
    /** Signs the events with this key file's key. */
    signingKeyFile?: string;
    /** More settings of the camera (cameras[0]). */
    camera?: Record<string, unknown>;
    more?: Record<string, unknown>;
  },
): Config {
  const passwordFile = join(dirname(file), 'mqtt-password');
  writeFileSync(passwordFile, PASSWORD);
  writeFileSync(
    file,
    JSON.stringify({
      stateDir: o.stateDir,
      models: { encoder: o.encoder },
      // The clips show photos, which liveness calls spoofs: these tests are about matching
      // (liveness has its own: test/daemon/liveness.test.ts, which sets it in `more`).
      liveness: { mode: 'off' },
      ...o.more,
      // The clips are of still photos, which a camera would never send: the watchdog outlasts them.
      cameras: [
        { name: 'door', url: o.cameraUrl, fps: 5, width: 1280, height: 720, watchdogMs: 20_000, ...o.camera },
      ],
      // Any free port: another facegate (or test) may hold the default 9789.
      http: { port: 0 },
      mqtt: {
        url: o.broker.url,
        deviceId: o.deviceId,
        username: USER,
        passwordFile,
        outboxFsync: false,
        ...(o.signingKeyFile ? { signingKeyFile: o.signingKeyFile } : {}),
      },
    }),
  );
  return loadConfig(file, {});
}

/**
 * examples/door-controller.ts as a lock would run it, on `broker` for the device `prefix`: every
 * line it prints, and a wait for the first `n` of them.
 */
export function doorController(broker: Mosquitto, prefix: string, keyFile: string, flags: string[] = []) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(PROJECT_ROOT, 'examples/door-controller.ts'),
      ...flags,
      broker.url,
      prefix,
      keyFile,
    ],
    {
      cwd: PROJECT_ROOT,
      env: { ...process.env, MQTT_USERNAME: USER, MQTT_PASSWORD: PASSWORD },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  child.stdout.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  const waitFor = async (n: number, ms = 10_000): Promise<void> => {
    const t0 = Date.now();
    while (lines.length < n) {
      if (Date.now() - t0 > ms) throw new Error(`the door controller said only: ${lines.join(' | ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { lines, waitFor, stop: () => child.kill() };
}

export type DoorRig = { broker: Mosquitto; server: RtspServer; stop: () => Promise<void> };

/** A door's broker (Mosquitto with a password) and camera (an RTSP server looping `clip` at /door). */
export async function doorRig(clip: string): Promise<DoorRig> {
  const broker = await Mosquitto.start();
  const server = await RtspServer.start(playFile(clip), '/door');
  return {
    broker,
    server,
    stop: async () => {
      await server.stop();
      await broker.stop();
    },
  };
}
