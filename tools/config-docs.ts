// Writes config/default.json (every setting at its default) and docs/configuration.md from the
// convict schema, so neither can drift from the code. A test checks that both are current.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, schemaSettings } from '../src/config/schema.js';

export function configDefaults(): string {
  return `${JSON.stringify(loadConfig(undefined, {}), null, 2)}\n`;
}

export function configReference(): string {
  const rows = schemaSettings().map((s) => {
    const allowed = s.allowed ? ` (one of ${s.allowed.map((f) => `\`${String(f)}\``).join(', ')})` : '';
    return `| \`${s.key}\` | \`${JSON.stringify(s.default)}\` | ${s.env ? `\`${s.env}\`` : ''} | ${s.doc}${allowed} |`;
  });
  return [
    '# Configuration',
    '',
    'Generated from `src/config/schema.ts` by `make config-docs`; do not edit by hand.',
    '',
    'facegate reads its defaults, then a JSON file (`--config FILE` or `$FACEGATE_CONFIG`), then the',
    'environment variables below. The whole configuration is validated before anything starts: an',
    'unknown key or a bad value is an error naming the key, and the command exits 78 (EX_CONFIG).',
    '`config/default.json` lists every setting at its default.',
    '',
    '| key | default | environment | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

const root = join(import.meta.dirname, '..');
if (process.argv[1] === import.meta.filename) {
  writeFileSync(join(root, 'config', 'default.json'), configDefaults());
  writeFileSync(join(root, 'docs', 'configuration.md'), configReference());
}
