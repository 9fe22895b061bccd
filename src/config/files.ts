// Files a configuration names (secrets, keys, certificates): read when needed, and a failure is
// a configuration error that names the key and the file.
import { readFileOrThrow } from '../errors.js';

export function readConfiguredFile(file: string, key: string): Buffer {
  return readFileOrThrow(file, 'CONFIG_INVALID', (reason) => `${key} ${file}: ${reason}`);
}
