// Writes docs/gallery.md: the manifest format a gallery source serves, with its JSON Schema from
// src/gallery/manifest.ts. A test checks that it is current.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GalleryManifestSchema } from '../src/gallery/manifest.js';

export function galleryReference(): string {
  const example = {
    version: 42,
    people: [
      {
        id: 'ann',
        name: 'Ann Example',
        metadata: { flat: '3B' },
        consent: { basis: 'explicit-consent', recordedAt: '2026-03-01', reference: 'form 2026-017' },
        retainUntil: '2029-03-01',
        images: [{ url: 'photos/ann.jpg', sha256: '<64 hex digits>' }],
      },
      {
        id: 'bo',
        name: 'Bo Example',
        images: [{ url: 'https://cdn.example/photos/bo.jpg', sha256: '<64 hex digits>' }],
      },
    ],
  };
  return `# Gallery sources

Generated from \`src/gallery/manifest.ts\` by \`make gallery-docs\`; do not edit by hand.

\`gallery.source\` (configuration.md) is either a manifest URL (\`https://\`, or \`http://\` for closed
networks and tests) or a local directory. Syncs run on start, every \`gallery.intervalSeconds\`
(plus up to 10% jitter), on demand (\`facegate gallery sync --once\`), and when a directory source
changes. A sync fetches the manifest (conditional GET: an unchanged manifest costs one request),
verifies it, enrolls each new or changed person with the enrollment checks of
recognition.md (look-alikes allowed: the source is the authority), removes people no longer
listed, and switches the gallery in one transaction. Until that switch the fetched photos wait
in a private temporary SQLite database (a file in the temporary directory, the service's own
under systemd, deleted after the sync), not in memory, so a large gallery's sync does not need
its photos' size in RAM. A process killed mid-sync leaves the old gallery; the next sync starts
again.

Refused, the last good gallery kept, with the reason: a manifest that cannot be fetched (network,
HTTP error, timeout, a server that stalls), whose signature does not verify, that is not JSON or
does not match the schema, that repeats a person id, whose version is lower than the gallery's,
or whose version is the gallery's but whose content is not what was applied at that version.
The version floor is one per gallery, not one per URL: a correctly signed older manifest served
from a mirror or an old URL cannot roll the gallery back. Moving to a source that counts from a
lower version means continuing its numbering above the gallery's (\`facegate gallery status\`
shows it). A person whose photo is refused (wrong sha256, not an image, no face, two faces, below the
quality gates, too large) is reported by id and reason; with \`gallery.partial\` =
\`keep-last-good\` (default) the whole previous gallery stays, with \`apply-valid\` everyone else is
applied.

## Consent and retention

Two optional fields per person carry what the controller of the data knows (docs/privacy.md):
\`consent\` (\`basis\`, \`recordedAt\`, and a \`reference\` to where the signed form is kept) is
stored with the person and written into the audit log with every change of them; \`retainUntil\`
is the date after which the person is wiped (by the sync that sees it, or by the retention sweep,
whichever comes first) and not enrolled again while the manifest still lists them: the sync
reports them as \`expired\`.

## Manifest

Image URLs are relative to the manifest's URL, or absolute. The manifest is signed with Ed25519:
\`<manifest URL>.sig\` holds the signature of the manifest's bytes (64 raw bytes, or base64), and
\`gallery.publicKeyFile\` the public key (PEM, or the 32 raw bytes in base64). An unsigned source
must be allowed explicitly (\`gallery.allowUnsigned\`).

\`\`\`sh
# Signing with openssl: key pair once, then each manifest
openssl genpkey -algorithm ed25519 -out gallery.key && openssl pkey -in gallery.key -pubout -out gallery.pub
openssl pkeyutl -sign -inkey gallery.key -rawin -in manifest.json | base64 -w0 > manifest.json.sig
\`\`\`

Example:

\`\`\`json
${JSON.stringify(example, null, 2)}
\`\`\`

Schema:

\`\`\`json
${JSON.stringify(GalleryManifestSchema, null, 2)}
\`\`\`

## Directory source

\`<id>/\` sub-folders of photos, or \`<id>.jpg|jpeg|png|webp\` files, and an optional \`people.json\`
(\`{"<id>": {"name": "...", "metadata": {...}}}\`) for names; ids are file names. The folder is
watched, and a change triggers a sync half a second after the last event.
`;
}

if (process.argv[1] === import.meta.filename)
  writeFileSync(join(import.meta.dirname, '..', 'docs', 'gallery.md'), galleryReference());
