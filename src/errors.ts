import { chmodSync, readFileSync, writeFileSync } from 'node:fs';

// Every error facegate reports on purpose carries a code from this list, so callers (the CLI,
// the daemon, tests) can tell bad input from a broken installation without parsing messages.
export const ERROR_CODES = {
  MODEL_MISSING: 'a model file or the model manifest is missing',
  MODEL_CHECKSUM: "a model file's sha256 differs from models/manifest.json",
  MODEL_INVALID: 'a model file or the manifest cannot be parsed',
  IMAGE_UNREADABLE: 'an image file cannot be read or decoded',
  IMAGE_TOO_LARGE: 'an image exceeds the pixel limit',
  NO_FACE: 'no face was found in an image',
  ENROLL_REJECTED: 'an enrollment photo was refused (no face, several faces, low quality, duplicate)',
  GALLERY_INVALID: 'the gallery database cannot be opened or has an unknown schema',
  CAMERA_URL: 'a camera URL is malformed or uses an unsupported scheme',
  SYNC_REJECTED: 'a gallery source served something facegate refuses (signature, schema, version, image)',
  SYNC_FAILED: 'a gallery source could not be reached or timed out',
  NOT_FOUND: 'a person or file named on the command line does not exist',
  USAGE: 'a command line is wrong',
  CONFIG_INVALID: 'a configuration file or FACEGATE_* variable is invalid',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class FacegateError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FacegateError';
  }
}

/** A failed file operation's system code (ENOENT, ...) in words: "no such file or folder (ENOENT)". */
export function fileErrorWords(code: string): string {
  const words: Record<string, string> = {
    ENOENT: 'no such file or folder',
    EACCES: 'permission denied',
    EPERM: 'not permitted',
    EISDIR: 'is a folder',
    ENOTDIR: 'a part of the path is not a folder',
    ENOSPC: 'no space left on the device',
    EROFS: 'read-only file system',
  };
  return words[code] ? `${words[code]} (${code})` : code;
}

/**
 * Writes a file, readable by its owner only (0600, whatever the umask; an existing file is made
 * so); a failure becomes a FacegateError (NOT_FOUND) naming the file and the reason.
 */
export function writeFileOrThrow(file: string, data: string | Uint8Array): void {
  try {
    writeFileSync(file, data, { mode: 0o600 });
    chmodSync(file, 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new FacegateError('NOT_FOUND', `${file}: cannot write it: ${fileErrorWords(code)}`, { cause: err });
  }
}

/**
 * Reads a file; a failure becomes a FacegateError with `code`, its message built from the
 * system's reason (ENOENT, EACCES, ...), so every caller names the file the same way.
 */
export function readFileOrThrow(file: string, code: ErrorCode, message: (reason: string) => string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new FacegateError(code, message((err as NodeJS.ErrnoException).code ?? String(err)), {
      cause: err,
    });
  }
}
