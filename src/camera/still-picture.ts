// Whether a network camera's picture has stopped changing: a stalled decoder or a hung encoder
// repeats its last frame, which would pass a frame watchdog for ever. A working camera's sensor
// noise changes some bytes between any two frames, even of an empty hallway at night, so two
// byte-identical frames in a row mean the picture is not live. A frozen encoder's periodic key
// frames re-encode the still picture with a little other rounding, so within a run of mostly
// identical frames a frame that is nearly the run's first picture belongs to the run too.

/** Mean absolute difference (grey levels, every 61st byte) under which a frame is the same still. */
const NEAR = 2;

export class StillPictureDetector {
  /**
   * Copies, not the frames themselves: a frame's buffer is filled again with a later frame once
   * it is handed on (frame-parser.ts: recycle).
   */
  private last: Uint8Array | undefined;
  /** The first picture of the current run of unchanged frames, and how the run's pairs compared. */
  private runStart: Uint8Array | undefined;
  private pairs = 0;
  private identicalPairs = 0;

  /** True when `frame` shows the picture the camera showed before it: not live. */
  isStill(frame: Uint8Array): boolean {
    const still = this.sameAsBefore(frame);
    this.last = copyInto(this.last, frame);
    return still;
  }

  private sameAsBefore(frame: Uint8Array): boolean {
    const last = this.last;
    if (!last || last.length !== frame.length) return this.restart(frame);
    if (bytesOf(last).equals(bytesOf(frame))) {
      this.pairs++;
      this.identicalPairs++;
      return true;
    }
    // A key frame of a frozen picture: near the run's picture, in a run of mostly identical pairs.
    if (this.runStart && this.identicalPairs * 2 > this.pairs && nearlyEqual(this.runStart, frame)) {
      this.pairs++;
      return true;
    }
    return this.restart(frame);
  }

  private restart(frame: Uint8Array): false {
    this.runStart = copyInto(this.runStart, frame);
    this.pairs = 0;
    this.identicalPairs = 0;
    return false;
  }
}

/** `frame`'s bytes in `into` when it has the size, else in a new buffer. */
function copyInto(into: Uint8Array | undefined, frame: Uint8Array): Uint8Array {
  const copy = into?.length === frame.length ? into : new Uint8Array(frame.length);
  copy.set(frame);
  return copy;
}

const bytesOf = (a: Uint8Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function nearlyEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 61, n++) sum += Math.abs(a[i]! - b[i]!);
  return sum < NEAR * n;
}
