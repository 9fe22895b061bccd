// Cuts ffmpeg's raw video byte stream into whole frames. Pipe reads end anywhere, so bytes are
// copied into the frame being filled; a complete frame is handed on and a new one started.
// Memory stays at one frame in progress whatever the stream length.
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

export class FrameParser {
  private readonly frameBytes: number;
  private current: Uint8Array;
  private filled = 0;
  private sequence = 0;

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
      this.filled += take;
      offset += take;
      if (this.filled === this.frameBytes) {
        const data = this.current;
        this.current = new Uint8Array(this.frameBytes);
        this.filled = 0;
        this.onFrame({
          width: this.width,
          height: this.height,
          data,
          capturedAt: this.now(),
          sequence: ++this.sequence,
        });
      }
    }
  }

  /** Bytes of an incomplete frame: what a stream that stops mid-frame leaves behind. */
  get pending(): number {
    return this.filled;
  }
}
