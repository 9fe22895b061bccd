// The end-to-end tests' daemon: one RTSP camera called "door", a password-protected broker, and
// a gallery enrolled as `facegate gallery enroll` would with the encoder's own threshold.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadConfig, type Config } from '../../src/config/schema.js';
import { DEFAULT_SIMILAR_FACE_RATIO } from '../../src/gallery/enroll.js';
import { ENCODER_THRESHOLDS } from '../../src/inference/faces.js';
import type { EncoderName } from '../../src/inference/model-manifest.js';
import { DEFAULT_QUALITY_GATES } from '../../src/vision/quality.js';
import { PASSWORD, USER, type Mosquitto } from './mosquitto.js';

/** enrollPerson's policy with the encoder's pairs threshold. */
export const enrollPolicy = (encoder: EncoderName) => ({
  threshold: ENCODER_THRESHOLDS[encoder],
  gates: DEFAULT_QUALITY_GATES,
  similarFaceRatio: DEFAULT_SIMILAR_FACE_RATIO,
});

/**
 * Writes `file` (and the broker's password beside it) for a daemon on camera `cameraUrl` that
 * publishes as `deviceId`; `more` adds top-level settings (match, recognition, ...). Returns the
 * configuration as the daemon loads it.
 */
export function writeDoorConfig(
  file: string,
  o: {
    stateDir: string;
    encoder: EncoderName;
    cameraUrl: string;
    broker: Mosquitto;
    deviceId: string;
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
      ...o.more,
      // The clips are of still photos, which a camera would never send: the watchdog outlasts them.
      cameras: [{ name: 'door', url: o.cameraUrl, fps: 5, width: 1280, height: 720, watchdogMs: 20_000 }],
      // Any free port: another facegate (or test) may hold the default 9789.
      http: { port: 0 },
      mqtt: { url: o.broker.url, deviceId: o.deviceId, username: USER, passwordFile, outboxFsync: false },
    }),
  );
  return loadConfig(file, {});
}
