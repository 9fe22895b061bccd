// Which matched faces join a person's photos: live, well under the threshold, ahead of the
// runner-up, and near the person's enrolled photos (not only their earlier captures).
import { describe, expect, it } from 'vitest';
import { captureRefusal, type DoorCapturePolicy } from '../../src/gallery/door-captures.js';

const policy: DoorCapturePolicy = { enabled: true, maxPerPerson: 3, maxDistance: 0.9, minMargin: 0.1 };
const unit = (angle: number) => Float32Array.from([Math.cos(angle), Math.sin(angle)]);
// Threshold 1: a face at angle a is 2 sin(a / 2) from the enrolled photo at angle 0.
const candidate = {
  embedding: unit(0.5), // 0.49 from the enrolled photo
  distance: 0.5,
  margin: 0.3,
  live: true as boolean | null,
  enrolled: [unit(0)],
};

describe('captureRefusal', () => {
  it('takes a live face well under the threshold, with a margin, near the enrolled photo', () => {
    expect(captureRefusal(candidate, policy, 1)).toBeUndefined();
    expect(captureRefusal({ ...candidate, live: null }, policy, 1)).toBeUndefined(); // liveness off
    expect(captureRefusal({ ...candidate, margin: Infinity }, policy, 1)).toBeUndefined(); // one person enrolled
  });

  it.each([
    ['captures off', { policy: { ...policy, enabled: false } }, 'door captures are off'],
    ['a photo held up', { live: false }, 'not live'],
    ['too near the threshold', { distance: 0.92 }, 'distance 0.920 not under 0.9 x threshold'],
    ['a near tie with the runner-up', { margin: 0.05 }, 'margin 0.050 under 0.1 x threshold'],
    [
      // Near the person's captures (the gallery's distance), far from the photo they enrolled with:
      // a chain of captures walking away from them.
      'a drift away from the enrolled photo',
      { embedding: unit(1.1) },
      'distance 1.045 from the enrolled photos not under the threshold',
    ],
    ['nobody enrolled to compare with', { enrolled: [] }, 'no enrolled photo to compare with'],
  ])('refuses %s', (_, change, reason) => {
    const { policy: p = policy, ...c } = change as Partial<typeof candidate> & { policy?: DoorCapturePolicy };
    expect(captureRefusal({ ...candidate, ...c }, p, 1)).toBe(reason);
  });
});
