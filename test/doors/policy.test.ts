// Door policy: who may enter where and when, and what a door does after refusals.
import { describe, expect, it } from 'vitest';
import { DoorPolicy, inSchedule, type CameraDecision, type DoorConfig } from '../../src/doors/policy.js';

const front: DoorConfig = {
  name: 'front',
  cameras: ['porch'],
  allow: { people: ['ann'], groups: ['residents'] },
};
const office: DoorConfig = {
  name: 'office',
  cameras: ['porch', 'hall'],
  allow: { people: ['bob'] },
  schedule: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00' }],
};
/** Local times: 2026-12-07 is a Monday. */
const monday = (clock: string) => new Date(`2026-12-07T${clock}:00`).getTime();

const seen = (o: Partial<CameraDecision> & { at: number }): CameraDecision => ({
  camera: 'porch',
  kind: 'match',
  person: { id: 'ann', name: 'Ann' },
  live: true,
  votes: 3,
  margin: 0.3,
  capturedAt: o.at - 300,
  ...o,
});

describe('door policy', () => {
  it('grants an allowed person at their door and denies them at another, per door the camera serves', () => {
    const p = new DoorPolicy([front, office]);
    const at = monday('10:00');
    expect(p.decide(seen({ at }), at)).toEqual([
      { door: 'front', result: 'granted', reason: null },
      { door: 'office', result: 'denied', reason: 'not_allowed' },
    ]);
    // A camera no door has: no access decision at all.
    expect(p.decide(seen({ at, camera: 'garage' }), at)).toEqual([]);
    // By group, from the gallery's metadata.
    const carl = { id: 'carl', name: 'Carl', metadata: { groups: ['residents'] } };
    expect(new DoorPolicy([front]).decide(seen({ at, person: carl }), at)).toMatchObject([
      { result: 'granted' },
    ]);
    const dave = { id: 'dave', name: 'Dave', metadata: { groups: 'residents' } }; // not a list
    expect(new DoorPolicy([front]).decide(seen({ at, person: dave }), at)).toMatchObject([
      { reason: 'not_allowed' },
    ]);
  });

  it('keeps its schedule, local time, with windows past midnight', () => {
    const p = new DoorPolicy([office]);
    const bob = { id: 'bob', name: 'Bob' };
    expect(p.decide(seen({ at: monday('09:00'), person: bob }), monday('09:00'))).toMatchObject([
      { result: 'granted' },
    ]);
    expect(p.decide(seen({ at: monday('19:00'), person: bob }), monday('19:00'))).toEqual([
      { door: 'office', result: 'denied', reason: 'outside_schedule' },
    ]);
    const night = [{ days: ['sun' as const], from: '22:00', to: '06:00' }];
    expect(inSchedule(night, monday('05:59'))).toBe(true); // Sunday night, past midnight
    expect(inSchedule(night, monday('06:00'))).toBe(false);
    expect(inSchedule(night, monday('23:00'))).toBe(false); // Monday night is not in it
    expect(inSchedule(undefined, monday('03:00'))).toBe(true);
  });

  it('denies with the reason: unknown, not live, a spoof, a stale decision, too small a margin', () => {
    const at = monday('10:00');
    const reason = (o: Partial<CameraDecision>, door: Partial<DoorConfig> = {}) =>
      new DoorPolicy([{ ...front, ...door }]).decide(seen({ at, ...o }), at)[0]?.reason;
    expect(reason({ kind: 'unknown', person: undefined })).toBe('unknown');
    expect(reason({ kind: 'spoof' })).toBe('not_live');
    expect(reason({ live: false })).toBe('not_live');
    expect(reason({ live: null })).toBe('not_live'); // liveness off at the camera
    expect(reason({ live: null }, { requireLive: false })).toBeNull();
    expect(reason({ capturedAt: at - 6000 })).toBe('stale');
    expect(reason({ capturedAt: at - 6000 }, { maxDecisionAgeMs: 10_000 })).toBeNull();
    expect(reason({ margin: 0.05 }, { minMargin: 0.1 })).toBe('unknown');
    expect(reason({ margin: null }, { minMargin: 0.1 })).toBeNull(); // one person enrolled: no runner-up
    expect(reason({ votes: 3 }, { minVotes: 4 })).toBe('unknown');
    expect(reason({ votes: 1 })).toBeNull(); // a match by the fused mean, at a door that does not ask for more
  });

  it('locks out after 5 refusals in 30 s, for 60 s, whoever comes; then opens again', () => {
    const p = new DoorPolicy([front]);
    const t0 = monday('10:00');
    const stranger = (at: number) => p.decide(seen({ at, kind: 'unknown', person: undefined }), at)[0]!;
    for (let i = 0; i < 5; i++) expect(stranger(t0 + i * 1000).reason).toBe('unknown');
    expect(p.decide(seen({ at: t0 + 6000 }), t0 + 6000)).toEqual([
      { door: 'front', result: 'denied', reason: 'locked_out' },
    ]);
    expect(stranger(t0 + 30_000).reason).toBe('locked_out');
    expect(p.decide(seen({ at: t0 + 65_000 }), t0 + 65_000)).toMatchObject([{ result: 'granted' }]);
    // Refusals spread wider than the window do not lock.
    const q = new DoorPolicy([front]);
    for (let i = 0; i < 8; i++)
      expect(
        q.decide(seen({ at: t0 + i * 10_000, kind: 'unknown', person: undefined }), t0 + i * 10_000)[0]!
          .reason,
      ).toBe('unknown');
  });

  it('grants a person once per cooldown at a door', () => {
    const p = new DoorPolicy([front]);
    const t0 = monday('10:00');
    expect(p.decide(seen({ at: t0 }), t0)).toHaveLength(1);
    expect(p.decide(seen({ at: t0 + 5000 }), t0 + 5000)).toEqual([]);
    expect(p.decide(seen({ at: t0 + 11_000 }), t0 + 11_000)).toMatchObject([{ result: 'granted' }]);
  });
});
