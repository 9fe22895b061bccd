// The gallery over MQTT with a real Mosquitto: <prefix>/gallery/sync runs a sync, and its
// outcome appears retained on <prefix>/gallery/status.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/schema.js';
import { connectGalleryToMqtt } from '../../src/gallery/mqtt.js';
import { DirectorySource } from '../../src/gallery/sources.js';
import { GalleryStore } from '../../src/gallery/store.js';
import { GallerySyncer } from '../../src/gallery/syncer.js';
import { FaceEngine } from '../../src/inference/faces.js';
import { faceCrop } from '../helpers/faces.js';
import { Mosquitto, PASSWORD, testPublisher, USER } from '../helpers/mosquitto.js';
import { until } from '../helpers/wait.js';

let broker: Mosquitto;
let dir: string;
beforeAll(async () => {
  broker = await Mosquitto.start();
  dir = mkdtempSync(join(tmpdir(), 'fg-gallery-mqtt-'));
});
afterAll(async () => {
  await broker.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('gallery over MQTT', () => {
  it('syncs on <prefix>/gallery/sync and publishes the retained status', async () => {
    const folder = join(dir, 'people');
    mkdirSync(folder);
    writeFileSync(join(folder, 'ann.png'), await faceCrop(0));
    const config = loadConfig(undefined, { FACEGATE_GALLERY_SOURCE: folder });
    const engine = await FaceEngine.open();
    const store = new GalleryStore(join(dir, 'gallery.sqlite'));
    const { publisher, close } = testPublisher(broker);
    const syncer = new GallerySyncer(engine, store, new DirectorySource(folder), {
      ...config,
      gallery: { ...config.gallery, intervalSeconds: 0 },
    });
    connectGalleryToMqtt(syncer, publisher);
    await until('connected', () => publisher.stats.connected, 60_000);

    const watcher = mqtt.connect(broker.url, { username: USER, password: PASSWORD });
    const statuses: { version: number; people: number; last_error: string | null }[] = [];
    watcher.on('message', (_t, p) => statuses.push(JSON.parse(p.toString()) as (typeof statuses)[number]));
    await new Promise((r) => watcher.once('connect', r));
    await watcher.subscribeAsync('facegate/gw1/gallery/status', { qos: 1 });
    await watcher.publishAsync('facegate/gw1/gallery/sync', '', { qos: 1 });
    await until('status after the sync', () => statuses.some((s) => s.people === 1), 60_000);
    expect(statuses.at(-1)).toMatchObject({ people: 1, last_error: null });

    await watcher.endAsync();
    await syncer.stop();
    await close();
    store.close();
    await engine.release();
  });
});
