import { describe, expect, it } from 'vitest';
import {
  accuracyAt,
  bestThreshold,
  equalErrorRate,
  kFold,
  rocCurve,
  tarAt,
  thresholdAtFar,
} from '../../src/eval/metrics.js';

const same = (...d: number[]) => d.map((distance) => ({ distance, same: true }));
const diff = (...d: number[]) => d.map((distance) => ({ distance, same: false }));

describe('verification metrics', () => {
  const separable = [...same(0.1, 0.2, 0.3, 0.4), ...diff(0.7, 0.8, 0.9, 1.0)];
  const overlapping = [...same(0.1, 0.2, 0.3, 0.75), ...diff(0.35, 0.8, 0.9, 1.0)];

  it('accuracy at a threshold accepts strictly below it', () => {
    expect(accuracyAt(separable, 0.5)).toBe(1);
    expect(accuracyAt(separable, 0.4)).toBe(7 / 8);
    expect(accuracyAt(overlapping, 0.5)).toBe(6 / 8);
  });

  it('best threshold lies between the classes when they separate', () => {
    const t = bestThreshold(separable);
    expect(t).toBeGreaterThan(0.4);
    expect(t).toBeLessThan(0.7);
  });

  it('k-fold chooses thresholds on the other folds and averages', () => {
    const pairs = [
      ...same(...Array.from({ length: 20 }, (_, i) => 0.3 + i * 0.01)),
      ...diff(...Array.from({ length: 20 }, (_, i) => 0.7 + i * 0.01)),
    ];
    const r = kFold(pairs, 10);
    expect(r.folds).toHaveLength(10);
    expect(r.mean).toBe(1);
    expect(r.std).toBe(0);
  });

  it('threshold at FAR lets through at most that share of different pairs', () => {
    const pairs = [...same(0.2, 0.5), ...diff(...Array.from({ length: 100 }, (_, i) => 0.4 + i * 0.01))];
    const t = thresholdAtFar(pairs, 0.02); // 2 of 100 may pass: 0.40 and 0.41
    expect(t).toBeCloseTo(0.42, 10);
    expect(tarAt(pairs, t)).toBe(0.5);
    expect(thresholdAtFar(pairs, 0)).toBeCloseTo(0.4, 10); // none may pass
  });

  it('a pair without a face is never accepted', () => {
    const pairs = [...same(Infinity, 0.2), ...diff(0.9)];
    expect(accuracyAt(pairs, 10)).toBe(1 / 3);
    expect(tarAt(pairs, 0.5)).toBe(0.5);
  });

  it('equal error rate balances false accepts and rejects', () => {
    expect(equalErrorRate(separable).eer).toBe(0);
    expect(equalErrorRate(overlapping).eer).toBeCloseTo(0.25, 10);
  });

  it('ROC runs from (0, 0) to (1, 1) with FAR ascending', () => {
    const roc = rocCurve(overlapping);
    expect(roc[0]).toMatchObject({ far: 0, tar: 0 });
    expect(roc.at(-1)).toMatchObject({ far: 1, tar: 1 });
    for (let i = 1; i < roc.length; i++) expect(roc[i]!.far).toBeGreaterThanOrEqual(roc[i - 1]!.far);
  });
});
