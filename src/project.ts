// Where this checkout or installation lives, and its version: the folder holding package.json and
// models/, one level up from src/ (two from dist/src/ after `make build`).
import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  return basename(root) === 'dist' ? dirname(root) : root;
}

export const PROJECT_ROOT = findRoot();

/** package.json's version, for --version, /metrics and Home Assistant's device entry. */
export const VERSION = (
  JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }
).version;
