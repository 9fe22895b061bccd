// Cuts ffmpeg's raw video byte stream into whole frames. Pipe reads end anywhere, so bytes are
// copied into the frame being filled; a complete frame is handed on and a new one started, in a
// buffer its owner gave back (recycle) when there is one: a reader thread then fills the same
// two or three buffers for ever instead of leaving a 2.7 MB buffer per 720p frame to the garbage
// collector (25 of them a second per camera), whose late collection and the malloc arenas'
// fragmentation showed as resident memory (bench/RESULTS.md, issue 25).
import type { Thumbnail } from './motion.js';

export type Frame = {
  width: number;
  height: number;
  /** Packed RGB, width * height * 3 bytes. */
  data: Uint8Array;
  /** When the last byte of the frame arrived (ms since the epoch). */
  capturedAt: number;
  /** 1, 2, 3... within one camera source. */
  sequence: number;
  /** The small grey copy motion gating compares (motion.ts), made by the reader thread. */
  thumbnail?: Thumbnail;
};

/** The newest frame waiting and one just given back: more spares would never be used. */
const SPARE_FRAMES = 2;

export class FrameParser {
  private readonly frameBytes: number;
  private current: Uint8Array;
  private filled = 0;
  private sequence = 0;
  /** Buffers of finished frames given back, filled again before any new one is made. */
  private readonly spare: Uint8Array[] = [];

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly onFrame: (frame: Frame) => void,
    private readonly now: () => number = Date.now,
  ) {
    // A zero size would make every frame empty and push() loop for ever on the first byte.
    if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0))
      throw new Error(`frame size ${width}x${height}: width and height must be whole numbers above 0`);
    this.frameBytes = width * height * 3;
    this.current = new Uint8Array(this.frameBytes);
  }

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(chunk.length - offset, this.frameBytes - this.filled);
      this.current.set(chunk.subarray(offset, offset + take), this.filled);
      offset += take;
      this.wrote(take);
    }
  }

  /** Where the stream's next bytes go when read straight into the frame: the rest of it. */
  space(): Uint8Array {
    return this.current.subarray(this.filled);
  }

  /** `n` bytes were written into space() (or copied there by push). */
  wrote(n: number): void {
    this.filled += n;
    if (this.filled < this.frameBytes) return;
    const data = this.current;
    this.current = this.spare.pop() ?? new Uint8Array(this.frameBytes);
    this.filled = 0;
    this.onFrame({
      width: this.width,
      height: this.height,
      data,
      capturedAt: this.now(),
      sequence: ++this.sequence,
    });
  }

  /**
   * Gives back a frame's buffer once nothing reads it any more (its frame was copied elsewhere or
   * dropped); later frames are written into it. At most SPARE_FRAMES are kept.
   */
  recycle(data: Uint8Array): void {
    if (data.length === this.frameBytes && this.spare.length < SPARE_FRAMES && !this.spare.includes(data))
      this.spare.push(data);
  }

  /** Bytes of an incomplete frame: what a stream that stops mid-frame leaves behind. */
  get pending(): number {
    return this.filled;
  }
}
