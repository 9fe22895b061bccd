// facegate audit verify|export and facegate key rotate: what an auditor and an installer need
// of the audit log and the encryption key (docs/privacy.md).
import { join, resolve } from 'node:path';
import { FacegateError, writeFileOrThrow } from '../errors.js';
import { AuditLog } from '../privacy/audit.js';
import { keySource, readKeyFile, rotateKey } from '../privacy/sealing.js';
import { cliActor } from '../privacy/state.js';
import { parseCommand, type CommandContext } from './args.js';

const STATE_HELP = `  --state-dir DIR     the state directory (default: stateDir of the config)`;

export const AUDIT_USAGE = `Usage: facegate audit verify
       facegate audit export [--from DATE] [--to DATE] [--out FILE]

The audit log (<stateDir>/audit.sqlite) records every access decision, gallery change (with who
made it: cli:<user>, sync:<source>, daemon), configuration reload, retention sweep and key
rotation, each entry chained to the one before by its sha256.

  verify              walks the chain: exit 0 when it is whole; exit 1 naming every entry that
                      was changed, removed, reordered or cut off the end
  export              the entries from DATE (inclusive) to DATE (exclusive), ISO 8601, as JSON
                      lines, then a line with the chain's head and the verify verdict
    --out FILE        written there (0600) instead of to stdout
${STATE_HELP}
  -h, --help          this text`;

function openAudit(stateDir: string): AuditLog {
  return new AuditLog(join(resolve(stateDir), 'audit.sqlite'));
}

function isoDate(value: string | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new FacegateError('USAGE', `${option} ${value}: not an ISO 8601 date or time`);
  return new Date(t).toISOString();
}

export async function auditCommand(argv: string[], ctx: CommandContext): Promise<number> {
  await Promise.resolve();
  const { values, positionals } = parseCommand(
    argv,
    {
      from: { type: 'string' },
      to: { type: 'string' },
      out: { type: 'string' },
      'state-dir': { type: 'string' },
    },
    AUDIT_USAGE,
  );
  const [verb] = positionals;
  if (values.help || !verb) {
    ctx.io.out(AUDIT_USAGE);
    return values.help ? 0 : 2;
  }
  const log = openAudit(values['state-dir'] ?? ctx.config.stateDir);
  try {
    if (verb === 'verify') {
      const verdict = log.verify();
      ctx.io.out(JSON.stringify(verdict));
      for (const p of verdict.problems) ctx.io.err(`facegate audit verify: ${p}`);
      return verdict.ok ? 0 : 1;
    }
    if (verb === 'export') {
      const from = isoDate(values.from, '--from');
      const to = isoDate(values.to, '--to');
      const verdict = log.verify();
      const lines = [
        ...log.range(from, to).map((e) => JSON.stringify(e)),
        JSON.stringify({ head: verdict.head ?? null, verified: verdict.ok, problems: verdict.problems }),
      ];
      if (values.out) {
        writeFileOrThrow(values.out, `${lines.join('\n')}\n`);
        ctx.io.err(`facegate audit export: ${lines.length - 1} entries written to ${values.out}`);
      } else for (const line of lines) ctx.io.out(line);
      return verdict.ok ? 0 : 1;
    }
    throw new FacegateError('USAGE', `unknown audit command "${verb}"\n\n${AUDIT_USAGE}`);
  } finally {
    log.close();
  }
}

export const KEY_USAGE = `Usage: facegate key rotate --new-key-file FILE

Re-seals the state directory's data key with a new key-encryption key (encryption.keyFile, or
the credential encryption.credential, is the current one). Photos, embeddings and snapshots stay
as they are: nothing is re-encrypted or re-enrolled. Then point encryption.keyFile at FILE (or
replace the credential) and restart facegate. The rotation is written to the audit log. Exports
made before it open with the old key only.

  --new-key-file FILE the new key: 64 hex digits (openssl rand -hex 32 > FILE; chmod 600 FILE)
${STATE_HELP}
  -h, --help          this text`;

export async function keyCommand(argv: string[], ctx: CommandContext): Promise<number> {
  await Promise.resolve();
  const { values, positionals } = parseCommand(
    argv,
    { 'new-key-file': { type: 'string' }, 'state-dir': { type: 'string' } },
    KEY_USAGE,
  );
  if (values.help || positionals[0] !== 'rotate') {
    ctx.io.out(KEY_USAGE);
    return values.help ? 0 : 2;
  }
  const next = values['new-key-file'];
  if (!next) throw new FacegateError('USAGE', `key rotate needs --new-key-file FILE\n\n${KEY_USAGE}`);
  const current = keySource(ctx.config.encryption);
  if (!current)
    throw new FacegateError(
      'CONFIG_INVALID',
      'encryption is not configured (encryption.keyFile or encryption.credential): nothing to rotate',
    );
  readKeyFile(next, '--new-key-file'); // its problems named before anything changes
  const stateDir = resolve(values['state-dir'] ?? ctx.config.stateDir);
  const { keyId } = rotateKey(stateDir, current, { file: next, key: '--new-key-file' });
  const log = openAudit(stateDir);
  try {
    log.append('key.rotate', cliActor(), 'encryption', { keyId });
  } finally {
    log.close();
  }
  ctx.io.out(
    JSON.stringify({ rotated: true, keyId, next: `set encryption.keyFile to ${next}, then restart` }),
  );
  return 0;
}
