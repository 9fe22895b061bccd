// Inference shared by every camera: one set of model sessions, and a queue in front of it so
// at most `concurrency` frames are analysed at once. Each camera loop holds at most one frame
// while it waits, so the queue is bounded by the number of cameras; when its turn comes the
// loop swaps that frame for the camera's newest (the old one is dropped and counted), so a
// decision is never made on a frame older than one trip through the queue.
export class InferenceQueue {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly concurrency: number) {}

  /** Frames waiting for their turn. */
  get depth(): number {
    return this.waiting.length;
  }

  /** Runs `work` when a slot is free, first come first served. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next waiter, so a newcomer cannot overtake it.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
