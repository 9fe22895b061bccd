import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { mqttOptions, signingKey } from '../../src/events/from-config.js';
import { mqttReference } from '../../tools/mqtt-docs.js';
import { PROJECT_ROOT } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-mqttcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('MQTT configuration', () => {
  it('reads the password from a file or the environment, never the config file itself', () => {
    writeFileSync(join(dir, 'pw'), 'from-file\n');
    const file = join(dir, 'c.json');
    writeFileSync(
      file,
      JSON.stringify({
        mqtt: {
          url: 'mqtt://127.0.0.1:1883',
          deviceId: 'gw 1',
          username: 'u',
          passwordFile: join(dir, 'pw'),
        },
      }),
    );
    const o = mqttOptions(loadConfig(file, {}));
    expect(o).toMatchObject({ password: 'from-file', prefix: 'facegate/gw_1', deviceId: 'gw 1' });
    const fromEnv = mqttOptions(loadConfig(undefined, { FACEGATE_MQTT_URL: 'mqtt://h' }), {
      FACEGATE_MQTT_PASSWORD: 'from-env',
    });
    expect(fromEnv.password).toBe('from-env');
    writeFileSync(file, JSON.stringify({ mqtt: { password: 'inline' } }));
    expect(() => loadConfig(file, {})).toThrow(
      /mqtt\.password: not a setting \(did you mean mqtt\.passwordFile\?\)/,
    );
  });

  it('names a missing secret file when the config is validated, and when it goes missing later', () => {
    expect(() =>
      loadConfig(undefined, {
        FACEGATE_MQTT_PASSWORD_FILE: join(dir, 'nope'),
        FACEGATE_MQTT_SIGNING_KEY_FILE: join(dir, 'nokey'),
      }),
    ).toThrow(
      /mqtt\.passwordFile: cannot read .*nope: no such file(.|\n)*mqtt\.signingKeyFile: cannot read .*nokey/,
    );
    const pw = join(dir, 'pw');
    const key = join(dir, 'key');
    writeFileSync(pw, 'secret');
    writeFileSync(key, 'k');
    const c = loadConfig(undefined, { FACEGATE_MQTT_PASSWORD_FILE: pw, FACEGATE_MQTT_SIGNING_KEY_FILE: key });
    rmSync(pw);
    rmSync(key);
    expect(() => mqttOptions(c)).toThrow(/mqtt\.passwordFile .*pw: ENOENT/);
    expect(() => signingKey(c)).toThrow(/mqtt\.signingKeyFile .*key: ENOENT/);
  });

  it('keeps docs/mqtt.md in step with the payload schemas (make mqtt-docs)', () => {
    expect(readFileSync(join(PROJECT_ROOT, 'docs/mqtt.md'), 'utf8')).toBe(mqttReference());
  });
});
