// Signed events: the HMAC, freshness and replay checks, and the example door controller
// (examples/door-controller.ts) against a real Mosquitto.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FacegateEvents } from '../../src/events/events.js';
import { eventId } from '../../src/events/ids.js';
import { canonicalJson, signPayload, verifyEvent } from '../../src/events/signing.js';
import type { MatchEvent } from '../../src/events/topics.js';
import { doorController } from '../helpers/daemon.js';
import { Mosquitto, PASSWORD, testPublisher, USER } from '../helpers/mosquitto.js';

const key = Buffer.from('0123456789abcdef0123456789abcdef');

function match(overrides: Partial<MatchEvent> = {}): Omit<MatchEvent, 'signature'> {
  return {
    event_id: eventId(),
    time: new Date().toISOString(),
    device: 'gw1',
    camera: 'front door',
    box: [10, 20, 100, 120],
    quality: { score: 0.9, eye_distance: 42, sharpness: 60, yaw: 3, roll: -1 },
    frames: 4,
    captured_at: new Date().toISOString(),
    frame_age_ms: 40,
    gallery_version: 7,
    snapshot: null,
    model: 'abc',
    person: { id: 'ann', name: 'Ann' },
    distance: 0.31,
    similarity: 0.48,
    threshold: 0.6,
    margin: 0.2,
    liveness: {
      mode: 'require',
      live: true,
      score: 1.4,
      threshold: 1,
      reason: 'turned',
      frames: 12,
      cues: { frames: 12, motion: 0.06, turn: 0.1, steadiness: 5, parallax: 0.05, blinks: 0 },
    },
    ...overrides,
  };
}

describe('event signing', () => {
  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: 2, e: 1 }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[1,{"e":1,"f":2}]},"b":1}',
    );
  });

  it('accepts a signed fresh event once, and refuses forged, modified, stale and replayed ones', () => {
    const seen = new Set<string>();
    const signed = signPayload(key, match());
    expect(verifyEvent(key, signed, { maxAgeMs: 30_000, seen })).toEqual({ ok: true });
    expect(verifyEvent(key, signed, { maxAgeMs: 30_000, seen })).toEqual({ ok: false, reason: 'replayed' });
    const modified = { ...signPayload(key, match()), person: { id: 'mallory', name: 'Mallory' } };
    expect(verifyEvent(key, modified, { maxAgeMs: 30_000, seen })).toEqual({
      ok: false,
      reason: 'bad signature',
    });
    expect(
      verifyEvent(Buffer.from('other key'), signPayload(key, match()), { maxAgeMs: 30_000, seen }),
    ).toMatchObject({ ok: false });
    const old = signPayload(key, match({ time: new Date(Date.now() - 120_000).toISOString() }));
    expect(verifyEvent(key, old, { maxAgeMs: 30_000, seen })).toEqual({ ok: false, reason: 'stale' });
    expect(verifyEvent(key, match(), { maxAgeMs: 30_000, seen })).toEqual({ ok: false, reason: 'unsigned' });
    for (const junk of [null, [], 42, 'match', true])
      expect(verifyEvent(key, junk, { maxAgeMs: 30_000, seen }), JSON.stringify(junk)).toEqual({
        ok: false,
        reason: 'not an event object',
      });
  });

  it('gives strictly increasing, time-sortable event ids', () => {
    const ids = Array.from({ length: 1000 }, () => eventId(1_700_000_000_000));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(1000);
    expect(eventId(1_700_000_000_001) > ids.at(-1)!).toBe(true);
  });
});

describe('examples/door-controller.ts', () => {
  let broker: Mosquitto;
  let dir: string;
  beforeAll(async () => {
    broker = await Mosquitto.start();
    dir = mkdtempSync(join(tmpdir(), 'fg-door-'));
  });
  afterAll(async () => {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('unlocks for a signed match and refuses modified and replayed ones', async () => {
    const keyFile = join(dir, 'key');
    writeFileSync(keyFile, key);
    const { lines, waitFor, stop } = doorController(broker, 'facegate/gw1', keyFile);
    try {
      await waitFor(1);
      expect(lines[0]).toBe('ready');
      const { publisher, close } = testPublisher(broker);

      new FacegateEvents(publisher, key).match(match());
      await waitFor(2);
      expect(lines[1]).toBe('unlock ann (Ann) at front door');

      // An attacker on the broker: changes the person, and replays the genuine event.
      const raw = mqtt.connect(broker.url, { username: USER, password: PASSWORD });
      await new Promise((r) => raw.once('connect', r));
      const genuine = signPayload(key, match());
      await raw.publishAsync(
        'facegate/gw1/cameras/front door/match',
        JSON.stringify({ ...genuine, person: { id: 'eve', name: 'Eve' } }),
        { qos: 1 },
      );
      // JSON that is no event object: refused, and the controller still runs (it crashed on null).
      for (const junk of ['null', '[]', '42'])
        await raw.publishAsync('facegate/gw1/cameras/front door/match', junk, { qos: 1 });
      await raw.publishAsync('facegate/gw1/cameras/front door/match', JSON.stringify(genuine), { qos: 1 });
      await raw.publishAsync('facegate/gw1/cameras/front door/match', JSON.stringify(genuine), { qos: 1 });
      // Signed by facegate, but about a track that was not live (liveness 'report', or 'off').
      const notLive = { ...match().liveness, mode: 'report' as const, live: false, reason: 'still' as const };
      const off = { ...match().liveness, mode: 'off' as const, live: null, reason: 'off' as const };
      for (const liveness of [notLive, off])
        await raw.publishAsync(
          'facegate/gw1/cameras/front door/match',
          JSON.stringify(signPayload(key, match({ liveness }))),
          { qos: 1 },
        );
      await waitFor(10);
      expect(lines.slice(2, 10)).toEqual([
        'refuse bad signature',
        'refuse not an event object',
        'refuse not an event object',
        'refuse not an event object',
        'unlock ann (Ann) at front door',
        'refuse replayed',
        'refuse not live (still)',
        'refuse not live (off)',
      ]);
      // Told to let them through (a camera where something else stops a photo), it does.
      const lenient = doorController(broker, 'facegate/gw1', keyFile, ['--allow-not-live']);
      try {
        await lenient.waitFor(1);
        await raw.publishAsync(
          'facegate/gw1/cameras/front door/match',
          JSON.stringify(signPayload(key, match({ liveness: notLive }))),
          { qos: 1 },
        );
        await lenient.waitFor(2);
        expect(lenient.lines[1]).toBe('unlock ann (Ann) at front door');
      } finally {
        lenient.stop();
      }
      await raw.endAsync();
      await close();
    } finally {
      stop();
    }
  });
});
