// MQTT options from the validated configuration. Secrets come from files or the environment,
// never from the command line; a missing or unreadable file is a configuration error naming it.
import { hostname } from 'node:os';
import { readConfiguredFile, readSecretFile } from '../config/files.js';
import type { Config } from '../config/schema.js';
import type { MqttOptions } from './publisher.js';
import { defaultPrefix } from './topics.js';

export function mqttOptions(config: Config, env: NodeJS.ProcessEnv = process.env): MqttOptions {
  const m = config.mqtt;
  const deviceId = m.deviceId || hostname();
  const password = m.passwordFile
    ? readConfiguredFile(m.passwordFile, 'mqtt.passwordFile').toString('utf8').trim()
    : env.FACEGATE_MQTT_PASSWORD;
  return {
    url: m.url,
    deviceId,
    prefix: m.prefix || defaultPrefix(deviceId),
    ...(m.username ? { username: m.username } : {}),
    ...(password ? { password } : {}),
    ...(m.caFile ? { caFile: m.caFile } : {}),
    ...(m.certFile ? { certFile: m.certFile } : {}),
    ...(m.keyFile ? { keyFile: m.keyFile } : {}),
    protocolVersion: m.protocolVersion as 4 | 5,
    reconnectMs: m.reconnectMs,
    maxEventAgeMs: m.maxEventAgeSeconds * 1000,
    connectTimeoutMs: 10_000,
    window: 100,
  };
}

export function signingKey(config: Config): Buffer | undefined {
  return config.mqtt.signingKeyFile
    ? readSecretFile(config.mqtt.signingKeyFile, 'mqtt.signingKeyFile')
    : undefined;
}
