// Optional event signing for door controllers: HMAC-SHA256 with a shared key over the canonical
// JSON of the payload (keys sorted, no whitespace, the signature field left out). The event's
// time and id are inside the signed part, so a subscriber can refuse forged events (bad MAC),
// stale ones (time too old) and replays (an id seen before).
import { createHmac, timingSafeEqual } from 'node:crypto';

export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function mac(key: Buffer, payload: Record<string, unknown>): string {
  const { signature: _signature, ...signed } = payload;
  return createHmac('sha256', key).update(canonicalJson(signed)).digest('hex');
}

export function signPayload<T extends Record<string, unknown>>(
  key: Buffer,
  payload: T,
): T & { signature: { alg: 'HMAC-SHA256'; value: string } } {
  return { ...payload, signature: { alg: 'HMAC-SHA256', value: mac(key, payload) } };
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** The event ids a subscriber has seen: a Set, or a store that outlives a restart. */
export type SeenIds = { has(id: string): boolean; add(id: string): unknown };

/**
 * Checks a signed event: that it is a JSON object at all (anyone allowed to publish on the broker
 * can send `null`, an array or a number, and a door controller must refuse it, not crash), the MAC, that `time` is within `maxAgeMs` of now (and not in the
 * future by more than that), and that `event_id` was not seen before (`seen` is the caller's
 * memory of recent ids; entries older than maxAgeMs may be forgotten).
 */
export function verifyEvent(
  key: Buffer,
  payload: unknown,
  opts: { maxAgeMs: number; seen: SeenIds; now?: number },
): VerifyResult {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload))
    return { ok: false, reason: 'not an event object' };
  const event = payload as Record<string, unknown>;
  const sig = event.signature as { alg?: string; value?: string } | undefined;
  if (!sig || sig.alg !== 'HMAC-SHA256' || typeof sig.value !== 'string')
    return { ok: false, reason: 'unsigned' };
  const expected = Buffer.from(mac(key, event), 'hex');
  const given = Buffer.from(sig.value, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'bad signature' };
  const time = Date.parse(String(event.time));
  const now = opts.now ?? Date.now();
  if (!Number.isFinite(time) || Math.abs(now - time) > opts.maxAgeMs) return { ok: false, reason: 'stale' };
  const id = String(event.event_id);
  if (opts.seen.has(id)) return { ok: false, reason: 'replayed' };
  opts.seen.add(id);
  return { ok: true };
}
