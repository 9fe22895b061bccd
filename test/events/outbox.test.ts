import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Outbox } from '../../src/events/outbox.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-outbox-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Outbox', () => {
  it('keeps events in order across reopening', () => {
    const path = join(dir, 'a.sqlite');
    const a = new Outbox(path, { maxEvents: 10, fsync: true });
    for (let i = 0; i < 3; i++) a.add('match', 't', `e${i}`);
    a.close();
    const b = new Outbox(path, { maxEvents: 10, fsync: true });
    expect(b.after(0, 10).map((r) => r.payload.toString())).toEqual(['e0', 'e1', 'e2']);
    b.remove(b.after(0, 1)[0]!.id);
    expect(b.size).toBe(2);
    b.close();
  });

  it('at the bound drops the oldest event, and counts and reports what it dropped', () => {
    const o = new Outbox(join(dir, 'b.sqlite'), { maxEvents: 3, fsync: false });
    o.add('match', 't', 'm1');
    o.add('unknown', 't', 'u1');
    o.add('match', 't', 'm2');
    expect(o.add('match', 't', 'm3')).toMatchObject({ droppedKind: 'match' });
    expect(o.add('match', 't', 'm4')).toMatchObject({ droppedKind: 'unknown' });
    expect(o.after(0, 10).map((r) => r.payload.toString())).toEqual(['m2', 'm3', 'm4']);
    expect(Object.fromEntries(o.dropped)).toEqual({ match: 1, unknown: 1 });
    o.close();
  });
});
