// Files a configuration names (secrets, keys, certificates): read when needed, and a failure is
// a configuration error that names the key and the file.
import { readFileSync } from 'node:fs';
import { FacegateError } from '../errors.js';

export function readConfiguredFile(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new FacegateError(
      'CONFIG_INVALID',
      `${key} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}
