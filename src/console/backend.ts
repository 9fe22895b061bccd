// The console's view of a running daemon (api.ts's ConsoleBackend), built from the daemon's
// parts: the gallery, the engine and matcher, the audit log, snapshots, attempts, the live view
// and the daemon's reload. Labelled pairs marked wrong are kept in <stateDir>/marked/ (their
// images sealed like snapshots when encryption is on) for facegate calibrate --marked.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/schema.js';
import { enrollmentPolicy, enrollPerson } from '../gallery/enroll.js';
import type { GallerySearch } from '../gallery/matcher.js';
import type { GalleryStore } from '../gallery/store.js';
import type { GallerySyncer } from '../gallery/syncer.js';
import type { FaceEngine } from '../inference/faces.js';
import type { PrivateState } from '../privacy/state.js';
import { decodeImage } from '../vision/image.js';
import { checkGates } from '../vision/quality.js';
import type { ConsoleBackend } from './api.js';
import type { Attempt, AttemptLog } from './attempts.js';
import type { LiveView } from './live.js';

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

/**
 * The pairs marked wrong in the console as plain files in `into` (a private folder the caller
 * deletes): `pairs.tsv` (file1, file2, same) beside the images, opened when they are sealed.
 * Returns how many pairs; 0 when none was marked.
 */
export function writeMarkedPairs(state: PrivateState, into: string): number {
  const dir = join(state.stateDir, 'marked');
  const tsv = join(dir, 'pairs.tsv');
  if (!existsSync(tsv)) return 0;
  mkdirSync(into, { recursive: true, mode: 0o700 });
  const lines = readFileSync(tsv, 'utf8').trim().split('\n');
  for (const name of new Set(lines.slice(1).flatMap((l) => l.split('\t').slice(0, 2)))) {
    const sealed = join(dir, `${name}.sealed`);
    const bytes = existsSync(sealed)
      ? state.sealers!.data.open(readFileSync(sealed), `marked:${name}`, sealed)
      : readFileSync(join(dir, name));
    writeFileSync(join(into, name), bytes, { mode: 0o600 });
  }
  writeFileSync(join(into, 'pairs.tsv'), `${lines.join('\n')}\n`, { mode: 0o600 });
  return lines.length - 1;
}

/** A marked pair: the attempt's crop and an enrolled person's photo, same person or not. */
type MarkedPair = {
  attempt: string;
  person: string;
  same: boolean;
  distance: number | null;
  by: string;
  at: string;
};

/** Passwords in URLs (cameras, broker) and secret values: what GET /config must never show. */
export function redact(value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (/password|secret|token$/i.test(key) && value) return '(redacted)';
    return value.replace(
      /^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]*)@/i,
      (_, scheme: string, auth: string) =>
        `${scheme}${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`,
    );
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, key));
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  return value;
}

export function daemonBackend(p: DaemonParts): ConsoleBackend {
  const markedDir = join(p.state.stateDir, 'marked');
  const sealer = p.state.sealers?.data;
  const markedFile = (name: string) => join(markedDir, sealer ? `${name}.sealed` : name);
  const readMarked = (): MarkedPair[] => {
    const file = join(markedDir, 'pairs.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as MarkedPair[]) : [];
  };
  const writePrivate = (file: string, bytes: Buffer | string) => {
    mkdirSync(markedDir, { recursive: true, mode: 0o700 });
    writeFileSync(file, bytes, { mode: 0o600 });
  };
  const personPhoto = (id: string) => p.store.images(id)[0];
  /** The distance between a photo's face and a person's nearest enrollment embedding. */
  const distanceTo = async (bytes: Buffer, personId: string): Promise<number | null> => {
    const [face] = await p.engine.analyze(await decodeImage(bytes), { select: 'largest' });
    const own = p.store.personEmbeddings(personId);
    if (!face || !own.length) return null;
    return Math.min(...own.map((e) => Math.hypot(...e.map((v, i) => v - face.embedding[i]!))));
  };

  return {
    cameras: p.cameras,
    attempts: (f) => p.attempts.list(f),
    attempt: (id) => p.attempts.get(id),
    snapshot: (id) => p.state.snapshots.read(id),
    people: () =>
      p.store.listPeople().map((person) => ({ ...person, photos: p.store.imageHashes(person.id) })),
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
      const faces = await p.engine.analyze(image, { select: 'all' });
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
      const crop = attempt.snapshot ? p.state.snapshots.read(attempt.snapshot) : undefined;
      const pairs: MarkedPair[] = [];
      const at = new Date().toISOString();
      // What the daemon said is wrong: a match was somebody else; an unknown was `truth`.
      if (crop) {
        writePrivate(
          markedFile(`${attempt.id}.jpg`),
          sealer ? sealer.seal(crop, `marked:${attempt.id}.jpg`) : crop,
        );
        for (const [person, same] of [
          [attempt.kind === 'match' ? attempt.person : null, false],
          [truth, true],
        ] as const) {
          const photo = person ? personPhoto(person) : undefined;
          if (!person || !photo) continue;
          const name = `${person}-${photo.sha256.slice(0, 12)}.jpg`;
          if (!existsSync(markedFile(name)))
            writePrivate(markedFile(name), sealer ? sealer.seal(photo.bytes, `marked:${name}`) : photo.bytes);
          pairs.push({
            attempt: attempt.id,
            person,
            same,
            distance: await distanceTo(crop, person),
            by: actor,
            at,
          });
        }
      }
      writePrivate(join(markedDir, 'pairs.json'), JSON.stringify([...readMarked(), ...pairs], null, 1));
      if (!existsSync(join(markedDir, 'pairs.tsv')))
        writePrivate(join(markedDir, 'pairs.tsv'), 'file1\tfile2\tsame\n');
      for (const pair of pairs) {
        const photo = personPhoto(pair.person)!;
        appendFileSync(
          join(markedDir, 'pairs.tsv'),
          `${pair.attempt}.jpg\t${pair.person}-${photo.sha256.slice(0, 12)}.jpg\t${pair.same ? 1 : 0}\n`,
        );
      }
      p.state.audit.append('attempt.marked', actor, attempt.id, {
        decided: attempt.kind,
        person: attempt.person,
        truth,
        pairs: pairs.length,
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
      tuning(p.attempts.list({ limit: 1000 }), readMarked(), threshold ?? p.threshold(), p.threshold()),
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
