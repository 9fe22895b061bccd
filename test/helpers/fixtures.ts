// Where tests find real faces. ../shared/faces (beside the project root) is test data that is
// never committed; on a clone without it those tests skip with a message naming the folder,
// unless FACEGATE_REQUIRE_SHARED_FACES=1 (set by .ci/run), which turns the skip into a failure.
// The sample photos inside @vladmandic/face-api are there on every machine.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const SHARED_FACES = resolve(PROJECT_ROOT, '..', 'shared', 'faces');

const require = createRequire(import.meta.url);
export const FACE_API_DIR = dirname(require.resolve('@vladmandic/face-api/package.json'));
export const SAMPLE_PHOTOS = join(FACE_API_DIR, 'demo');

/** True when ../shared/faces is present; logs (or, in CI, throws) when it is not. */
export function sharedFacesAvailable(suite: string): boolean {
  if (existsSync(join(SHARED_FACES, 'MANIFEST.tsv'))) return true;
  const msg = `${suite}: skipped, ${SHARED_FACES} (../shared/faces beside the project root) is missing`;
  if (process.env.FACEGATE_REQUIRE_SHARED_FACES === '1') throw new Error(msg);
  console.warn(msg);
  return false;
}

export const sharedFace = (rel: string): string => join(SHARED_FACES, rel);
export const samplePhoto = (name: string): string => join(SAMPLE_PHOTOS, name);
