// Console users and sessions without a daemon: scrypt hashes in a private file, tokens kept as
// hashes, sessions that expire, and the failed-login bound with its window (times given).
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { addToken, ConsoleAuth, setPassword, verifyPassword } from '../../src/console/auth.js';

const dir = mkdtempSync(join(tmpdir(), 'fg-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('console users', () => {
  it('keeps scrypt hashes and token hashes only, in a 0600 file', () => {
    const file = join(dir, 'users');
    const old = process.umask(0o022);
    try {
      setPassword(file, 'admin', 'correct horse battery');
      const token = addToken(file, 'script');
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(/^admin:scrypt\$32768\$8\$1\$/m);
      expect(text).not.toContain('correct horse battery');
      expect(text).not.toContain(token);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const stored = /^admin:(.*)$/m.exec(text)![1]!;
      expect(verifyPassword('correct horse battery', stored)).toBe(true);
      expect(verifyPassword('correct horse batterY', stored)).toBe(false);
      const auth = new ConsoleAuth(file, {
        secure: false,
        sessionSeconds: 60,
        maxFailures: 5,
        windowSeconds: 60,
      });
      expect(auth.principal(request({ authorization: `Bearer ${token}` }))).toEqual({
        user: 'token:script',
        via: 'token',
      });
      expect(auth.principal(request({ authorization: `Bearer ${token}x` }))).toBeUndefined();
    } finally {
      process.umask(old);
    }
    expect(() => setPassword(file, 'admin', 'short')).toThrow(/at least 10 characters/);
    expect(() => setPassword(file, 'ad min', 'long enough pass')).toThrow(/user "ad min": use 1-64 letters/);
  });

  it('ends a session after sessionSeconds, and bounds failed logins per address within a window', () => {
    const file = join(dir, 'users2');
    setPassword(file, 'admin', 'correct horse battery');
    const auth = new ConsoleAuth(file, {
      secure: true,
      sessionSeconds: 60,
      maxFailures: 3,
      windowSeconds: 60,
    });
    const t0 = 1_000_000;
    const ok = auth.login('admin', 'correct horse battery', '10.0.0.1', t0);
    if (!ok.ok) throw new Error('login failed');
    expect(ok.cookie).toMatch(/HttpOnly; SameSite=Strict; Max-Age=60; Secure$/);
    const withCookie = request({ cookie: `other=1; facegate_session=${ok.token}` });
    expect(auth.principal(withCookie, t0 + 59_000)).toMatchObject({
      user: 'admin',
      via: 'session',
      csrf: ok.csrf,
    });
    expect(auth.principal(withCookie, t0 + 61_000)).toBeUndefined();

    for (let i = 0; i < 3; i++)
      expect(auth.login('admin', 'guess', '10.0.0.2', t0 + i)).toEqual({ ok: false });
    // Locked: even the right password waits, with how long.
    expect(auth.login('admin', 'correct horse battery', '10.0.0.2', t0 + 10_000)).toEqual({
      ok: false,
      retryAfter: 50,
    });
    // Another address is not locked; after the window this one is free again.
    expect(auth.login('admin', 'correct horse battery', '10.0.0.3', t0 + 10_000).ok).toBe(true);
    expect(auth.login('admin', 'correct horse battery', '10.0.0.2', t0 + 60_000).ok).toBe(true);
    // A user that does not exist fails like a wrong password.
    expect(auth.login('nobody', 'correct horse battery', '10.0.0.4', t0)).toEqual({ ok: false });
  });
});
