// The labelled files evaluation reads: pairs (file1, file2, same) and manifests (path,
// identity), both tab-separated with a header line, paths relative to a root folder. A bad row
// is an error naming the file and line, never silently skipped.
import { FacegateError, readFileOrThrow } from '../errors.js';

export type LabelledPair = { file1: string; file2: string; same: boolean };
export type LabelledImage = { path: string; identity: string };

function rows(file: string, required: string[]): { line: number; get: (col: string) => string }[] {
  const text = readFileOrThrow(file, 'USAGE', (reason) => `${file}: cannot read (${reason})`).toString(
    'utf8',
  );
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split('\t');
  const index = Object.fromEntries(header.map((h, i) => [h.trim(), i]));
  const missing = required.filter((c) => index[c] === undefined);
  if (missing.length) {
    throw new FacegateError(
      'USAGE',
      `${file}: header must name the columns ${required.join(', ')}; missing ${missing.join(', ')}`,
    );
  }
  const out: { line: number; get: (col: string) => string }[] = [];
  lines.slice(1).forEach((l, i) => {
    if (!l.trim()) return;
    const cells = l.split('\t');
    const line = i + 2;
    out.push({
      line,
      get: (col) => {
        const v = cells[index[col]!]?.trim();
        if (!v) throw new FacegateError('USAGE', `${file}:${line}: column ${col} is empty`);
        return v;
      },
    });
  });
  return out;
}

/** Pairs, optionally only those whose both paths start with `prefix`. */
export function readPairs(file: string, prefix = ''): LabelledPair[] {
  return rows(file, ['file1', 'file2', 'same'])
    .map((r) => {
      const same = r.get('same');
      if (same !== '0' && same !== '1')
        throw new FacegateError('USAGE', `${file}:${r.line}: same must be 0 or 1, not "${same}"`);
      return { file1: r.get('file1'), file2: r.get('file2'), same: same === '1' };
    })
    .filter((p) => p.file1.startsWith(prefix) && p.file2.startsWith(prefix));
}

export function readManifestTsv(file: string, prefix = ''): LabelledImage[] {
  return rows(file, ['path', 'identity'])
    .map((r) => ({ path: r.get('path'), identity: r.get('identity') }))
    .filter((r) => r.path.startsWith(prefix));
}

/**
 * The manifest with the identities a relabel file (columns path, identity) corrects: a dataset's
 * known label errors, since an open set's strangers must be strangers.
 */
export function relabelled(images: LabelledImage[], file: string | undefined): LabelledImage[] {
  if (!file) return images;
  const corrected = new Map(readManifestTsv(file).map((r) => [r.path, r.identity]));
  return images.map((i) => ({ ...i, identity: corrected.get(i.path) ?? i.identity }));
}
