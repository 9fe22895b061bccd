// Camera URLs: what facegate accepts (rtsp://, rtsps://, and for demos and tests a video file
// path or file:// URL), and redaction: credentials in a camera URL never reach a log, an error
// or an event (rtsp://user:***@host/path).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FacegateError } from '../errors.js';

export type CameraInput =
  { kind: 'rtsp'; url: string; redacted: string } | { kind: 'file'; path: string; redacted: string };

const CREDENTIALS = /^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i;

/** The URL with any password replaced by ***: rtsp://admin:secret@cam/x -> rtsp://admin:***@cam/x. */
export function redactUrl(raw: string): string {
  return raw.replace(CREDENTIALS, (_, scheme: string, userinfo: string) => {
    const user = userinfo.split(':')[0] ?? '';
    return `${scheme}${user}${userinfo.includes(':') ? ':***' : ''}@`;
  });
}

/** Redacts every URL with credentials inside free text, such as ffmpeg's error output. */
export function redactText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s'"]*@[^\s'"]*/gi, (u) => redactUrl(u));
}

export function parseCameraInput(raw: string): CameraInput {
  const redacted = redactUrl(raw);
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === 'rtsp' || scheme === 'rtsps') {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new FacegateError('CAMERA_URL', `${redacted}: not a valid URL`);
    }
    if (!url.hostname) throw new FacegateError('CAMERA_URL', `${redacted}: no host`);
    if (url.port && !(Number(url.port) > 0 && Number(url.port) < 65536))
      throw new FacegateError('CAMERA_URL', `${redacted}: bad port`);
    return { kind: 'rtsp', url: raw, redacted };
  }
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(raw);
    } catch {
      throw new FacegateError('CAMERA_URL', `${redacted}: not a valid file URL`);
    }
    return { kind: 'file', path, redacted };
  }
  if (scheme && scheme.length > 1) {
    throw new FacegateError(
      'CAMERA_URL',
      `${redacted}: unsupported scheme "${scheme}:" (use rtsp://, rtsps://, file:// or a file path)`,
    );
  }
  const path = resolve(raw);
  if (!existsSync(path))
    throw new FacegateError('CAMERA_URL', `${raw}: no such file (and not an rtsp:// URL)`);
  return { kind: 'file', path, redacted: raw };
}
