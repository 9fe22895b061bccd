// facegate's version: the one in package.json, read once from the project root (two levels up
// from src/, three from dist/src/), for --version, /metrics and Home Assistant's device entry.
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function readVersion(): string {
  let root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  if (basename(root) === 'dist') root = dirname(root);
  return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
}

export const VERSION = readVersion();
