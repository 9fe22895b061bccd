// facegate enroll and facegate gallery list|remove|export|import: the one-shot gallery from the
// command line. The gallery lives in <state dir>/gallery.sqlite.
import { basename } from 'node:path';
import type { Config } from '../config/schema.js';
import { FacegateError, fileErrorWords, readFileOrThrow, writeFileOrThrow } from '../errors.js';
import { enrollPerson, enrollmentPolicy, EnrollmentRejected, reembedGallery } from '../gallery/enroll.js';
import { vectorBlob, type GalleryStore } from '../gallery/store.js';
import { isSealed } from '../privacy/sealing.js';
import { cliActor, PrivateState } from '../privacy/state.js';
import { filesHolding, needles } from '../privacy/traces.js';
import { gallerySource, GallerySyncer } from '../gallery/syncer.js';
import { exportGallery, importGallery, parseExport } from '../gallery/transfer.js';
import { ENCODER_THRESHOLDS, matchThreshold, type FaceEngine } from '../inference/faces.js';
import { parseCommand, parseNumber, progressReporter, type CommandContext, type Io } from './args.js';

const STATE_HELP = `  --state-dir DIR     where the gallery lives (default: stateDir of the config, $FACEGATE_STATE_DIR, ./state)`;

/**
 * Runs `fn` with the state directory's gallery (encrypted when configured, its changes in the
 * audit log as this user's) and closes both after.
 */
async function withGallery<T>(
  config: Config,
  stateDir: string,
  fn: (store: GalleryStore, state: PrivateState) => Promise<T> | T,
): Promise<T> {
  const state = new PrivateState(config, stateDir);
  try {
    const store = state.gallery(cliActor());
    try {
      return await fn(store, state);
    } finally {
      store.close();
    }
  } finally {
    state.close();
  }
}

/** Re-embeds the photos the current encoder has not seen (after a model change). */
async function reembed(store: GalleryStore, engine: FaceEngine, io: Io): Promise<void> {
  const { embedded, failed } = await reembedGallery(engine, store);
  if (embedded || failed.length) io.err(`gallery: re-embedded ${embedded} photos for the current encoder`);
  for (const f of failed) io.err(`gallery: ${f.personId}: cannot re-embed (${f.reason}); re-enroll them`);
}

export const ENROLL_USAGE = `Usage: facegate enroll --id ID --name NAME [--metadata JSON] [--force] [--replace] IMAGE...

Adds a person to the gallery from one photo (or a few). A photo is refused, with the reason, when
it has no face, two faces of similar size, a face below the quality gates, or a face closer than
the threshold to someone already enrolled (then it names who; --force enrolls anyway). For an ID
already enrolled the photos are added to that person's (the output says so), or with --replace
take the place of them.

Options:
  --id ID             stable identifier (letters, digits, . _ : @ -)
  --name NAME         display name, used in events
  --metadata JSON     a JSON object kept with the person
  --threshold T       duplicate check threshold (default: match.threshold, or the encoder's own: dlib ${ENCODER_THRESHOLDS.dlib}, mobilefacenet ${ENCODER_THRESHOLDS.mobilefacenet})
  --force             enroll even when the face matches someone else
  --replace           an enrolled person's photos are replaced, not added to
${STATE_HELP}
  -h, --help          this text`;

export async function enrollCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values, positionals } = parseCommand(
    argv,
    {
      id: { type: 'string' },
      name: { type: 'string' },
      metadata: { type: 'string' },
      threshold: { type: 'string' },
      force: { type: 'boolean' },
      replace: { type: 'boolean' },
      'state-dir': { type: 'string' },
    },
    ENROLL_USAGE,
  );
  if (values.help) {
    io.out(ENROLL_USAGE);
    return 0;
  }
  if (!values.id || !values.name)
    throw new FacegateError('USAGE', `--id and --name are required\n\n${ENROLL_USAGE}`);
  if (!positionals.length) throw new FacegateError('USAGE', `no photo given\n\n${ENROLL_USAGE}`);
  let metadata: Record<string, unknown> = {};
  if (values.metadata !== undefined) {
    try {
      metadata = JSON.parse(values.metadata) as Record<string, unknown>;
    } catch {
      throw new FacegateError('USAGE', `--metadata is not valid JSON: ${values.metadata}`);
    }
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new FacegateError('USAGE', '--metadata must be a JSON object');
    }
  }
  const photos = positionals.map((file) => ({
    bytes: readFileOrThrow(
      file,
      'IMAGE_UNREADABLE',
      (reason) => `${file}: ${reason === 'ENOENT' ? 'no such file' : reason}`,
    ),
    source: basename(file),
  }));
  const policy = enrollmentPolicy(config, {
    threshold: parseNumber('threshold', values.threshold, matchThreshold(config)),
    force: values.force ?? false,
  });
  const person = { id: values.id, name: values.name, metadata };
  const engine = await ctx.engine();
  return withGallery(config, values['state-dir'] ?? config.stateDir, async (store) => {
    await reembed(store, engine, io);
    const before = store.getPerson(person.id)?.images ?? 0;
    const replace = values.replace ?? false;
    const r = await enrollPerson(engine, store, person, photos, policy, replace);
    const total = store.getPerson(r.personId)?.images ?? r.images;
    const existing = before > 0 ? (replace ? 'replaced' : 'added') : undefined;
    io.out(
      JSON.stringify({
        enrolled: r.personId,
        name: person.name,
        images: r.images,
        // The person's photos now, and what happened to the ones enrolled before.
        photos: total,
        ...(existing ? { existingPhotos: existing } : {}),
        galleryVersion: r.galleryVersion,
      }),
    );
    if (existing === 'added')
      io.err(
        `facegate enroll: ${r.personId} was already enrolled: photo added (${total} photos now); --replace replaces them`,
      );
    return 0;
  }).catch((err: unknown) => {
    if (err instanceof EnrollmentRejected) {
      io.out(
        JSON.stringify({ refused: values.id, reason: err.reason, message: err.message, ...err.details }),
      );
    }
    throw err;
  });
}

export const GALLERY_USAGE = `Usage: facegate gallery list [--json]
       facegate gallery sync --once
       facegate gallery remove [--verify] ID
       facegate gallery export [--plain] FILE
       facegate gallery import FILE

  list                people, photos per person, gallery version and the sync's version floor
  sync --once         one sync from gallery.source (config): prints the report; exit 1 when
                      the source was refused or unreachable (the gallery is then unchanged)
  remove ID           removes a person with their photos, embeddings and snapshots
    --verify          then searches every file under the state directory for the bytes of
                      their photos and embeddings: exit 1, naming the files, if any holds them
  export FILE         writes every person with their enrollment photos; encrypted (readable
                      with the same encryption key) when encryption is on
    --plain           a plain JSON file even so (for a subject's access request: handle it as
                      the biometric data it is)
  import FILE         re-encodes and adds (or replaces) the people in an export, all or nothing
${STATE_HELP}
  -h, --help          this text`;

export async function galleryCommand(argv: string[], ctx: CommandContext): Promise<number> {
  const { io, config } = ctx;
  const { values, positionals } = parseCommand(
    argv,
    {
      json: { type: 'boolean' },
      once: { type: 'boolean' },
      verify: { type: 'boolean' },
      plain: { type: 'boolean' },
      'state-dir': { type: 'string' },
    },
    GALLERY_USAGE,
  );
  const [verb, arg] = positionals;
  if (values.help || !verb) {
    io.out(GALLERY_USAGE);
    return values.help ? 0 : 2;
  }
  const needsArg = (what: string) => {
    if (!arg) throw new FacegateError('USAGE', `gallery ${verb} needs ${what}\n\n${GALLERY_USAGE}`);
    return arg;
  };
  const stateDir = values['state-dir'] ?? config.stateDir;
  switch (verb) {
    case 'list':
      return withGallery(config, stateDir, (store) => {
        const people = store.listPeople();
        const syncVersion = store.getState('sync:version');
        if (values.json)
          io.out(
            JSON.stringify({
              galleryVersion: store.version,
              ...(syncVersion ? { syncVersion: Number(syncVersion) } : {}),
              encrypted: store.sealed,
              people,
            }),
          );
        else {
          io.out(
            `gallery version ${store.version}, ${people.length} people${syncVersion ? `, synced manifest version ${syncVersion}` : ''}${store.sealed ? ', encrypted' : ''}`,
          );
          for (const p of people)
            io.out(`${p.id.padEnd(24)} ${p.name.padEnd(24)} ${p.images} photo${p.images === 1 ? '' : 's'}`);
        }
        return 0;
      });
    case 'sync': {
      if (!values.once)
        throw new FacegateError('USAGE', 'gallery sync needs --once (the daemon syncs on its own schedule)');
      const source = gallerySource(config);
      if (!source)
        throw new FacegateError(
          'USAGE',
          'no gallery.source configured (config file or FACEGATE_GALLERY_SOURCE)',
        );
      const engine = await ctx.engine();
      return withGallery(config, stateDir, async (store) => {
        await reembed(store, engine, io);
        const syncer = new GallerySyncer(engine, store, source, config);
        syncer.onProgress = progressReporter('people checked', io);
        const report = await syncer.syncNow();
        io.out(JSON.stringify(report));
        return report.status === 'applied' || report.status === 'unchanged' ? 0 : 1;
      });
    }
    case 'remove': {
      const id = needsArg('an ID');
      return withGallery(config, stateDir, (store, state) => {
        // What to look for afterwards: the photos and embeddings as they were, unencrypted.
        const traces = values.verify
          ? [
              ...store.images(id).flatMap((i) => needles(i.bytes)),
              ...store.personEmbeddings(id).flatMap((e) => needles(vectorBlob(e), 128)),
            ]
          : [];
        const removed = store.write(() => store.removePerson(id));
        if (!removed) throw new FacegateError('NOT_FOUND', `no person with id "${id}"`);
        const result = { removed: id, galleryVersion: store.version };
        if (!values.verify) {
          io.out(JSON.stringify(result));
          return 0;
        }
        const holding = filesHolding(state.stateDir, traces);
        io.out(JSON.stringify({ ...result, verified: holding.length === 0, holding }));
        if (holding.length)
          io.err(
            `facegate gallery remove: bytes of ${id}'s photos or embeddings are still in: ${holding.join(', ')}`,
          );
        return holding.length ? 1 : 0;
      });
    }
    case 'export': {
      const file = needsArg('a FILE');
      return withGallery(config, stateDir, (store, state) => {
        const doc = exportGallery(store);
        const json = Buffer.from(JSON.stringify(doc));
        const sealer = values.plain ? undefined : state.sealers?.transfer;
        writeFileOrThrow(file, sealer ? sealer.seal(json, EXPORT_CONTEXT) : json);
        io.out(
          JSON.stringify({
            exported: doc.people.length,
            file,
            galleryVersion: doc.galleryVersion,
            encrypted: sealer !== undefined,
          }),
        );
        return 0;
      });
    }
    case 'import': {
      const file = needsArg('a FILE');
      const bytes = readFileOrThrow(
        file,
        'NOT_FOUND',
        (reason) => `${file}: cannot read it: ${fileErrorWords(reason)}`,
      );
      const engine = await ctx.engine();
      return withGallery(config, stateDir, async (store, state) => {
        let text: string;
        if (isSealed(bytes)) {
          if (!state.sealers)
            throw new FacegateError(
              'CONFIG_INVALID',
              `${file}: an encrypted export; configure the key it was written with (encryption.keyFile or encryption.credential)`,
            );
          text = state.sealers.transfer.open(bytes, EXPORT_CONTEXT, file).toString('utf8');
        } else text = bytes.toString('utf8');
        const doc = parseExport(text, file);
        await reembed(store, engine, io);
        const r = await importGallery(engine, store, doc, enrollmentPolicy(config));
        io.out(JSON.stringify({ imported: r.people, galleryVersion: r.galleryVersion }));
        return 0;
      });
    }
    default:
      throw new FacegateError('USAGE', `unknown gallery command "${verb}"\n\n${GALLERY_USAGE}`);
  }
}

/** What an export is sealed as (associated data): a sealed gallery row does not pass for one. */
const EXPORT_CONTEXT = 'gallery export';
