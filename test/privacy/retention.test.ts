// The retention sweep deletes what is due, per kind, and nothing else: snapshots by their kind's
// time, people past their retainUntil (with their snapshots), events a broker never took, audit
// entries past retention.auditDays; it records what it did in the audit log.
import { mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/events/outbox.js';
import { sweep } from '../../src/privacy/retention.js';
import { PrivateState } from '../../src/privacy/state.js';
import type { FaceQuality } from '../../src/vision/quality.js';

const root = mkdtempSync(join(tmpdir(), 'fg-retention-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const crop = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3).fill(90) };
const quality = { score: 1 } as unknown as FaceQuality;
const HOUR = 3600_000;
const DAY = 24 * HOUR;

describe('the retention sweep', () => {
  it('deletes what is due and nothing else, and records it', async () => {
    const stateDir = join(root, 's');
    const state = new PrivateState(
      {
        encryption: { keyFile: '', credential: '' },
        snapshots: { keepSeconds: { match: 7 * 86400, unknown: 86400, spoof: 0 } },
      },
      stateDir,
    );
    const gallery = state.gallery('cli:test');
    const now = new Date();
    const person = (id: string, retainUntil?: string) =>
      gallery.putPerson(
        { id, name: id, ...(retainUntil ? { retainUntil } : {}) },
        [
          {
            bytes: Buffer.from(`photo of ${id}`),
            source: `${id}.jpg`,
            embedding: new Float32Array(4).fill(1),
            quality,
          },
        ],
        'm',
      );
    gallery.write(() => {
      person('kept');
      person('later', new Date(now.getTime() + DAY).toISOString());
      person('gone', new Date(now.getTime() - HOUR).toISOString());
    });
    const age = async (kind: 'match' | 'unknown', id: string, ms: number, who?: string) => {
      await state.snapshots.save(kind, id, crop, who);
      const file = join(stateDir, 'snapshots', kind, ...(who ? [who] : []), `${id}.jpg`);
      const t = new Date(now.getTime() - ms);
      utimesSync(file, t, t);
    };
    await age('match', 'recent', DAY, 'kept'); // 1 day of 7
    await age('match', 'old', 8 * DAY, 'kept');
    await age('match', 'ofgone', HOUR, 'gone'); // goes with its person
    await age('unknown', 'stranger-new', HOUR);
    await age('unknown', 'stranger-old', 2 * DAY);
    const outbox = new Outbox(join(stateDir, 'outbox.sqlite'), { maxEvents: 100, fsync: false });
    outbox.add('match', 'fg/match', '{}');
    outbox.add('status', 'fg/status', 'online', true); // retained state: not an event, kept
    // Pairs marked wrong in the console: one recent, one 100 days old, one of the person who goes.
    const mark = (attempt: string, person: string, daysAgo: number) =>
      state.marked.add(
        {
          attempt,
          person,
          same: false,
          distance: 0.5,
          by: 'api:admin',
          at: new Date(now.getTime() - daysAgo * DAY).toISOString(),
        },
        Buffer.from(`crop ${attempt}`),
        { sha256: `${person}`.padEnd(64, '0'), bytes: Buffer.from(`photo of ${person}`) },
      );
    mark('a1', 'kept', 1);
    mark('a2', 'kept', 100);
    mark('a3', 'gone', 1);
    // The audit log: old entries (written "a year and a day ago" by moving their time).
    state.audit.append('access', 'daemon', 'front', { result: 'granted' });
    state.audit.append('access', 'daemon', 'front', { result: 'denied' });
    const limits = { auditDays: 365, maxEventAgeSeconds: 30, markedDays: 90 };

    // Now: only the old snapshots and the person past retainUntil are due.
    const first = sweep(state, gallery, outbox, limits, now);
    expect(first).toEqual({
      snapshot_match: 1,
      snapshot_unknown: 1,
      snapshot_spoof: 0,
      person_expired: 1,
      event: 0,
      audit: 0,
      marked_pair: 1,
    });
    // The old pair went by its age, the gone person's with them; their files too.
    expect(state.marked.list().map((p) => p.attempt)).toEqual(['a1']);
    expect(readdirSync(join(stateDir, 'marked')).sort()).toEqual([
      'a1.jpg',
      'kept-kept00000000.jpg',
      'pairs.json',
    ]);
    expect(gallery.listPeople().map((p) => p.id)).toEqual(['kept', 'later']);
    expect(state.snapshots.read('recent')).toBeDefined();
    expect(state.snapshots.read('stranger-new')).toBeDefined();
    for (const id of ['old', 'ofgone', 'stranger-old']) expect(state.snapshots.read(id)).toBeUndefined();
    expect(outbox.size).toBe(2);
    const recorded = state.audit.range().filter((e) => e.actor === 'retention');
    expect(recorded.map((e) => [e.kind, e.subject])).toEqual([
      ['gallery.change', 'gone'],
      ['retention.sweep', 'state'],
    ]);

    // Nothing more due now: nothing deleted, nothing recorded.
    const entries = state.audit.range().length;
    expect(Object.values(sweep(state, gallery, outbox, limits, now))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(state.audit.range()).toHaveLength(entries);

    // A minute on, the event no broker took is due; a year and two days on, the audit entries.
    expect(sweep(state, gallery, outbox, limits, new Date(now.getTime() + 60_000))).toMatchObject({
      event: 1,
    });
    expect(outbox.after(0, 10).map((r) => r.kind)).toEqual(['status']);
    const later = sweep(state, gallery, outbox, limits, new Date(now.getTime() + 367 * DAY));
    expect(later.audit).toBeGreaterThan(0);
    expect(later.person_expired).toBe(1); // 'later' too, by then
    expect(state.audit.verify()).toMatchObject({ ok: true });
    outbox.close();
    gallery.close();
    state.close();
  });
});
