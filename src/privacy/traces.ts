// Looks for a photo's or an embedding's bytes in every file under a folder: what
// `facegate gallery remove --verify` and the privacy tests use to prove that deleted means gone.
// SQLite splits a large value over pages, so the search is for short pieces taken all along it,
// not for the whole value: any one piece found is a trace.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PIECE = 32;

/** Pieces of `value` to look for: one every `stride` bytes (all of a short value). */
export function needles(value: Uint8Array, stride = 512): Buffer[] {
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (b.length <= PIECE) return [b];
  const out: Buffer[] = [];
  for (let at = 0; at + PIECE <= b.length; at += Math.min(stride, b.length - PIECE) || PIECE)
    out.push(b.subarray(at, at + PIECE));
  return out;
}

function* filesUnder(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* filesUnder(path);
    else if (entry.isFile()) yield path;
  }
}

/** The files under `dir` that hold any of `pieces`. */
export function filesHolding(dir: string, pieces: readonly Buffer[]): string[] {
  const found: string[] = [];
  for (const file of filesUnder(dir)) {
    const content = readFileSync(file);
    if (pieces.some((p) => content.includes(p))) found.push(file);
  }
  return found;
}
