// The retention sweep: deletes what has been kept long enough, per kind of data, and nothing
// else. Snapshots by their kind's snapshots.keepSeconds; people past the retainUntil their
// source gave (with their photos, embeddings and snapshots); events waiting for a broker longer
// than mqtt.maxEventAgeSeconds; audit entries older than retention.auditDays; pairs marked wrong
// in the console older than retention.markedDays. Each sweep that
// deleted something is itself an audit entry. People dropped from the synced source need no
// sweep: the sync that no longer lists them wipes them.
import type { Outbox } from '../events/outbox.js';
import type { GalleryStore } from '../gallery/store.js';
import type { PrivateState } from './state.js';

export const RETENTION_KINDS = [
  'snapshot_match',
  'snapshot_unknown',
  'snapshot_spoof',
  'person_expired',
  'event',
  'audit',
  'marked_pair',
] as const;
export type RetentionKind = (typeof RETENTION_KINDS)[number];
export type SweepReport = Record<RetentionKind, number>;

export type SweepLimits = {
  /** 0 keeps audit entries forever. */
  auditDays: number;
  /** 0 keeps the pairs marked wrong in the console until their person leaves. */
  markedDays: number;
  /** 0 keeps events until they are sent. */
  maxEventAgeSeconds: number;
};

const DAY_MS = 24 * 3600 * 1000;

export function sweep(
  state: PrivateState,
  gallery: GalleryStore,
  outbox: Outbox | undefined,
  limits: SweepLimits,
  now = new Date(),
): SweepReport {
  const snapshots = state.snapshots.prune(now.getTime());
  const expired = gallery.expiredPeople(now);
  if (expired.length)
    gallery.write(() => {
      for (const id of expired) gallery.removePerson(id);
    }, 'retention');
  let events = 0;
  if (outbox && limits.maxEventAgeSeconds > 0)
    for (const n of outbox.expire(now.getTime() - limits.maxEventAgeSeconds * 1000).values()) events += n;
  const audit =
    limits.auditDays > 0
      ? state.audit.prune(new Date(now.getTime() - limits.auditDays * DAY_MS), 'retention')
      : 0;
  const marked =
    limits.markedDays > 0 ? state.marked.prune(new Date(now.getTime() - limits.markedDays * DAY_MS)) : 0;
  const report: SweepReport = {
    snapshot_match: snapshots.match,
    snapshot_unknown: snapshots.unknown,
    snapshot_spoof: snapshots.spoof,
    person_expired: expired.length,
    event: events,
    audit,
    marked_pair: marked,
  };
  if (Object.values(report).some((n) => n > 0))
    state.audit.append('retention.sweep', 'retention', 'state', { deleted: report, people: expired });
  return report;
}
