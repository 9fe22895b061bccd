// The live view: the daemon's own analysed frames, with a box and a name over each face, sent as
// MJPEG (multipart/x-mixed-replace) to each browser watching. Chosen over an RTSP-to-MPEG-1
// relay (node-rtsp-stream, jsmpeg) by measurement (bench/RESULTS.md): no second decoder, no
// process whose command line holds the camera's password, and the boxes are the ones the daemon
// decided on. Nothing is encoded while nobody watches: the daemon asks watching() first. A
// decision's label (label()) stays over the face that overlaps its box for LABEL_MS.
import type { ServerResponse } from 'node:http';
import sharp from '../vision/libvips.js';
import type { RgbImage } from '../vision/image.js';
import { overlapArea, type Rect } from '../vision/warp.js';

export type LiveBox = {
  box: Rect;
  label: string;
  /** Colours the box: a match green, a spoof red, anything else amber. */
  kind: 'match' | 'spoof' | 'other';
};

/** How long a decision's label stays over its face. */
const LABEL_MS = 3000;

/** More than 30% of the face's box is inside the label's box. */
const covers = (face: Rect, label: Rect): boolean =>
  overlapArea(face, label) > 0.3 * face.width * face.height;

const BOUNDARY = 'facegate-frame';
const COLOURS = { match: '#2ecc71', spoof: '#e74c3c', other: '#f1c40f' };

const escapeXml = (s: string) =>
  s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );

export class LiveView {
  private readonly viewers = new Map<string, Set<ServerResponse>>();
  private readonly lastSent = new Map<string, number>();
  /** Per camera: the recent decisions' labels, newest last. */
  private readonly labels = new Map<string, (LiveBox & { at: number })[]>();
  /** Frames encoded and sent (a test and the bench read it). */
  framesSent = 0;
  /** The newest frames' age when sent, ms from their arrival (bench/console.ts). */
  readonly ages: number[] = [];

  constructor(
    private readonly opts: { width: number; maxFps: number; quality: number } = {
      width: 640,
      maxFps: 5,
      quality: 70,
    },
  ) {}

  watching(camera: string): boolean {
    return (this.viewers.get(camera)?.size ?? 0) > 0;
  }

  get viewerCount(): number {
    let n = 0;
    for (const set of this.viewers.values()) n += set.size;
    return n;
  }

  /** Starts a viewer's stream; it ends when the viewer goes. */
  add(camera: string, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`,
      'cache-control': 'no-store',
      connection: 'close',
    });
    let set = this.viewers.get(camera);
    if (!set) this.viewers.set(camera, (set = new Set()));
    set.add(res);
    res.on('close', () => set.delete(res));
  }

  /** A decision about the face in `box`: its label is drawn over that face for a while. */
  label(camera: string, label: LiveBox, now = Date.now()): void {
    if (!this.watching(camera)) return;
    this.labels.set(camera, [...this.recentLabels(camera, now), { ...label, at: now }]);
  }

  private recentLabels(camera: string, now: number): (LiveBox & { at: number })[] {
    return (this.labels.get(camera) ?? []).filter((l) => now - l.at < LABEL_MS);
  }

  /**
   * Sends the frame to the camera's viewers (at most maxFps), each face boxed with the newest
   * label over it, or "looking…".
   */
  async frame(
    camera: string,
    frame: RgbImage & { capturedAt?: number },
    faces: readonly { box: Rect }[],
    now = Date.now(),
  ): Promise<void> {
    const set = this.viewers.get(camera);
    if (!set?.size || now - (this.lastSent.get(camera) ?? 0) < 1000 / this.opts.maxFps) return;
    this.lastSent.set(camera, now);
    const labels = this.recentLabels(camera, now).reverse();
    const boxes = faces.map(({ box }): LiveBox => {
      const l = labels.find((x) => covers(box, x.box));
      return { box, label: l?.label ?? 'looking…', kind: l?.kind ?? 'other' };
    });
    const scale = Math.min(1, this.opts.width / frame.width);
    const width = Math.round(frame.width * scale);
    const height = Math.round(frame.height * scale);
    const stroke = Math.max(2, Math.round(width / 240));
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${boxes
      .map(({ box, label, kind }) => {
        const [x, y, w, h] = [box.x, box.y, box.width, box.height].map((v) => Math.round(v * scale)) as [
          number,
          number,
          number,
          number,
        ];
        const colour = COLOURS[kind];
        return `<rect x="${x}" y="${y}" width="${w}" height="${h}" fill="none" stroke="${colour}" stroke-width="${stroke}"/>
          <rect x="${x}" y="${Math.max(0, y - 22)}" width="${Math.max(w, label.length * 9 + 8)}" height="22" fill="${colour}"/>
          <text x="${x + 4}" y="${Math.max(0, y - 22) + 16}" font-family="sans-serif" font-size="15" fill="#000">${escapeXml(label)}</text>`;
      })
      .join('')}</svg>`;
    const jpeg = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } })
      .resize(width, height)
      .composite([{ input: Buffer.from(svg) }])
      .jpeg({ quality: this.opts.quality })
      .toBuffer();
    if (frame.capturedAt !== undefined && this.ages.push(Date.now() - frame.capturedAt) > 1000)
      this.ages.shift();
    const head = `--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`;
    for (const res of set) {
      // A viewer that cannot keep up misses frames instead of growing a queue.
      if (res.writableLength > 4 * jpeg.length) continue;
      res.write(head);
      res.write(jpeg);
      res.write('\r\n');
      this.framesSent++;
    }
  }

  close(): void {
    for (const set of this.viewers.values()) for (const res of set) res.end();
    this.viewers.clear();
    this.labels.clear();
  }
}
