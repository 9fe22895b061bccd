// Who may use the console and the API: users with a password (scrypt, in a file written by
// `facegate console passwd`), sessions in HttpOnly SameSite=Strict cookies (Secure over TLS) with
// a CSRF token that every state change must echo in a header, API tokens for scripts (only their
// sha256 is kept), and a bound on failed logins per client address.
import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { privateFile } from '../config/files.js';
import { FacegateError, writeFileOrThrow } from '../errors.js';

const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 << 20 };

export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export function verifyPassword(password: string, stored: string): boolean {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = scryptSync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 << 20,
  });
  return timingSafeEqual(actual, expected);
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** `<user>:<scrypt hash>` lines; API tokens as `token:<name>:<sha256>` lines, in one 0600 file. */
type Credentials = { users: Map<string, string>; tokens: Map<string, string> };

function readCredentials(file: string): Credentials {
  const users = new Map<string, string>();
  const tokens = new Map<string, string>();
  if (!existsSync(file)) return { users, tokens };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const parts = line.trim().split(':');
    if (parts[0] === 'token' && parts.length === 3) tokens.set(parts[2]!, parts[1]!);
    else if (parts.length === 2 && parts[0]) users.set(parts[0], parts[1]!);
  }
  return { users, tokens };
}

function writeCredentials(file: string, c: Credentials): void {
  privateFile(file);
  writeFileOrThrow(
    file,
    [
      ...[...c.users].map(([u, h]) => `${u}:${h}`),
      ...[...c.tokens].map(([sha, name]) => `token:${name}:${sha}`),
      '',
    ].join('\n'),
  );
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

function checkName(name: string, what: string): void {
  if (!NAME.test(name))
    throw new FacegateError('USAGE', `${what} "${name}": use 1-64 letters, digits, '.', '_' or '-'`);
}

/** Sets a user's password (creating the user). */
export function setPassword(file: string, user: string, password: string): void {
  checkName(user, 'user');
  if (password.length < 10) throw new FacegateError('USAGE', 'the password must have at least 10 characters');
  const c = readCredentials(file);
  c.users.set(user, hashPassword(password));
  writeCredentials(file, c);
}

/** Adds an API token named `name`; returns the token, shown once (only its hash is kept). */
export function addToken(file: string, name: string): string {
  checkName(name, 'token name');
  const token = `fgt_${randomBytes(24).toString('base64url')}`;
  const c = readCredentials(file);
  c.tokens.set(sha256(token), name);
  writeCredentials(file, c);
  return token;
}

export type Principal = { user: string; via: 'session' | 'token'; csrf?: string };

type Session = { user: string; csrf: string; expires: number };

export const SESSION_COOKIE = 'facegate_session';

export class ConsoleAuth {
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly file: string,
    private readonly opts: {
      secure: boolean;
      sessionSeconds: number;
      maxFailures: number;
      windowSeconds: number;
    },
  ) {}

  /** Whether anyone can log in at all (a password was set). */
  get configured(): boolean {
    const c = readCredentials(this.file);
    return c.users.size > 0 || c.tokens.size > 0;
  }

  /**
   * Checks a login; `retryAfter` (seconds) when the address has failed too often of late, and
   * then the password is not even checked.
   */
  login(
    user: string,
    password: string,
    address: string,
    now = Date.now(),
  ): { ok: true; token: string; csrf: string; cookie: string } | { ok: false; retryAfter?: number } {
    const window = this.opts.windowSeconds * 1000;
    // Addresses whose failures are all older than the window are forgotten: the map stays as
    // small as the addresses failing right now, however many have tried.
    for (const [a, times] of this.failures) if (now - times.at(-1)! >= window) this.failures.delete(a);
    const recent = (this.failures.get(address) ?? []).filter((t) => now - t < window);
    if (recent.length >= this.opts.maxFailures)
      return { ok: false, retryAfter: Math.ceil((recent[0]! + window - now) / 1000) };
    const stored = readCredentials(this.file).users.get(user);
    // A user who does not exist costs the same scrypt as one who does.
    const ok = verifyPassword(password, stored ?? hashPassword('not a user'));
    if (!ok || !stored) {
      this.failures.set(address, [...recent, now]);
      return { ok: false };
    }
    this.failures.delete(address);
    const token = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.sessions.set(sha256(token), { user, csrf, expires: now + this.opts.sessionSeconds * 1000 });
    return { ok: true, token, csrf, cookie: this.cookie(token, this.opts.sessionSeconds) };
  }

  private cookie(value: string, maxAge: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${this.opts.secure ? '; Secure' : ''}`;
  }

  /** The cookie that ends the session in the browser. */
  logout(req: IncomingMessage): string {
    const token = cookieOf(req, SESSION_COOKIE);
    if (token) this.sessions.delete(sha256(token));
    return this.cookie('', 0);
  }

  /** Who sent the request: a session cookie, or an API token in Authorization: Bearer. */
  principal(req: IncomingMessage, now = Date.now()): Principal | undefined {
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (bearer) {
      const name = readCredentials(this.file).tokens.get(sha256(bearer));
      return name ? { user: `token:${name}`, via: 'token' } : undefined;
    }
    const token = cookieOf(req, SESSION_COOKIE);
    const session = token ? this.sessions.get(sha256(token)) : undefined;
    if (!session || session.expires < now) return undefined;
    return { user: session.user, via: 'session', csrf: session.csrf };
  }
}

export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}
