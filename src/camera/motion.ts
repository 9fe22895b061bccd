// Motion gating's measure: a small grey copy of each frame (the mean luma of a grid of blocks,
// about 32 across) and which blocks changed between two copies. Averaging a block's pixels
// cancels sensor noise and compression ripple (their mean change over a block is a fraction of
// a grey level), while a face brought into view changes the blocks it covers by tens of levels.

export type Thumbnail = { columns: number; rows: number; luma: Float32Array };

const COLUMNS = 32;
/** Every STEP-th pixel of every STEP-th row: a 40x40 block at 720p still averages 400 of them. */
const STEP = 2;

/** The mean luma (BT.601, 0..255) of each block of a packed RGB frame. */
export function thumbnailOf(frame: { width: number; height: number; data: Uint8Array }): Thumbnail {
  const { width, height, data } = frame;
  const columns = Math.min(COLUMNS, width);
  const rows = Math.max(1, Math.min(height, Math.round((columns * height) / width)));
  const sum = new Float32Array(columns * rows);
  const count = new Uint32Array(columns * rows);
  for (let y = 0; y < height; y += STEP) {
    const row = Math.floor((y * rows) / height) * columns;
    for (let x = 0; x < width; x += STEP) {
      const i = (y * width + x) * 3;
      const cell = row + Math.floor((x * columns) / width);
      sum[cell]! += 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
      count[cell]!++;
    }
  }
  for (let c = 0; c < sum.length; c++) sum[c]! /= count[c]!;
  return { columns, rows, luma: sum };
}

/**
 * Blocks whose mean luma moved by more than `threshold` grey levels from `before` to `after`;
 * every block when the two do not share a grid (a new stream size).
 */
export function changedBlocks(before: Thumbnail, after: Thumbnail, threshold: number): number {
  if (before.columns !== after.columns || before.rows !== after.rows) return after.luma.length;
  let changed = 0;
  for (let c = 0; c < after.luma.length; c++)
    if (Math.abs(after.luma[c]! - before.luma[c]!) > threshold) changed++;
  return changed;
}

/**
 * Whether a frame shows anything new since the last analysed one: some block changed by more
 * than `threshold` grey levels, or the last analysis is `maxSkipMs` old (a bound on what a
 * change too slow or too small to see could hide).
 */
export class MotionGate {
  private last: { thumbnail: Thumbnail; at: number } | undefined;

  constructor(private readonly options: { threshold: number; maxSkipMs: number }) {}

  changed(thumbnail: Thumbnail, now: number): boolean {
    const last = this.last;
    if (!last || now - last.at >= this.options.maxSkipMs) return true;
    return changedBlocks(last.thumbnail, thumbnail, this.options.threshold) > 0;
  }

  analysed(thumbnail: Thumbnail, now: number): void {
    this.last = { thumbnail, at: now };
  }
}
