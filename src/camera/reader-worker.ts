// The thread behind a FrameReader (frame-reader.ts): runs one ffmpeg session and reads its pipe as
// fast as ffmpeg writes, whatever the main thread is doing, so no frame waits upstream (in the
// pipe, in ffmpeg, in the camera's TCP queue). It keeps only the newest frame; the main thread
// hears of each arrival (a few bytes) and takes the newest when it is ready for one.
import { parentPort, workerData } from 'node:worker_threads';
import { FfmpegSession } from './ffmpeg-session.js';
import type { Frame } from './frame-parser.js';
import type { FromReader, ReaderData, ToReader } from './frame-reader.js';
import { thumbnailOf } from './motion.js';

const port = parentPort!;
const post = (m: FromReader) => port.postMessage(m);

let newest: Frame | undefined;
const { session: options, framesBefore } = workerData as ReaderData;
/** Numbered on from the camera's earlier sessions, so a frame's number is its camera's. */
let sequence = framesBefore;
const session = new FfmpegSession(options, {
  frame: (f) => {
    // The grey copy for motion gating is made here, off the main thread.
    const frame = { ...f, sequence: ++sequence, thumbnail: thumbnailOf(f) };
    const replaced = newest !== undefined;
    newest = frame;
    const { data: _data, thumbnail: _thumbnail, ...info } = frame;
    post({ kind: 'arrived', frame: info, replaced });
  },
  stall: (reason) => post({ kind: 'stall', reason }),
});

port.on('message', (m: ToReader) => {
  if (m.kind === 'take') {
    const frame = newest;
    newest = undefined;
    // Copied, not transferred: the still-picture detector may still hold this frame's pixels.
    post({ kind: 'frame', id: m.id, frame: frame ?? null });
  } else {
    void session.stop(m.reason, m.polite);
  }
});

session.start();
post({ kind: 'started', pid: session.pid });
void session.ended.then((end) => {
  newest = undefined;
  post({ kind: 'ended', end });
  port.close(); // nothing else keeps this thread alive: it exits
});
