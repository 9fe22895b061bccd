// The gallery manifest a remote source serves (schema in docs/gallery.md): a version that only
// goes up, and the people with their enrollment images (URLs relative to the manifest, each with
// its sha256). The TypeBox schema gives both the JSON Schema and the TypeScript type.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { FacegateError } from '../errors.js';
import { validatePersonId, validatePersonText } from './store.js';

const ISO_DATE = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?(Z|[+-]\\d{2}:\\d{2}))?$';

/** Why the source may hold this person's face: recorded with every change in the audit log. */
export const ConsentSchema = Type.Object(
  {
    basis: Type.String({
      minLength: 1,
      maxLength: 100,
      description: "The legal basis, e.g. 'explicit-consent' (GDPR Art. 9(2)(a)) or 'written-release' (BIPA)",
    }),
    recordedAt: Type.String({ pattern: ISO_DATE, description: 'When it was given (ISO 8601)' }),
    reference: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: 'Where the signed form is kept' }),
    ),
  },
  { additionalProperties: false },
);

export type Consent = Static<typeof ConsentSchema>;

export const GalleryManifestSchema = Type.Object(
  {
    version: Type.Integer({ minimum: 0, description: 'Increases with every change of the gallery' }),
    people: Type.Array(
      Type.Object(
        {
          id: Type.String({ minLength: 1, maxLength: 128 }),
          name: Type.String({ minLength: 1 }),
          metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
          consent: Type.Optional(ConsentSchema),
          retainUntil: Type.Optional(
            Type.String({
              pattern: ISO_DATE,
              description:
                'After this date (ISO 8601) the person is wiped and not enrolled again, whatever the manifest says',
            }),
          ),
          images: Type.Array(
            Type.Object(
              {
                url: Type.String({ minLength: 1, description: 'Relative to the manifest URL, or absolute' }),
                sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
              },
              { additionalProperties: false },
            ),
            { minItems: 1 },
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false, $id: 'facegate/gallery-manifest' },
);

export type GalleryManifest = Static<typeof GalleryManifestSchema>;

/** Parses and validates a manifest; every problem names where it is. */
export function parseManifest(bytes: Buffer, source: string): GalleryManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new FacegateError(
      'SYNC_REJECTED',
      `${source}: manifest is not valid JSON (${(err as Error).message})`,
    );
  }
  if (!Value.Check(GalleryManifestSchema, doc)) {
    const first = [...Value.Errors(GalleryManifestSchema, doc)]
      .slice(0, 3)
      .map((e) => `${e.path || '/'}: ${e.message}`);
    throw new FacegateError(
      'SYNC_REJECTED',
      `${source}: manifest does not match the schema (${first.join('; ')})`,
    );
  }
  const seen = new Set<string>();
  for (const p of doc.people) {
    try {
      validatePersonId(p.id);
    } catch (err) {
      throw new FacegateError('SYNC_REJECTED', `${source}: ${(err as Error).message}`);
    }
    for (const date of [p.retainUntil, p.consent?.recordedAt])
      if (date !== undefined && Number.isNaN(Date.parse(date)))
        throw new FacegateError('SYNC_REJECTED', `${source}: person "${p.id}": ${date} is not a date`);
    try {
      validatePersonText(p);
      if (p.consent) validatePersonText({ id: p.id, name: p.name, metadata: p.consent });
    } catch (err) {
      throw new FacegateError('SYNC_REJECTED', `${source}: ${(err as Error).message}`);
    }
    if (seen.has(p.id))
      throw new FacegateError('SYNC_REJECTED', `${source}: person id "${p.id}" appears twice`);
    seen.add(p.id);
  }
  return doc;
}
