// Pairs marked wrong in the console: an attempt's face crop and an enrolled person's photo, the
// same person or not, kept in <stateDir>/marked/ (images sealed when encryption is on, every file
// 0600) as the door's own calibration set for `facegate calibrate --marked`. They are faces: a
// person's removal takes their pairs with them, and the retention sweep cuts pairs older than
// retention.markedDays.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sealer } from '../privacy/sealing.js';

export type MarkedPair = {
  attempt: string;
  person: string;
  same: boolean;
  /** The distance between the crop's face and the person's nearest embedding, when measured. */
  distance: number | null;
  by: string;
  at: string;
  /** File names in the folder: the attempt's crop and the person's photo. */
  crop: string;
  photo: string;
};

export class MarkedPairs {
  constructor(
    private readonly dir: string,
    private readonly sealer: Sealer | undefined,
  ) {}

  private get index(): string {
    return join(this.dir, 'pairs.json');
  }

  list(): MarkedPair[] {
    return existsSync(this.index) ? (JSON.parse(readFileSync(this.index, 'utf8')) as MarkedPair[]) : [];
  }

  private save(pairs: MarkedPair[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(this.index, JSON.stringify(pairs, null, 1), { mode: 0o600 });
    // Images no pair names any more go.
    const named = new Set(pairs.flatMap((p) => [p.crop, p.photo]));
    for (const file of readdirSync(this.dir))
      if (file !== 'pairs.json' && !named.has(file.replace(/\.sealed$/, ''))) rmSync(join(this.dir, file));
  }

  private write(name: string, bytes: Buffer): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = join(this.dir, this.sealer ? `${name}.sealed` : name);
    if (!existsSync(file))
      writeFileSync(file, this.sealer ? this.sealer.seal(bytes, `marked:${name}`) : bytes, { mode: 0o600 });
  }

  private read(name: string): Buffer {
    const sealed = join(this.dir, `${name}.sealed`);
    if (existsSync(sealed)) {
      if (!this.sealer) throw new Error(`${sealed}: encrypted; configure the encryption key`);
      return this.sealer.open(readFileSync(sealed), `marked:${name}`, sealed);
    }
    return readFileSync(join(this.dir, name));
  }

  add(
    pair: Omit<MarkedPair, 'crop' | 'photo'>,
    crop: Buffer,
    photo: { sha256: string; bytes: Buffer },
  ): MarkedPair {
    const full = {
      ...pair,
      crop: `${pair.attempt}.jpg`,
      photo: `${pair.person}-${photo.sha256.slice(0, 12)}.jpg`,
    };
    this.write(full.crop, crop);
    this.write(full.photo, photo.bytes);
    this.save([...this.list(), full]);
    return full;
  }

  /** The pairs as plain files and a pairs.tsv (file1, file2, same) in `into`; how many. */
  exportTo(into: string): number {
    const pairs = this.list();
    if (!pairs.length) return 0;
    mkdirSync(into, { recursive: true, mode: 0o700 });
    for (const name of new Set(pairs.flatMap((p) => [p.crop, p.photo])))
      writeFileSync(join(into, name), this.read(name), { mode: 0o600 });
    const rows = pairs.map((p) => `${p.crop}\t${p.photo}\t${p.same ? 1 : 0}`);
    writeFileSync(join(into, 'pairs.tsv'), `file1\tfile2\tsame\n${rows.join('\n')}\n`, { mode: 0o600 });
    return pairs.length;
  }

  /** Drops the pairs of these people (removed from the gallery) with their images; how many. */
  wipe(personIds: readonly string[]): number {
    const pairs = this.list();
    const kept = pairs.filter((p) => !personIds.includes(p.person));
    if (kept.length !== pairs.length) this.save(kept);
    return pairs.length - kept.length;
  }

  /** Drops the pairs marked before `before` with their images; how many. */
  prune(before: Date): number {
    const pairs = this.list();
    const kept = pairs.filter((p) => Date.parse(p.at) >= before.getTime());
    if (kept.length !== pairs.length) this.save(kept);
    return pairs.length - kept.length;
  }
}
