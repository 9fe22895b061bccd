// The console's view of a running daemon (api.ts's ConsoleBackend), built from the daemon's
// parts: the gallery, the engine and matcher, the audit log, snapshots, attempts, the live view
// and the daemon's reload. Pairs marked wrong go to the state's MarkedPairs (console/marked.ts).
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { redactUrl } from '../camera/url.js';
import type { Config } from '../config/schema.js';
import { enrollmentPolicy, enrollPerson } from '../gallery/enroll.js';
import type { GallerySearch } from '../gallery/matcher.js';
import type { GalleryStore } from '../gallery/store.js';
import type { GallerySyncer } from '../gallery/syncer.js';
import { euclidean, type FaceEngine } from '../inference/faces.js';
import type { PrivateState } from '../privacy/state.js';
import { decodeImage } from '../vision/image.js';
import { checkGates } from '../vision/quality.js';
import type { ConsoleBackend } from './api.js';
import type { Attempt, AttemptLog } from './attempts.js';
import type { LiveView } from './live.js';
import type { MarkedPair } from './marked.js';

export type DaemonParts = {
  config: () => Config;
  engine: FaceEngine;
  store: GalleryStore;
  state: PrivateState;
  attempts: AttemptLog;
  live: LiveView;
  matcher: () => Promise<GallerySearch>;
  threshold: () => number;
  syncer: GallerySyncer | undefined;
  cameras: () => { name: string; state: string; reason?: string; since: string }[];
  /** Applies a changed configuration as SIGHUP does. */
  reload: (next: Config) => Promise<unknown>;
};

/** Settings the console saved, applied over the configuration file: `{ "match.threshold": 0.9 }`. */
export const SETTINGS_FILE = 'console-settings.json';

export function consoleSettings(stateDir: string): { key: string; value: unknown }[] {
  const file = join(stateDir, SETTINGS_FILE);
  if (!existsSync(file)) return [];
  return Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>).map(
    ([key, value]) => ({
      key,
      value,
    }),
  );
}

/** Passwords in URLs (cameras, broker) and secret values: what GET /config must never show. */
export function redact(value: unknown, key = ''): unknown {
  if (typeof value === 'string')
    return /password|secret|token$/i.test(key) && value ? '(redacted)' : redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, key));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  return value;
}

export function daemonBackend(p: DaemonParts): ConsoleBackend {
  // Where the snapshot lies follows from the decision: no search through every snapshot.
  const crop = (a: Attempt) =>
    a.snapshot && a.kind !== 'unusable'
      ? p.state.snapshots.read(a.snapshot, { kind: a.kind, personId: a.kind === 'unknown' ? null : a.person })
      : undefined;
  const personPhoto = (id: string) => p.store.images(id)[0];
  /** The distance between a photo's face and a person's nearest enrollment embedding. */
  const distanceTo = async (bytes: Buffer, personId: string): Promise<number | null> => {
    const [face] = await p.engine.analyze(await decodeImage(bytes), { select: 'largest', photo: true });
    const own = p.store.personEmbeddings(personId);
    if (!face || !own.length) return null;
    return Math.min(...own.map((e) => euclidean(e, face.embedding)));
  };

  return {
    cameras: p.cameras,
    attempts: (f) => p.attempts.list(f),
    attempt: (id) => p.attempts.get(id),
    crop,
    people: () =>
      p.store.listPeople().map((person) => ({
        ...person,
        photos: p.store.imageHashes(person.id),
        doorCaptures: p.store.doorCaptures(person.id).map((c) => c.sha256),
      })),
    photo: (id, sha) => p.store.images(id).find((i) => i.sha256 === sha)?.bytes,
    enroll: (person, photos, actor, replace) =>
      enrollPerson(
        p.engine,
        p.store,
        person,
        photos,
        enrollmentPolicy(p.config(), { maxPixels: p.config().gallery.maxImagePixels }),
        replace,
        actor,
      ),
    updatePerson: (id, change, actor) => {
      const person = p.store.getPerson(id);
      if (!person) return false;
      p.store.write(() => p.store.putPerson({ ...person, ...change }, [], p.engine.encoderId), actor);
      return true;
    },
    removePerson: (id, actor) => p.store.write(() => p.store.removePerson(id), actor),
    recognise: async (bytes) => {
      const image = await decodeImage(bytes, { maxPixels: p.config().gallery.maxImagePixels });
      const faces = await p.engine.analyze(image, { select: 'all', photo: true });
      const matcher = await p.matcher();
      const threshold = p.threshold();
      return {
        width: image.width,
        height: image.height,
        threshold,
        faces: await Promise.all(
          faces.map(async (f) => {
            const failed = checkGates(f.quality, p.config().quality);
            const nearest = await matcher.nearest(f.embedding);
            return {
              box: f.box,
              quality: {
                score: f.quality.score,
                usable: failed.length === 0,
                refused: failed.map((g) => g.reason),
              },
              nearest: nearest
                ? { id: nearest.personId, name: nearest.name, distance: nearest.distance }
                : null,
              match:
                nearest && nearest.distance < threshold && !failed.length
                  ? { id: nearest.personId, name: nearest.name, distance: nearest.distance }
                  : null,
            };
          }),
        ),
      };
    },
    markWrong: async (attempt, truth, actor) => {
      const image = crop(attempt);
      const at = new Date().toISOString();
      // What the daemon said is wrong: a match was somebody else; an unknown was `truth`.
      let pairs = 0;
      if (image)
        for (const [person, same] of [
          [attempt.kind === 'match' ? attempt.person : null, false],
          [truth, true],
        ] as const) {
          const photo = person ? personPhoto(person) : undefined;
          if (!person || !photo) continue;
          const distance = await distanceTo(image, person);
          p.state.marked.add({ attempt: attempt.id, person, same, distance, by: actor, at }, image, photo);
          pairs++;
        }
      // A face matched as the wrong person must not stay among that person's photos.
      const capture =
        attempt.kind === 'match' && attempt.person
          ? p.store.doorCaptures(attempt.person).find((c) => c.source.endsWith(`:${attempt.id}`))
          : undefined;
      if (capture) p.store.write(() => p.store.removeDoorCapture(attempt.person!, capture.source), actor);
      p.state.audit.append('attempt.marked', actor, attempt.id, {
        decided: attempt.kind,
        person: attempt.person,
        truth,
        pairs,
        ...(capture ? { doorCaptureRemoved: capture.source } : {}),
      });
      return p.attempts.update(attempt.id, { wrong: { by: actor, at, truth } })!;
    },
    enrolledFromAttempt: (attempt, personId) => p.attempts.update(attempt.id, { enrolledAs: personId }),
    syncNow: (actor) => {
      if (!p.syncer) return undefined;
      p.state.audit.append('gallery.sync', actor, 'gallery', { requested: true });
      return p.syncer.syncNow();
    },
    syncStatus: () => (p.syncer ? p.syncer.galleryStatus : { source: null, version: p.store.version }),
    events: (from, to, limit) =>
      p.state.audit
        .range(from, to)
        .filter((e) => e.kind === 'access')
        .slice(-limit)
        .reverse(),
    config: () => redact(p.config()),
    tuning: (threshold) =>
      tuning(
        p.attempts.list({ limit: 1000 }),
        p.state.marked.list(),
        threshold ?? p.threshold(),
        p.threshold(),
      ),
    saveThreshold: async (threshold, actor) => {
      const file = join(p.state.stateDir, SETTINGS_FILE);
      const saved = existsSync(file)
        ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>)
        : {};
      writeFileSync(file, JSON.stringify({ ...saved, 'match.threshold': threshold }, null, 2), {
        mode: 0o600,
      });
      const next = structuredClone(p.config());
      next.match.threshold = threshold;
      p.state.audit.append('config.change', actor, 'match.threshold', { threshold, file: SETTINGS_FILE });
      await p.reload(next);
      return { saved: true, threshold: p.threshold() };
    },
    live: (camera, res) => {
      if (!p.cameras().some((c) => c.name === camera)) return false;
      p.live.add(camera, res);
      return true;
    },
  };
}

/** What `threshold` would have decided on the recent attempts and the marked pairs. */
export function tuning(attempts: Attempt[], marked: MarkedPair[], threshold: number, current: number) {
  const decided = attempts.filter((a) => (a.kind === 'match' || a.kind === 'unknown') && a.nearest);
  const wouldMatch = (a: Attempt) => a.nearest!.distance < threshold;
  const scored = marked.filter((m) => m.distance !== null);
  return {
    threshold,
    current,
    attempts: {
      decided: decided.length,
      match: decided.filter(wouldMatch).length,
      unknown: decided.filter((a) => !wouldMatch(a)).length,
      changed: decided.filter((a) => wouldMatch(a) !== (a.kind === 'match')).length,
    },
    marked: {
      pairs: scored.length,
      right: scored.filter((m) => m.distance! < threshold === m.same).length,
      wrong: scored.filter((m) => m.distance! < threshold !== m.same).length,
    },
  };
}
