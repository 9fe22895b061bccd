// The state directory's personal data, opened one way by the daemon and the CLI alike: the
// encryption keys (when configured), the audit log, the snapshots, the pairs marked wrong, and the
// gallery wired to them (its changes recorded with who made them, a removed person's snapshots and
// pairs wiped with them).
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { FacegateError } from '../errors.js';
import { MarkedPairs } from '../console/marked.js';
import { SnapshotStore } from '../events/snapshots.js';
import { GalleryStore } from '../gallery/store.js';
import { AuditLog } from './audit.js';
import { hasKeyring, keySource, openDataKey, type Sealers } from './sealing.js';

/** Who runs this command, for the audit log. */
export const cliActor = (): string => `cli:${userInfo().username}`;

export class PrivateState {
  readonly audit: AuditLog;
  readonly snapshots: SnapshotStore;
  /** Pairs marked wrong in the console: faces too. */
  readonly marked: MarkedPairs;
  /** undefined: encryption at rest is off. */
  readonly sealers: Sealers | undefined;

  constructor(
    config: Pick<Config, 'encryption' | 'snapshots'>,
    readonly stateDir: string,
  ) {
    this.stateDir = resolve(stateDir);
    const source = keySource(config.encryption);
    // Encrypted data and no key configured: refused, never read or written in plain.
    if (!source && hasKeyring(this.stateDir))
      throw new FacegateError(
        'CONFIG_INVALID',
        `${this.stateDir} holds encrypted data (keyring.json): configure its key (encryption.keyFile or encryption.credential)`,
      );
    this.sealers = source && openDataKey(this.stateDir, source);
    this.audit = new AuditLog(join(this.stateDir, 'audit.sqlite'));
    this.snapshots = new SnapshotStore(
      join(this.stateDir, 'snapshots'),
      config.snapshots.keepSeconds,
      this.sealers?.data,
    );
    this.marked = new MarkedPairs(join(this.stateDir, 'marked'), this.sealers?.data);
  }

  /** The gallery, its changes recorded as made by `actor`. */
  gallery(actor: string): GalleryStore {
    return new GalleryStore(join(this.stateDir, 'gallery.sqlite'), {
      ...(this.sealers ? { sealer: this.sealers.data } : {}),
      audit: { log: this.audit, actor },
      // A removed person's snapshots and marked pairs go with their photos.
      onRemoved: (ids) => {
        this.snapshots.wipe(ids);
        this.marked.wipe(ids);
      },
    });
  }

  close(): void {
    this.audit.close();
  }
}
