// One bounded HTTP(S) GET: a custom CA, a bearer token, a conditional request (ETag), a limit on
// the body's size, an overall deadline and a stall timeout (no bytes for a while), so a broken
// or hostile gallery server costs a sync, never the daemon's memory or liveness.
import http from 'node:http';
import https from 'node:https';
import { FacegateError } from '../errors.js';

export type GetOptions = {
  ca?: Buffer;
  bearerToken?: string;
  etag?: string;
  maxBytes: number;
  timeoutMs: number;
  stallMs: number;
};

export type GetResult =
  { status: 304; etag?: string } | { status: 200; body: Buffer; etag?: string; contentType?: string };

export function httpGet(url: string, o: GetOptions): Promise<GetResult> {
  const target = new URL(url);
  const lib = target.protocol === 'https:' ? https : target.protocol === 'http:' ? http : undefined;
  if (!lib)
    return Promise.reject(
      new FacegateError('SYNC_REJECTED', `${url}: only http:// and https:// are fetched`),
    );
  return new Promise((resolve, reject) => {
    const fail = (code: 'SYNC_FAILED' | 'SYNC_REJECTED', why: string) => {
      req.destroy();
      reject(new FacegateError(code, `${url}: ${why}`));
    };
    const headers: Record<string, string> = { accept: '*/*' };
    if (o.bearerToken) headers.authorization = `Bearer ${o.bearerToken}`;
    if (o.etag) headers['if-none-match'] = o.etag;
    const req = lib.get(target, { headers, ...(o.ca ? { ca: o.ca } : {}), timeout: o.stallMs }, (res) => {
      const etag = typeof res.headers.etag === 'string' ? res.headers.etag : undefined;
      if (res.statusCode === 304) {
        res.resume();
        resolve({ status: 304, ...(etag ? { etag } : {}) });
        return;
      }
      if (res.statusCode !== 200) {
        res.resume();
        fail('SYNC_FAILED', `HTTP ${res.statusCode ?? '?'}`);
        return;
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > o.maxBytes)
        return fail('SYNC_REJECTED', `${declared} bytes, over the limit of ${o.maxBytes}`);
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > o.maxBytes) return fail('SYNC_REJECTED', `more than the limit of ${o.maxBytes} bytes`);
        chunks.push(c);
      });
      res.on('end', () => {
        if (!res.complete) return fail('SYNC_FAILED', 'connection closed before the end of the body');
        const contentType = res.headers['content-type'];
        resolve({
          status: 200,
          body: Buffer.concat(chunks),
          ...(etag ? { etag } : {}),
          ...(contentType ? { contentType } : {}),
        });
      });
      res.on('error', (err) => fail('SYNC_FAILED', err.message));
    });
    // `timeout` above fires when the socket is idle for stallMs: a server that stalls mid-body.
    req.on('timeout', () => fail('SYNC_FAILED', `no data for ${o.stallMs} ms`));
    req.on('error', (err) => reject(new FacegateError('SYNC_FAILED', `${url}: ${err.message}`)));
    const deadline = setTimeout(() => fail('SYNC_FAILED', `not done within ${o.timeoutMs} ms`), o.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
  });
}
