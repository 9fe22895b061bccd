// The audit log: a whole chain verifies; each kind of tampering (an edited, removed or reordered
// entry, entries cut off the end or the start) is found and named; the retention sweep's cut is
// not tampering; `facegate audit verify|export` as an auditor runs them.
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { AuditLog } from '../../src/privacy/audit.js';

const root = mkdtempSync(join(tmpdir(), 'fg-audit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let path: string;
beforeEach(() => {
  dir = mkdtempSync(join(root, 's-'));
  path = join(dir, 'audit.sqlite');
});

/** Five entries of every kind of subject, the log closed. */
function writeFive(): void {
  const log = new AuditLog(path);
  log.append('gallery.change', 'cli:ann', 'bob', { change: 'put', photos: 1 });
  log.append('access', 'daemon', 'front', { result: 'granted', person: 'bob' });
  log.append('access', 'daemon', 'front', { result: 'denied', reason: 'unknown', person: null });
  log.append('config.reload', 'daemon', 'config', { applied: ['match.threshold'] });
  log.append('gallery.change', 'sync:https://x/m.json', 'bob', { change: 'removed' });
  log.close();
}

/** Changes the file behind the log's back, as someone with write access to it could. */
function tamper(sql: string, ...params: unknown[]): void {
  const db = new Database(path);
  db.prepare(sql).run(...params);
  db.close();
}

const verify = () => {
  const log = new AuditLog(path);
  const v = log.verify();
  log.close();
  return v;
};

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main([...argv, '--state-dir', dir], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out, err: err.join('\n') };
}

describe('the audit log', () => {
  it('verifies a whole chain, and is a private file', () => {
    const old = process.umask(0o022);
    try {
      writeFive();
    } finally {
      process.umask(old);
    }
    expect(verify()).toMatchObject({ ok: true, entries: 5, first: 1, head: { seq: 5 }, problems: [] });
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it.each<[string, () => void, RegExp]>([
    [
      'an edited entry',
      () => tamper(`UPDATE entries SET details = '{"result":"denied","person":"bob"}' WHERE seq = 2`),
      /entry 2 \(access, .*\) was changed after it was written/,
    ],
    [
      'an edited entry with its hash recomputed',
      () => {
        // The attacker re-hashes their edit; the next entry's link no longer matches it.
        tamper(`UPDATE entries SET actor = 'cli:mallory', hash = ? WHERE seq = 1`, 'f'.repeat(64));
      },
      /entry 2 does not follow entry 1/,
    ],
    ['a removed entry', () => tamper('DELETE FROM entries WHERE seq = 3'), /entries 3-3 are missing/],
    [
      'two entries swapped',
      () => {
        tamper('UPDATE entries SET seq = 100 WHERE seq = 2');
        tamper('UPDATE entries SET seq = 2 WHERE seq = 3');
        tamper('UPDATE entries SET seq = 3 WHERE seq = 100');
      },
      /entry 2 does not follow entry 1|entry 2 \(.*\) was changed/,
    ],
    [
      'the last entries cut off',
      () => tamper('DELETE FROM entries WHERE seq >= 4'),
      /entries 4-5 were cut off the end/,
    ],
    [
      'the first entries cut off, the start moved as the sweep would',
      () => {
        tamper('DELETE FROM entries WHERE seq <= 2');
        const db = new Database(path);
        const e = db.prepare('SELECT hash FROM entries WHERE seq = 3').get() as { hash: string };
        db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('anchor', ?)").run(
          JSON.stringify({ seq: 2, hash: e.hash }),
        );
        db.close();
      },
      /no retention sweep recorded cutting it there|entry 3 does not follow entry 2/,
    ],
  ])('finds %s', (_, spoil, problem) => {
    writeFive();
    spoil();
    const v = verify();
    expect(v.ok).toBe(false);
    expect(v.problems.join('\n')).toMatch(problem);
  });

  it("takes the retention sweep's cut, keeps chaining after it, and still finds an edit", () => {
    writeFive();
    const log = new AuditLog(path);
    // Everything is older than tomorrow: all but the last entry go, and the cut is recorded.
    expect(log.prune(new Date(Date.now() + 86_400_000), 'retention')).toBe(4);
    log.append('access', 'daemon', 'front', { result: 'granted', person: 'bob' });
    const v = log.verify();
    expect(v).toMatchObject({ ok: true, entries: 3, first: 5, head: { seq: 7 } });
    expect(log.range().map((e) => e.kind)).toEqual(['gallery.change', 'audit.pruned', 'access']);
    // Nothing older than yesterday: nothing to cut.
    expect(log.prune(new Date(Date.now() - 86_400_000), 'retention')).toBe(0);
    log.close();
    tamper(`UPDATE entries SET subject = 'back' WHERE seq = 7`);
    expect(verify().problems).toEqual([expect.stringMatching(/entry 7 .* was changed/)]);
  });

  it('chains entries from two processes writing at once (the daemon and the CLI)', async () => {
    const a = new AuditLog(path);
    const b = new AuditLog(path);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        Promise.resolve().then(() => (i % 2 ? a : b).append('access', 'daemon', 'front', { i })),
      ),
    );
    expect(a.verify()).toMatchObject({ ok: true, entries: 40 });
    a.close();
    b.close();
  });

  it('facegate audit verify and export, as an auditor runs them', async () => {
    writeFive();
    const ok = await cli('audit', 'verify');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out[0]!)).toMatchObject({ ok: true, entries: 5 });

    const today = new Date().toISOString().slice(0, 10);
    const all = await cli('audit', 'export', '--from', today);
    expect(all.code).toBe(0);
    const lines = all.out.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.slice(0, -1).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lines.at(-1)).toMatchObject({ head: { seq: 5 }, verified: true });
    // Nothing before today; to a file, 0600.
    const file = join(dir, 'export.jsonl');
    expect((await cli('audit', 'export', '--to', today, '--out', file)).code).toBe(0);
    expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(1);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect((await cli('audit', 'export', '--from', 'last tuesday')).err).toMatch(
      /--from last tuesday: not an ISO 8601 date/,
    );

    tamper('DELETE FROM entries WHERE seq = 2');
    const bad = await cli('audit', 'verify');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/facegate audit verify: entries 2-2 are missing/);
  });
});
